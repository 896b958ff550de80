//! Placeholder replaced by the gateway bench below.
fn main() {}
