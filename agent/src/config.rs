//! The store config (`store.toml`): what a gateway reads, where it ships
//! events, and the store's map of fixtures, readers, entrances and garments.
//!
//! [`load`] parses and validates in one step and reports every problem with
//! file:line:column and a hint, so `aisle check-config` and `aisle gateway`
//! give store IT the same answer. The format is documented in
//! docs/gateway.md; the simulator and tests rely on these exact names.

pub mod defaults;
mod validate;

use crate::mqtt::BrokerConfig;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::de::DeTable;
use validate::{Locator, Validator};

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
    pub entrances: Vec<Entrance>,
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub garments: Vec<Garment>,
    /// The Prometheus endpoint; absent means no metrics are served.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// The local control socket for commands to tags.
    #[serde(default)]
    pub control: ControlConfig,
}

fn default_grace() -> f64 {
    defaults::SHUTDOWN_GRACE_S
}

fn default_status_interval() -> u64 {
    defaults::STATUS_INTERVAL_S
}

impl StoreConfig {
    /// The gateway id: configured, or `gw-{store}`.
    pub fn gateway_id(&self) -> String {
        self.gateway
            .clone()
            .unwrap_or_else(|| format!("gw-{}", self.store))
    }

    /// The control socket's path: `[control] socket`, or
    /// `control.sock` beside the spool file.
    pub fn control_socket(&self) -> PathBuf {
        self.control.socket.clone().unwrap_or_else(|| {
            self.spool
                .path
                .parent()
                .unwrap_or(Path::new(""))
                .join(defaults::CONTROL_SOCKET_NAME)
        })
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

fn default_baud() -> u32 {
    defaults::BAUD
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
    defaults::SPOOL_MAX_BYTES
}

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
    defaults::BATCH_MAX_EVENTS
}
fn default_max_batch_bytes() -> usize {
    defaults::BATCH_MAX_BYTES
}
fn default_linger() -> u64 {
    defaults::BATCH_LINGER_MS
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

/// Where `aisle tag identify|configure` reach the gateway on its box.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// The Unix socket's path; absent means `control.sock` beside the
    /// spool file.
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

/// Where the gateway serves Prometheus metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` to listen on, e.g. `127.0.0.1:9464`; kept as written so
    /// the validator can point at a bad value with a hint.
    pub listen: String,
}

impl MetricsConfig {
    /// The socket address to bind (checked by [`load`]).
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, std::net::AddrParseError> {
        self.listen.parse()
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

/// A door with an entrance counter: a tag whose two break-beams count the
/// people walking in and out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entrance {
    pub tag: u32,
    /// Where the door is, e.g. `main-door`: visits are reported per zone.
    pub zone: String,
}

/// A SKU of the catalogue; the propensities drive the simulator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sku {
    pub gtin: String,
    /// For people and the demo's funnel table; the gateway ignores it.
    #[serde(default)]
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

/// Values given on the gateway's command line in place of the config's.
/// They are applied before validation, so the gateway checks the values it
/// will actually run with, and an error names the flag instead of a line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--broker`: replaces `[broker] url`.
    pub broker_url: Option<String>,
    /// `--receiver` (repeatable): replaces every `[[receivers]]`, each at
    /// the default baud rate.
    pub receivers: Vec<PathBuf>,
    /// `--spool`: replaces `[spool] path`.
    pub spool: Option<PathBuf>,
    /// `--shutdown-grace-s`: replaces `shutdown_grace_s`.
    pub shutdown_grace_s: Option<f64>,
}

impl Overrides {
    fn apply(&self, c: &mut StoreConfig) {
        if let Some(url) = &self.broker_url {
            c.broker.url = url.clone();
        }
        if !self.receivers.is_empty() {
            c.receivers = self
                .receivers
                .iter()
                .map(|path| ReceiverConfig {
                    path: path.clone(),
                    baud: defaults::BAUD,
                })
                .collect();
        }
        if let Some(spool) = &self.spool {
            c.spool.path = spool.clone();
        }
        if let Some(grace) = self.shutdown_grace_s {
            c.shutdown_grace_s = grace;
        }
    }

    /// The flag whose value sits at config key `table.key` (`table` alone
    /// for top-level keys and whole arrays), if one replaced it.
    fn flag(&self, table: &str, key: Option<&str>) -> Option<&'static str> {
        match (table, key) {
            ("broker", Some("url")) => self.broker_url.as_ref().map(|_| "--broker"),
            ("receivers", _) => (!self.receivers.is_empty()).then_some("--receiver"),
            ("spool", Some("path")) => self.spool.as_ref().map(|_| "--spool"),
            ("shutdown_grace_s", None) => self.shutdown_grace_s.map(|_| "--shutdown-grace-s"),
            _ => None,
        }
    }
}

/// One problem in a config file, located and explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The command-line flag that gave the bad value, which then did not
    /// come from `file:line:column`.
    pub flag: Option<&'static str>,
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.flag {
            Some(flag) => write!(f, "{flag}: {}", self.message)?,
            None => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?,
        }
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
    load_with(path, &Overrides::default())
}

/// Reads and parses the config at `path`, applies `overrides`, and
/// validates the result: what the gateway will run with.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<StoreConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            flag: None,
            message: format!("cannot read the config file: {e}"),
            help: "check the path and that this user may read it".into(),
        }])
    })?;
    parse_with(path, &text, overrides)
}

/// Parses and validates config `text`; `path` names it in messages and is
/// the base for nothing else (config paths are taken as written).
pub fn parse(path: &Path, text: &str) -> Result<StoreConfig, ConfigErrors> {
    parse_with(path, text, &Overrides::default())
}

/// [`parse`] with `overrides` applied before validation.
fn parse_with(path: &Path, text: &str, overrides: &Overrides) -> Result<StoreConfig, ConfigErrors> {
    let locate = Locator { file: path, text };
    let mut config: StoreConfig = toml::from_str(text).map_err(|e| {
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
    overrides.apply(&mut config);
    let mut v = Validator {
        locate,
        tree: tree.get_ref(),
        overrides,
        errors: Vec::new(),
    };
    v.check(&config);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(v.errors))
    }
}

#[cfg(test)]
mod tests;
