//! The demo's MQTT broker: rumqttd, embedded in the binary, on a free
//! loopback port.
//!
//! It runs in a child process (`aisle demo --serve-broker PORT`) like the
//! collector and the gateway, so its own logging goes to a log file and
//! not over the demo's progress. Only `aisle demo` uses it; a store's
//! gateway and HQ talk to a real broker (Mosquitto, EMQX, …), which is why
//! rumqttd sits behind the `demo` feature.

use anyhow::Context;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Largest MQTT payload the broker accepts: well above the gateway's
/// default batch cap of 256 KiB.
const MAX_PAYLOAD: usize = 1 << 20;

/// A free loopback port for the broker. Another process could take it
/// before the broker binds it; on a demo machine that is unlikely, and the
/// broker would then fail to start with a clear error.
pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .context("finding a free loopback port for the broker")?
        .port())
}

/// Whether the broker accepts connections on `port` yet.
pub(super) fn is_listening(port: u16) -> bool {
    std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Runs the broker on `port` until the process is stopped.
pub(super) fn serve(port: u16) -> anyhow::Result<()> {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "demo".into(),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 << 20,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..rumqttd::Config::default()
    };
    rumqttd::Broker::new(config)
        .start()
        .with_context(|| format!("running the broker on 127.0.0.1:{port}"))
}
