//! Keeps the chain-wide default views ready: when the dashboard starts, and
//! again whenever the event store has new events, the reports of the
//! unfiltered Overview and SKU list are computed in the background, so the
//! first analyst of the morning is served from the cache instead of waiting
//! for full passes over the events.
//!
//! Only those default views are prewarmed (`DEFAULT_VIEWS`, a handful of
//! reports the cache keeps until the data changes); every other view is
//! computed when asked, under the cache's usual policy. A request for a
//! report the prewarm is computing waits for it rather than starting a
//! second computation (see `cache`). `/api/status` says how far it got.

use super::data::Source;
use super::query::{Query, DEFAULT_WINDOW};
use super::{pages, skus, Shared};
use crate::event_store::{EventFilter, StoreError};
use crate::funnel::Dimension;
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the store is asked whether events were added: reading its
/// change marker is two index look-ups, and a view prewarmed five seconds
/// late only costs the analyst who comes within those five seconds.
const POLL: Duration = Duration::from_secs(5);

/// The reports of the default views: the SKU list (`--by sku`) and the
/// Overview (`--by store`, `--by channel`, `--by day`), for the whole
/// chain, all dates and the default window.
const DEFAULT_VIEWS: [&[Dimension]; 4] = [
    &[Dimension::Sku],
    &[Dimension::Store],
    &[Dimension::Channel],
    &[Dimension::Day],
];

/// Whether a report is one of a default view's (the cache keeps those until
/// the data changes).
pub(super) fn is_default_view(filter: &EventFilter, window: Duration, by: &[Dimension]) -> bool {
    *filter == EventFilter::default() && window == DEFAULT_WINDOW && DEFAULT_VIEWS.contains(&by)
}

/// Where the prewarm is, as `/api/status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Started with `--no-prewarm`.
    Off,
    /// Nothing computed yet.
    #[default]
    Waiting,
    Running,
    /// The default views are ready for the data as of `marker`.
    Done,
    /// The last attempt failed (`error` says why); it is tried again.
    Failed,
}

#[derive(Debug, Clone, Default, Serialize)]
struct State {
    state: Phase,
    /// Prewarms finished since the start.
    runs: u64,
    /// The store's change marker the last finished prewarm computed for.
    marker: Option<Marker>,
    /// How long the last finished prewarm took, in seconds.
    seconds: Option<f64>,
    error: Option<String>,
}

/// The prewarm's progress, shared between its task and `/api/status`.
#[derive(Default)]
pub(super) struct PrewarmStatus(Mutex<State>);

impl PrewarmStatus {
    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The progress as JSON: `{"state", "runs", "marker", "seconds", "error"}`.
    pub(super) fn to_json(&self) -> serde_json::Value {
        let state = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        serde_json::to_value(state).unwrap_or_default()
    }

    pub(super) fn turn_off(&self) {
        self.update(|s| s.state = Phase::Off);
    }
}

/// Prewarms now, then whenever the store's change marker moves. After a
/// prewarm that took d, waits at least d before the next one, so a
/// collector storing events all day keeps the prewarm to about half of one
/// core at most.
pub(super) async fn run(app: Shared) {
    let mut warmed = None;
    loop {
        let worker = app.clone();
        let (rest, marker) = match tokio::task::spawn_blocking(move || {
            prewarm_if_changed(&worker.src, warmed)
        })
        .await
        {
            Ok(Ok(Some((marker, took)))) => (took.max(POLL), Some(marker)),
            Ok(Ok(None)) => (POLL, warmed),
            Ok(Err(e)) => {
                let message = e.to_string();
                let mut repeated = false;
                app.src.prewarm.update(|s| {
                    repeated = s.error.as_deref() == Some(message.as_str());
                    s.state = Phase::Failed;
                    s.error = Some(message.clone());
                });
                if !repeated {
                    tracing::warn!(error = %message, "cannot prewarm the default views");
                }
                (POLL, None)
            }
            Err(join) => {
                tracing::error!(error = %join, "the prewarm failed");
                (POLL, None)
            }
        };
        warmed = marker;
        tokio::time::sleep(rest).await;
    }
}

/// A state of the event store (`EventStore::change_marker`).
type Marker = (i64, i64);

/// Computes the default views' reports unless they were computed for the
/// store as it is (`warmed`); returns the marker they were computed for
/// and how long it took.
fn prewarm_if_changed(
    src: &Source,
    warmed: Option<Marker>,
) -> Result<Option<(Marker, Duration)>, StoreError> {
    let marker = src.open()?.change_marker()?;
    if warmed == Some(marker) {
        return Ok(None);
    }
    src.prewarm.update(|s| s.state = Phase::Running);
    tracing::info!(?marker, "prewarming the default Overview and SKU list");
    let started = Instant::now();
    prewarm(src)?;
    let took = started.elapsed();
    tracing::info!(
        ?marker,
        seconds = format_args!("{:.2}", took.as_secs_f64()),
        "prewarmed the default Overview and SKU list"
    );
    src.prewarm.update(|s| {
        *s = State {
            state: Phase::Done,
            runs: s.runs + 1,
            marker: Some(marker),
            seconds: Some(took.as_secs_f64()),
            error: None,
        }
    });
    Ok(Some((marker, took)))
}

/// Asks for the reports the unfiltered Overview and SKU list ask for, with
/// the pages' own functions, so the keys match theirs; the SKU list's
/// report beside the Overview's three; and the filter menus every page
/// shows.
fn prewarm(src: &Source) -> Result<(), StoreError> {
    let mut q = Query::default();
    q.resolve(&src.stores, &src.catalog)
        .expect("no region, brand or SKU is chosen, so there is nothing to refuse");
    src.choices(&src.open()?, &q)?;
    std::thread::scope(|scope| {
        let list = scope.spawn(|| skus::list_rows(src, &src.open()?, &q).map(drop));
        let overview = pages::overview_reports(src, &q).map(drop);
        list.join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .and(overview)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_store::{Credentials, EventStore, Target};
    use crate::funnel::{Catalog, StoreDirectory};

    #[test]
    fn a_prewarm_also_fills_the_filter_menus() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::Sqlite(dir.path().join("hq.db"));
        EventStore::open(&target, &Credentials::default()).unwrap();
        let src = Source::new(
            target,
            Credentials::default(),
            Catalog::default(),
            StoreDirectory::default(),
        );
        assert!(!src.menus_kept());
        prewarm(&src).unwrap();
        assert!(src.menus_kept());
    }
}
