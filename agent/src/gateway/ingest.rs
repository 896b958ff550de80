//! Ingest: one task per receiver dongle. It reads the serial port, decodes
//! frames as a stream, hands uplinks to the spool writer and writes the
//! writer's acks back to the same port.
//!
//! A read of 0 bytes or an I/O error (a pty slave returns EIO when its other
//! side closes; a USB dongle vanishes on unplug) means the receiver is gone:
//! the task reopens the same path with capped exponential backoff and never
//! spins.

use super::shutdown::Shutdown;
use super::spool::writer::{PortMsg, SpoolMsg};
use super::status::Stats;
use protocol::time::UnixMillis;
use protocol::{encode, DecodeError, Downlink, Frame, FrameDecoder, Message, MAX_ENCODED_LEN};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_serial::SerialPortBuilderExt;
use tracing::Instrument;

/// First wait before reopening a receiver; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A port that stayed open this long without data was healthy: the next
/// failure starts the backoff afresh.
const HEALTHY_AFTER: Duration = Duration::from_secs(2);

/// Acks that cannot be written within this time are dropped (the tags
/// resend): a receiver that does not drain must not stall ingest.
const ACK_WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// Bad frames are logged at most this often per receiver, with counts.
const BAD_FRAME_LOG_EVERY: Duration = Duration::from_secs(10);

/// One receiver's settings.
pub struct Receiver {
    pub index: usize,
    pub path: PathBuf,
    pub baud: u32,
}

/// Counts bad frames by kind and logs them rate-limited.
struct BadFrameLog {
    since_log: [u64; 5],
    last_log: Option<Instant>,
}

impl BadFrameLog {
    fn note(&mut self, e: &DecodeError) {
        let i = match e {
            DecodeError::TooLong => 0,
            DecodeError::Framing => 1,
            DecodeError::Crc => 2,
            DecodeError::UnknownVersion(_) => 3,
            DecodeError::Deserialize => 4,
        };
        self.since_log[i] += 1;
        if self
            .last_log
            .is_none_or(|t| t.elapsed() >= BAD_FRAME_LOG_EVERY)
        {
            let [too_long, framing, crc, unknown_version, deserialize] = self.since_log;
            tracing::warn!(
                too_long,
                framing,
                crc,
                unknown_version,
                deserialize,
                last = e.kind(),
                "bad frames from receiver"
            );
            self.since_log = [0; 5];
            self.last_log = Some(Instant::now());
        }
    }
}

