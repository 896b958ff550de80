//! A real Mosquitto broker per test, on a free loopback port.
//!
//! The broker's config, persistence file and log live in a tempdir owned by
//! the [`Mosquitto`] value, so tests run in parallel without sharing state.
//! `restart` keeps the port and the persistence file: to the gateway it looks
//! like HQ's broker going away and coming back.

use crate::process::{wait_until, ChildGuard};
use nix::sys::signal::Signal;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Long enough for a broker to load a persistence file on a busy 2-core box.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// TLS material for the broker's listener (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the broker's main listener is set up.
#[derive(Debug, Clone)]
pub struct MosquittoOptions {
    /// Keep retained messages, sessions and queued messages across restarts.
    pub persistence: bool,
    /// Serve the main listener over TLS (`mqtts://`).
    pub tls: Option<TlsFiles>,
    /// Mosquitto password file (see [`crate::tls::mosquitto_password_file`]).
    pub password_file: Option<PathBuf>,
    /// Whether the main listener accepts clients without a username.
    pub allow_anonymous: bool,
    /// Mosquitto's `max_packet_size`: a client sending a larger packet is
    /// disconnected. `None` keeps Mosquitto's default (no limit).
    pub max_packet_size: Option<u32>,
    /// Mosquitto's `message_size_limit`: a larger payload is not passed on.
    /// It is not announced; an MQTT 5 client gets PUBACK reason 0x95.
    pub message_size_limit: Option<u32>,
    /// Mosquitto `acl_file` for the main listener (the observer listener
    /// stays unrestricted).
    pub acl_file: Option<PathBuf>,
    /// Mosquitto's `max_inflight_messages`: QoS 1 messages sent to a client
    /// and not yet acked. `None` keeps Mosquitto's default (20).
    pub max_inflight_messages: Option<u16>,
}

impl Default for MosquittoOptions {
    fn default() -> Self {
        MosquittoOptions {
            persistence: true,
            tls: None,
            password_file: None,
            allow_anonymous: true,
            max_packet_size: None,
            message_size_limit: None,
            acl_file: None,
            max_inflight_messages: None,
        }
    }
}

/// A running (or stopped) Mosquitto.
pub struct Mosquitto {
    dir: TempDir,
    port: u16,
    /// An extra plain, anonymous listener for the tests' own observers when the
    /// main listener needs TLS or a password; otherwise equal to `port`.
    observer_port: u16,
    tls: bool,
    child: Option<ChildGuard>,
}

