//! The serial port the simulated receivers sit on: opened like a receiver
//! dongle (raw, at the config's baud rate), then split into a reader task
//! that decodes downlinks and a writer the driver owns.
//!
//! Any byte stream will do, so `aisle demo` can hand over one end of a
//! pseudo-terminal pair it opened itself.

use crate::config::defaults;
use anyhow::Context;
use protocol::{Downlink, FrameDecoder, Message};
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::mpsc;

/// Opens the serial port (or pty) at `path`.
pub fn open(path: &Path) -> anyhow::Result<tokio_serial::SerialStream> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path.to_string_lossy(), defaults::BAUD).open_native_async().with_context(|| {
        format!("cannot open serial port {}: check the path (a pty link from socat, a USB serial device) and permissions", path.display())
    })
}

/// The task reading the port; stopped when this is dropped, so a finished
/// run does not keep reading (and complain when the other end closes).
pub struct Reader(tokio::task::JoinHandle<()>);

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Splits `port` into its write half and a channel of decoded downlinks.
/// The channel closes when the port does (the other end hung up).
pub fn split<P>(port: P) -> (tokio::io::WriteHalf<P>, mpsc::Receiver<Downlink>, Reader)
where
    P: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(port);
    let (tx, rx) = mpsc::channel(4096);
    let task = tokio::spawn(async move {
        let mut decoder = FrameDecoder::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "serial port read failed");
                    break;
                }
            };
            // Corrupt frames and our own uplinks' echo are skipped; the
            // decoder resynchronises at the next delimiter.
            for frame in decoder.feed(&buf[..n]).flatten() {
                if let Message::Downlink(d) = frame.message {
                    if tx.send(d).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (wr, rx, Reader(task))
}
