//! Talking to ClickHouse over its HTTP interface: a statement in, the
//! answer (or the server's one-line exception) out.
//!
//! The user and password travel in `X-ClickHouse-User` / `X-ClickHouse-Key`
//! headers, never in the URL, so no proxy or access log records them.

use super::{ClickHouseError, ClickHouseTarget};
use crate::event_store::Credentials;
use std::io::BufReader;
use std::time::Duration;

/// A connection that takes longer than this to open is reported as
/// unreachable rather than left hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// ClickHouse's error codes for an unknown user or a wrong password
/// (18.16: 192, 193; later releases: 516).
const AUTH_CODES: [&str; 3] = ["Code: 192", "Code: 193", "Code: 516"];

/// One ClickHouse server, as `--db` names it.
pub(super) struct Http {
    agent: ureq::Agent,
    url: String,
    server: String,
    credentials: Credentials,
    /// Settings sent with every statement (see [`spill_settings`]).
    settings: Vec<(&'static str, String)>,
}

/// A streamed answer.
pub type Body = BufReader<ureq::BodyReader<'static>>;

impl Http {
    pub(super) fn new(target: &ClickHouseTarget, credentials: &Credentials) -> Http {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            // A non-2xx answer carries ClickHouse's exception text: read it.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build();
        Http {
            agent: config.into(),
            url: target.http_url(),
            server: target.server(),
            credentials: credentials.clone(),
            settings: Vec::new(),
        }
    }

    /// Sends `settings` with every later statement.
    pub(super) fn set_settings(&mut self, settings: Vec<(&'static str, String)>) {
        self.settings = settings;
    }

    fn post(&self) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut request = self.agent.post(&self.url);
        for (name, value) in &self.settings {
            request = request.query(*name, value);
        }
        if let Some(user) = &self.credentials.user {
            request = request.header("X-ClickHouse-User", user);
        }
        if let Some(password) = &self.credentials.password {
            request = request.header("X-ClickHouse-Key", password);
        }
        request
    }

    /// Sends `request` with `body`; the answer when the server accepted it.
    fn send(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>, ClickHouseError> {
        let response = request
            .send(body)
            .map_err(|err| ClickHouseError::Unreachable {
                server: self.server.clone(),
                reason: err.to_string(),
            })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .unwrap_or_else(|err| format!("HTTP {status}, and its text could not be read: {err}"));
        let message = one_line(&text);
        if status == 401 || status == 403 || AUTH_CODES.iter().any(|c| text.starts_with(c)) {
            return Err(ClickHouseError::Auth {
                server: self.server.clone(),
                user: self
                    .credentials
                    .user
                    .clone()
                    .unwrap_or_else(|| "default".to_string()),
                message,
            });
        }
        Err(ClickHouseError::Server {
            server: self.server.clone(),
            message,
        })
    }

    /// Runs `sql` and returns its whole answer as text.
    pub(super) fn query(&self, sql: &str) -> Result<String, ClickHouseError> {
        let response = self.send(self.post(), sql.as_bytes())?;
        response
            .into_body()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .map_err(|err| ClickHouseError::Read(err.to_string()))
    }

    /// Runs `sql` and returns its answer as a stream, read as it comes.
    pub(super) fn stream(&self, sql: &str) -> Result<Body, ClickHouseError> {
        let response = self.send(self.post(), sql.as_bytes())?;
        let reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        Ok(BufReader::with_capacity(1 << 16, reader))
    }

    /// Runs `INSERT … FORMAT RowBinary` with `rows` as the data. When this
    /// returns `Ok`, the server has written the rows.
    pub(super) fn insert(&self, insert: &str, rows: &[u8]) -> Result<(), ClickHouseError> {
        self.send(self.post().query("query", insert), rows)?;
        Ok(())
    }
}

/// The session settings this connection reads before anything else.
pub(super) const SESSION_SETTINGS_SQL: &str = "SELECT name, value FROM system.settings \
     WHERE name IN ('readonly', 'max_memory_usage', 'max_bytes_before_external_group_by', \
     'max_bytes_before_external_sort') FORMAT TabSeparated";

/// What to add to the user's settings so that a report's big `GROUP BY`
/// (one group per garment: tens of millions at chain scale) and sort spill
/// to disk instead of failing at the per-query memory limit
/// (`max_memory_usage`, 10 GB in a stock profile): each spills at half the
/// limit, as ClickHouse's documentation advises. `current` is the
/// `SESSION_SETTINGS_SQL` answer. Nothing is added when there is no limit,
/// when the profile already sets a threshold (the operator's choice wins),
/// or when the user is `readonly = 1` and may not change settings.
pub(super) fn spill_settings(current: &str) -> Vec<(&'static str, String)> {
    let value = |name: &str| {
        current
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
    };
    let limit = value("max_memory_usage").unwrap_or(0);
    if limit == 0 || value("readonly") == Some(1) {
        return Vec::new();
    }
    [
        "max_bytes_before_external_group_by",
        "max_bytes_before_external_sort",
    ]
    .into_iter()
    .filter(|name| value(name) == Some(0))
    .map(|name| (name, (limit / 2).to_string()))
    .collect()
}

/// ClickHouse's exception text on one line, without the `e.what()` tail
/// that 18.16 appends.
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let line = line
        .split_once(", e.what() = ")
        .map_or(line, |(head, _)| head);
    line.replace("e.displayText() = ", "")
}

#[cfg(test)]
mod tests {
    use super::{one_line, spill_settings};

    #[test]
    fn big_groupings_spill_at_half_the_memory_limit() {
        let stock = "readonly\t0\nmax_memory_usage\t10000000000\n\
                     max_bytes_before_external_group_by\t0\nmax_bytes_before_external_sort\t0\n";
        assert_eq!(
            spill_settings(stock),
            vec![
                (
                    "max_bytes_before_external_group_by",
                    "5000000000".to_string()
                ),
                ("max_bytes_before_external_sort", "5000000000".to_string()),
            ]
        );
        // The operator's own threshold is kept.
        let tuned = stock.replace("group_by\t0", "group_by\t123");
        assert_eq!(
            spill_settings(&tuned),
            vec![("max_bytes_before_external_sort", "5000000000".to_string())]
        );
        // No limit, or a user who may not change settings: nothing sent.
        assert!(spill_settings(&stock.replace("usage\t10000000000", "usage\t0")).is_empty());
        assert!(spill_settings(&stock.replace("readonly\t0", "readonly\t1")).is_empty());
        // readonly = 2 may change settings.
        assert_eq!(
            spill_settings(&stock.replace("readonly\t0", "readonly\t2")).len(),
            2
        );
    }

    #[test]
    fn exceptions_become_one_line() {
        assert_eq!(
            one_line("Code: 193, e.displayText() = DB::Exception: Wrong password for user aisle, e.what() = DB::Exception\n"),
            "Code: 193, DB::Exception: Wrong password for user aisle"
        );
        assert_eq!(
            one_line("Code: 516. DB::Exception: aisle: Authentication failed. (AUTHENTICATION_FAILED)\nmore\n"),
            "Code: 516. DB::Exception: aisle: Authentication failed. (AUTHENTICATION_FAILED)"
        );
    }
}
