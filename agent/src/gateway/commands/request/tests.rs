use super::*;
use std::path::Path;

const TOML: &str = r#"
store = "S1"
[broker]
url = "mqtt://127.0.0.1:1883"
[spool]
path = "/var/lib/aisle/spool.sqlite"
[[fixtures]]
id = "F1"
zone = "tops"
presence_tag = 1001
gtins = ["80614141123458"]
[[readers]]
tag = 2001
kind = "fitting_room"
zone = "fr-1"
[[entrances]]
tag = 4001
zone = "door"
[[garments]]
tag = 3001
epc = "3074257BF7194E4000001A85"
fixture = "F1"
"#;

fn directory() -> TagDirectory {
    let cfg = crate::config::parse(Path::new("/etc/aisle/store.toml"), TOML).unwrap();
    TagDirectory::new(&cfg, Path::new("/etc/aisle/store.toml"))
}

fn configure(tag: u32, settings: &[(&str, u64)]) -> CommandRequest {
    CommandRequest {
        tag,
        command: "configure".into(),
        settings: settings.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..CommandRequest::default()
    }
}

fn check(req: &CommandRequest) -> Result<NewCommand, String> {
    directory().check(req, Source::Local, UnixMillis(1_000))
}

#[test]
fn refuses_a_tag_not_in_the_config_naming_the_file() {
    let req = CommandRequest {
        tag: 9999,
        command: "identify".into(),
        ..CommandRequest::default()
    };
    let err = check(&req).unwrap_err();
    assert!(
        err.starts_with("tag 9999 is not in /etc/aisle/store.toml"),
        "{err}"
    );
}

#[test]
fn an_identify_defaults_to_a_minute_and_a_quarter_hour_expiry() {
    let req = CommandRequest {
        tag: 3001,
        command: "identify".into(),
        ..CommandRequest::default()
    };
    let c = check(&req).unwrap();
    assert_eq!(
        c.command,
        Command::Identify {
            duration_ms: 60_000
        }
    );
    assert_eq!(c.expires_at, UnixMillis(1_000 + 15 * 60 * 1_000));
}

#[test]
fn an_identify_is_capped_like_the_firmware_caps_it() {
    let mut req = CommandRequest {
        tag: 3001,
        command: "identify".into(),
        duration_ms: Some(5 * 60 * 1_000),
        ..CommandRequest::default()
    };
    assert!(check(&req).is_ok());
    req.duration_ms = Some(5 * 60 * 1_000 + 1);
    assert!(check(&req).unwrap_err().contains("at most 5 minutes"));
}

#[test]
fn a_configure_sets_only_the_named_settings() {
    let c = check(&configure(3001, &[("pickup_k", 4), ("pickup_m", 8)])).unwrap();
    let Command::Configure { changes } = c.command else {
        panic!("{c:?}");
    };
    assert_eq!(changes.mask, 0b110);
    assert_eq!((changes.values.pickup_k, changes.values.pickup_m), (4, 8));
}

/// A tag, the settings asked for it, and what the refusal must say.
type Case = (u32, &'static [(&'static str, u64)], &'static str);

#[test]
fn refuses_settings_the_role_does_not_use_unknown_names_and_bad_values() {
    let cases: [Case; 7] = [
        (
            1001,
            &[("pickup_k", 3)],
            "presence tag, which does not use pickup_k",
        ),
        (
            4001,
            &[("dwell_min_ms", 3)],
            "entrance counter, which does not use dwell_min_ms",
        ),
        (3001, &[("pickup_kk", 3)], "unknown setting \"pickup_kk\""),
        (
            3001,
            &[("pickup_k", 300)],
            "value above the largest allowed, 255",
        ),
        (3001, &[("pickup_m", 33)], "at most 32 samples"),
        (
            3001,
            &[("pickup_k", 5), ("pickup_m", 4)],
            "pickup_k=5 is above pickup_m=4",
        ),
        (3001, &[], "at least one setting"),
    ];
    for (tag, settings, want) in cases {
        let err = check(&configure(tag, settings)).unwrap_err();
        assert!(err.contains(want), "{settings:?}: {err}");
    }
    assert!(check(&configure(2001, &[("reader_visit_ms", 5_000)])).is_ok());
    assert!(check(&configure(4001, &[("heartbeat_s", 120)])).is_ok());
}

#[test]
fn hq_commands_need_their_id_and_this_store() {
    let ok = br#"{"id":"c-1","store":"S1","tag":3001,"command":"identify"}"#;
    assert_eq!(from_hq(ok, "S1").unwrap().id.as_deref(), Some("c-1"));
    let other = br#"{"id":"c-2","store":"S2","tag":3001,"command":"identify"}"#;
    let (why, id, tag) = from_hq(other, "S1").unwrap_err();
    assert!(why.contains("store \"S2\""), "{why}");
    assert_eq!((id.as_deref(), tag), (Some("c-2"), Some(3001)));
    let no_id = br#"{"store":"S1","tag":3001,"command":"identify"}"#;
    assert!(from_hq(no_id, "S1")
        .unwrap_err()
        .0
        .contains("missing field `id`"));
    let no_store = br#"{"id":"c-3","tag":3001,"command":"identify"}"#;
    assert!(from_hq(no_store, "S1")
        .unwrap_err()
        .0
        .contains("missing field `store`"));
    let (why, id, _) = from_hq(br#"{"id":"c-4","tag":"x"}"#, "S1").unwrap_err();
    assert!(why.starts_with("malformed command"), "{why}");
    assert_eq!(id.as_deref(), Some("c-4"));
    assert!(from_hq(b"not json", "S1")
        .unwrap_err()
        .0
        .starts_with("malformed command"));
}
