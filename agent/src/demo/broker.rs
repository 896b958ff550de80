//! The demo's MQTT broker: rumqttd, embedded in the binary, on a free
//! loopback port.
//!
//! It runs in a child process (`aisle demo --serve-broker PORT`) like the
//! collector and the gateway, so its own logging goes to a log file and
//! not over the demo's progress. It listens twice on one router: MQTT
//! 3.1.1 for the HQ collector, MQTT 5 for the gateway's uplink. Only
//! `aisle demo` uses it; a store's
//! gateway and HQ talk to a real broker (Mosquitto, EMQX, …), which is why
//! rumqttd sits behind the `demo` feature.

use anyhow::Context;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Largest MQTT payload the broker accepts: well above the gateway's
/// default batch cap of 256 KiB.
const MAX_PAYLOAD: usize = 1 << 20;

/// Two free loopback ports for the broker's listeners (MQTT 3.1.1, MQTT
/// 5), held open together so they differ. Another process could take one
/// before the broker binds it; on a demo machine that is unlikely, and the
/// broker would then fail to start with a clear error.
pub(super) fn free_ports() -> anyhow::Result<(u16, u16)> {
    let bind = || {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("finding a free loopback port for the broker")
    };
    let (v4, v5) = (bind()?, bind()?);
    Ok((v4.local_addr()?.port(), v5.local_addr()?.port()))
}

/// Whether the broker accepts connections on `port` yet.
pub(super) fn is_listening(port: u16) -> bool {
    std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Runs the broker, MQTT 3.1.1 on `port` and MQTT 5 on `port_v5`, until
/// the process is stopped.
pub(super) fn serve(port: u16, port_v5: u16) -> anyhow::Result<()> {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = |name: &str, port: u16| rumqttd::ServerSettings {
        name: name.into(),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections: connections.clone(),
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
        v4: Some(HashMap::from([("1".to_string(), server("demo", port))])),
        v5: Some(HashMap::from([(
            "1".to_string(),
            server("demo-v5", port_v5),
        )])),
        ..rumqttd::Config::default()
    };
    rumqttd::Broker::new(config)
        .start()
        .with_context(|| format!("running the broker on 127.0.0.1:{port} and :{port_v5}"))
}
