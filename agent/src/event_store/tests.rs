//! `--db` parsing: which backend, and URLs refused with a reason.

use super::*;

fn ch(tls: bool, host: &str, port: u16, database: &str) -> Target {
    Target::ClickHouse(ClickHouseTarget {
        tls,
        host: host.to_string(),
        port,
        database: database.to_string(),
    })
}

#[test]
fn a_path_is_sqlite_and_a_clickhouse_url_is_clickhouse() {
    assert_eq!(
        Target::parse("/var/lib/aisle/hq.db").unwrap(),
        Target::Sqlite("/var/lib/aisle/hq.db".into())
    );
    assert_eq!(
        Target::parse("clickhouse://ch.hq.example:8123/aisle").unwrap(),
        ch(false, "ch.hq.example", 8123, "aisle")
    );
    assert_eq!(
        Target::parse("clickhouses://ch.hq.example/aisle_2026").unwrap(),
        ch(true, "ch.hq.example", 8443, "aisle_2026")
    );
    assert_eq!(
        Target::parse("clickhouse://[::1]:9123/aisle").unwrap(),
        ch(false, "[::1]", 9123, "aisle")
    );
    assert_eq!(
        Target::parse("clickhouse://ch:8123/aisle")
            .unwrap()
            .to_string(),
        "clickhouse://ch:8123/aisle"
    );
}

#[test]
fn bad_urls_are_refused_with_the_reason() {
    let reason = |url: &str| Target::parse(url).unwrap_err().to_string();
    assert!(reason("clickhouse://u:secret@ch:8123/aisle").contains("--db-password-file"));
    assert!(reason("clickhouse://ch:8123").contains("no database"));
    assert!(reason("clickhouse://ch:http/aisle").contains("port `http`"));
    assert!(reason("clickhouse://ch:8123/my-db").contains("letters, digits and _"));
    assert!(reason("clickhouse://ch:8123/x;DROP").contains("letters, digits and _"));
    assert!(reason("postgres://db/aisle").contains("unknown scheme `postgres`"));
}

#[test]
fn credentials_are_for_clickhouse_only_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "hunter2\n").unwrap();
    let args = DbArgs {
        db: "clickhouse://ch:8123/aisle".into(),
        db_user: Some("hq".into()),
        db_password_file: Some(file.clone()),
    };
    let (_, credentials) = args.resolve().unwrap();
    assert_eq!(credentials.password.as_deref(), Some("hunter2"));
    assert!(!format!("{credentials:?}").contains("hunter2"));
    let sqlite = DbArgs {
        db: "hq.db".into(),
        ..args
    };
    assert!(sqlite.resolve().unwrap_err().to_string().contains("SQLite"));
}
