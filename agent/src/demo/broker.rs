//! The demo's MQTT broker: rumqttd, embedded, on a free loopback port.
//!
//! Only `aisle demo` uses it; a store's gateway and HQ talk to a real
//! broker (Mosquitto, EMQX, …), which is why rumqttd sits behind the `demo`
//! feature.

use anyhow::Context;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Largest MQTT payload the broker accepts: well above the gateway's
/// default batch cap of 256 KiB.
const MAX_PAYLOAD: usize = 1 << 20;

/// Starts the broker on its own threads and returns its port.
pub fn start() -> anyhow::Result<u16> {
    // Ask the OS for a free port, then hand it to the broker. Another
    // process could take it in between; on a demo machine that is unlikely
    // and the gateway would then report it cannot connect.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .context("finding a free loopback port for the broker")?
        .port();
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
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("demo-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the demo broker stopped");
            }
        })
        .context("starting the broker thread")?;
    Ok(port)
}
