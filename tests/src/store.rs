//! Minimal store.toml files for tests, in the agreed format.
//!
//! One fixture, a fitting room, a checkout and a handful of garments is all a
//! gateway test needs; tests change only what their scenario is about.

use crate::tags::{sgtin96_hex, TEST_GTIN};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The fixture's presence tag.
pub const PRESENCE_TAG: u32 = 1001;
/// The fitting room's reader tag.
pub const FITTING_ROOM_TAG: u32 = 2001;
/// The checkout's reader tag.
pub const CHECKOUT_TAG: u32 = 2002;
/// The first garment tag; garments are `GARMENT_TAG..GARMENT_TAG + garments`.
pub const GARMENT_TAG: u32 = 3001;

/// A store config under construction.
#[derive(Debug, Clone)]
pub struct StoreToml {
    pub store: String,
    pub broker_url: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub receivers: Vec<PathBuf>,
    pub spool: PathBuf,
    pub spool_max_bytes: Option<u64>,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    /// Small in tests so a batch goes out within milliseconds.
    pub linger_ms: u64,
    /// How many garment tags to declare.
    pub garments: u32,
    /// `status_interval_s`: tests that watch counters want it short.
    pub status_interval_s: Option<u64>,
    /// `shutdown_grace_s`.
    pub shutdown_grace_s: Option<f64>,
    /// `[metrics] listen`, e.g. `127.0.0.1:9464`.
    pub metrics_listen: Option<String>,
    /// The GTINs fixture F1 shows, which its dwell events carry.
    pub fixture_gtins: Vec<String>,
}

impl StoreToml {
    /// Store `S1` with one receiver, 8 garments and a 20 ms linger.
    pub fn new(broker_url: &str, receiver: &Path, spool: &Path) -> StoreToml {
        StoreToml {
            store: "S1".into(),
            broker_url: broker_url.into(),
            username: None,
            password_file: None,
            ca_file: None,
            receivers: vec![receiver.to_path_buf()],
            spool: spool.to_path_buf(),
            spool_max_bytes: None,
            batch_max_events: 100,
            batch_max_bytes: 65_536,
            linger_ms: 20,
            garments: 8,
            status_interval_s: None,
            shutdown_grace_s: None,
            metrics_listen: None,
            fixture_gtins: vec![TEST_GTIN.to_owned()],
        }
    }

    /// The garment tag ids declared in the config.
    pub fn garment_tags(&self) -> std::ops::Range<u32> {
        GARMENT_TAG..GARMENT_TAG + self.garments
    }

    pub fn render(&self) -> String {
        let mut t = String::new();
        let q = |p: &Path| toml_string(&p.display().to_string());
        let _ = writeln!(t, "store = {}", toml_string(&self.store));
        if let Some(s) = self.status_interval_s {
            let _ = writeln!(t, "status_interval_s = {s}");
        }
        if let Some(s) = self.shutdown_grace_s {
            let _ = writeln!(t, "shutdown_grace_s = {s:?}");
        }
        let _ = writeln!(t, "\n[broker]\nurl = {}", toml_string(&self.broker_url));
        if let Some(user) = &self.username {
            let _ = writeln!(t, "username = {}", toml_string(user));
        }
        if let Some(file) = &self.password_file {
            let _ = writeln!(t, "password_file = {}", q(file));
        }
        if let Some(file) = &self.ca_file {
            let _ = writeln!(t, "ca_file = {}", q(file));
        }
        for receiver in &self.receivers {
            let _ = writeln!(t, "\n[[receivers]]\npath = {}", q(receiver));
        }
        let _ = writeln!(t, "\n[spool]\npath = {}", q(&self.spool));
        if let Some(max) = self.spool_max_bytes {
            let _ = writeln!(t, "max_bytes = {max}");
        }
        let _ = writeln!(
            t,
            "\n[batch]\nmax_events = {}\nmax_bytes = {}\nlinger_ms = {}",
            self.batch_max_events, self.batch_max_bytes, self.linger_ms
        );
        if let Some(listen) = &self.metrics_listen {
            let _ = writeln!(t, "\n[metrics]\nlisten = {}", toml_string(listen));
        }
        let gtins: Vec<String> = self.fixture_gtins.iter().map(|g| toml_string(g)).collect();
        let _ = writeln!(
            t,
            "\n[[fixtures]]\nid = \"F1\"\nzone = \"womens-tops\"\npresence_tag = {PRESENCE_TAG}\ngtins = [{}]",
            gtins.join(", ")
        );
        let _ = writeln!(t, "\n[[readers]]\ntag = {FITTING_ROOM_TAG}\nkind = \"fitting_room\"\nzone = \"fitting-room-1\"");
        let _ = writeln!(
            t,
            "\n[[readers]]\ntag = {CHECKOUT_TAG}\nkind = \"checkout\"\nzone = \"checkout-1\""
        );
        for tag in self.garment_tags() {
            let _ = writeln!(
                t,
                "\n[[garments]]\ntag = {tag}\nepc = \"{}\"\nfixture = \"F1\"",
                sgtin96_hex(u64::from(tag))
            );
        }
        t
    }

    /// Writes the config to `path` and returns `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.render())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }
}

/// A TOML basic string (paths and ids in tests have no control characters).
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
