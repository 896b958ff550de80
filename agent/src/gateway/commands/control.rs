//! The control socket: a Unix socket on the gateway's box through which
//! `aisle tag identify|configure` hands the gateway a command and follows
//! it. One JSON object a line each way: the client sends one
//! [`CommandRequest`]; the gateway answers with the command's state
//! (`queued`, or `refused` with the reason) and then each change until a
//! final one, and closes. Mode 0660: root and the service's group only.

use super::request::{kind_of, CommandRequest, TagDirectory};
use super::{CommandUpdate, Enqueue, Source, Updates};
use crate::gateway::messages::SpoolMsg;
use crate::gateway::shutdown::Shutdown;
use crate::gateway::status::Stats;
use anyhow::Context;
use protocol::time::UnixMillis;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};

/// The longest request line: a command is a few hundred bytes.
const MAX_REQUEST: usize = 16 * 1024;

/// What every connection needs.
#[derive(Clone)]
pub(crate) struct Desk {
    pub spool: mpsc::Sender<SpoolMsg>,
    pub updates: Updates,
    pub directory: Arc<TagDirectory>,
    pub stats: Arc<Stats>,
}

/// Binds the socket at `path`, replacing one a previous run left, with
/// mode 0660.
pub(crate) fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        anyhow::ensure!(
            meta.file_type().is_socket(),
            "{} exists and is not a socket; remove it or set [control] socket",
            path.display()
        );
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the old control socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot create the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(listener)
}

/// Serves connections until shutdown, then removes the socket.
pub(crate) async fn serve(
    listener: UnixListener,
    path: PathBuf,
    desk: Desk,
    mut shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.requested() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, desk.clone(), shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// One client: reads its request, queues it, streams its updates.
async fn connection(stream: UnixStream, desk: Desk, mut shutdown: Shutdown) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    let now = UnixMillis::now();
    let first = match reader.read_line(&mut line).await {
        Ok(_) => match serde_json::from_str::<CommandRequest>(&line) {
            Ok(req) => match desk.directory.check(&req, Source::Local, now) {
                Ok(command) => Ok(command),
                Err(reason) => Err(CommandUpdate::refused(
                    Source::Local,
                    Some(req.tag),
                    kind_of(&req),
                    reason,
                    now,
                )),
            },
            Err(e) => Err(CommandUpdate::refused(
                Source::Local,
                None,
                None,
                format!("malformed request: {e}"),
                now,
            )),
        },
        Err(e) => {
            tracing::debug!(error = %e, "control client left before its request");
            return;
        }
    };
    let command = match first {
        Ok(c) => c,
        Err(refusal) => {
            desk.stats.command_update(&refusal);
            let _ = desk.updates.send(refusal.clone());
            let _ = send(&mut write, &refusal).await;
            return;
        }
    };
    // Subscribed before queueing, so no update of this command is missed.
    let mut updates = desk.updates.subscribe();
    let (reply, queued) = oneshot::channel();
    let enqueue = SpoolMsg::Command(Enqueue {
        command,
        reply: Some(reply),
    });
    if desk.spool.send(enqueue).await.is_err() {
        return;
    }
    let Ok(first) = queued.await else { return };
    if send(&mut write, &first).await.is_err() || first.is_final {
        return;
    }
    loop {
        let update = tokio::select! {
            _ = shutdown.requested() => return,
            u = updates.recv() => u,
        };
        match update {
            Ok(u) if u.seq == first.seq && u.state != super::CommandState::Queued => {
                if send(&mut write, &u).await.is_err() || u.is_final {
                    return;
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "a control client fell behind the command updates"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn send(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    u: &CommandUpdate,
) -> std::io::Result<()> {
    let mut line = u.to_json().to_string();
    line.push('\n');
    write.write_all(line.as_bytes()).await
}
