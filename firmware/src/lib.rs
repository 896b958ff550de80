//! aisle tag firmware: pure, clock-free detectors and delivery logic that run
//! on the tag's MCU, on the host in tests, and inside the store simulator.
#![no_std]
