//! Config validation cases, located to the line and column.

use super::*;

const MINIMAL: &str = r#"store = "S1"
[broker]
url = "mqtt://127.0.0.1:1883"
[spool]
path = "/tmp/spool.sqlite"
"#;

fn errors(text: &str) -> Vec<ConfigError> {
    parse(Path::new("store.toml"), text)
        .expect_err("config should be rejected")
        .0
}

#[test]
fn minimal_config_gets_defaults() {
    let c = parse(Path::new("store.toml"), MINIMAL).unwrap();
    assert_eq!(c.gateway_id(), "gw-S1");
    assert_eq!(c.default_client_id(), "aisle-gw-S1");
    assert_eq!(c.batch.max_events, defaults::BATCH_MAX_EVENTS);
    assert_eq!(c.batch.max_bytes, defaults::BATCH_MAX_BYTES);
    assert_eq!(c.batch.linger_ms, defaults::BATCH_LINGER_MS);
    assert_eq!(c.spool.max_bytes, defaults::SPOOL_MAX_BYTES);
    assert_eq!(c.shutdown_grace_s, defaults::SHUTDOWN_GRACE_S);
    assert_eq!(c.status_interval_s, defaults::STATUS_INTERVAL_S);
    assert_eq!(c.broker.keep_alive_s, 30);
}

#[test]
fn duplicate_fixture_id_points_at_the_second() {
    let text = format!(
            "{MINIMAL}[[fixtures]]\nid = \"F1\"\nzone = \"a\"\npresence_tag = 1\n[[fixtures]]\nid = \"F1\"\nzone = \"b\"\npresence_tag = 2\n"
        );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (11, 6));
    assert!(
        errs[0]
            .message
            .contains("duplicate fixture id \"F1\" (first at line 7)"),
        "{}",
        errs[0]
    );
}

#[test]
fn tag_used_by_a_fixture_and_a_reader_is_rejected() {
    let text = format!(
            "{MINIMAL}[[fixtures]]\nid = \"F1\"\nzone = \"a\"\npresence_tag = 7\n[[readers]]\ntag = 7\nkind = \"checkout\"\nzone = \"till\"\n"
        );
    let errs = errors(&text);
    assert_eq!((errs[0].line, errs[0].column), (11, 7));
    assert!(
        errs[0]
            .message
            .contains("tag id 7 is used twice (first at line 9)"),
        "{}",
        errs[0]
    );
}

const ENTRANCE: &str = "[[entrances]]\ntag = 7\nzone = \"main-door\"\n";

#[test]
fn entrance_is_parsed_with_its_zone() {
    let c = parse(Path::new("store.toml"), &format!("{MINIMAL}{ENTRANCE}")).unwrap();
    assert_eq!(c.entrances.len(), 1);
    assert_eq!(
        (c.entrances[0].tag, c.entrances[0].zone.as_str()),
        (7, "main-door")
    );
}

#[test]
fn entrance_tag_that_is_a_fixtures_presence_tag_is_rejected() {
    let text =
        format!("{MINIMAL}[[fixtures]]\nid = \"F1\"\nzone = \"a\"\npresence_tag = 7\n{ENTRANCE}");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (11, 7));
    assert!(
        errs[0]
            .message
            .contains("tag id 7 is used twice (first at line 9)"),
        "{}",
        errs[0]
    );
}

#[test]
fn entrance_tag_that_is_a_reader_or_a_garment_is_rejected() {
    let reader =
        format!("{MINIMAL}[[readers]]\ntag = 7\nkind = \"checkout\"\nzone = \"till\"\n{ENTRANCE}");
    let errs = errors(&reader);
    assert_eq!((errs[0].line, errs[0].column), (11, 7), "{errs:?}");
    assert!(errs[0].message.contains("first at line 7"), "{}", errs[0]);
    let garment = format!(
        "{MINIMAL}{ENTRANCE}[[fixtures]]\nid = \"F1\"\nzone = \"a\"\npresence_tag = 1\ngtins = [\"80614141123458\"]\n[[garments]]\ntag = 7\nepc = \"3074257BF7194E4000001A85\"\nfixture = \"F1\"\n"
    );
    let errs = errors(&garment);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (15, 7));
    assert!(
        errs[0]
            .message
            .contains("tag id 7 is used twice (first at line 7)"),
        "{}",
        errs[0]
    );
}

