//! Prometheus metrics for the gateway and the HQ collector: a read-only view
//! of the counters they already keep, served as text on `GET /metrics`.
//!
//! Each scrape builds a fresh [`Exposition`] from a snapshot of those
//! counters, so the metrics can never disagree with the status topic, and
//! nothing is counted twice. The HTTP side answers one request per
//! connection and nothing but `GET /metrics`: a scraper needs no more.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Largest request head read: a scraper's GET with its headers is a few
/// hundred bytes; anything bigger is not a scraper.
const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// A client must send its request within this time, so an idle connection
/// cannot hold one of the [`MAX_CONNECTIONS`] slots for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections answered at once. One Prometheus (or two, in HA) scrapes
/// every 15–60 s; the bound keeps a misbehaving client from costing memory.
const MAX_CONNECTIONS: usize = 16;

/// Prometheus text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric could not be built (a bad name or label): a bug, reported to the
/// scraper as a 500 rather than served half-done.
#[derive(Debug, thiserror::Error)]
#[error("cannot build metric {name}: {source}")]
pub struct MetricsError {
    name: String,
    source: prometheus::Error,
}

/// One scrape's metrics under construction.
pub struct Exposition {
    registry: Registry,
    error: Option<MetricsError>,
}

impl Default for Exposition {
    fn default() -> Self {
        Exposition::new()
    }
}

impl Exposition {
    pub fn new() -> Self {
        Exposition {
            registry: Registry::new(),
            error: None,
        }
    }

    /// A counter without labels; `name` ends in `_total`.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.counters(name, help, None, [("", value)]);
    }

    /// A counter with one label, one sample per `(label value, count)`.
    pub fn counter_by<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.counters(name, help, Some(label), values);
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) {
        self.gauges(name, help, &[], [(Vec::new(), value)]);
    }

    /// A gauge with one label, one sample per `(label value, value)`.
    pub fn gauge_by<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, i64)>,
    ) {
        self.gauges(
            name,
            help,
            &[label],
            values.into_iter().map(|(v, n)| (vec![v], n)),
        );
    }

    /// A gauge with several labels (e.g. an `_info` metric).
    pub fn gauge_labelled<'a>(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        values: impl IntoIterator<Item = (Vec<&'a str>, i64)>,
    ) {
        self.gauges(name, help, labels, values);
    }

    fn counters<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: Option<&str>,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        let labels: Vec<&str> = label.into_iter().collect();
        let built = IntCounterVec::new(Opts::new(name, help), &labels).and_then(|vec| {
            for (value, count) in values {
                let key: Vec<&str> = label.map(|_| value).into_iter().collect();
                // A fresh counter per scrape: adding the total sets it.
                vec.get_metric_with_label_values(&key)?.inc_by(count);
            }
            self.registry.register(Box::new(vec))
        });
        self.note(name, built);
    }

    fn gauges<'a>(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        values: impl IntoIterator<Item = (Vec<&'a str>, i64)>,
    ) {
        let built = IntGaugeVec::new(Opts::new(name, help), labels).and_then(|vec| {
            for (key, value) in values {
                vec.get_metric_with_label_values(&key)?.set(value);
            }
            self.registry.register(Box::new(vec))
        });
        self.note(name, built);
    }

    fn note(&mut self, name: &str, result: prometheus::Result<()>) {
        if let (Err(source), None) = (result, &self.error) {
            self.error = Some(MetricsError {
                name: name.to_owned(),
                source,
            });
        }
    }

    /// The text exposition, or the first metric that could not be built.
    pub fn render(self) -> Result<String, MetricsError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .map_err(|source| MetricsError {
                name: "(encoding)".into(),
                source,
            })
    }
}

/// Produces one scrape's text.
pub type Render = Arc<dyn Fn() -> Result<String, MetricsError> + Send + Sync>;

/// Binds the metrics address; a clear error when it is taken or invalid.
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen for metrics on {addr}: {e} (choose a free address for the metrics endpoint)"
        )
    })?;
    Ok(listener)
}

/// Answers scrapes on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, render: Render) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics on /metrics");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((socket, _)) => {
                let render = render.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(err) = answer(socket, &render).await {
                        tracing::debug!(%err, "metrics request failed");
                    }
                });
            }
            Err(err) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(%err, "cannot accept a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and writes one response, then closes.
async fn answer(mut socket: TcpStream, render: &Render) -> std::io::Result<()> {
    let head = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut socket)).await {
        Ok(head) => head?,
        Err(_) => return Ok(()),
    };
    let request_line = head.lines().next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Scrapers may add a query string; the path is what matters.
    let path = target.split('?').next().unwrap_or("");
    let response = match (method, path) {
        ("GET", "/metrics") => match render() {
            Ok(body) => response("200 OK", CONTENT_TYPE, &body),
            Err(err) => {
                tracing::error!(%err, "cannot render metrics");
                response(
                    "500 Internal Server Error",
                    "text/plain",
                    &format!("{err}\n"),
                )
            }
        },
        ("GET", _) => response("404 Not Found", "text/plain", "metrics are on /metrics\n"),
        _ => response(
            "405 Method Not Allowed",
            "text/plain",
            "only GET /metrics is served\n",
        ),
    };
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}

/// The request up to the blank line that ends its head (no body is read:
/// a GET has none).
async fn read_head(socket: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_carry_their_value_and_labels() {
        let mut e = Exposition::new();
        e.counter("aisle_test_events_total", "Events.", 7);
        e.counter_by(
            "aisle_test_bad_total",
            "Bad ones.",
            "kind",
            [("crc", 2), ("framing", 0)],
        );
        e.gauge_by("aisle_test_up", "Up.", "path", [("/dev/a", 1)]);
        let text = e.render().unwrap();
        assert!(
            text.contains("# TYPE aisle_test_events_total counter\naisle_test_events_total 7\n"),
            "{text}"
        );
        assert!(
            text.contains("aisle_test_bad_total{kind=\"crc\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("aisle_test_bad_total{kind=\"framing\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE aisle_test_up gauge\naisle_test_up{path=\"/dev/a\"} 1\n"),
            "{text}"
        );
    }

    /// Sends `request` to a fresh endpoint and returns the status line.
    async fn status_line(request: &str) -> String {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, Arc::new(|| Ok("up 1\n".to_string()))));
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        server.abort();
        response.lines().next().unwrap_or("").to_string()
    }

    #[tokio::test]
    async fn serves_only_get_on_the_metrics_path() {
        let get = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(status_line(get).await, "HTTP/1.1 200 OK");
        let other = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(status_line(other).await, "HTTP/1.1 404 Not Found");
        let post = "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(status_line(post).await, "HTTP/1.1 405 Method Not Allowed");
    }

    #[test]
    fn a_bad_metric_name_fails_the_scrape_instead_of_hiding() {
        let mut e = Exposition::new();
        e.counter("aisle test", "Spaces are not allowed.", 1);
        let err = e.render().unwrap_err();
        assert!(err.to_string().contains("aisle test"), "{err}");
    }
}
