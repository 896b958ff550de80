//! The `commands` table: every command accepted for a tag, kept from its
//! acceptance (committed before the technician or HQ hears `queued`) until
//! it ends, and a while after (the newest [`FINISHED_KEPT`]), so a gateway
//! killed and restarted loses no accepted command and HQ's redelivered
//! command ids are still recognised. The row id, never reused
//! (`AUTOINCREMENT`), is the command's number: its low 16 bits go to the tag.

use super::{sqlite_err, Spool, SpoolError};
use crate::gateway::commands::queue::Pending;
use crate::gateway::commands::{CommandState, CommandUpdate, NewCommand, Source};
use protocol::time::UnixMillis;
use rusqlite::params;

/// Finished commands kept for their HQ ids and for inspection.
const FINISHED_KEPT: i64 = 1_024;

/// What the spool holds about commands at start.
pub(crate) struct StoredCommands {
    /// Commands not finished, oldest first.
    pub open: Vec<Pending>,
    /// HQ ids of the finished commands still kept, oldest first.
    pub hq_ids: Vec<String>,
}

impl Spool {
    /// Commits `c` as `queued` and returns its row id.
    pub(crate) fn insert_command(
        &mut self,
        c: &NewCommand,
        now: UnixMillis,
    ) -> Result<i64, SpoolError> {
        let hq_id = match &c.source {
            Source::Local => None,
            Source::Hq { id } => Some(id.as_str()),
        };
        // A protocol value of plain integers: serialising cannot fail.
        let command = serde_json::to_string(&c.command).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO commands (tag, command, hq_id, accepted_at, expires_at, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?4)",
                params![c.tag, command, hq_id, now.0, c.expires_at.0],
            )
            .map_err(|e| sqlite_err(&self.path, e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records `update`, and forgets the oldest finished commands beyond
    /// [`FINISHED_KEPT`]. An old tag's Identify, which ends `delivered`, is
    /// stored as `sent` so it is not taken up again at start.
    pub(crate) fn set_command_state(&mut self, update: &CommandUpdate) -> Result<(), SpoolError> {
        let err = |e| sqlite_err(&self.path, e);
        let state = match update.state {
            CommandState::Delivered if update.is_final => "sent",
            state => state.as_str(),
        };
        self.conn
            .execute(
                "UPDATE commands SET state = ?2, reason = ?3, updated_at = ?4 WHERE seq = ?1",
                params![update.seq, state, update.reason, update.at.0],
            )
            .map_err(err)?;
        if update.is_final {
            self.conn
                .execute(
                    "DELETE FROM commands WHERE state NOT IN ('queued', 'delivered')
                     AND seq <= (SELECT MAX(seq) FROM commands) - ?1",
                    [FINISHED_KEPT],
                )
                .map_err(err)?;
        }
        Ok(())
    }

    /// The commands to take up again at start.
    pub(crate) fn stored_commands(&self) -> Result<StoredCommands, SpoolError> {
        let err = |e| sqlite_err(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, tag, command, hq_id, expires_at, state FROM commands
                 WHERE state IN ('queued', 'delivered') ORDER BY seq",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(err)?;
        let mut open = Vec::new();
        for row in rows {
            let (seq, tag, command, hq_id, expires_at, state) = row.map_err(err)?;
            let Ok(command) = serde_json::from_str(&command) else {
                tracing::error!(seq, tag, "a stored command is unreadable; dropped");
                continue;
            };
            open.push(Pending {
                seq,
                tag,
                command,
                source: hq_id.map_or(Source::Local, |id| Source::Hq { id }),
                expires_at: UnixMillis(expires_at),
                delivered: state == "delivered",
            });
        }
        let mut stmt = self
            .conn
            .prepare("SELECT hq_id FROM commands WHERE hq_id IS NOT NULL ORDER BY seq")
            .map_err(err)?;
        let hq_ids = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(StoredCommands { open, hq_ids })
    }
}