#[test]
fn duplicate_entrance_tags_are_rejected() {
    let errs = errors(&format!("{MINIMAL}{ENTRANCE}{ENTRANCE}"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (10, 7));
    assert!(
        errs[0]
            .message
            .contains("tag id 7 is used twice (first at line 7)"),
        "{}",
        errs[0]
    );
}

#[test]
fn entrance_with_an_empty_zone_is_rejected() {
    let errs = errors(&format!("{MINIMAL}{}", ENTRANCE.replace("main-door", "")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (8, 8));
    assert_eq!(errs[0].message, "entrance zone is empty");
    assert!(errs[0].help.contains("main-door"), "{}", errs[0]);
}

#[test]
fn store_id_outside_the_topic_charset_is_rejected() {
    let errs = errors(&MINIMAL.replace("\"S1\"", "\"S 1/#\""));
    assert_eq!((errs[0].line, errs[0].column), (1, 9));
}

#[test]
fn garment_gtin_must_be_on_its_fixture() {
    let text = format!(
            "{MINIMAL}[[fixtures]]\nid = \"F1\"\nzone = \"a\"\npresence_tag = 1\ngtins = [\"80614141123465\"]\n[[garments]]\ntag = 2\nepc = \"3074257BF7194E4000001A85\"\nfixture = \"F1\"\n"
        );
    let errs = errors(&text);
    assert!(
        errs[0]
            .message
            .contains("GTIN 80614141123458 is not on fixture \"F1\""),
        "{}",
        errs[0]
    );
}

#[test]
fn metrics_listen_is_optional_and_parsed() {
    assert!(parse(Path::new("store.toml"), MINIMAL)
        .unwrap()
        .metrics
        .is_none());
    let text = format!("{MINIMAL}[metrics]\nlisten = \"127.0.0.1:9464\"\n");
    let c = parse(Path::new("store.toml"), &text).unwrap();
    let listen = c.metrics.unwrap().listen_addr().unwrap();
    assert_eq!(listen, "127.0.0.1:9464".parse().unwrap());
}

#[test]
fn metrics_listen_without_a_port_points_at_the_value() {
    let text = format!("{MINIMAL}[metrics]\nlisten = \"localhost\"\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (7, 10));
    assert!(
        errs[0]
            .message
            .contains("metrics listen \"localhost\" is not an IP address and port"),
        "{}",
        errs[0]
    );
    assert!(errs[0].help.contains("127.0.0.1:9464"), "{}", errs[0]);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../../../examples/store.toml");

    proptest! {
        #[test]
        fn on_arbitrary_text(text in "\\PC{0,400}") {
            let _ = parse(Path::new("x.toml"), &text);
        }

        #[test]
        fn on_the_example_with_a_slice_cut_out(at in 0usize..EXAMPLE.len(), len in 0usize..40) {
            let end = (at + len).min(EXAMPLE.len());
            if EXAMPLE.is_char_boundary(at) && EXAMPLE.is_char_boundary(end) {
                let text = format!("{}{}", &EXAMPLE[..at], &EXAMPLE[end..]);
                if let Err(errors) = parse(Path::new("x.toml"), &text) {
                    for e in &errors.0 {
                        prop_assert!(e.line >= 1 && e.line <= text.lines().count() + 1, "{e}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_control_socket_defaults_to_beside_the_spool() {
    let c = parse(Path::new("store.toml"), MINIMAL).unwrap();
    assert_eq!(c.control_socket(), Path::new("/tmp/control.sock"));
    let text = format!("{MINIMAL}[control]\nsocket = \"/run/aisle/control.sock\"\n");
    let c = parse(Path::new("store.toml"), &text).unwrap();
    assert_eq!(c.control_socket(), Path::new("/run/aisle/control.sock"));
}

#[test]
fn a_control_socket_path_too_long_for_a_unix_socket_points_at_its_key() {
    let long = format!("/run/{}/control.sock", "a".repeat(100));
    let text = format!("{MINIMAL}[control]\nsocket = \"{long}\"\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    // Line 7 of the file: `socket = …` under `[control]`.
    assert_eq!(errs[0].line, 7, "{errs:?}");
    assert!(
        errs[0].message.contains("longer than a Unix socket allows"),
        "{errs:?}"
    );
    let text = format!("{MINIMAL}[control]\nsocket = \"/tmp/spool.sqlite\"\n");
    assert!(errors(&text)[0].message.contains("is the spool file's"));
}
