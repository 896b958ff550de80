//! Broker security as docs/gateway.md ("Broker security") tells HQ to set
//! it up: per-store credentials, no anonymous clients, and the ACL the
//! project ships, `examples/mosquitto/aisle.acl`, on a real Mosquitto.
//!
//! The test clients speak MQTT 5, whose PUBACK says "not authorized"
//! (Mosquitto 2.0 may instead drop the connection of a client whose publish
//! it refused; either is a refusal). What an unrestricted observer receives
//! shows the refused messages went nowhere: the broker handles one
//! client's messages in order and the observer gets them in order, so once
//! it has a message sent after the refused ones, any refused one that got
//! through would already be there. Subscriptions are not refused at SUBACK;
//! the ACL is applied to every message delivered.

use aisle_system_tests::mqtt_user::SubscribeReasonCode;
use aisle_system_tests::tls::mosquitto_password_file_for;
use aisle_system_tests::{
    assert_delivered, pickups, wait_until, Faults, GatewayRig, HqCollector, Mosquitto,
    MosquittoOptions, MqttUser, STEP,
};
use rumqttc::v5::mqttbytes::v5::PubAckReason;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USERS: [(&str, &str); 3] = [
    ("S1", "s1-secret"),
    ("S2", "s2-secret"),
    ("hq", "hq-secret"),
];

fn shipped_acl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mosquitto/aisle.acl")
}

/// A broker with the store and HQ users and the shipped ACL.
fn secured_broker(dir: &Path) -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        password_file: Some(mosquitto_password_file_for(dir, &USERS)),
        acl_file: Some(shipped_acl()),
        allow_anonymous: false,
        ..MosquittoOptions::default()
    })
}

fn login(broker: &Mosquitto, user: &str) -> MqttUser {
    let password = USERS.iter().find(|(u, _)| *u == user).unwrap().1;
    MqttUser::connect(&broker.url(), Some((user, password)))
        .unwrap_or_else(|err| panic!("{user} could not log in: {err}"))
}

/// Everything on the broker, seen from the unrestricted test listener.
fn observer(broker: &Mosquitto) -> MqttUser {
    let observer = MqttUser::connect(&broker.observer_url(), None).unwrap();
    assert!(matches!(
        observer.subscribe("aisle/#"),
        SubscribeReasonCode::Success(_)
    ));
    observer
}

/// Publishes as `user` on a connection of its own, and checks the broker
/// refused it.
fn assert_refused(broker: &Mosquitto, user: &str, topic: &str) {
    let client = login(broker, user);
    match client.publish(topic, b"must not arrive") {
        Ok(PubAckReason::NotAuthorized) | Err(_) => {}
        Ok(reason) => panic!("{user} published to {topic}: PUBACK {reason:?}"),
    }
}

fn topics(messages: &[(String, Vec<u8>)]) -> Vec<&str> {
    messages.iter().map(|(t, _)| t.as_str()).collect()
}

#[test]
fn a_store_gateway_and_hq_work_under_the_shipped_acl() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured_broker(dir.path());
    let url = broker.url();
    let hq_password = dir.path().join("hq.password");
    std::fs::write(&hq_password, "hq-secret\n").unwrap();
    let hq = HqCollector::start(
        dir.path(),
        &url,
        &[
            "--username",
            "hq",
            "--password-file",
            hq_password.to_str().unwrap(),
        ],
    );

    let gateway_password = dir.path().join("s1.password");
    std::fs::write(&gateway_password, "s1-secret\n").unwrap();
    let mut rig = GatewayRig::with_broker(broker, |store| {
        assert_eq!(store.store, "S1", "the ACL keys stores by user name");
        store.username = Some("S1".into());
        store.password_file = Some(gateway_password.clone());
    });
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..10), STEP);
    let delivered = assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    // The retained status (the gateway's own topic) got through too.
    rig.sub
        .wait_status("the gateway's online status", STEP, |s| {
            s["state"] == "online"
        });

    // HQ's collector, logged in as `hq`, read every event the store sent.
    let expected = delivered.len() as i64;
    wait_until("HQ to store the store's events", STEP, || {
        let conn = rusqlite::Connection::open_with_flags(
            &hq.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM events WHERE store = 'S1'", [], |r| {
                r.get(0)
            })
            .ok()?;
        (n == expected).then_some(())
    });
}

