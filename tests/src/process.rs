//! Child processes under test: spawning with captured logs, signals, waiting.
//!
//! A test that panics must not leave a gateway or broker behind (the next
//! test would find its port or pty taken), and must show what the process
//! logged, because that is usually the explanation. [`ChildGuard`] does both.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How often [`wait_until`] re-checks its condition. Short, because the
/// conditions are cheap and tests should not idle.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How much of a log to print when a test fails: enough for the last few
/// reconnects, not enough to bury the assertion message.
const LOG_TAIL_BYTES: usize = 6_000;

/// Polls `f` until it returns `Some`, and returns that value. Panics with
/// `what` if `deadline` passes first. For conditions with no signal to wait
/// on (a file appearing, a broker accepting connections, a message arriving).
pub fn wait_until<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = f() {
            return value;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Removes a `--ready-file` an earlier run left, so that the file appearing
/// again means the next run is ready.
pub fn clear_ready_file(path: &Path) {
    aisle_agent::ready::clear(path)
        .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
}

/// Runs `cmd` (an `aisle` command a user would type) to the end and returns
/// what it printed; a failure panics with the command and its stderr.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the command prints UTF-8")
}

/// The `aisle` binary under test.
///
/// `AISLE_BIN` wins (the bench and CI may point at a release build).
/// Otherwise it is `target/<profile>/aisle` beside this test executable,
/// built once per test process with `cargo build -p aisle-agent --bin aisle`
/// so a test never runs a stale gateway. Cargo is quick when nothing changed.
pub fn aisle_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("AISLE_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("current test executable");
        // target/debug/deps/<test>-<hash> → target/debug/aisle
        let profile_dir = exe
            .parent()
            .and_then(|deps| {
                if deps.ends_with("deps") {
                    deps.parent()
                } else {
                    Some(deps)
                }
            })
            .expect("test executable lives in a cargo target directory")
            .to_path_buf();
        let bin = profile_dir.join("aisle");
        build_aisle(&profile_dir);
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

/// Variables cargo sets for the package under test (prefixes).
const CARGO_PACKAGE_VARS: &[&str] = &[
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

fn build_aisle(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "aisle-agent",
        "--bin",
        "aisle",
        "--manifest-path",
    ])
    .arg(&manifest);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        cmd.arg("--release");
    }
    if let Some(target_dir) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target_dir);
    }
    // Cargo gives this test process its package's variables. Build scripts
    // (ring's) rerun when they change, so passing them on would make this
    // build and the developer's next `cargo build` rebuild each other.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if CARGO_PACKAGE_VARS.iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd.status().expect("run cargo to build the aisle binary");
    assert!(
        status.success(),
        "cargo build -p aisle-agent --bin aisle failed: {status}"
    );
}

/// A child process that is killed (SIGKILL) and reaped when dropped, and
/// whose log is printed if the test is panicking.
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    log: Option<PathBuf>,
}

impl ChildGuard {
    /// Wraps an already spawned child.
    pub fn new(name: impl Into<String>, child: Child) -> ChildGuard {
        ChildGuard {
            name: name.into(),
            child: Some(child),
            log: None,
        }
    }

    /// Spawns `cmd` with stdout and stderr appended to `log` (created if
    /// missing, so a restarted process keeps one log).
    pub fn spawn(name: impl Into<String>, cmd: &mut Command, log: &Path) -> ChildGuard {
        let name = name.into();
        let out = open_log(log);
        let err = out.try_clone().expect("clone log handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        ChildGuard {
            name,
            child: Some(child),
            log: Some(log.to_path_buf()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("{} was already reaped", self.name))
    }

    /// Sends `signal` unless the process has already been reaped.
    pub fn signal(&self, signal: Signal) {
        if let Some(child) = &self.child {
            // ESRCH means it exited on its own and is a zombie until reaped: fine.
            let _ = kill(Pid::from_raw(child.id() as i32), signal);
        }
    }

    /// SIGTERM: the polite stop that the process should handle.
    pub fn sigterm(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// SIGKILL and reap: a power cut from the process's point of view.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit status if the process has exited (reaping it), else `None`.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            Ok(None) => None,
            Err(e) => panic!("waiting for {}: {e}", self.name),
        }
    }

