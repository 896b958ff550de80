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
    // Input written before the gateway opens the port is discarded: send the
    // noise once the receiver is open, so it is counted.
    rig.sub.wait_status("the receiver open", STEP, |s| {
        s["receivers"][0]["state"] == "open"
    });

    // One burst of line noise longer than any frame, then real events.
    let noise: Vec<u8> = std::iter::repeat_n(0x55, 3 * protocol::MAX_ENCODED_LEN)
        .chain([0])
        .collect();
    rig.tags.send_raw(&noise).unwrap();
    let events = pickups(rig.store.garment_tags(), 1, 0..5);
    rig.tags.deliver(&events, STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let n = events.len() as f64;

    let receiver = rig.store.receivers[0].display().to_string();
    let expected: Vec<(String, f64)> = [
        ("aisle_gateway_events_delivered_total", n),
        ("aisle_gateway_events_spooled_total", n),
        ("aisle_gateway_spool_depth", 0.0),
        ("aisle_gateway_broker_connected", 1.0),
        ("aisle_gateway_bad_frames_total{kind=\"too_long\"}", 1.0),
        ("aisle_gateway_bad_frames_total{kind=\"crc\"}", 0.0),
        (
            &format!("aisle_gateway_receiver_up{{path=\"{receiver}\"}}"),
            1.0,
        ),
    ]
    .into_iter()
    .map(|(series, value)| (series.to_string(), value))
    .collect();
    // The stages update their counters one after another, so a scrape
    // taken mid-way may show some before the others: wait for a scrape in
    // which every counter has caught up, and show the last one otherwise.
    let mut last = String::new();
    // A tag whose ack is slow resends: each resend is received and
    // counted as a duplicate, and never spooled twice.
    let frames = format!("aisle_gateway_receiver_frames_total{{path=\"{receiver}\"}}");
    let mismatches = |text: &str| -> Vec<String> {
        let duplicates = sample(text, "aisle_gateway_events_duplicate_total").unwrap_or(-1.0);
        let received = [
            (
                "aisle_gateway_events_received_total".to_string(),
                n + duplicates,
            ),
            (frames.clone(), n + duplicates),
        ];
        expected
            .iter()
            .chain(&received)
            .filter(|(series, value)| sample(text, series) != Some(*value))
            .map(|(series, value)| {
                format!("{series}: want {value}, got {:?}", sample(text, series))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + STEP;
    let gw = loop {
        if let Some(text) = scrape(gateway_addr) {
            if mismatches(&text).is_empty() {
                break text;
            }
            last = text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gateway metrics never matched what happened: {:?}\n{last}",
            mismatches(&last)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
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

/// The alert rules docs/gateway.md recommends, exactly as printed there.
fn documented_alert_rules() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/gateway.md"))
        .expect("read docs/gateway.md");
    let after_marker = doc
        .split_once("<!-- alert-rules:")
        .expect("docs/gateway.md marks its alert rules")
        .1;
    let yaml = after_marker
        .split_once("```yaml\n")
        .expect("a yaml block after the marker")
        .1;
    yaml.split_once("```")
        .expect("the yaml block ends")
        .0
        .to_string()
}

fn promtool(args: &[&str], dir: &std::path::Path) {
    let out = std::process::Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool (Debian package prometheus)");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prometheus's rule unit tests: an offline gateway and a gateway whose
/// spool grows raise their alerts, after their `for` delay; a healthy
/// gateway with a draining spool raises none.
const ALERT_CASES: &str = r#"
rule_files: [alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="aisle-gateway",instance="down:9464"}'
        values: '1x5 0x40'
      - series: 'up{job="aisle-gateway",instance="no-broker:9464"}'
        values: '1x45'
      - series: 'aisle_gateway_broker_connected{job="aisle-gateway",instance="no-broker:9464"}'
        values: '1x5 0x40'
      - series: 'up{job="aisle-gateway",instance="healthy:9464"}'
        values: '1x45'
      - series: 'aisle_gateway_broker_connected{job="aisle-gateway",instance="healthy:9464"}'
        values: '1x45'
    alert_rule_test:
      - eval_time: 10m
        alertname: AisleGatewayOffline
        exp_alerts: []
      - eval_time: 20m
        alertname: AisleGatewayOffline
        exp_alerts:
          - exp_labels: {severity: critical, job: aisle-gateway, instance: "down:9464"}
            exp_annotations:
              summary: "aisle gateway down:9464 is offline"
              description: "Tags are still acked and spooled, but nothing reaches HQ. Check the box, the WAN and the gateway log."
          - exp_labels: {severity: critical, job: aisle-gateway, instance: "no-broker:9464"}
            exp_annotations:
              summary: "aisle gateway no-broker:9464 is offline"
              description: "Tags are still acked and spooled, but nothing reaches HQ. Check the box, the WAN and the gateway log."
  - interval: 1m
    input_series:
      - series: 'aisle_gateway_oldest_undelivered_age_seconds{job="aisle-gateway",instance="stuck:9464"}'
        values: '0+60x60'
      - series: 'aisle_gateway_spool_depth{job="aisle-gateway",instance="stuck:9464"}'
        values: '0+25x60'
      - series: 'aisle_gateway_oldest_undelivered_age_seconds{job="aisle-gateway",instance="draining:9464"}'
        values: '0+60x20 0x40'
      - series: 'aisle_gateway_spool_depth{job="aisle-gateway",instance="draining:9464"}'
        values: '0+25x20 0x40'
    alert_rule_test:
      - eval_time: 25m
        alertname: AisleGatewaySpoolGrowing
        exp_alerts: []
      - eval_time: 45m
        alertname: AisleGatewaySpoolGrowing
        exp_alerts:
          - exp_labels: {severity: warning, job: aisle-gateway, instance: "stuck:9464"}
            exp_annotations:
              summary: "aisle gateway stuck:9464 spool is growing"
              description: "The oldest undelivered event is over 15 minutes old and the spool keeps growing; at the cap the oldest events are dropped. Check the broker connection and the gateway log."
"#;

#[test]
fn documented_alert_rules_are_valid_and_fire_when_they_should() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alerts.yml"), documented_alert_rules()).unwrap();
    std::fs::write(dir.path().join("alerts.test.yml"), ALERT_CASES).unwrap();
    promtool(&["check", "rules", "alerts.yml"], dir.path());
    promtool(&["test", "rules", "alerts.test.yml"], dir.path());
}
