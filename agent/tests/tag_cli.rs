//! `aisle tag config` / `aisle tag show` as a technician runs them: the real
//! binary writing a page image that the firmware's own parser then reads.

use firmware::{Config, EntranceSettings, PickupTuning, Role, CONFIG_IMAGE_LEN};
use protocol::{EpcBytes, Settings};
use std::process::{Command, Output};

/// The GS1 Tag Data Standard's SGTIN-96 example.
const EPC_HEX: &str = "3074257BF7194E4000001A85";

fn aisle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(args)
        .output()
        .expect("run aisle")
}

fn epc() -> EpcBytes {
    let bytes: Vec<u8> = (0..EPC_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&EPC_HEX[i..i + 2], 16).unwrap())
        .collect();
    EpcBytes::new(&bytes).unwrap()
}

/// Runs a command that must fail and returns its stderr.
fn failure(args: &[&str]) -> String {
    let out = aisle(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("aisle: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn motion_tag_page_is_read_back_by_the_firmware() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.bin");
    let page_arg = page.to_str().unwrap();
    let out = aisle(&[
        "tag",
        "config",
        "--id",
        "0xA15E01",
        "--role",
        "motion",
        "--epc",
        EPC_HEX,
        "--pickup-threshold-mg",
        "200",
        "--still-ms",
        "8000",
        "--pickup-tilt-mg",
        "120",
        "--pickup-tilt-mg-s",
        "200",
        "-o",
        page_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let image = std::fs::read(&page).unwrap();
    assert_eq!(image.len(), CONFIG_IMAGE_LEN);
    let expected = Config {
        tag: 0x00A1_5E01,
        role: Role::Motion,
        settings: Settings {
            pickup_threshold_mg: 200,
            still_ms: 8_000,
            ..Settings::default()
        },
        epc: Some(epc()),
        pickup: PickupTuning {
            tilt_mg: 120,
            tilt_mg_s: 200,
        },
        entrance: EntranceSettings::default(),
    };
    assert_eq!(Config::from_image(&image), Ok(expected));

    let shown = aisle(&["tag", "show", page_arg]);
    assert!(shown.status.success());
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("tag: 0x00a15e01"), "{text}");
    assert!(text.contains("role: motion"), "{text}");
    assert!(text.contains(&format!("epc: {EPC_HEX}")), "{text}");
    assert!(
        text.contains("pickup: 200 mg, 4 of 6 samples, tilt 120 mg for 200 mg·s, still 8000 ms"),
        "{text}"
    );
}

#[test]
fn presence_tag_page_has_no_epc_and_default_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("fixture.bin");
    let out = aisle(&[
        "tag",
        "config",
        "--id",
        "4242",
        "--role",
        "presence",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = Config::from_image(&std::fs::read(&page).unwrap()).unwrap();
    assert_eq!(
        config,
        Config {
            tag: 4242,
            role: Role::Presence,
            settings: Settings::default(),
            epc: None,
            pickup: PickupTuning::default(),
            entrance: EntranceSettings::default(),
        }
    );
}

#[test]
fn bad_requests_are_refused_with_the_reason_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.bin");
    let o = page.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--id", "1", "--role", "motion"], "needs --epc"),
        (
            &["--id", "1", "--role", "reader", "--epc", EPC_HEX],
            "motion tags only",
        ),
        (
            &["--id", "1", "--role", "motion", "--epc", "E2801160600002"],
            "not a valid SGTIN",
        ),
        (
            &["--id", "1", "--role", "motion", "--epc", "30zz"],
            "not hex",
        ),
        (
            &["--id", "1", "--role", "presence", "--pickup-k", "9"],
            "--pickup-k must be 1 to --pickup-m",
        ),
        (
            &["--id", "1", "--role", "entrance", "--period-ms", "0"],
            "--period-ms must be at least 1",
        ),
        (
            &["--id", "1", "--role", "entrance", "--blocked-ms", "30"],
            "--blocked-ms (30) must be longer than --min-break-ms (40)",
        ),
    ];
    for (args, reason) in cases {
        let mut full = vec!["tag", "config"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", o]);
        let stderr = failure(&full);
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(!page.exists(), "{args:?} wrote a page");
    }
}

#[test]
fn show_rejects_a_corrupt_page() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.bin");
    let out = aisle(&[
        "tag",
        "config",
        "--id",
        "7",
        "--role",
        "reader",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let mut image = std::fs::read(&page).unwrap();
    image[8] ^= 0x01;
    std::fs::write(&page, &image).unwrap();
    let stderr = failure(&["tag", "show", page.to_str().unwrap()]);
    assert!(
        stderr.contains("not a usable config page (Corrupt)"),
        "{stderr}"
    );
}

#[test]
fn entrance_page_carries_the_counters_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("door.page");
    let page_arg = page.to_str().unwrap();
    let out = aisle(&[
        "tag",
        "config",
        "--id",
        "0x0E170001",
        "--role",
        "entrance",
        "--min-break-ms",
        "60",
        "--blocked-ms",
        "45000",
        "--period-ms",
        "300000",
        "-o",
        page_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = Config::from_image(&std::fs::read(&page).unwrap()).unwrap();
    assert_eq!(
        config,
        Config {
            tag: 0x0E17_0001,
            role: Role::Entrance,
            settings: Settings::default(),
            epc: None,
            pickup: PickupTuning::default(),
            entrance: EntranceSettings {
                min_break_ms: 60,
                blocked_ms: 45_000,
                period_ms: 300_000,
            },
        }
    );
    let shown = aisle(&["tag", "show", page_arg]);
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("role: entrance"), "{text}");
    assert!(
        text.contains("entrance: break 60 ms, blocked after 45000 ms, counts every 300000 ms"),
        "{text}"
    );
}

#[test]
fn config_help_lists_the_entrance_keys() {
    let out = aisle(&["tag", "config", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    for key in ["entrance", "--min-break-ms", "--blocked-ms", "--period-ms"] {
        assert!(help.contains(key), "{key} missing from --help:\n{help}");
    }
}
