//! A real ClickHouse server per test, on free loopback ports.
//!
//! Like [`crate::Mosquitto`]: the server's config, users, data and log live
//! in a tempdir owned by the [`ClickHouse`] value, so tests run in parallel
//! without sharing state, and `stop` / `start_again` keep the ports and the
//! data: to a collector it looks like HQ's database going away and coming
//! back. Ready means answering `/ping` on the HTTP port.

use crate::mosquitto::free_ports;
use crate::process::{wait_until, ChildGuard};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const SERVER: &str = "/usr/sbin/clickhouse-server";

/// Long enough for the server to load its tables on a busy 2-core box.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A ClickHouse user with a password, besides the password-less `default`.
pub const USER: &str = "aisle";
pub const PASSWORD: &str = "ch-test-s3cret";

/// A user whose queries may hold only [`TIGHT_MEMORY`] bytes, for reports
/// that must spill to disk (same password as [`USER`]).
pub const TIGHT_USER: &str = "tight";
pub const TIGHT_MEMORY: u64 = 150_000_000;

/// The generated chain of [`ClickHouse::generate_chain`]: 4,000 stores and
/// 20,000 SKUs over 30 days from 2026-11-01T00:00:00Z.
pub const CHAIN_STORES: u64 = 4_000;
pub const CHAIN_SKUS: u64 = 20_000;
pub const CHAIN_START_MS: i64 = 1_793_491_200_000;

/// A running (or stopped) ClickHouse server.
pub struct ClickHouse {
    dir: TempDir,
    http_port: u16,
    child: Option<ChildGuard>,
}

impl ClickHouse {
    pub fn start() -> ClickHouse {
        let dir = tempfile::Builder::new()
            .prefix("clickhouse-")
            .tempdir()
            .expect("tempdir");
        // One server's three ports must differ: chosen one after the
        // other, the same port once came back twice.
        let [http_port, tcp_port, interserver_port] = free_ports();
        std::fs::write(
            dir.path().join("config.xml"),
            config_text(dir.path(), http_port, tcp_port, interserver_port),
        )
        .expect("write config.xml");
        std::fs::write(dir.path().join("users.xml"), USERS).expect("write users.xml");
        let mut server = ClickHouse {
            dir,
            http_port,
            child: None,
        };
        server.launch();
        server
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// `clickhouse://127.0.0.1:PORT/DATABASE`, as `aisle --db` takes it.
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{database}", self.http_port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's process id while it runs (for CPU accounting in benches).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::pid)
    }

    /// The server's log so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `sql` as the `default` user and returns the answer; panics with
    /// the server's message when it fails.
    pub fn query(&self, sql: &str) -> String {
        match self.try_query(sql) {
            Ok(text) => text,
            Err(err) => panic!("ClickHouse query failed: {err}\n{sql}"),
        }
    }

    /// Runs `sql` as the `default` user over HTTP.
    pub fn try_query(&self, sql: &str) -> Result<String, String> {
        http_post(self.http_port, "", sql)
    }

