//! `schema/command.v1.json`, HQ's contract for commands to tags, kept in
//! step with the settings a tag can be sent (`SettingsPatch::FIELDS`).

use protocol::SettingsPatch;
use serde_json::{json, Value};

const SCHEMA: &str = include_str!("../schema/command.v1.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema file is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn names_exactly_the_settings_a_tag_can_be_sent() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let names: Vec<&str> = schema["properties"]["settings"]["propertyNames"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, SettingsPatch::FIELDS);
}

#[test]
fn accepts_the_documented_commands() {
    let v = validator();
    for ok in [
        json!({"id": "c-1", "store": "S1", "tag": 3001, "command": "identify"}),
        json!({"id": "c-2", "store": "S1", "tag": 3001, "command": "identify", "duration_ms": 120000, "expires_in_ms": 60000}),
        json!({"id": "c-3", "store": "S1", "tag": 3001, "command": "configure", "settings": {"pickup_threshold_mg": 180, "pickup_k": 4}}),
    ] {
        assert!(v.is_valid(&ok), "{ok}");
    }
}

#[test]
fn refuses_what_the_gateway_refuses_as_malformed() {
    let v = validator();
    for bad in [
        json!({"store": "S1", "tag": 3001, "command": "identify"}),
        json!({"id": "c", "tag": 3001, "command": "identify"}),
        json!({"id": "c", "store": "S1", "tag": -1, "command": "identify"}),
        json!({"id": "c", "store": "S1", "tag": 3001, "command": "reboot"}),
        json!({"id": "c", "store": "S1", "tag": 3001, "command": "configure"}),
        json!({"id": "c", "store": "S1", "tag": 3001, "command": "configure", "settings": {"pickup_kk": 1}}),
        json!({"id": "c", "store": "S1", "tag": 3001, "command": "identify", "settings": {"pickup_k": 1}}),
        json!({"id": "c", "store": "S1", "tag": 3001, "command": "identify", "duration_ms": 300001}),
    ] {
        assert!(!v.is_valid(&bad), "{bad}");
    }
}
