//! The store config (`store.toml`): what a gateway reads, where it ships
//! events, and the store's map of fixtures, readers and garments.
//!
//! [`load`] parses and validates in one step and reports every problem with
//! file:line:column and a hint, so `aisle check-config` and `aisle gateway`
//! give store IT the same answer. The format is documented in
//! docs/gateway.md; the simulator and tests rely on these exact names.

use crate::gateway::sgtin;
use crate::mqtt::{BrokerConfig, BrokerUrl};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::de::DeTable;

/// The whole store config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Store id, an MQTT topic segment: `[A-Za-z0-9_-]{1,64}`.
    pub store: String,
    /// Gateway id in batches and status; default `gw-{store}`.
    #[serde(default)]
    pub gateway: Option<String>,
    /// How long a SIGTERM/SIGINT may take to commit and publish (seconds).
    #[serde(default = "default_grace")]
    pub shutdown_grace_s: f64,
    /// Seconds between periodic status publications.
    #[serde(default = "default_status_interval")]
    pub status_interval_s: u64,
    pub broker: BrokerConfig,
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    pub spool: SpoolConfig,
    #[serde(default)]
    pub batch: BatchConfig,
    #[serde(default)]
    pub fixtures: Vec<Fixture>,
    #[serde(default)]
    pub readers: Vec<Reader>,
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub garments: Vec<Garment>,
}

fn default_grace() -> f64 {
    5.0
}

fn default_status_interval() -> u64 {
    30
}

impl StoreConfig {
    /// The gateway id: configured, or `gw-{store}`.
    pub fn gateway_id(&self) -> String {
        self.gateway
            .clone()
            .unwrap_or_else(|| format!("gw-{}", self.store))
    }

    /// The MQTT client id used when `[broker] client_id` is absent.
    pub fn default_client_id(&self) -> String {
        format!("aisle-gw-{}", self.store)
    }
}

/// One serial receiver dongle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Prefer the stable `/dev/serial/by-id/…` path: it survives replugging.
    pub path: PathBuf,
    #[serde(default = "default_baud")]
    pub baud: u32,
}

/// The receivers' default line rate.
pub const DEFAULT_BAUD: u32 = 921_600;

fn default_baud() -> u32 {
    DEFAULT_BAUD
}

/// The durable queue between the tags and HQ.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    pub path: PathBuf,
    /// Cap on spooled event bytes; at the cap the oldest undelivered events
    /// are dropped (and counted).
    #[serde(default = "default_spool_max")]
    pub max_bytes: u64,
}

fn default_spool_max() -> u64 {
    256 * 1024 * 1024
}

/// Smallest accepted spool cap: room for a few thousand events.
const MIN_SPOOL_BYTES: u64 = 64 * 1024;

/// Bounds on one MQTT batch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    #[serde(default = "default_max_batch_bytes")]
    pub max_bytes: usize,
    #[serde(default = "default_linger")]
    pub linger_ms: u64,
}

fn default_max_events() -> usize {
    500
}
fn default_max_batch_bytes() -> usize {
    256 * 1024
}
fn default_linger() -> u64 {
    200
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: default_max_events(),
            max_bytes: default_max_batch_bytes(),
            linger_ms: default_linger(),
        }
    }
}

/// A rack or table with a presence tag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub id: String,
    pub zone: String,
    pub presence_tag: u32,
    /// GTIN-14s on display (its planogram).
    #[serde(default)]
    pub gtins: Vec<String>,
}

/// What a zone reader stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    FittingRoom,
    Checkout,
}

/// A UHF reader node in a fitting room or at a checkout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    pub tag: u32,
    pub kind: ReaderKind,
    pub zone: String,
}

/// A SKU of the catalogue; the propensities drive the simulator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sku {
    pub gtin: String,
    /// For people and the simulator's truth file; the gateway ignores it.
    #[serde(default)]
    #[allow(dead_code)]
    pub name: Option<String>,
    #[serde(default)]
    pub pickup: Option<f64>,
    #[serde(default)]
    pub try_on: Option<f64>,
    #[serde(default)]
    pub purchase: Option<f64>,
}

/// A garment motion tag and the garment it hangs on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Garment {
    pub tag: u32,
    pub epc: String,
    pub fixture: String,
}

