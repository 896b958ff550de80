//! Prometheus metrics of a running gateway and HQ collector: scraped over
//! HTTP as Prometheus does, compared with what really happened, and linted
//! with `promtool check metrics`.

use aisle_system_tests::metrics::{assert_promtool_accepts, sample, scrape};
use aisle_system_tests::mosquitto::free_port;
use aisle_system_tests::{
    assert_delivered, pickups, wait_until, Faults, GatewayRig, HqCollector, STEP,
};
use std::net::{SocketAddr, TcpListener};

fn local_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[test]
fn gateway_and_hq_metrics_count_what_happened_and_pass_promtool() {
    let gateway_addr = local_addr();
    let mut rig = GatewayRig::new(|store| store.metrics_listen = Some(gateway_addr.to_string()));
    let hq_dir = rig.path("hq");
    std::fs::create_dir(&hq_dir).unwrap();
    let hq_addr = local_addr();
    let _hq = HqCollector::start(
        &hq_dir,
        &rig.broker.url(),
        &["--metrics", &hq_addr.to_string()],
    );
    rig.start_gateway();

    // One burst of line noise longer than any frame, then real events.
    let noise: Vec<u8> = std::iter::repeat_n(0x55, 3 * protocol::MAX_ENCODED_LEN)
        .chain([0])
        .collect();
    rig.tags.send_raw(&noise).unwrap();
    let events = pickups(rig.store.garment_tags(), 1, 0..5);
    rig.tags.deliver(&events, STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let n = events.len() as f64;

    let gw = wait_until(
        "gateway metrics counting every delivered event",
        STEP,
        || {
            let text = scrape(gateway_addr)?;
            (sample(&text, "aisle_gateway_events_delivered_total") == Some(n)).then_some(text)
        },
    );
    let receiver = rig.store.receivers[0].display().to_string();
    for (series, value) in [
        ("aisle_gateway_events_received_total", n),
        ("aisle_gateway_events_spooled_total", n),
        ("aisle_gateway_events_duplicate_total", 0.0),
        ("aisle_gateway_spool_depth", 0.0),
        ("aisle_gateway_broker_connected", 1.0),
        ("aisle_gateway_bad_frames_total{kind=\"too_long\"}", 1.0),
        ("aisle_gateway_bad_frames_total{kind=\"crc\"}", 0.0),
        (
            &format!("aisle_gateway_receiver_up{{path=\"{receiver}\"}}"),
            1.0,
        ),
        (
            &format!("aisle_gateway_receiver_frames_total{{path=\"{receiver}\"}}"),
            n,
        ),
    ] {
        assert_eq!(sample(&gw, series), Some(value), "{series} in\n{gw}");
    }
    let batches = sample(&gw, "aisle_gateway_batches_delivered_total").unwrap();
    assert!(batches >= 1.0, "{gw}");
    assert_promtool_accepts(&gw);

    let hq = wait_until("HQ metrics counting every stored event", STEP, || {
        let text = scrape(hq_addr)?;
        (sample(&text, "aisle_hq_events_total{result=\"inserted\"}") == Some(n)).then_some(text)
    });
    for (series, value) in [
        ("aisle_hq_batches_total{result=\"stored\"}", batches),
        ("aisle_hq_batches_total{result=\"quarantined\"}", 0.0),
        ("aisle_hq_events_total{result=\"duplicate\"}", 0.0),
        ("aisle_hq_broker_connected", 1.0),
        ("aisle_hq_commit_errors_total", 0.0),
    ] {
        assert_eq!(sample(&hq, series), Some(value), "{series} in\n{hq}");
    }
    assert_promtool_accepts(&hq);
}

#[test]
fn gateway_refuses_to_start_when_its_metrics_address_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut rig = GatewayRig::new(|store| store.metrics_listen = Some(addr.to_string()));
    let status = rig.start_gateway().wait_exit(STEP);
    assert_eq!(status.code(), Some(1), "{}", rig.gateway().log_tail());
    let log = rig.gateway().log_text();
    assert!(
        log.contains(&format!("aisle: cannot listen for metrics on {addr}: ")),
        "{log}"
    );
}