/// Runs receiver `rx` until shutdown, then flushes: waits until the writer
/// has committed and acked everything this port delivered.
pub async fn run(
    rx: Receiver,
    spool: mpsc::Sender<SpoolMsg>,
    mut acks: mpsc::Receiver<PortMsg>,
    stats: Arc<Stats>,
    mut shutdown: Shutdown,
) {
    let span = tracing::info_span!("receiver", path = %rx.path.display());
    async move {
        let mut backoff = MIN_BACKOFF;
        let mut bad = BadFrameLog { since_log: [0; 5], last_log: None };
        let mut decoder = FrameDecoder::new();
        let mut logged_open_error = false;
        let mut port = None;
        loop {
            let mut p = match port.take() {
                Some(p) => p,
                None => match tokio_serial::new(rx.path.to_string_lossy(), rx.baud).open_native_async() {
                    Ok(p) => {
                        stats.receiver(rx.index, |r| {
                            r.state = "open";
                            r.opens += 1;
                        });
                        tracing::info!("receiver open");
                        logged_open_error = false;
                        p
                    }
                    Err(e) => {
                        if !logged_open_error {
                            tracing::warn!(error = %e, "cannot open receiver; retrying with backoff");
                            logged_open_error = true;
                        }
                        if !wait_or_shutdown(&mut shutdown, &mut acks, &stats, backoff).await {
                            break;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                },
            };
            decoder.reset();
            let opened = Instant::now();
            let mut buf = [0u8; 4096];
            let gone = loop {
                tokio::select! {
                    _ = shutdown.requested() => break false,
                    msg = acks.recv() => match msg {
                        Some(PortMsg::Acks(keys)) => write_acks(&mut p, &keys, &stats).await,
                        Some(PortMsg::Flushed) | None => {}
                    },
                    read = p.read(&mut buf) => match read {
                        Ok(0) => break true,
                        Err(e) => {
                            tracing::debug!(error = %e, "receiver read failed");
                            break true;
                        }
                        Ok(n) => {
                            backoff = MIN_BACKOFF;
                            let received_at = UnixMillis::now();
                            let mut uplinks = Vec::new();
                            for item in decoder.feed(&buf[..n]) {
                                match item {
                                    Ok(Frame { message: Message::Uplink(u), .. }) => uplinks.push(u),
                                    // Downlinks on the shared channel are other gateways' or our echo.
                                    Ok(Frame { message: Message::Downlink(_), .. }) => {}
                                    Err(e) => {
                                        stats.bad_frame(&e);
                                        bad.note(&e);
                                    }
                                }
                            }
                            if !uplinks.is_empty() {
                                let count = uplinks.len() as u64;
                                stats.receiver(rx.index, |r| r.frames += count);
                                if spool.send(SpoolMsg::Frames { port: rx.index, received_at, uplinks }).await.is_err() {
                                    break false;
                                }
                            }
                        }
                    },
                }
            };
            if !gone {
                port = Some(p);
                break;
            }
            stats.receiver(rx.index, |r| r.state = "gone");
            tracing::warn!("receiver gone; reopening with backoff");
            drop(p);
            if opened.elapsed() >= HEALTHY_AFTER {
                backoff = MIN_BACKOFF;
            }
            if !wait_or_shutdown(&mut shutdown, &mut acks, &stats, backoff).await {
                break;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        // Shutdown: stop reading, let the writer commit what this port sent,
        // and write those last acks while the port is still open.
        if spool.send(SpoolMsg::Flush { port: rx.index }).await.is_ok() {
            drop(spool);
            let deadline = shutdown.deadline();
            // Ends at Flushed, when the writer is gone, or at the deadline.
            while let Ok(Some(PortMsg::Acks(keys))) = tokio::time::timeout_at(deadline, acks.recv()).await {
                match port.as_mut() {
                    Some(p) => write_acks(p, &keys, &stats).await,
                    None => {
                        stats.acks_dropped.fetch_add(keys.len() as u64, Relaxed);
                    }
                }
            }
        }
        stats.receiver(rx.index, |r| r.state = "closed");
        tracing::info!("receiver closed");
    }
    .instrument(span)
    .await
}

/// Sleeps `backoff` unless shutdown comes first (then `false`). Acks that
/// arrive meanwhile have no port to go to and are counted as dropped.
async fn wait_or_shutdown(
    shutdown: &mut Shutdown,
    acks: &mut mpsc::Receiver<PortMsg>,
    stats: &Stats,
    backoff: Duration,
) -> bool {
    let sleep = tokio::time::sleep(backoff);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = shutdown.requested() => return false,
            _ = &mut sleep => return true,
            Some(msg) = acks.recv() => {
                if let PortMsg::Acks(keys) = msg {
                    stats.acks_dropped.fetch_add(keys.len() as u64, Relaxed);
                }
            }
        }
    }
}

/// Encodes and writes one Ack downlink per key.
async fn write_acks(
    port: &mut tokio_serial::SerialStream,
    keys: &[super::enrich::EventKey],
    stats: &Stats,
) {
    let mut out = Vec::with_capacity(keys.len() * 24);
    let mut frame_buf = [0u8; MAX_ENCODED_LEN];
    for k in keys {
        let frame = Frame::downlink(Downlink::Ack {
            tag: k.tag,
            boot: k.boot,
            seq: k.seq,
        });
        if let Ok(n) = encode(&frame, &mut frame_buf) {
            out.extend_from_slice(&frame_buf[..n]);
        }
    }
    let written = tokio::time::timeout(ACK_WRITE_TIMEOUT, async {
        port.write_all(&out).await?;
        port.flush().await
    })
    .await;
    match written {
        Ok(Ok(())) => {
            stats.acks_sent.fetch_add(keys.len() as u64, Relaxed);
        }
        _ => {
            stats.acks_dropped.fetch_add(keys.len() as u64, Relaxed);
        }
    }
}