/// One problem in a config file, located and explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.help.is_empty() {
            write!(f, "\n  help: {}", self.help)?;
        }
        Ok(())
    }
}

/// Every problem found in one config file (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads, parses and validates the config at `path`.
pub fn load(path: &Path) -> Result<StoreConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message: format!("cannot read the config file: {e}"),
            help: "check the path and that this user may read it".into(),
        }])
    })?;
    parse(path, &text)
}

/// Parses and validates config `text`; `path` names it in messages and is
/// the base for nothing else (config paths are taken as written).
pub fn parse(path: &Path, text: &str) -> Result<StoreConfig, ConfigErrors> {
    let locate = Locator { file: path, text };
    let config: StoreConfig = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim_end().to_owned();
        let help = if message.contains("unknown field") {
            "remove the key or fix its spelling; docs/gateway.md lists every key"
        } else if message.contains("missing field") {
            "add the key; docs/gateway.md lists the required keys"
        } else {
            "fix the TOML at this position"
        };
        ConfigErrors(vec![locate.at(offset, message, help)])
    })?;
    // The text parsed above, so it parses again; the spanned tree only
    // serves to point validation errors at the right line.
    let tree = DeTable::parse(text).map_err(|e| {
        ConfigErrors(vec![locate.at(
            e.span().map_or(0, |s| s.start),
            e.message().to_owned(),
            "fix the TOML",
        )])
    })?;
    let mut v = Validator {
        locate,
        tree: tree.get_ref(),
        errors: Vec::new(),
    };
    v.check(&config);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(v.errors))
    }
}

/// One step of a path into the TOML tree.
#[derive(Clone, Copy)]
enum Key<'a> {
    Name(&'a str),
    Index(usize),
}
use Key::{Index as I, Name as N};

struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, offset: usize, message: String, help: &str) -> ConfigError {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            message,
            help: help.to_owned(),
        }
    }
}

struct Validator<'a> {
    locate: Locator<'a>,
    tree: &'a DeTable<'a>,
    errors: Vec<ConfigError>,
}

