//! Ingest: one task per receiver dongle. It reads the serial port, decodes
//! frames as a stream, hands uplinks to the spool writer and writes the
//! writer's acks back to the same port.
//!
//! A read of 0 bytes or an I/O error (a pty slave returns EIO when its other
//! side closes; a USB dongle vanishes on unplug) means the receiver is gone:
//! the task reopens the same path with capped exponential backoff and never
//! spins; `reopen` decides when.
//!
//! Input the port holds at open is discarded: it was buffered while nobody
//! read, and stamping it now would date its events late by the downtime.
//! Nothing was acked for it, so the tags resend it with a fresh age.

mod reopen;

use super::enrich::EventKey;
use super::messages::{PortMsg, SpoolMsg};
use super::shutdown::Shutdown;
use super::status::Stats;
use protocol::time::UnixMillis;
use protocol::{encode, DecodeError, Downlink, Frame, FrameDecoder, Message, MAX_ENCODED_LEN};
use reopen::Reopen;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio_serial::{ClearBuffer, SerialPort, SerialPortBuilderExt, SerialStream};
use tracing::Instrument;

/// Acks not written within this time are dropped and counted (the tags
/// resend): a receiver that stops draining shows up in the status. Reads go
/// on meanwhile; acks are written beside them.
const ACK_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Bad frames are logged at most this often per receiver, with counts.
const BAD_FRAME_LOG_EVERY: Duration = Duration::from_secs(10);

