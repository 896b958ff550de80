//! A minimal HTTP/1.1 client over a plain TCP stream: enough to speak
//! WebDriver's JSON to a local chromedriver and to fetch a dashboard page
//! with its status code. One request per connection; a response ends
//! after its `Content-Length`, its last chunk, or the end of the stream
//! (chromedriver keeps connections open whatever the request asks).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Long enough for a page of the dashboard over a big database (a report
/// over 100 M events on ClickHouse takes minutes on 2 cores), or for
/// chromedriver to start a browser on a busy machine.
const IO_TIMEOUT: Duration = Duration::from_secs(600);

/// A response: status code, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request to `addr` (`host:port`) and reads the whole response.
/// `extra` headers are sent as given.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    let raw = read_response(&mut stream)?;
    parse(&raw).map(|p| p.response).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

/// Reads until the response is complete.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if let Some(response) = parse(&raw) {
            if response.complete {
                return Ok(raw);
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// `GET path` from `addr`.
pub fn get(addr: &str, path: &str) -> Response {
    request(addr, "GET", path, &[], None).unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// A response parsed so far, and whether all of its body is there.
struct Parsed {
    response: Response,
    complete: bool,
}

impl std::ops::Deref for Parsed {
    type Target = Response;
    fn deref(&self) -> &Response {
        &self.response
    }
}

fn parse(raw: &[u8]) -> Option<Parsed> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let complete = if chunked {
        match dechunk(&body) {
            Some(joined) => {
                body = joined;
                true
            }
            None => false,
        }
    } else if let Some(length) = length {
        body.truncate(length);
        raw.len() - split - 4 >= length
    } else {
        false
    };
    Some(Parsed {
        response: Response {
            status,
            headers,
            body,
        },
        complete,
    })
}

/// Joins a chunked body's chunks.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}
