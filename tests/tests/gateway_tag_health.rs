//! Tag health on `aisle/v1/stores/{store}/tags`: what store IT and HQ
//! learn about each tag from its Boot and Heartbeat frames and from being
//! heard at all, published every `status_interval_s` and once at shutdown.

use aisle_system_tests::subscriber::Subscriber;
use aisle_system_tests::{pickups, GatewayRig, STEP};
use protocol::time::UnixMillis;
use protocol::{ConfigStatus, FwVersion, ResetReason, TagEvent, Uplink};
use serde_json::Value;

const FW: FwVersion = FwVersion {
    major: 1,
    minor: 4,
    patch: 2,
};

fn boot(tag: u32, boot: u32, seq: u16, reset_reason: ResetReason) -> Uplink {
    Uplink {
        tag,
        boot,
        seq,
        age_ms: 0,
        event: TagEvent::Boot {
            fw: FW,
            reset_reason,
            config: ConfigStatus::Loaded,
        },
    }
}

fn heartbeat(tag: u32, boot: u32, seq: u16, battery_mv: u16, dropped: u32) -> Uplink {
    Uplink {
        tag,
        boot,
        seq,
        age_ms: 0,
        event: TagEvent::Heartbeat {
            battery_mv,
            fw: FW,
            dropped,
        },
    }
}

/// The newest health entry for `tag` across every report received so far
/// that satisfies `pred`, with its report.
fn latest_health(sub: &Subscriber, tag: u32, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    sub.tag_reports()
        .iter()
        .rev()
        .flat_map(|r| r["tags"].as_array().cloned().unwrap_or_default())
        .find(|t| t["tag"] == tag && pred(t))
}

fn last_seen(health: &Value) -> UnixMillis {
    serde_json::from_value(health["last_seen"].clone())
        .unwrap_or_else(|e| panic!("last_seen of {health} is not a timestamp: {e}"))
}

/// Sends the health frames of three tags and one plain event, waiting for
/// their acks, and returns the time window they were received in.
fn send_health(rig: &GatewayRig) -> (UnixMillis, UnixMillis, [u32; 3]) {
    let mut garments = rig.store.garment_tags();
    let tags = [
        garments.next().unwrap(),
        garments.next().unwrap(),
        garments.next().unwrap(),
    ];
    // Input written before the gateway opens the port is discarded, and
    // resends come in any order: write once the port is open, so the
    // frames arrive in the order a tag sends them.
    rig.sub.wait_status("the receiver open", STEP, |s| {
        s["receivers"][0]["state"] == "open"
    });
    let before = UnixMillis::now();
    rig.tags.deliver(
        &[
            // A tag that booted after a brown-out, then reported twice: the
            // newer heartbeat's battery and the highest drop count win.
            boot(tags[0], 3, 0, ResetReason::Brownout),
            heartbeat(tags[0], 3, 1, 2_900, 4),
            heartbeat(tags[0], 3, 2, 2_870, 6),
            // A tag heard in an earlier boot, then rebooted: the drop count
            // is per boot, so only boot 8's counts.
            heartbeat(tags[1], 7, 0, 3_100, 9),
            heartbeat(tags[1], 8, 0, 3_050, 1),
        ],
        STEP,
    );
    // A tag heard only through a funnel event: seen, nothing else known.
    rig.tags
        .deliver(&pickups([tags[2]].into_iter(), 2, 0..1), STEP);
    (before, UnixMillis::now(), tags)
}

fn assert_health(sub: &Subscriber, window: (UnixMillis, UnixMillis), tags: [u32; 3]) {
    let (before, after) = window;
    let find = |tag, what: &str, pred: &dyn Fn(&Value) -> bool| {
        latest_health(sub, tag, pred).unwrap_or_else(|| {
            panic!(
                "no tag health for tag {tag} with {what}: {:?}",
                sub.tag_reports()
            )
        })
    };
    let first = find(tags[0], "battery 2870", &|t| t["battery_mv"] == 2_870);
    assert_eq!(first["boot"], 3, "{first}");
    assert_eq!(first["dropped"], 6, "{first}");
    assert_eq!(first["fw"], "1.4.2", "{first}");
    assert_eq!(first["reset_reason"], "Brownout", "{first}");

    let second = find(tags[1], "boot 8", &|t| t["boot"] == 8);
    assert_eq!(second["battery_mv"], 3_050, "{second}");
    assert_eq!(
        second["dropped"], 1,
        "a new boot restarts the drop count: {second}"
    );
    assert_eq!(second["fw"], "1.4.2", "{second}");

    let third = find(tags[2], "an entry", &|_| true);
    assert_eq!(third["boot"], 2, "{third}");
    for field in ["battery_mv", "dropped", "fw", "reset_reason"] {
        assert!(
            third[field].is_null(),
            "{field} of a tag that sent no health frame: {third}"
        );
    }

    for health in [&first, &second, &third] {
        let seen = last_seen(health);
        assert!(
            before <= seen && seen <= after,
            "last_seen {seen:?} outside the time the frames were sent ({before:?}..{after:?}): {health}"
        );
    }
    for report in sub.tag_reports() {
        assert_eq!(report["store"], "S1", "{report}");
        assert_eq!(report["gateway"], "gw-S1", "{report}");
    }
}

#[test]
fn publishes_battery_drops_firmware_and_last_seen_of_each_tag_periodically() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    rig.start_gateway();
    let (before, after, tags) = send_health(&rig);
    // A report may go out between two frames of one tag: wait for the
    // entries that follow each tag's last frame.
    aisle_system_tests::wait_until("tag health after each tag's last frame", STEP, || {
        (latest_health(&rig.sub, tags[0], |t| t["battery_mv"] == 2_870).is_some()
            && latest_health(&rig.sub, tags[1], |t| t["boot"] == 8).is_some()
            && latest_health(&rig.sub, tags[2], |_| true).is_some())
        .then_some(())
    });
    assert_health(&rig.sub, (before, after), tags);
    assert!(rig.gateway().is_running());
}

#[test]
fn publishes_tag_health_heard_since_the_last_report_at_shutdown() {
    // The periodic report is an hour away: only the shutdown one can come.
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(3_600));
    rig.start_gateway();
    rig.sub
        .wait_status("the gateway online", STEP, |s| s["state"] == "online");
    let (before, after, tags) = send_health(&rig);
    rig.gateway().sigterm();
    assert!(rig.gateway().wait_exit(STEP).success(), "exit status");
    rig.sub.barrier(STEP);
    assert_health(&rig.sub, (before, after), tags);
}
