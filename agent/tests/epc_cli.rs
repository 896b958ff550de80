//! `aisle epc` as a technician runs it: the real binary, its stdout, stderr
//! and exit status.

use std::collections::BTreeSet;
use std::process::{Command, Output};

fn aisle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(args)
        .output()
        .expect("run aisle")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

/// Runs a command that must fail and returns its one stderr line.
fn failure_line(args: &[&str]) -> String {
    let out = aisle(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(out.stdout.is_empty(), "{args:?} printed {:?}", stdout(&out));
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: expected one line, got {stderr:?}"
    );
    assert!(lines[0].starts_with("aisle: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    lines[0].to_string()
}

#[test]
fn decode_prints_the_gs1_example_readably() {
    let out = aisle(&["epc", "decode", "3074257BF7194E4000001A85"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for expected in [
        "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
        "urn:epc:id:sgtin:0614141.812345.6789",
        "80614141123458",
        "0614141",
        "812345",
        "6789",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[test]
fn decode_json_has_exactly_the_documented_keys() {
    let out = aisle(&["epc", "decode", "3074257BF7194E4000001A85", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "scheme",
        "filter",
        "partition",
        "company_prefix",
        "item_reference",
        "serial",
        "gtin",
        "tag_uri",
        "pure_uri",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(
        v,
        serde_json::json!({
            "scheme": "sgtin-96", "filter": 3, "partition": 5,
            "company_prefix": "0614141", "item_reference": "812345", "serial": "6789",
            "gtin": "80614141123458",
            "tag_uri": "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
            "pure_uri": "urn:epc:id:sgtin:0614141.812345.6789",
        })
    );
}

#[test]
fn decode_json_escapes_sgtin198_serials_in_uris() {
    // GS1 TDS 2.3 Appendix E.3, SGTIN-198 example.
    let out = aisle(&[
        "epc",
        "decode",
        "3666C4409047E159B2C2BF100000000000000000000000000000",
        "--json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["scheme"], "sgtin-198");
    assert_eq!(v["serial"], "32a/b");
    assert_eq!(v["pure_uri"], "urn:epc:id:sgtin:95060001343.05.32a%2Fb");
}

#[test]
fn encode_prints_the_gs1_example_hex() {
    let out = aisle(&[
        "epc",
        "encode",
        "--gtin",
        "80614141123458",
        "--serial",
        "6789",
        "--company-prefix-len",
        "7",
        "--filter",
        "3",
    ]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "3074257BF7194E4000001A85\n");
}

#[test]
fn encode_sgtin198_matches_the_tds_example() {
    let out = aisle(&[
        "epc",
        "encode",
        "--gtin",
        "09506000134352",
        "--serial",
        "32a/b",
        "--company-prefix-len",
        "11",
        "--filter",
        "3",
        "--scheme",
        "sgtin-198",
    ]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "3666C4409047E159B2C2BF100000000000000000000000000000\n"
    );
}

#[test]
fn encode_pads_a_gtin13_from_a_label() {
    // GS1 TDS 2.3 E.3: GTIN 09506000134352 is EAN-13 9506000134352.
    let out = aisle(&[
        "epc",
        "encode",
        "--gtin",
        "9506000134352",
        "--serial",
        "123456789",
        "--company-prefix-len",
        "11",
        "--filter",
        "3",
    ]);
    assert!(out.status.success(), "{:?}", out);
    assert_eq!(stdout(&out), "3066C4409047E140075BCD15\n");
}

#[test]
fn encode_defaults_to_a_point_of_sale_sgtin96() {
    let out = aisle(&[
        "epc",
        "encode",
        "--gtin",
        "80614141123458",
        "--serial",
        "1",
        "--company-prefix-len",
        "7",
    ]);
    assert!(out.status.success());
    let hex = stdout(&out);
    let decoded = aisle(&["epc", "decode", hex.trim(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&decoded)).unwrap();
    assert_eq!(v["scheme"], "sgtin-96");
    assert_eq!(v["filter"], 1);
    assert_eq!(v["gtin"], "80614141123458");
    assert_eq!(v["serial"], "1");
}

#[test]
fn bad_hex_fails_with_one_line_naming_the_problem() {
    let line = failure_line(&["epc", "decode", "3074257BF7194E4000001A8G"]);
    assert!(
        line.contains("non-hex character 'G' at position 24"),
        "{line}"
    );
    let line = failure_line(&["epc", "decode", "3074257BF7194E40"]);
    assert!(line.contains("must be 12 bytes long, got 8"), "{line}");
    let line = failure_line(&["epc", "decode", "311BA1B300CE0A6A83000000"]);
    assert!(line.contains("not an SGTIN"), "{line}");
    let line = failure_line(&["epc", "decode", "307C257BF7194E4000001A85"]);
    assert!(line.contains("partition 7"), "{line}");
}

#[test]
fn bad_encode_inputs_fail_with_one_line_naming_the_problem() {
    let base = ["epc", "encode", "--company-prefix-len", "7"];
    let run = |extra: &[&str]| failure_line(&[&base[..], extra].concat());
    let line = run(&["--gtin", "80614141123457", "--serial", "1"]);
    assert!(line.contains("check digit 7, expected 8"), "{line}");
    let line = run(&["--gtin", "80614141123458", "--serial", "274877906944"]);
    assert!(line.contains("larger than 274877906943"), "{line}");
    let line = run(&["--gtin", "80614141123458", "--serial", "A-1"]);
    assert!(line.contains("sgtin-198"), "{line}");
    let line = run(&["--gtin", "80614141123458", "--serial", "1", "--filter", "8"]);
    assert!(
        line.contains("'--filter") && line.contains("0 to 7"),
        "{line}"
    );
    let line = run(&[
        "--gtin",
        "80614141123458",
        "--serial",
        "1",
        "--scheme",
        "sgtin-64",
    ]);
    assert!(line.contains("unknown EPC scheme"), "{line}");
    let line = run(&[
        "--gtin",
        "80614141123458",
        "--serial",
        "a b",
        "--scheme",
        "sgtin-198",
    ]);
    assert!(line.contains("position 2"), "{line}");
}

#[test]
fn bad_flag_values_fail_with_one_line_stating_the_real_range() {
    let base = ["epc", "encode", "--gtin", "80614141123458", "--serial", "1"];
    let run = |extra: &[&str]| failure_line(&[&base[..], extra].concat());
    let line = run(&["--company-prefix-len", "x"]);
    assert!(
        line.contains("'--company-prefix-len") && line.contains("6 to 12"),
        "{line}"
    );
    for filter in ["-1", "8", "256"] {
        let line = run(&["--company-prefix-len", "7", "--filter", filter]);
        assert!(
            line.contains(&format!("'{filter}'")) && line.contains("0 to 7"),
            "{line}"
        );
        assert!(!line.contains("255"), "{line}");
    }
    let line = run(&["--company-prefix-len", "7", "--colour", "red"]);
    assert!(line.contains("'--colour'"), "{line}");
    let line = failure_line(&["epc", "encode", "--gtin", "80614141123458"]);
    assert!(
        line.contains("--serial") && line.contains("--company-prefix-len"),
        "{line}"
    );
}

#[test]
fn a_serial_starting_with_a_hyphen_is_a_value_not_an_option() {
    let encode = |scheme: &str| {
        aisle(&[
            "epc",
            "encode",
            "--gtin",
            "80614141123458",
            "--serial",
            "-A1",
            "--company-prefix-len",
            "7",
            "--scheme",
            scheme,
        ])
    };
    let out = encode("sgtin-198");
    assert!(out.status.success(), "{out:?}");
    let decoded = aisle(&["epc", "decode", stdout(&out).trim(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&decoded)).unwrap();
    assert_eq!(v["serial"], "-A1");
    // SGTIN-96 serials are numbers: refused by the codec, in one line.
    let out = encode("sgtin-96");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("serial \"-A1\""), "{err}");
}