impl Mosquitto {
    /// A plain, anonymous broker with persistence.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with(MosquittoOptions::default())
    }

    pub fn start_with(opts: MosquittoOptions) -> Mosquitto {
        let dir = tempfile::Builder::new()
            .prefix("mosquitto-")
            .tempdir()
            .expect("tempdir");
        let [port, spare] = free_ports();
        let needs_observer =
            opts.tls.is_some() || opts.password_file.is_some() || !opts.allow_anonymous;
        let observer_port = if needs_observer { spare } else { port };
        let conf = config_text(
            &opts,
            dir.path(),
            port,
            needs_observer.then_some(observer_port),
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).expect("write mosquitto.conf");
        let mut broker = Mosquitto {
            dir,
            port,
            observer_port,
            tls: opts.tls.is_some(),
            child: None,
        };
        broker.launch();
        broker
    }

    /// The main listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`, or `mqtts://localhost:PORT` with TLS (the test
    /// server certificate is issued for `localhost` and `127.0.0.1`).
    pub fn url(&self) -> String {
        if self.tls {
            format!("mqtts://localhost:{}", self.port)
        } else {
            format!("mqtt://127.0.0.1:{}", self.port)
        }
    }

    /// A plain, anonymous listener on the same broker for test observers
    /// (subscribers, HQ). The same as [`Mosquitto::port`] for a plain broker.
    pub fn observer_port(&self) -> u16 {
        self.observer_port
    }

    pub fn observer_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.observer_port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The broker's process id while it runs (for CPU accounting in benches).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::pid)
    }

    /// The broker's log so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the broker the way an operator would (SIGTERM), so it writes its
    /// persistence file, and waits for it to exit. A frozen broker is thawed
    /// after the SIGTERM, so it exits without first reading what clients sent
    /// while it was frozen: those publishes are lost, unacknowledged.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.sigterm();
            child.signal(Signal::SIGCONT);
            child.wait_exit(START_DEADLINE);
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is
    /// read or acknowledged, like a broker or WAN link that hangs. Publishes
    /// sent now are in flight until [`Mosquitto::thaw`] or [`Mosquitto::stop`].
    pub fn freeze(&self) {
        if let Some(child) = &self.child {
            child.signal(Signal::SIGSTOP);
        }
    }

    /// Resumes a frozen broker (SIGCONT).
    pub fn thaw(&self) {
        if let Some(child) = &self.child {
            child.signal(Signal::SIGCONT);
        }
    }

    /// Kills the broker without letting it save (a crash or power cut).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill9();
        }
    }

    /// Starts the broker again on the same port with the same persistence.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Starts a stopped broker (no-op if it is running).
    pub fn start_again(&mut self) {
        if self.child.is_none() {
            self.launch();
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    fn launch(&mut self) {
        let mut cmd = Command::new(MOSQUITTO);
        cmd.arg("-c").arg(self.dir.path().join("mosquitto.conf"));
        let mut child = ChildGuard::spawn("mosquitto", &mut cmd, &self.log_path());
        let ports = [self.port, self.observer_port];
        wait_until(
            &format!("mosquitto to listen on {ports:?}"),
            START_DEADLINE,
            || {
                if let Some(status) = child.try_exit() {
                    panic!("mosquitto exited with {status} at start:\n{}", self.log());
                }
                ports
                    .iter()
                    .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
                    .then_some(())
            },
        );
        self.child = Some(child);
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail = &log[log.len().saturating_sub(4_000)..];
            eprintln!("---- mosquitto log (tail) ----\n{tail}\n---- end of mosquitto log ----");
        }
        self.kill9();
    }
}

/// A port that was free a moment ago. Another process could take it before
/// the broker binds; the broker then fails to start and says so in its log.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct ports that were free a moment ago: all are held at once
/// while they are chosen, since a port just let go can be handed out again.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"));
    listeners.map(|l| l.local_addr().expect("local addr").port())
}

fn config_text(
    opts: &MosquittoOptions,
    dir: &Path,
    port: u16,
    observer_port: Option<u16>,
) -> String {
    let mut c = String::new();
    let mut line = |s: String| {
        c.push_str(&s);
        c.push('\n');
    };
    // Listener-specific auth, so the observer listener can stay anonymous.
    line("per_listener_settings true".into());
    // Running as root in CI: keep root, so the broker can read the tempdir.
    line("user root".into());
    line(format!("persistence {}", opts.persistence));
    line(format!("persistence_location {}/", dir.display()));
    // Subscribers with persistent sessions must not lose queued events while
    // they or the broker restart: no queue limit in tests.
    line("max_queued_messages 0".into());
    if let Some(bytes) = opts.max_packet_size {
        line(format!("max_packet_size {bytes}"));
    }
    if let Some(bytes) = opts.message_size_limit {
        line(format!("message_size_limit {bytes}"));
    }
    if let Some(window) = opts.max_inflight_messages {
        line(format!("max_inflight_messages {window}"));
    }
    line("log_dest stderr".into());
    line("log_type error".into());
    line("log_type warning".into());
    line("log_type notice".into());
    line("log_type information".into());
    line("connection_messages true".into());
    line("log_timestamp_format %H:%M:%S".into());

    line(format!("listener {port} 127.0.0.1"));
    line(format!("allow_anonymous {}", opts.allow_anonymous));
    if let Some(pw) = &opts.password_file {
        line(format!("password_file {}", pw.display()));
    }
    if let Some(acl) = &opts.acl_file {
        line(format!("acl_file {}", acl.display()));
    }
    if let Some(tls) = &opts.tls {
        line(format!("cafile {}", tls.ca.display()));
        line(format!("certfile {}", tls.cert.display()));
        line(format!("keyfile {}", tls.key.display()));
    }
    if let Some(observer) = observer_port {
        line(format!("listener {observer} 127.0.0.1"));
        line("allow_anonymous true".into());
    }
    c
}