    /// Waits for the process to exit; panics with its log if it has not
    /// within `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let what = format!("{} to exit", self.name);
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            if self.child.is_none() {
                panic!("{} was already reaped", self.name);
            }
            if start.elapsed() > deadline {
                panic!(
                    "timed out after {deadline:?} waiting for {what}\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until the process has written its `--ready-file` at `path`;
    /// panics with its log if it exits or `deadline` passes first. Clear a
    /// stale file with [`clear_ready_file`] before spawning.
    pub fn wait_ready(&mut self, path: &Path, deadline: Duration) {
        let start = Instant::now();
        while !path.exists() {
            if let Some(status) = self.try_exit() {
                panic!(
                    "{} exited with {status} before it was ready\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if start.elapsed() > deadline {
                panic!(
                    "timed out after {deadline:?} waiting for {} to be ready\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether the process is still running (does not reap it).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The whole log written so far (empty without a log file).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// The end of the log, labelled, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let mut start = text.len().saturating_sub(LOG_TAIL_BYTES);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        format!(
            "---- {} log (tail) ----\n{}\n---- end of {} log ----",
            self.name,
            &text[start..],
            self.name
        )
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if thread::panicking() && self.log.is_some() {
            eprintln!("{}", self.log_tail());
        }
        self.kill9();
    }
}

fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open log {}: {e}", path.display()))
}

/// How to start `aisle gateway`; [`GatewayArgs::spawn`] can be called again
/// with the same arguments to restart it on the same spool.
#[derive(Debug, Clone)]
pub struct GatewayArgs {
    pub config: PathBuf,
    /// `--broker`; `None` uses the config's URL.
    pub broker: Option<String>,
    /// `--receiver`, repeated; empty uses the config's receivers.
    pub receivers: Vec<PathBuf>,
    /// `--spool`; `None` uses the config's path.
    pub spool: Option<PathBuf>,
    /// Appended to by every run of this gateway.
    pub log: PathBuf,
    /// Extra environment, e.g. `RUST_LOG`.
    pub env: Vec<(String, String)>,
    /// Extra arguments after the others, e.g. `--log-format json`.
    pub extra: Vec<String>,
}

/// The demo store's config (`examples/store.toml`), which the simulator
/// and the whole-system tests use.
pub fn demo_store() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/store.toml")
}

impl GatewayArgs {
    /// The demo store's gateway reading `receiver`, sending to
    /// `broker_url`, with its spool and log in `dir`.
    pub fn demo(broker_url: String, receiver: PathBuf, dir: &Path) -> GatewayArgs {
        GatewayArgs {
            broker: Some(broker_url),
            receivers: vec![receiver],
            spool: Some(dir.join("spool.sqlite")),
            log: dir.join("gateway.log"),
            ..GatewayArgs::new(&demo_store())
        }
    }

    /// Arguments for a gateway configured entirely by `config`, logging to
    /// `gateway.log` beside it.
    pub fn new(config: &Path) -> GatewayArgs {
        GatewayArgs {
            config: config.to_path_buf(),
            broker: None,
            receivers: Vec::new(),
            spool: None,
            log: config.with_file_name("gateway.log"),
            env: vec![("RUST_LOG".into(), "info".into())],
            extra: Vec::new(),
        }
    }

    /// The command line, for spawning or for printing in docs.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(aisle_bin());
        cmd.arg("gateway").arg("--config").arg(&self.config);
        if let Some(broker) = &self.broker {
            cmd.arg("--broker").arg(broker);
        }
        for receiver in &self.receivers {
            cmd.arg("--receiver").arg(receiver);
        }
        if let Some(spool) = &self.spool {
            cmd.arg("--spool").arg(spool);
        }
        cmd.args(&self.extra);
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Starts the gateway as a separate process.
    pub fn spawn(&self) -> ChildGuard {
        ChildGuard::spawn("aisle gateway", &mut self.command(), &self.log)
    }
}
