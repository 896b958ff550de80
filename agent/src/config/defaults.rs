//! The store config's defaults and bounds, named once: the config's serde
//! defaults, the validator's limits and hints, the gateway's command line,
//! the simulator, the gateway bench and the tests all read them here, so a
//! changed default cannot leave a stale copy behind. docs/gateway.md lists
//! them for store IT.

/// A receiver dongle's line rate (`[[receivers]] baud`): the USB CDC
/// dongles run at it; a pty ignores it.
pub const BAUD: u32 = 921_600;

/// Seconds a SIGTERM/SIGINT may take to commit and publish
/// (`shutdown_grace_s`): enough for a commit and a batch on a slow link.
pub const SHUTDOWN_GRACE_S: f64 = 5.0;
/// The longest accepted grace period: systemd's stop timeout must cover it,
/// and ten minutes already outlasts any plausible drain.
pub const MAX_SHUTDOWN_GRACE_S: f64 = 600.0;

/// Seconds between periodic status publications (`status_interval_s`).
pub const STATUS_INTERVAL_S: u64 = 30;

/// Cap on spooled event bytes (`[spool] max_bytes`): 256 MiB holds days of
/// a busy store's events on a small SD card.
pub const SPOOL_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Smallest accepted spool cap: room for a few thousand events.
pub const MIN_SPOOL_BYTES: u64 = 64 * 1024;

/// Events per MQTT batch (`[batch] max_events`).
pub const BATCH_MAX_EVENTS: usize = 500;
/// Accepted range of `[batch] max_events`.
pub const BATCH_EVENTS_RANGE: std::ops::RangeInclusive<usize> = 1..=10_000;
/// Payload bytes per MQTT batch (`[batch] max_bytes`).
pub const BATCH_MAX_BYTES: usize = 256 * 1024;
/// Accepted range of `[batch] max_bytes`: from a few events to far below
/// MQTT's 256 MiB packet limit.
pub const BATCH_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=128 * 1024 * 1024;
/// How long the first event of a batch may wait for company
/// (`[batch] linger_ms`): the latency a quiet store pays for fewer batches.
pub const BATCH_LINGER_MS: u64 = 200;
/// Longest accepted `[batch] linger_ms`.
pub const MAX_BATCH_LINGER_MS: u64 = 60_000;

/// The control socket's file name beside the spool when `[control] socket`
/// is absent: the spool's directory already belongs to the service's user
/// and group (`/var/lib/aisle`, mode 0750).
pub const CONTROL_SOCKET_NAME: &str = "control.sock";
/// The longest Unix socket path Linux accepts (`sun_path` less its NUL).
pub const MAX_SOCKET_PATH: usize = 107;