    /// Runs `sql` as the `default` user with `settings` (`name=value&…`,
    /// as ClickHouse takes them in the URL).
    pub fn try_query_with(&self, settings: &str, sql: &str) -> Result<String, String> {
        http_post(self.http_port, settings, sql)
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.sigterm();
            child.wait_exit(START_DEADLINE);
        }
    }

    /// Starts a stopped server again on the same ports with the same data.
    pub fn start_again(&mut self) {
        if self.child.is_none() {
            self.launch();
        }
    }

    /// Five event slots per garment, so N events are N/5 garments: a pickup,
    /// then (by the garment's hash) re-pickups, try-ons and purchases ten
    /// minutes apart; 40 % of garments try on, 20 % buy. Every garment is one
    /// SKU in one store. Exposures: one row per 5 events, 6 GTINs per dwell.
    /// Generated inside the server (`INSERT … SELECT … FROM numbers(N)`) into
    /// `database`, whose tables `aisle` has created.
    pub fn generate_chain(&self, database: &str, n: u64) {
        self.query(&format!(
            "INSERT INTO {database}.events (id, store, ts_ms, event, stage, tag, epc, gtin, serial, fixture,
                 zone, duration_ms, gateway, batch_id, received_ms)
             SELECT concat('e-', toString(number)), concat('S', toString(g % {CHAIN_STORES})),
                 {CHAIN_START_MS} + toInt64(h % 2592000000) + k * 600000, ev,
                 multiIf(ev = 'item_pickup', 'view', ev = 'item_try_on', 'try_on', 'purchase'),
                 toUInt32(g % 1000000), NULL, toString(80000000000000 + intDiv(h, 65536) % {CHAIN_SKUS}),
                 toString(g), NULL, NULL, NULL, 'gw', 'b', 0
             FROM (
                 SELECT number, intDiv(number, 5) AS g, number % 5 AS k, cityHash64(g) AS h,
                     multiIf(k = 1 AND h % 10 < 4, 'item_try_on',
                             k = 2 AND h % 10 < 2, 'item_purchase',
                             k = 4 AND intDiv(h, 256) % 10 < 2, 'item_try_on',
                             'item_pickup') AS ev
                 FROM numbers({n}))"
        ));
        self.query(&format!(
            "INSERT INTO {database}.exposures (store, gtin, event_id, fixture, ts_ms)
             SELECT concat('S', toString(d % {CHAIN_STORES})),
                 toString(80000000000000 + intDiv(cityHash64(number), 65536) % {CHAIN_SKUS}),
                 concat('d-', toString(d)), 'rack-1', {CHAIN_START_MS} + toInt64(cityHash64(d) % 2592000000)
             FROM (SELECT number, intDiv(number, 6) AS d FROM numbers({}))",
            n / 5
        ));
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("clickhouse.log")
    }

    fn launch(&mut self) {
        let mut cmd = Command::new(SERVER);
        cmd.arg(format!(
            "--config-file={}",
            self.dir.path().join("config.xml").display()
        ));
        let mut child = ChildGuard::spawn(
            "clickhouse-server",
            &mut cmd,
            &self.dir.path().join("stdout.log"),
        );
        let port = self.http_port;
        wait_until(
            &format!("clickhouse-server to answer /ping on {port}"),
            START_DEADLINE,
            || {
                if let Some(status) = child.try_exit() {
                    panic!(
                        "clickhouse-server exited with {status} at start:\n{}",
                        self.log()
                    );
                }
                ping(port).then_some(())
            },
        );
        self.child = Some(child);
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail = &log[log.len().saturating_sub(4_000)..];
            eprintln!("---- clickhouse log (tail) ----\n{tail}\n---- end of clickhouse log ----");
        }
        if let Some(mut child) = self.child.take() {
            child.kill9();
        }
    }
}

/// `GET /ping` answers `Ok.` once the server serves queries.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.ends_with("Ok.\n")
}

/// POSTs `sql` to the HTTP interface (HTTP/1.0: the server closes the
/// connection after the answer, so reading to the end reads it all).
fn http_post(port: u16, settings: &str, sql: &str) -> Result<String, String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    let request = format!(
        "POST /?{settings} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {answer}"))?;
    if head.lines().next().is_some_and(|l| l.contains(" 200 ")) {
        Ok(body.to_string())
    } else {
        Err(body.trim().to_string())
    }
}

/// Users: `default` without a password (the tests' own queries),
/// [`USER`] with [`PASSWORD`], and [`TIGHT_USER`] with the same password
/// and a [`TIGHT_MEMORY`] per-query limit, all from loopback only.
const USERS: &str = r#"<?xml version="1.0"?>
<yandex>
    <profiles>
        <default><max_memory_usage>8000000000</max_memory_usage></default>
        <tight><max_memory_usage>150000000</max_memory_usage></tight>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <aisle>
            <password>ch-test-s3cret</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </aisle>
        <tight>
            <password>ch-test-s3cret</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>tight</profile>
            <quota>default</quota>
        </tight>
    </users>
    <quotas><default></default></quotas>
</yandex>
"#;

fn config_text(dir: &Path, http_port: u16, tcp_port: u16, interserver_port: u16) -> String {
    let dir = dir.display();
    // Caches sized for a test box shared by parallel tests; the defaults
    // (5 GiB of marks) are for a dedicated server.
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{dir}/clickhouse.log</log>
        <errorlog>{dir}/clickhouse.err.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
"#
    )
}
