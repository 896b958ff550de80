//! MQTT connection options shared by the store gateway and the HQ collector.
//!
//! One [`BrokerConfig`] (the `[broker]` table of a config file, or built from
//! command-line flags) becomes MQTT 3.1.1 options through [`mqtt_options`]
//! (the HQ collector) or MQTT 5 options through [`mqtt5_options`] (the
//! gateway's uplink): `mqtt://` is plain TCP, `mqtts://` is TLS with rustls. The password lives in
//! a file so it never appears in a config file, a process list or a log.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default keep-alive: short enough that a dead WAN link is noticed within
/// a minute, long enough not to matter on a metered line.
pub const DEFAULT_KEEP_ALIVE_S: u64 = 30;

/// Where a broker is and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// `mqtt://host[:port]` (port 1883) or `mqtts://host[:port]` (port 8883).
    pub url: String,
    /// MQTT client id; the caller supplies a default when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM CA bundle for `mqtts://`; default: the system bundle.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (needs `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
}

fn default_keep_alive() -> u64 {
    DEFAULT_KEEP_ALIVE_S
}

impl BrokerConfig {
    /// A plain config for `url` with every option at its default (the HQ
    /// collector builds its broker config from flags this way).
    pub fn from_url(url: impl Into<String>) -> Self {
        BrokerConfig {
            url: url.into(),
            client_id: None,
            username: None,
            password_file: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            keep_alive_s: DEFAULT_KEEP_ALIVE_S,
        }
    }
}

/// The system CA bundle on Debian-family systems, used for `mqtts://` when no
/// `ca_file` is configured (a broker with a public certificate).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

/// Why a broker URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("broker URL must start with mqtt:// or mqtts:// (got {0:?})")]
    Scheme(String),
    #[error("broker URL has no host (expected e.g. mqtt://broker.example:1883)")]
    NoHost,
    #[error("broker URL port {0:?} is not a number from 1 to 65535")]
    Port(String),
    #[error("broker URL must be just scheme://host[:port], without a path or credentials")]
    Extra,
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<BrokerUrl, UrlError> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(UrlError::Scheme(url.to_owned()));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '@', '?', '#']) {
            return Err(UrlError::Extra);
        }
        // `[v6::addr]:port`, `host:port` or `host`.
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(UrlError::NoHost)?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = match port {
            None => {
                if tls {
                    8883
                } else {
                    1883
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| UrlError::Port(p.to_owned()))?,
        };
        Ok(BrokerUrl {
            tls,
            host: host.to_owned(),
            port,
        })
    }
}

fn read_file(what: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the broker {what} {}", path.display()))
}

/// What both MQTT versions' options are built from: where to connect, as
/// whom, and over which transport.
struct Connect {
    client_id: String,
    host: String,
    port: u16,
    keep_alive: Duration,
    credentials: Option<(String, String)>,
    transport: rumqttc::Transport,
}

/// Reads `cfg` (and the files it names) into a [`Connect`].
fn connect(cfg: &BrokerConfig, default_client_id: &str) -> anyhow::Result<Connect> {
    let url = BrokerUrl::parse(&cfg.url)?;
    let credentials = match (&cfg.username, &cfg.password_file) {
        (Some(user), Some(file)) => {
            let raw = read_file("password file", file)?;
            let password = String::from_utf8(raw).with_context(|| {
                format!("the broker password file {} is not UTF-8", file.display())
            })?;
            Some((
                user.clone(),
                password.trim_end_matches(['\r', '\n']).to_owned(),
            ))
        }
        (Some(user), None) => Some((user.clone(), String::new())),
        (None, Some(file)) => {
            anyhow::bail!(
                "broker password_file {} is set but username is not; add username",
                file.display()
            )
        }
        (None, None) => None,
    };

    let transport = if url.tls {
        let ca_path = cfg
            .ca_file
            .as_deref()
            .unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
        let ca = read_file("CA file", ca_path)?;
        let client_auth = match (&cfg.cert_file, &cfg.key_file) {
            (Some(cert), Some(key)) => Some((
                read_file("client certificate", cert)?,
                read_file("client key", key)?,
            )),
            (None, None) => None,
            _ => anyhow::bail!("broker cert_file and key_file must be given together"),
        };
        rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        })
    } else if cfg.ca_file.is_some() || cfg.cert_file.is_some() || cfg.key_file.is_some() {
        anyhow::bail!(
            "broker TLS files are set but the URL {} is not mqtts://; use mqtts:// or drop them",
            cfg.url
        );
    } else {
        rumqttc::Transport::Tcp
    };
    Ok(Connect {
        client_id: cfg
            .client_id
            .clone()
            .unwrap_or_else(|| default_client_id.to_owned()),
        host: url.host,
        port: url.port,
        keep_alive: Duration::from_secs(cfg.keep_alive_s.max(5)),
        credentials,
        transport,
    })
}

