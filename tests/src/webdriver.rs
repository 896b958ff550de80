//! Headless Chromium driven through chromedriver, for tests that check
//! what a person sees in a browser: the W3C WebDriver protocol (JSON over
//! HTTP) spoken with the harness's own small HTTP client.
//!
//! Each [`Browser`] has its own chromedriver on a free port and a fresh
//! profile directory, with Chromium's background traffic turned off, so a
//! test sees only the pages it opens. Dropping it ends the session (which
//! closes Chromium) before chromedriver is killed.

use crate::http;
use crate::mosquitto::free_port;
use crate::process::{wait_until, ChildGuard};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// chromedriver starting, on a busy machine.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The Chromium flags the browser tests run with: headless, no sandbox
/// (containers), and no traffic of its own (updates, sync, first-run).
pub const CHROMIUM_ARGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// One browser session.
pub struct Browser {
    session: String,
    addr: String,
    // Dropped after the session is deleted (see `Drop`).
    _driver: ChildGuard,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile in
    /// `dir`, its window `width`×`height` pixels.
    pub fn start(dir: &Path, width: u32, height: u32) -> Browser {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        let driver = ChildGuard::spawn("chromedriver", &mut cmd, &dir.join("chromedriver.log"));
        wait_until("chromedriver to be ready", START_DEADLINE, || {
            let status = http::request(&addr, "GET", "/status", &[], None).ok()?;
            let value: Value = serde_json::from_slice(&status.body).ok()?;
            (value["value"]["ready"] == true).then_some(())
        });
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap();
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={width},{height}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = call(&addr, "POST", "/session", Some(&caps));
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {created}"))
            .to_string();
        Browser {
            session,
            addr,
            _driver: driver,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        call(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }

    /// Opens `url` and returns once it has loaded.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The elements matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.call(
            "POST",
            "/elements",
            Some(&json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The one element matching `css`; panics if there is none.
    pub fn find(&self, css: &str) -> String {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches `{css}` on {}", self.url()))
    }

    /// The rendered text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Clicks the element matching `css`.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        );
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn execute(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Saves a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("a base64 screenshot"))
            .expect("valid base64");
        std::fs::write(path, bytes).unwrap();
    }

    /// The browser console's messages since the last call, as
    /// (level, message).
    pub fn console(&self) -> Vec<(String, String)> {
        let entries = self.call("POST", "/se/log", Some(&json!({"type": "browser"})));
        entries
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or("").to_string(),
                            e["message"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends Chromium; chromedriver itself is killed by its guard.
        let _ = http::request(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            None,
        );
    }
}

/// One WebDriver command; returns its `value`, panics on a WebDriver error.
fn call(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let response = http::request(addr, method, path, &[], bytes.as_deref())
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
    let value: Value = serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}: {}", response.text()));
    if response.status != 200 {
        panic!(
            "WebDriver {method} {path} failed ({}): {}",
            response.status, value["value"]
        );
    }
    value["value"].clone()
}
