//! The `aisle` library: every part of the product, from the store gateway to
//! HQ's reports, as modules a binary, a bench or a test can call.
//!
//! The modules follow the data (see docs/design.md):
//! - [`gateway`]: a store's receivers → dedup and enrichment → durable spool
//!   → MQTT uplink.
//! - [`hq`]: the collector that takes every store's batches into the event
//!   store.
//! - [`event_store`]: where HQ keeps the events, SQLite or ClickHouse behind
//!   one interface.
//! - [`funnel`]: the conversion report over the event store.
//! - `dashboard`: HQ's web pages and JSON API over the same report.
//! - [`online`]: the online channels' tracking imported beside the stores,
//!   and the stores' events exported in the online formats.
//! - [`sim`] and `demo`: a simulated store, and the whole system on one machine.
//! - [`config`], [`check_config`], [`epc_tool`], [`tag_tool`]: store IT's and
//!   technicians' tools; [`epc`]: the one door to EPC decoding.
//! - [`mqtt`], [`ready`], [`logging`]: what the services share.
//!
//! `src/main.rs` only parses the command line and calls the `run` functions here.

pub mod check_config;
pub mod cli;
pub mod config;
#[cfg(feature = "dashboard")]
pub mod dashboard;
#[cfg(feature = "demo")]
pub mod demo;
pub mod epc;
pub mod epc_tool;
pub mod event_store;
pub mod funnel;
pub mod gateway;
pub mod hq;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod online;
pub mod ready;
pub mod sim;
pub mod tag_tool;
