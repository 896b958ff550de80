//! HQ's commands and every command's updates, on the uplink's MQTT
//! connection: a message on this store's commands topic is checked and
//! handed to the spool writer (or refused with the reason); each state
//! change of each command goes out on the tags topic, kept while the
//! broker is away.

use super::delivery::Delivery;
use super::task::{Topics, Uplink};
use crate::gateway::commands::{request, CommandUpdate, Enqueue, Source};
use crate::gateway::messages::SpoolMsg;
use protocol::time::UnixMillis;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;
use std::collections::VecDeque;

/// Command updates kept while the broker is away; the oldest go first
/// beyond (the spool and the log keep every state).
const UNPUBLISHED_COMMAND_UPDATES: usize = 256;

/// Keeps `u` to publish, dropping the oldest beyond the bound.
pub(super) fn keep(unpublished: &mut VecDeque<CommandUpdate>, u: CommandUpdate) {
    if unpublished.len() == UNPUBLISHED_COMMAND_UPDATES {
        unpublished.pop_front();
    }
    unpublished.push_back(u);
}

/// A message on the commands topic: checked and queued, or refused with
/// the reason published on the tags topic. Only this store's topic is
/// subscribed; any other is refused all the same.
pub(super) async fn on_hq_command(topic: &str, payload: &[u8], topics: &Topics, up: &Uplink) {
    let now = UnixMillis::now();
    let hq = |id: Option<String>| Source::Hq {
        id: id.unwrap_or_default(),
    };
    let checked = if topic != topics.commands {
        Err(CommandUpdate::refused(
            hq(None),
            None,
            None,
            format!("a command on {topic}, not this store's {}", topics.commands),
            now,
        ))
    } else {
        match request::from_hq(payload, &up.store) {
            Err((reason, id, tag)) => Err(CommandUpdate::refused(hq(id), tag, None, reason, now)),
            Ok(req) => {
                let source = hq(req.id.clone());
                up.desk
                    .directory
                    .check(&req, source.clone(), now)
                    .map_err(|reason| {
                        CommandUpdate::refused(
                            source,
                            Some(req.tag),
                            request::kind_of(&req),
                            reason,
                            now,
                        )
                    })
            }
        }
    };
    match checked {
        Ok(command) => {
            let _ = up
                .desk
                .spool
                .send(SpoolMsg::Command(Enqueue {
                    command,
                    reply: None,
                }))
                .await;
        }
        Err(refusal) => {
            up.stats.command_update(&refusal);
            tracing::warn!(
                reason = refusal.reason.as_deref().unwrap_or(""),
                "refused a command from HQ"
            );
            let _ = up.desk.updates.send(refusal);
        }
    }
}

/// Publishes command updates on the tags topic, one message each (they
/// are rare, and each is news to someone waiting).
pub(super) fn publish_commands(
    client: &AsyncClient,
    delivery: &mut Delivery,
    up: &Uplink,
    topics: &Topics,
    unpublished: &mut VecDeque<CommandUpdate>,
) {
    while let Some(u) = unpublished.front() {
        let doc = serde_json::json!({
            "store": up.store,
            "gateway": up.gateway,
            "at": UnixMillis::now(),
            "tags": [],
            "commands": [u.to_json()],
        });
        if client
            .try_publish(&topics.tags, QoS::AtLeastOnce, false, doc.to_string())
            .is_err()
        {
            return;
        }
        delivery.on_other_requested();
        unpublished.pop_front();
    }
}
