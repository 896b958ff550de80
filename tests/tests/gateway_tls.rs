//! TLS and credentials to HQ's broker, with a test CA made in the test.

use aisle_system_tests::tls::{make_server_pki, mosquitto_password_file};
use aisle_system_tests::{
    assert_delivered, pickups, Faults, GatewayRig, Mosquitto, MosquittoOptions, STEP,
};

#[test]
fn delivers_over_tls_with_a_private_ca_and_a_password_file() {
    let pki_dir = tempfile::tempdir().unwrap();
    let tls = make_server_pki(pki_dir.path());
    let broker = Mosquitto::start_with(MosquittoOptions {
        tls: Some(tls.clone()),
        password_file: Some(mosquitto_password_file(
            pki_dir.path(),
            "store-s1",
            "correct horse",
        )),
        allow_anonymous: false,
        ..MosquittoOptions::default()
    });
    let gateway_password = pki_dir.path().join("mqtt.password");
    std::fs::write(&gateway_password, "correct horse\n").unwrap();
    let mut rig = GatewayRig::with_broker(broker, |store| {
        store.username = Some("store-s1".into());
        store.password_file = Some(gateway_password.clone());
        store.ca_file = Some(tls.ca.clone());
    });
    assert!(rig.store.broker_url.starts_with("mqtts://"));
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..10), STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let log = rig.gateway().log_text();
    assert!(
        !log.contains("correct horse"),
        "the MQTT password appears in the gateway log"
    );
}

#[test]
fn keeps_spooling_with_a_wrong_password_and_delivers_once_it_is_fixed() {
    let pki_dir = tempfile::tempdir().unwrap();
    let tls = make_server_pki(pki_dir.path());
    let broker = Mosquitto::start_with(MosquittoOptions {
        tls: Some(tls.clone()),
        password_file: Some(mosquitto_password_file(pki_dir.path(), "store-s1", "right")),
        allow_anonymous: false,
        ..MosquittoOptions::default()
    });
    let gateway_password = pki_dir.path().join("mqtt.password");
    std::fs::write(&gateway_password, "wrong\n").unwrap();
    let mut rig = GatewayRig::with_broker(broker, |store| {
        store.username = Some("store-s1".into());
        store.password_file = Some(gateway_password.clone());
        store.ca_file = Some(tls.ca.clone());
    });
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..5), STEP);
    assert!(
        rig.gateway().is_running(),
        "a refused login must not stop the gateway"
    );

    // Store IT fixes the password file and restarts the service.
    std::fs::write(&gateway_password, "right\n").unwrap();
    rig.gateway().sigterm();
    rig.gateway().wait_exit(STEP);
    rig.start_gateway();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
}