/// One receiver's settings.
pub(crate) struct Receiver {
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

/// Why reading a port stopped.
enum Stop {
    /// The receiver vanished (EOF or I/O error): reopen it.
    Gone,
    /// Shutdown was requested, or the spool writer is gone.
    Shutdown,
}

/// Runs receiver `rx` until shutdown, then flushes: waits until the writer
/// has committed and acked everything this port delivered.
pub(crate) async fn run(
    rx: Receiver,
    spool: mpsc::Sender<SpoolMsg>,
    mut acks: mpsc::Receiver<PortMsg>,
    stats: Arc<Stats>,
    mut shutdown: Shutdown,
) {
    let span = tracing::info_span!("receiver", path = %rx.path.display());
    async move {
        let mut reopen = Reopen::default();
        let mut bad = BadFrameLog { since_log: [0; 5], last_log: None };
        let mut decoder = FrameDecoder::new();
        // The write half survives the read loop so the last acks can go out.
        let mut ack_port: Option<WriteHalf<SerialStream>> = None;
        loop {
            let port = match tokio_serial::new(rx.path.to_string_lossy(), rx.baud).open_native_async() {
                Ok(p) => p,
                Err(e) => {
                    let retry = reopen.on_open_failed(Instant::now());
                    if retry.report {
                        tracing::warn!(error = %e, "cannot open receiver; retrying with backoff");
                    }
                    if !wait_or_shutdown(&mut shutdown, &mut acks, &stats, retry.at).await {
                        break;
                    }
                    continue;
                }
            };
            if let Err(e) = port.clear(ClearBuffer::Input) {
                // Then stale frames may be stamped late; the port still works.
                tracing::warn!(error = %e, "cannot discard input buffered before open");
            }
            stats.receiver(rx.index, |r| {
                r.state = "open";
                r.opens += 1;
            });
            tracing::info!("receiver open");
            reopen.on_opened(Instant::now());
            decoder.reset();
            // Acks are written while reads go on, so a slow commit or a slow
            // port on one side never holds up the other.
            let (mut reader, mut writer) = tokio::io::split(port);
            let stop = tokio::select! {
                _ = shutdown.requested() => Stop::Shutdown,
                stop = read_frames(&rx, &mut reader, &mut decoder, &spool, &stats, &mut bad, &mut reopen) => stop,
                () = write_acks_until_closed(&mut writer, &mut acks, &stats) => Stop::Shutdown,
            };
            match stop {
                Stop::Shutdown => {
                    ack_port = Some(writer);
                    break;
                }
                Stop::Gone => {
                    stats.receiver(rx.index, |r| r.state = "gone");
                    tracing::warn!("receiver gone; reopening with backoff");
                }
            }
            drop((reader, writer));
            let retry_at = reopen.on_gone(Instant::now());
            if !wait_or_shutdown(&mut shutdown, &mut acks, &stats, retry_at).await {
                break;
            }
        }
        // Shutdown: stop reading, let the writer commit what this port sent,
        // and write those last acks while the port is still open.
        if spool.send(SpoolMsg::Flush { port: rx.index }).await.is_ok() {
            drop(spool);
            let deadline = shutdown.deadline();
            // Ends at Flushed, when the writer is gone, or at the deadline.
            loop {
                match tokio::time::timeout_at(deadline, acks.recv()).await {
                    Ok(Some(PortMsg::Acks(keys))) => match ack_port.as_mut() {
                        Some(p) => write_acks(p, &keys, &stats).await,
                        None => {
                            stats.acks_dropped.fetch_add(keys.len() as u64, Relaxed);
                        }
                    },
                    Ok(Some(PortMsg::Commands(downlinks))) => {
                        if let Some(p) = ack_port.as_mut() {
                            write_downlinks(p, &downlinks).await;
                        }
                    }
                    _ => break,
                }
            }
        }
        stats.receiver(rx.index, |r| r.state = "closed");
        tracing::info!("receiver closed");
    }
    .instrument(span)
    .await
}

/// Reads and decodes until the port is gone (or the writer is).
async fn read_frames(
    rx: &Receiver,
    port: &mut ReadHalf<SerialStream>,
    decoder: &mut FrameDecoder,
    spool: &mpsc::Sender<SpoolMsg>,
    stats: &Stats,
    bad: &mut BadFrameLog,
    reopen: &mut Reopen,
) -> Stop {
    let mut buf = [0u8; 4096];
    loop {
        let n = match port.read(&mut buf).await {
            Ok(0) => return Stop::Gone,
            Err(e) => {
                tracing::debug!(error = %e, "receiver read failed");
                return Stop::Gone;
            }
            Ok(n) => n,
        };
        reopen.on_data();
        let received_at = UnixMillis::now();
        let mut uplinks = Vec::new();
        for item in decoder.feed(&buf[..n]) {
            match item {
                Ok(Frame {
                    message: Message::Uplink(u),
                    ..
                }) => uplinks.push(u),
                // Downlinks on the shared channel are other gateways' or our echo.
                Ok(Frame {
                    message: Message::Downlink(_),
                    ..
                }) => {}
                Err(e) => {
                    stats.bad_frame(&e);
                    bad.note(&e);
                }
            }
        }
        if !uplinks.is_empty() {
            let count = uplinks.len() as u64;
            stats.receiver(rx.index, |r| r.frames += count);
            // Waiting here when the writer is behind pushes back on the
            // serial line instead of growing memory.
            if spool
                .send(SpoolMsg::Frames {
                    port: rx.index,
                    received_at,
                    uplinks,
                })
                .await
                .is_err()
            {
                return Stop::Shutdown;
            }
        }
    }
}

/// Writes every ack the spool writer sends, until its channel closes.
async fn write_acks_until_closed(
    port: &mut WriteHalf<SerialStream>,
    acks: &mut mpsc::Receiver<PortMsg>,
    stats: &Stats,
) {
    while let Some(msg) = acks.recv().await {
        match msg {
            PortMsg::Acks(keys) => write_acks(port, &keys, stats).await,
            PortMsg::Commands(downlinks) => write_downlinks(port, &downlinks).await,
            PortMsg::Flushed => {}
        }
    }
}

/// Sleeps until `until` unless shutdown comes first (then `false`). Acks
/// that arrive meanwhile have no port to go to and are counted as dropped.
async fn wait_or_shutdown(
    shutdown: &mut Shutdown,
    acks: &mut mpsc::Receiver<PortMsg>,
    stats: &Stats,
    until: Instant,
) -> bool {
    let sleep = tokio::time::sleep_until(until.into());
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

/// Writes commands for tags just acked. One lost on the way is sent again
/// after the tag's next uplink, so a failure is only logged.
async fn write_downlinks(port: &mut (impl AsyncWrite + Unpin), downlinks: &[Downlink]) {
    let mut out = Vec::new();
    let mut frame_buf = [0u8; MAX_ENCODED_LEN];
    for d in downlinks {
        if let Ok(n) = encode(&Frame::downlink(d.clone()), &mut frame_buf) {
            out.extend_from_slice(&frame_buf[..n]);
        }
    }
    let written = tokio::time::timeout(ACK_WRITE_TIMEOUT, async {
        port.write_all(&out).await?;
        port.flush().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::debug!(
            commands = downlinks.len(),
            "commands not written; sent again after the next uplink"
        );
    }
}

/// Encodes and writes one Ack downlink per key.
async fn write_acks(port: &mut (impl AsyncWrite + Unpin), keys: &[EventKey], stats: &Stats) {
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
