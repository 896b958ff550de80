//! Turns `--broker URL` and the TLS / credential flags into rumqttc options.
//!
//! `mqtt://host[:1883]` is plain TCP, `mqtts://host[:8883]` is TLS (rustls)
//! with `--ca-file` as the trust root and, for client certificates,
//! `--cert-file` + `--key-file`. The password is read from a file so it never
//! shows in `ps` or shell history.

use anyhow::{bail, Context};
use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use std::path::PathBuf;
use std::time::Duration;

/// How to reach and log in to the broker.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// Broker URL: mqtt://host:port or mqtts://host:port.
    #[arg(long)]
    pub broker: String,
    /// MQTT user name.
    #[arg(long, requires = "password_file")]
    pub username: Option<String>,
    /// File holding the MQTT password (trailing newline ignored).
    #[arg(long, requires = "username")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA certificates that sign the broker's certificate (mqtts).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that require one (mqtts).
    #[arg(long, requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, requires = "cert_file")]
    pub key_file: Option<PathBuf>,
}

/// Host, port and whether to use TLS, from `mqtt://` / `mqtts://` URLs.
fn parse_url(url: &str) -> anyhow::Result<(String, u16, bool)> {
    let (tls, rest) = if let Some(rest) = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
    {
        (false, rest)
    } else if let Some(rest) = url
        .strip_prefix("mqtts://")
        .or_else(|| url.strip_prefix("ssl://"))
    {
        (true, rest)
    } else {
        bail!("broker URL `{url}` must start with mqtt:// or mqtts://");
    };
    let rest = rest.trim_end_matches('/');
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = match rest.rsplit_once(':') {
        // `[::1]:1883`-style IPv6 literals keep their colons inside brackets.
        Some((host, port)) if !port.contains(']') => {
            let port = port
                .parse()
                .with_context(|| format!("broker URL `{url}`: bad port `{port}`"))?;
            (host, port)
        }
        _ => (rest, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        bail!("broker URL `{url}`: expected mqtt://host:port");
    }
    Ok((host.to_string(), port, tls))
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

impl BrokerArgs {
    /// rumqttc options for `client_id`, with TLS and credentials applied.
    pub fn mqtt_options(&self, client_id: &str) -> anyhow::Result<MqttOptions> {
        let (host, port, tls) = parse_url(&self.broker)?;
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(30));
        if let (Some(user), Some(file)) = (&self.username, &self.password_file) {
            let password = String::from_utf8(read(file, "password file")?)
                .with_context(|| format!("password file {} is not UTF-8", file.display()))?;
            opts.set_credentials(user, password.trim_end_matches(['\r', '\n']));
        }
        if tls {
            let ca = match &self.ca_file {
                Some(path) => read(path, "CA file")?,
                None => {
                    bail!("mqtts:// needs --ca-file (the CA that signed the broker's certificate)")
                }
            };
            let client_auth = match (&self.cert_file, &self.key_file) {
                (Some(cert), Some(key)) => Some((read(cert, "certificate")?, read(key, "key")?)),
                _ => None,
            };
            opts.set_transport(Transport::Tls(TlsConfiguration::Simple {
                ca,
                alpn: None,
                client_auth,
            }));
        } else if self.ca_file.is_some() || self.cert_file.is_some() {
            bail!("--ca-file / --cert-file need an mqtts:// broker URL");
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn reads_scheme_host_and_port() {
        assert_eq!(
            parse_url("mqtt://localhost:1884").unwrap(),
            ("localhost".into(), 1884, false)
        );
        assert_eq!(
            parse_url("mqtts://hq.example.com").unwrap(),
            ("hq.example.com".into(), 8883, true)
        );
        assert_eq!(
            parse_url("mqtt://[::1]:1883/").unwrap(),
            ("::1".into(), 1883, false)
        );
        assert_eq!(
            parse_url("mqtt://[::1]").unwrap(),
            ("::1".into(), 1883, false)
        );
    }

    #[test]
    fn rejects_other_schemes_and_bad_ports() {
        assert!(parse_url("http://localhost:1883").is_err());
        assert!(parse_url("mqtt://localhost:http").is_err());
        assert!(parse_url("mqtt://").is_err());
    }
}
