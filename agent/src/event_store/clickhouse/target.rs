//! Where a ClickHouse event store is: the `--db` URL's parts, and the URL
//! they print back as.

use super::super::TargetError;

/// ClickHouse's HTTP ports when the URL names none.
const HTTP_PORT: u16 = 8123;
const HTTPS_PORT: u16 = 8443;

/// `clickhouse://HOST:PORT/DATABASE` or `clickhouses://…` (TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseTarget {
    pub tls: bool,
    /// A host name, an IPv4 address or a bracketed IPv6 address.
    pub host: String,
    pub port: u16,
    pub database: String,
}

impl ClickHouseTarget {
    pub fn parse(url: &str) -> Result<ClickHouseTarget, TargetError> {
        let bad = |reason: &str| TargetError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("clickhouses://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("clickhouse://") {
            (false, rest)
        } else {
            return Err(bad("expected clickhouse://HOST:PORT/DATABASE"));
        };
        let (authority, database) = rest
            .split_once('/')
            .ok_or_else(|| bad("no database: expected clickhouse://HOST:PORT/DATABASE"))?;
        if authority.contains('@') {
            return Err(bad(
                "no user or password in the URL: use --db-user and --db-password-file",
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| bad(&format!("port `{port}` is not a number from 1 to 65535")))?;
                (host, port)
            }
            _ => (authority, if tls { HTTPS_PORT } else { HTTP_PORT }),
        };
        if host.is_empty() || port == 0 {
            return Err(bad("expected clickhouse://HOST:PORT/DATABASE"));
        }
        // The name goes into SQL as an identifier, so it must be one.
        let identifier = database
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(bad(&format!(
                "database `{database}` must be letters, digits and _ (not starting with a digit)"
            )));
        }
        Ok(ClickHouseTarget {
            tls,
            host: host.to_string(),
            port,
            database: database.to_string(),
        })
    }

    /// The HTTP(S) endpoint.
    pub(super) fn http_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}/", self.host, self.port)
    }

    /// `host:port`, for messages.
    pub(super) fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for ClickHouseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls {
            "clickhouses"
        } else {
            "clickhouse"
        };
        write!(
            f,
            "{scheme}://{}:{}/{}",
            self.host, self.port, self.database
        )
    }
}
