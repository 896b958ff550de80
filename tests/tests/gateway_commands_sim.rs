//! Commands to tags carried out by the firmware's own tag logic: the store
//! simulator (`aisle simulate`, whose tags are `firmware::Tag`s) plays the
//! store's tags on the receiver's pty, and a technician's identify and
//! configure through the gateway come back confirmed by the tag they name.

use aisle_system_tests::store::PRESENCE_TAG;
use aisle_system_tests::{
    aisle_bin, clear_ready_file, wait_until, ChildGuard, GatewayArgs, Mosquitto, SerialLink,
    StoreToml, Subscriber, STEP,
};
use serde_json::Value;
use std::process::{Command, Output};

#[test]
fn simulated_tags_confirm_identify_and_configure_through_the_gateway() {
    let dir = tempfile::Builder::new()
        .prefix("aisle-cmd-sim-")
        .tempdir()
        .expect("tempdir");
    let broker = Mosquitto::start();
    let link = SerialLink::open(dir.path());
    let sub = Subscriber::connect(&broker.observer_url());
    let store = StoreToml::new(
        &broker.url(),
        &link.gateway_path(),
        &dir.path().join("spool.sqlite"),
    );
    let config = store.write(&dir.path().join("store.toml"));
    let ready = dir.path().join("gateway.ready");
    clear_ready_file(&ready);
    let mut args = GatewayArgs::new(&config);
    args.extra = vec!["--ready-file".into(), ready.display().to_string()];
    let mut gateway = args.spawn();
    gateway.wait_ready(&ready, STEP);

    // Shoppers stop at the fixture often, so its presence tag transmits
    // (dwells) all through the run.
    let mut sim_cmd = Command::new(aisle_bin());
    sim_cmd
        .arg("simulate")
        .arg("--config")
        .arg(&config)
        .arg("--port")
        .arg(link.device_path())
        .arg("--truth")
        .arg(dir.path().join("truth.json"))
        .args([
            "--duration",
            "90s",
            "--shoppers-per-min",
            "120",
            "--window",
            "2m",
        ]);
    let _sim = ChildGuard::spawn("aisle simulate", &mut sim_cmd, &dir.path().join("sim.log"));

    let tag = PRESENCE_TAG.to_string();
    let run = |args: &[&str]| {
        Command::new(aisle_bin())
            .arg("tag")
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run aisle tag")
    };
    let out = run(&[
        "identify",
        "--tag",
        &tag,
        "--for",
        "3s",
        "--expires-in",
        "60s",
    ]);
    assert_confirmed(&out);

    let out = run(&[
        "configure",
        "--tag",
        &tag,
        "--set",
        "dwell_min_ms=4000",
        "--expires-in",
        "60s",
    ]);
    assert_confirmed(&out);

    let confirmed = |kind: &str| {
        wait_until(&format!("{kind} confirmed on the tags topic"), STEP, || {
            sub.tag_reports()
                .iter()
                .flat_map(|r| r["commands"].as_array().cloned().unwrap_or_default())
                .find(|u: &Value| {
                    u["tag"] == PRESENCE_TAG && u["kind"] == kind && u["state"] == "confirmed"
                })
        })
    };
    confirmed("identify");
    confirmed("configure");
    gateway.sigterm();
}

/// The CLI exited 0 and printed the tag's confirmation.
fn assert_confirmed(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("confirmed by the tag"), "{stdout}");
}