/// Builds MQTT 3.1.1 connection options for `cfg` (the HQ collector's).
/// `default_client_id` is used when the config names none. The session is
/// always clean: callers keep their own durable record of what is
/// unacknowledged (see docs/design.md, "The durability contract"), so a
/// broker-side session would only add duplicates.
pub fn mqtt_options(
    cfg: &BrokerConfig,
    default_client_id: &str,
) -> anyhow::Result<rumqttc::MqttOptions> {
    let c = connect(cfg, default_client_id)?;
    let mut opts = rumqttc::MqttOptions::new(c.client_id, c.host, c.port);
    opts.set_keep_alive(c.keep_alive);
    opts.set_clean_session(true);
    if let Some((user, password)) = c.credentials {
        opts.set_credentials(user, password);
    }
    opts.set_transport(c.transport);
    Ok(opts)
}

/// Builds MQTT 5 connection options for `cfg` (the gateway's uplink), with
/// the same login, transport and clean start as [`mqtt_options`]. MQTT 5 is
/// what lets a broker say a publish was too large (a PUBACK reason code, a
/// Maximum Packet Size in its CONNACK) instead of dropping it unseen.
pub fn mqtt5_options(
    cfg: &BrokerConfig,
    default_client_id: &str,
) -> anyhow::Result<rumqttc::v5::MqttOptions> {
    let c = connect(cfg, default_client_id)?;
    let mut opts = rumqttc::v5::MqttOptions::new(c.client_id, c.host, c.port);
    opts.set_keep_alive(c.keep_alive);
    opts.set_clean_start(true);
    if let Some((user, password)) = c.credentials {
        opts.set_credentials(user, password);
    }
    opts.set_transport(c.transport);
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_scheme_default_ports() {
        assert_eq!(
            BrokerUrl::parse("mqtt://h").unwrap(),
            BrokerUrl {
                tls: false,
                host: "h".into(),
                port: 1883
            }
        );
        assert_eq!(
            BrokerUrl::parse("mqtts://h.example/").unwrap(),
            BrokerUrl {
                tls: true,
                host: "h.example".into(),
                port: 8883
            }
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1:11883").unwrap().port,
            11883
        );
        assert_eq!(BrokerUrl::parse("mqtt://[::1]:2000").unwrap().host, "::1");
    }

    #[test]
    fn bad_urls_are_rejected_with_a_reason() {
        assert!(matches!(
            BrokerUrl::parse("tcp://h"),
            Err(UrlError::Scheme(_))
        ));
        assert_eq!(BrokerUrl::parse("mqtt://"), Err(UrlError::NoHost));
        assert!(matches!(
            BrokerUrl::parse("mqtt://h:99999"),
            Err(UrlError::Port(_))
        ));
        assert_eq!(BrokerUrl::parse("mqtt://u:p@h"), Err(UrlError::Extra));
    }

    /// A plain broker config logging in as `store` with a password file in
    /// `dir` holding `password_text`.
    fn login_as_store(dir: &Path, password_text: &str) -> BrokerConfig {
        let file = dir.join("pw");
        std::fs::write(&file, password_text).unwrap();
        let mut cfg = BrokerConfig::from_url("mqtt://localhost");
        cfg.username = Some("store".into());
        cfg.password_file = Some(file);
        cfg
    }

    #[test]
    fn password_is_read_from_its_file_without_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = login_as_store(dir.path(), "s3cret\n");
        let opts = mqtt_options(&cfg, "id").unwrap();
        let login = opts.credentials().unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("store", "s3cret")
        );
        assert_eq!(opts.client_id(), "id");
    }

    #[test]
    fn mqtt5_options_carry_the_same_login_and_client_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = login_as_store(dir.path(), "s3cret\r\n");
        cfg.client_id = Some("gw-1".into());
        let opts = mqtt5_options(&cfg, "default").unwrap();
        let login = opts.credentials().unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("store", "s3cret")
        );
        assert_eq!(opts.client_id(), "gw-1");
        assert_eq!(opts.keep_alive(), Duration::from_secs(DEFAULT_KEEP_ALIVE_S));
    }

    #[test]
    fn missing_ca_file_names_the_file() {
        let mut cfg = BrokerConfig::from_url("mqtts://localhost");
        cfg.ca_file = Some("/nonexistent/ca.pem".into());
        let err = mqtt_options(&cfg, "id").unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/ca.pem"),
            "{err:#}"
        );
    }
}
