//! The system-test harness: real parts started and torn down per test.
//!
//! Every system test (gateway, HQ, firmware in QEMU, whole-store simulator)
//! runs real processes against a real Mosquitto over real pseudo-terminals.
//! This crate owns how those parts are started, observed and faulted, so the
//! tests read as the scenario they check and nothing else.

pub mod bench_args;
pub mod clickhouse;
pub mod dashboard_timing;
pub mod delivery;
pub mod hq;
pub mod http;
pub mod metrics;
pub mod mosquitto;
pub mod mqtt_user;
pub mod process;
pub mod publisher;
pub mod qemu;
pub mod rig;
pub mod serial_link;
pub mod store;
pub mod subscriber;
pub mod tags;
pub mod tls;
pub mod webdriver;

pub use bench_args::{unknown_flag, BenchArgs};
pub use clickhouse::ClickHouse;
pub use delivery::{assert_delivered, Faults};
pub use hq::HqCollector;
pub use mosquitto::{Mosquitto, MosquittoOptions, TlsFiles};
pub use mqtt_user::MqttUser;
pub use process::{
    aisle_bin, clear_ready_file, demo_store, stdout_of, wait_until, ChildGuard, GatewayArgs,
};
pub use publisher::{
    batch_json, publish, publish_and_vanish, publish_pairs, publish_stream, Message,
};
pub use rig::{GatewayRig, STEP};
pub use serial_link::SerialLink;
pub use store::StoreToml;
pub use subscriber::{DeliveredBatch, Subscriber};
pub use tags::{dwell_end, epc_seen, pickup, pickups, sgtin96, EventKey, TagWriter};
pub use webdriver::Browser;
