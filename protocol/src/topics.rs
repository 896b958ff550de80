//! The MQTT topics between stores' gateways and HQ, built and parsed in one
//! place: `aisle/v1/stores/{store}/{kind}`.
//!
//! Every topic belongs to one store, so a broker ACL of
//! `aisle/v1/stores/{store}/#` per store's credentials keeps each store to
//! its own topics. HQ subscribes across stores with the `+` wildcard, alone
//! or as an MQTT v5 shared subscription (`$share/{group}/…`) so several
//! collectors split the load. `no_std`: topics are [`fmt::Display`] values,
//! and parsing borrows from the topic string.

use core::fmt;

/// The part every topic starts with; the `v1` changes only with an
/// incompatible change to the topic layout.
pub const PREFIX: &str = "aisle/v1/stores";

/// What a store topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// Batches of funnel events, gateway → HQ (QoS 1; see [`crate::batch`]).
    Events,
    /// The gateway's status document, retained; the MQTT last will turns
    /// it to `offline` when the gateway vanishes.
    Status,
    /// Tag health (last seen, battery, events a tag dropped), gateway → HQ.
    Tags,
    /// Technicians' commands for a store's tags (identify, configure),
    /// HQ → gateway; each gateway subscribes to its own store's only.
    Commands,
}

impl TopicKind {
    /// Every kind, in declaration order.
    pub const ALL: [TopicKind; 4] = [
        TopicKind::Events,
        TopicKind::Status,
        TopicKind::Tags,
        TopicKind::Commands,
    ];

    /// The topic's last segment.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Events => "events",
            TopicKind::Status => "status",
            TopicKind::Tags => "tags",
            TopicKind::Commands => "commands",
        }
    }
}

impl fmt::Display for TopicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One store's topic of one kind: `aisle/v1/stores/{store}/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    /// The store id (the config's `store`), one topic segment.
    pub store: &'a str,
    /// What the topic carries.
    pub kind: TopicKind,
}

/// Why a string is not an aisle store topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// It does not start with [`PREFIX`] and a `/`.
    #[error("does not start with aisle/v1/stores/")]
    Prefix,
    /// The store segment is empty, or holds a wildcard.
    #[error("the store segment is empty or a wildcard")]
    Store,
    /// The last segment is not one of [`TopicKind::ALL`], or there are more
    /// segments than `{store}/{kind}`.
    #[error("does not end in /events, /status, /tags or /commands after the store")]
    Kind,
}

impl<'a> Topic<'a> {
    /// The `kind` topic of `store`.
    pub fn new(store: &'a str, kind: TopicKind) -> Self {
        Topic { store, kind }
    }

    /// Reads a concrete topic (no wildcards) back into store and kind.
    pub fn parse(topic: &'a str) -> Result<Self, TopicError> {
        let rest = topic
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or(TopicError::Prefix)?;
        let (store, kind) = rest.split_once('/').ok_or(TopicError::Kind)?;
        if store.is_empty() || store.contains(['+', '#']) {
            return Err(TopicError::Store);
        }
        let kind = TopicKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or(TopicError::Kind)?;
        Ok(Topic { store, kind })
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}/{}/{}", self.store, self.kind)
    }
}

/// A subscription to one kind of topic of every store:
/// `aisle/v1/stores/+/{kind}`, or `$share/{group}/aisle/v1/stores/+/{kind}`
/// when the subscriber is one of a group that splits the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter<'a> {
    /// The kind of topic subscribed to.
    pub kind: TopicKind,
    /// The shared-subscription group, if any.
    pub share: Option<&'a str>,
}

impl<'a> Filter<'a> {
    /// Every store's topics of `kind`, each message to every subscriber.
    pub fn every_store(kind: TopicKind) -> Self {
        Filter { kind, share: None }
    }

    /// Every store's topics of `kind`, each message to one member of `group`.
    pub fn shared(group: &'a str, kind: TopicKind) -> Self {
        Filter {
            kind,
            share: Some(group),
        }
    }
}

impl fmt::Display for Filter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(group) = self.share {
            write!(f, "$share/{group}/")?;
        }
        write!(f, "{PREFIX}/+/{}", self.kind)
    }
}

#[cfg(test)]
mod tests;
