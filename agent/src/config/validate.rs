//! Config rules beyond the TOML grammar: id charsets, unique fixture and tag
//! ids, GTIN check digits, EPCs that decode onto their fixture, TLS files
//! that exist. Each error points at the offending value.

use super::defaults::{self, MIN_SPOOL_BYTES};
use super::{BatchConfig, ConfigError, Overrides, StoreConfig};
use crate::mqtt::{BrokerConfig, BrokerUrl};
use std::path::Path;
use toml::de::DeTable;

/// One step of a path into the TOML tree.
#[derive(Clone, Copy)]
enum Key<'a> {
    Name(&'a str),
    Index(usize),
}
use Key::{Index as I, Name as N};

mod store_map;

/// Turns byte offsets into file:line:column errors.
pub(super) struct Locator<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
}

impl Locator<'_> {
    pub(super) fn at(&self, offset: usize, message: String, help: &str) -> ConfigError {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            flag: None,
            message,
            help: help.to_owned(),
        }
    }
}

/// Checks a parsed config against the rules serde cannot express and
/// collects every error, located through the spanned TOML tree.
pub(super) struct Validator<'a> {
    pub(super) locate: Locator<'a>,
    pub(super) tree: &'a DeTable<'a>,
    /// What the command line replaced: errors in those values name the flag.
    pub(super) overrides: &'a Overrides,
    pub(super) errors: Vec<ConfigError>,
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
        let mut error = self.locate.at(offset, message, help);
        error.flag = self.flag(path);
        self.errors.push(error);
    }

    /// The command-line flag that gave the value at `path`, if one did.
    fn flag(&self, path: &[Key]) -> Option<&'static str> {
        let (table, key) = match path {
            [N(table), N(key), ..] => (*table, Some(*key)),
            [N(table), ..] => (*table, None),
            _ => return None,
        };
        self.overrides.flag(table, key)
    }

    fn line_of(&self, path: &[Key]) -> usize {
        self.locate.at(self.offset(path), String::new(), "").line
    }

    pub(super) fn check(&mut self, c: &StoreConfig) {
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
        let max_grace = defaults::MAX_SHUTDOWN_GRACE_S;
        if !(c.shutdown_grace_s.is_finite() && (0.0..=max_grace).contains(&c.shutdown_grace_s)) {
            self.error(
                &[N("shutdown_grace_s")],
                format!("shutdown_grace_s must be 0 to {max_grace} seconds"),
                &format!("the default is {}", defaults::SHUTDOWN_GRACE_S),
            );
        }
        if c.status_interval_s == 0 {
            self.error(
                &[N("status_interval_s")],
                "status_interval_s must be at least 1".into(),
                &format!("the default is {}", defaults::STATUS_INTERVAL_S),
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
                    &format!("receivers run at {} by default", defaults::BAUD),
                );
            }
            // A port opens exclusively: a second task on it would retry forever.
            if let Some(first) = c.receivers[..i].iter().position(|o| o.path == r.path) {
                let path = [N("receivers"), I(i), N("path")];
                let message = if self.flag(&path).is_some() {
                    format!("receiver {} is given twice", r.path.display())
                } else {
                    let line = self.line_of(&[N("receivers"), I(first), N("path")]);
                    format!(
                        "receiver {} is listed twice (first at line {line})",
                        r.path.display()
                    )
                };
                self.error(&path, message, "list each receiver once");
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
                &format!(
                    "the default is {} ({} MiB)",
                    defaults::SPOOL_MAX_BYTES,
                    defaults::SPOOL_MAX_BYTES >> 20
                ),
            );
        }
        self.check_batch(&c.batch);
        self.check_control(c);
        if let Some(m) = &c.metrics {
            if m.listen_addr().is_err() {
                self.error(
                    &[N("metrics"), N("listen")],
                    format!(
                        "metrics listen {:?} is not an IP address and port",
                        m.listen
                    ),
                    "e.g. \"127.0.0.1:9464\" (this host only) or \"0.0.0.0:9464\" (any interface)",
                );
            }
        }
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

    /// The control socket's path must fit a Unix socket address and not be
    /// the spool's.
    fn check_control(&mut self, c: &StoreConfig) {
        let path = c.control_socket();
        let at: &[Key] = if c.control.socket.is_some() {
            &[N("control"), N("socket")]
        } else {
            &[N("spool"), N("path")]
        };
        let len = path.as_os_str().len();
        if c.control
            .socket
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            self.error(
                at,
                "control socket path is empty".into(),
                "remove the key to use control.sock beside the spool, or give a path",
            );
        } else if len > defaults::MAX_SOCKET_PATH {
            self.error(
                at,
                format!("the control socket path {} is {len} bytes, longer than a Unix socket allows ({})", path.display(), defaults::MAX_SOCKET_PATH),
                "set [control] socket to a shorter path, e.g. /run/aisle/control.sock",
            );
        } else if path == c.spool.path {
            self.error(
                at,
                "the control socket path is the spool file's".into(),
                "give [control] socket a path of its own",
            );
        }
    }

    fn check_batch(&mut self, b: &BatchConfig) {
        let events = defaults::BATCH_EVENTS_RANGE;
        if !events.contains(&b.max_events) {
            self.error(
                &[N("batch"), N("max_events")],
                format!(
                    "batch max_events must be {} to {}",
                    events.start(),
                    events.end()
                ),
                &format!("the default is {}", defaults::BATCH_MAX_EVENTS),
            );
        }
        let bytes = defaults::BATCH_BYTES_RANGE;
        if !bytes.contains(&b.max_bytes) {
            self.error(
                &[N("batch"), N("max_bytes")],
                format!(
                    "batch max_bytes must be {} to {}",
                    bytes.start(),
                    bytes.end()
                ),
                &format!("the default is {}", defaults::BATCH_MAX_BYTES),
            );
        }
        if b.linger_ms > defaults::MAX_BATCH_LINGER_MS {
            self.error(
                &[N("batch"), N("linger_ms")],
                format!(
                    "batch linger_ms must be at most {}",
                    defaults::MAX_BATCH_LINGER_MS
                ),
                &format!("the default is {}", defaults::BATCH_LINGER_MS),
            );
        }
    }
}