#[test]
fn a_store_publishes_only_to_its_own_events_status_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured_broker(dir.path());
    let observer = observer(&broker);

    let refused = [
        "aisle/v1/stores/S2/events",
        "aisle/v1/stores/S2/status",
        "aisle/v1/stores/S2/tags",
        "aisle/v1/stores/S1/commands",
        "aisle/v1/stores/S2/commands",
        "aisle/v1/stores/S1/other",
        "elsewhere/S1",
    ];
    for topic in refused {
        assert_refused(&broker, "S1", topic);
    }
    let s1 = login(&broker, "S1");
    let allowed = [
        "aisle/v1/stores/S1/tags",
        "aisle/v1/stores/S1/status",
        "aisle/v1/stores/S1/events",
    ];
    for topic in allowed {
        assert_eq!(s1.publish(topic, b"from S1"), Ok(PubAckReason::Success));
    }
    let seen = observer.messages_until("aisle/v1/stores/S1/events");
    assert_eq!(
        topics(&seen),
        allowed,
        "only S1's own three topics get through"
    );
}

#[test]
fn a_store_reads_only_its_own_commands() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured_broker(dir.path());
    let s1 = login(&broker, "S1");
    assert!(matches!(
        s1.subscribe("aisle/v1/stores/S1/commands"),
        SubscribeReasonCode::Success(_)
    ));
    // Wider subscriptions are accepted, but deliver nothing of others.
    for filter in [
        "aisle/v1/stores/S2/commands",
        "aisle/v1/stores/+/commands",
        "aisle/v1/stores/S2/events",
        "aisle/#",
    ] {
        let _ = s1.subscribe(filter);
    }

    let hq = login(&broker, "hq");
    let s2 = login(&broker, "S2");
    // Published, but not to S1.
    for (client, topic) in [
        (&hq, "aisle/v1/stores/S2/commands"),
        (&s2, "aisle/v1/stores/S2/events"),
        (&hq, "aisle/v1/stores/S1/commands"),
    ] {
        assert!(client.publish(topic, b"a message").is_ok_and(|r| matches!(
            r,
            PubAckReason::Success | PubAckReason::NoMatchingSubscribers
        )));
    }
    // One copy per matching subscription (Mosquitto does not merge
    // overlapping ones), all of them S1's commands.
    let seen = s1.messages_until("aisle/v1/stores/S1/commands");
    assert!(
        topics(&seen)
            .iter()
            .all(|t| *t == "aisle/v1/stores/S1/commands"),
        "S1 read another store's messages: {:?}",
        topics(&seen)
    );
}

#[test]
fn hq_reads_every_store_and_alone_sends_commands() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured_broker(dir.path());
    let observer = observer(&broker);
    let hq = login(&broker, "hq");
    for filter in [
        "aisle/v1/stores/+/events",
        "aisle/v1/stores/+/status",
        "aisle/v1/stores/+/tags",
    ] {
        assert!(matches!(
            hq.subscribe(filter),
            SubscribeReasonCode::Success(_)
        ));
    }
    // HQ cannot speak for a store.
    for topic in [
        "aisle/v1/stores/S1/events",
        "aisle/v1/stores/S1/status",
        "aisle/v1/stores/S1/tags",
    ] {
        assert_refused(&broker, "hq", topic);
    }
    assert_eq!(
        hq.publish("aisle/v1/stores/S2/commands", b"identify"),
        Ok(PubAckReason::Success)
    );
    assert_eq!(
        topics(&observer.messages_until("aisle/v1/stores/S2/commands")),
        ["aisle/v1/stores/S2/commands"]
    );

    let s1 = login(&broker, "S1");
    let s2 = login(&broker, "S2");
    for (store, topic) in [
        (&s1, "aisle/v1/stores/S1/events"),
        (&s2, "aisle/v1/stores/S2/tags"),
        (&s2, "aisle/v1/stores/S2/status"),
    ] {
        assert_eq!(
            store.publish(topic, b"from a store"),
            Ok(PubAckReason::Success)
        );
    }
    let seen = hq.messages_until("aisle/v1/stores/S2/status");
    assert_eq!(
        topics(&seen),
        [
            "aisle/v1/stores/S1/events",
            "aisle/v1/stores/S2/tags",
            "aisle/v1/stores/S2/status"
        ]
    );
}

#[test]
fn anonymous_clients_and_wrong_passwords_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured_broker(dir.path());
    let anonymous = MqttUser::connect(&broker.url(), None);
    assert!(anonymous.is_err(), "an anonymous client was let in");
    let wrong = MqttUser::connect(&broker.url(), Some(("S1", "s2-secret")));
    assert!(wrong.is_err(), "S1 logged in with S2's password");
}