/// Store ids become MQTT topic segments and event-id prefixes.
fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Validator<'_> {
    /// Byte offset of the value at `path`, or of the deepest part that exists.
    fn offset(&self, path: &[Key]) -> usize {
        let Some((N(first), rest)) = path.split_first() else {
            return 0;
        };
        let Some(mut node) = self.tree.get(*first) else {
            return 0;
        };
        for key in rest {
            let next = match key {
                N(name) => node.get_ref().get(*name),
                I(i) => node.get_ref().get(*i),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.span().start
    }

    fn error(&mut self, path: &[Key], message: String, help: &str) {
        let offset = self.offset(path);
        self.errors.push(self.locate.at(offset, message, help));
    }

    fn line_of(&self, path: &[Key]) -> usize {
        self.locate.at(self.offset(path), String::new(), "").line
    }

    fn check(&mut self, c: &StoreConfig) {
        if !is_id(&c.store) {
            self.error(
                &[N("store")],
                format!(
                    "store id {:?} is not 1-64 characters of A-Z a-z 0-9 _ -",
                    c.store
                ),
                "store ids are MQTT topic segments; use e.g. \"S1\" or \"berlin-mitte\"",
            );
        }
        if let Some(gw) = &c.gateway {
            if !is_id(gw) {
                self.error(
                    &[N("gateway")],
                    format!("gateway id {gw:?} is not 1-64 characters of A-Z a-z 0-9 _ -"),
                    "use e.g. \"gw-1\"",
                );
            }
        }
        if !(c.shutdown_grace_s.is_finite() && (0.0..=600.0).contains(&c.shutdown_grace_s)) {
            self.error(
                &[N("shutdown_grace_s")],
                "shutdown_grace_s must be 0 to 600 seconds".into(),
                "the default is 5",
            );
        }
        if c.status_interval_s == 0 {
            self.error(
                &[N("status_interval_s")],
                "status_interval_s must be at least 1".into(),
                "the default is 30",
            );
        }
        self.check_broker(&c.broker);
        for (i, r) in c.receivers.iter().enumerate() {
            if r.path.as_os_str().is_empty() {
                self.error(
                    &[N("receivers"), I(i), N("path")],
                    "receiver path is empty".into(),
                    "use the /dev/serial/by-id/… path of the dongle",
                );
            }
            if r.baud == 0 {
                self.error(
                    &[N("receivers"), I(i), N("baud")],
                    "baud must be positive".into(),
                    "receivers run at 921600 by default",
                );
            }
        }
        if c.spool.path.as_os_str().is_empty() {
            self.error(
                &[N("spool"), N("path")],
                "spool path is empty".into(),
                "use e.g. /var/lib/aisle/spool.sqlite",
            );
        }
        if c.spool.max_bytes < MIN_SPOOL_BYTES {
            self.error(
                &[N("spool"), N("max_bytes")],
                format!("spool max_bytes must be at least {MIN_SPOOL_BYTES}"),
                "the default is 268435456 (256 MiB)",
            );
        }
        self.check_batch(&c.batch);
        self.check_store_map(c);
    }

    fn check_broker(&mut self, b: &BrokerConfig) {
        let url = BrokerUrl::parse(&b.url);
        if let Err(e) = &url {
            self.error(
                &[N("broker"), N("url")],
                e.to_string(),
                "e.g. mqtt://127.0.0.1:1883 or mqtts://hq.example.com",
            );
        }
        if let Some(id) = &b.client_id {
            if id.is_empty() || id.len() > 128 {
                self.error(
                    &[N("broker"), N("client_id")],
                    "client_id must be 1-128 characters".into(),
                    "leave it out to use aisle-gw-{store}",
                );
            }
        }
        if b.password_file.is_some() && b.username.is_none() {
            self.error(
                &[N("broker"), N("password_file")],
                "password_file is set but username is not".into(),
                "add username = \"…\" to [broker]",
            );
        }
        let tls = url.map(|u| u.tls).unwrap_or(false);
        for (key, file) in [
            ("password_file", &b.password_file),
            ("ca_file", &b.ca_file),
            ("cert_file", &b.cert_file),
            ("key_file", &b.key_file),
        ] {
            let Some(file) = file else { continue };
            if key != "password_file" && !tls {
                self.error(
                    &[N("broker"), N(key)],
                    format!("{key} is set but the broker URL is not mqtts://"),
                    "use an mqtts:// URL or remove the TLS files",
                );
            } else if !file.is_file() {
                self.error(
                    &[N("broker"), N(key)],
                    format!("{key} {} does not exist or is not a file", file.display()),
                    "fix the path, or create the file (readable by the gateway user)",
                );
            }
        }
        if b.cert_file.is_some() != b.key_file.is_some() {
            let key = if b.cert_file.is_some() {
                "cert_file"
            } else {
                "key_file"
            };
            self.error(
                &[N("broker"), N(key)],
                "cert_file and key_file must be given together".into(),
                "add the missing one, or remove both",
            );
        }
    }

    fn check_batch(&mut self, b: &BatchConfig) {
        if !(1..=10_000).contains(&b.max_events) {
            self.error(
                &[N("batch"), N("max_events")],
                "batch max_events must be 1 to 10000".into(),
                "the default is 500",
            );
        }
        if !(1024..=128 * 1024 * 1024).contains(&b.max_bytes) {
            self.error(
                &[N("batch"), N("max_bytes")],
                "batch max_bytes must be 1024 to 134217728".into(),
                "the default is 262144",
            );
        }
        if b.linger_ms > 60_000 {
            self.error(
                &[N("batch"), N("linger_ms")],
                "batch linger_ms must be at most 60000".into(),
                "the default is 200",
            );
        }
    }

    fn check_store_map(&mut self, c: &StoreConfig) {
        // Every tag id may have one role; remember where each was first used.
        let mut tags: HashMap<u32, Vec<Key>> = HashMap::new();
        let mut claim = |v: &mut Self, tag: u32, path: Vec<Key<'static>>| {
            if let Some(first) = tags.get(&tag) {
                let line = v.line_of(first);
                v.error(
                    &path,
                    format!("tag id {tag} is used twice (first at line {line})"),
                    "each tag id belongs to one fixture, reader or garment; fix one of them",
                );
            } else {
                tags.insert(tag, path);
            }
        };
        let mut fixtures: HashMap<&str, usize> = HashMap::new();
        for (i, f) in c.fixtures.iter().enumerate() {
            if f.id.is_empty() {
                self.error(
                    &[N("fixtures"), I(i), N("id")],
                    "fixture id is empty".into(),
                    "give each fixture a short unique id such as \"F1\"",
                );
            }
            if let Some(&first) = fixtures.get(f.id.as_str()) {
                let line = self.line_of(&[N("fixtures"), I(first), N("id")]);
                self.error(
                    &[N("fixtures"), I(i), N("id")],
                    format!("duplicate fixture id {:?} (first at line {line})", f.id),
                    "give each fixture a unique id",
                );
            } else {
                fixtures.insert(&f.id, i);
            }
            claim(
                self,
                f.presence_tag,
                vec![N("fixtures"), I(i), N("presence_tag")],
            );
            for (g, gtin) in f.gtins.iter().enumerate() {
                self.check_gtin(gtin, &[N("fixtures"), I(i), N("gtins"), I(g)]);
            }
        }
        for (i, r) in c.readers.iter().enumerate() {
            claim(self, r.tag, vec![N("readers"), I(i), N("tag")]);
            if r.zone.is_empty() {
                self.error(
                    &[N("readers"), I(i), N("zone")],
                    "reader zone is empty".into(),
                    "name the fitting room or checkout, e.g. \"fitting-room-1\"",
                );
            }
        }
        let mut skus: HashMap<&str, usize> = HashMap::new();
        for (i, s) in c.skus.iter().enumerate() {
            self.check_gtin(&s.gtin, &[N("skus"), I(i), N("gtin")]);
            if let Some(&first) = skus.get(s.gtin.as_str()) {
                let line = self.line_of(&[N("skus"), I(first), N("gtin")]);
                self.error(
                    &[N("skus"), I(i), N("gtin")],
                    format!("SKU {} is listed twice (first at line {line})", s.gtin),
                    "merge the two entries",
                );
            } else {
                skus.insert(&s.gtin, i);
            }
            for (key, p) in [
                ("pickup", s.pickup),
                ("try_on", s.try_on),
                ("purchase", s.purchase),
            ] {
                if p.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                    self.error(
                        &[N("skus"), I(i), N(key)],
                        format!("{key} must be a probability from 0 to 1"),
                        "e.g. 0.35",
                    );
                }
            }
        }
        for (i, g) in c.garments.iter().enumerate() {
            claim(self, g.tag, vec![N("garments"), I(i), N("tag")]);
            let fixture = fixtures.get(g.fixture.as_str()).map(|&f| &c.fixtures[f]);
            if fixture.is_none() {
                self.error(
                    &[N("garments"), I(i), N("fixture")],
                    format!("fixture {:?} is not defined", g.fixture),
                    "use the id of one of the [[fixtures]]",
                );
            }
            let path = [N("garments"), I(i), N("epc")];
            match sgtin::from_hex(&g.epc)
                .as_deref()
                .and_then(sgtin::gtin_and_serial)
            {
                None => self.error(
                    &path,
                    format!("EPC {:?} is not an SGTIN-96/198 in hex", g.epc),
                    "write the EPC as hex, e.g. 3074257BF7194E4000001A85 (see `aisle epc decode`)",
                ),
                Some((gtin, _)) => {
                    if let Some(f) = fixture.filter(|f| !f.gtins.contains(&gtin)) {
                        self.error(&path, format!("EPC's GTIN {gtin} is not on fixture {:?}", f.id), "add the GTIN to the fixture's gtins, or move the garment to the right fixture");
                    }
                }
            }
        }
    }

    fn check_gtin(&mut self, gtin: &str, path: &[Key]) {
        if !sgtin::is_valid_gtin14(gtin) {
            self.error(
                path,
                format!("GTIN {gtin:?} is not 14 digits with a valid check digit"),
                "check the last digit (GS1 mod-10); pad shorter GTINs with leading zeros",
            );
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(c.batch.max_events, 500);
        assert_eq!(c.spool.max_bytes, 256 * 1024 * 1024);
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
}
