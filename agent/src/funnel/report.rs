//! The funnel report and its three renderings: JSON for programs (a fixed
//! key order, see docs/hq.md), CSV for spreadsheets, a table for people.
//!
//! The types are public so that the simulator can build a report from its
//! own ground truth and print it byte for byte as `aisle funnel` would.

use super::dimension::Dimension;
use std::fmt::Write as _;
use std::time::Duration;

/// The seven counts and two medians of one row, keyed by `dims`, and the
/// visit and dwell figures on the rows that carry them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunnelRow {
    /// One value per dimension of the report, in the report's order; `None`
    /// where the data has no value (e.g. an event without a fixture).
    pub dims: Vec<Option<String>>,
    pub exposures: u64,
    pub pickups: u64,
    pub try_ons: u64,
    pub purchases: u64,
    pub journeys: u64,
    pub journeys_try_on: u64,
    pub journeys_purchase: u64,
    /// Median whole seconds from a journey's pickup to its try-on, over the
    /// journeys that reached try-on (rounding: see [`median_s`]).
    ///
    /// [`median_s`]: super::engine::median_s
    pub median_s_view_to_try_on: Option<i64>,
    /// Median whole seconds from a journey's try-on to its purchase, over
    /// the journeys that reached purchase.
    pub median_s_try_on_to_purchase: Option<i64>,
    /// People counted through the store's doors (the sum of `store_visits`
    /// counts); `None` on rows not keyed only by store-level dimensions.
    pub visits: Option<u64>,
    /// Dwells (`fixture_dwell` events); `None` on rows not keyed by zone or
    /// fixture, or keyed by a garment.
    pub dwells: Option<u64>,
    /// Median dwell length, whole seconds; `None` without dwells.
    pub dwell_s_median: Option<i64>,
    /// Total dwell length, whole seconds (rounded once, from the sum).
    pub dwell_s_total: Option<i64>,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den != 0).then(|| num as f64 / den as f64)
}

impl FunnelRow {
    /// pickups / exposures.
    pub fn exposure_to_view(&self) -> Option<f64> {
        ratio(self.pickups, self.exposures)
    }
    /// journeys_try_on / journeys.
    pub fn view_to_try_on(&self) -> Option<f64> {
        ratio(self.journeys_try_on, self.journeys)
    }
    /// journeys_purchase / journeys_try_on.
    pub fn try_on_to_purchase(&self) -> Option<f64> {
        ratio(self.journeys_purchase, self.journeys_try_on)
    }
    /// journeys_purchase / journeys.
    pub fn view_to_purchase(&self) -> Option<f64> {
        ratio(self.journeys_purchase, self.journeys)
    }

    fn per_visit(&self, count: u64) -> Option<f64> {
        self.visits.and_then(|visits| ratio(count, visits))
    }
    /// exposures / visits.
    pub fn exposures_per_visit(&self) -> Option<f64> {
        self.per_visit(self.exposures)
    }
    /// pickups / visits.
    pub fn pickups_per_visit(&self) -> Option<f64> {
        self.per_visit(self.pickups)
    }
    /// try_ons / visits.
    pub fn try_ons_per_visit(&self) -> Option<f64> {
        self.per_visit(self.try_ons)
    }
    /// purchases / visits.
    pub fn purchases_per_visit(&self) -> Option<f64> {
        self.per_visit(self.purchases)
    }

    fn per_visit_rates(&self) -> [(&'static str, Option<f64>); 4] {
        [
            ("exposures_per_visit", self.exposures_per_visit()),
            ("pickups_per_visit", self.pickups_per_visit()),
            ("try_ons_per_visit", self.try_ons_per_visit()),
            ("purchases_per_visit", self.purchases_per_visit()),
        ]
    }

    fn dwell_figures(&self) -> [(&'static str, Option<i64>); 3] {
        let dwells = self.dwells.map(|d| i64::try_from(d).unwrap_or(i64::MAX));
        [
            ("dwells", dwells),
            ("dwell_s_median", self.dwell_s_median),
            ("dwell_s_total", self.dwell_s_total),
        ]
    }

    fn visits_i64(&self) -> Option<i64> {
        self.visits.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn counts(&self) -> [(&'static str, u64); 7] {
        [
            ("exposures", self.exposures),
            ("pickups", self.pickups),
            ("try_ons", self.try_ons),
            ("purchases", self.purchases),
            ("journeys", self.journeys),
            ("journeys_try_on", self.journeys_try_on),
            ("journeys_purchase", self.journeys_purchase),
        ]
    }

    fn rates(&self) -> [(&'static str, Option<f64>); 4] {
        [
            ("exposure_to_view", self.exposure_to_view()),
            ("view_to_try_on", self.view_to_try_on()),
            ("try_on_to_purchase", self.try_on_to_purchase()),
            ("view_to_purchase", self.view_to_purchase()),
        ]
    }

    fn medians(&self) -> [(&'static str, Option<i64>); 2] {
        [
            ("median_s_view_to_try_on", self.median_s_view_to_try_on),
            (
                "median_s_try_on_to_purchase",
                self.median_s_try_on_to_purchase,
            ),
        ]
    }
}

/// A funnel report: the window, the dimensions and the sorted rows.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelReport {
    /// The journey window W.
    pub window: Duration,
    pub by: Vec<Dimension>,
    pub rows: Vec<FunnelRow>,
}

/// A JSON number for an f64 exactly as `serde_json` writes it (shortest
/// round-trip form), `null` for none or a non-finite value.
fn json_f64(out: &mut String, value: Option<f64>) {
    match value.and_then(serde_json::Number::from_f64) {
        Some(n) => out.push_str(&n.to_string()),
        None => out.push_str("null"),
    }
}

fn json_int(out: &mut String, value: Option<i64>) {
    match value {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

fn json_str(out: &mut String, value: Option<&str>) {
    match value {
        Some(s) => out.push_str(&serde_json::Value::from(s).to_string()),
        None => out.push_str("null"),
    }
}

fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

impl FunnelReport {
    /// A report with `rows` sorted by their dimensions, in the order of `by`.
    pub fn new(window: Duration, by: Vec<Dimension>, mut rows: Vec<FunnelRow>) -> Self {
        rows.sort_by(|a, b| a.dims.cmp(&b.dims));
        FunnelReport { window, by, rows }
    }

    /// `sku,store`: the `by` value as given on the command line.
    pub fn by_label(&self) -> String {
        self.by
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The window in seconds: an integer when whole, else a fraction.
    fn window_s_json(&self) -> String {
        if self.window.subsec_millis() == 0 {
            self.window.as_secs().to_string()
        } else {
            let mut s = String::new();
            json_f64(&mut s, Some(self.window.as_secs_f64()));
            s
        }
    }

    /// The JSON document, keys in this order: `window_s`, `by`, `rows`; in
    /// each row the dimensions, the seven counts, the four rates, the two
    /// medians (integers: whole seconds), `visits` and the four per-visit
    /// figures, the three dwell figures. One line, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.rows.len() * 400);
        out.push_str("{\"window_s\": ");
        out.push_str(&self.window_s_json());
        out.push_str(", \"by\": ");
        json_str(&mut out, Some(&self.by_label()));
        out.push_str(", \"rows\": [");
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push('{');
            let mut first = true;
            let mut key = |out: &mut String, name: &str| {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                let _ = write!(out, "\"{name}\": ");
            };
            for (dim, value) in self.by.iter().zip(&row.dims) {
                key(&mut out, dim.as_str());
                json_str(&mut out, value.as_deref());
            }
            for (name, count) in row.counts() {
                key(&mut out, name);
                let _ = write!(out, "{count}");
            }
            for (name, value) in row.rates() {
                key(&mut out, name);
                json_f64(&mut out, value);
            }
            for (name, value) in row.medians() {
                key(&mut out, name);
                json_int(&mut out, value);
            }
            key(&mut out, "visits");
            json_int(&mut out, row.visits_i64());
            for (name, value) in row.per_visit_rates() {
                key(&mut out, name);
                json_f64(&mut out, value);
            }
            for (name, value) in row.dwell_figures() {
                key(&mut out, name);
                json_int(&mut out, value);
            }
            out.push('}');
        }
        out.push_str("]}\n");
        out
    }

    /// CSV with a header row; empty cells for null values, rates as
    /// fractions, medians in whole seconds.
    pub fn render_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<&str> = self
            .by
            .iter()
            .map(|d| d.as_str())
            .chain(FunnelRow::default().counts().map(|(n, _)| n))
            .chain(FunnelRow::default().rates().map(|(n, _)| n))
            .chain(FunnelRow::default().medians().map(|(n, _)| n))
            .chain(["visits"])
            .chain(FunnelRow::default().per_visit_rates().map(|(n, _)| n))
            .chain(FunnelRow::default().dwell_figures().map(|(n, _)| n))
            .collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let mut cells: Vec<String> = Vec::with_capacity(header.len());
            for value in &row.dims {
                let mut cell = String::new();
                csv_field(&mut cell, value.as_deref().unwrap_or(""));
                cells.push(cell);
            }
            cells.extend(row.counts().map(|(_, c)| c.to_string()));
            for (_, value) in row.rates() {
                let mut cell = String::new();
                if value.is_some() {
                    json_f64(&mut cell, value);
                }
                cells.push(cell);
            }
            let int = |m: Option<i64>| m.map_or(String::new(), |m| m.to_string());
            cells.extend(row.medians().map(|(_, m)| int(m)));
            cells.push(int(row.visits_i64()));
            for (_, value) in row.per_visit_rates() {
                let mut cell = String::new();
                if value.is_some() {
                    json_f64(&mut cell, value);
                }
                cells.push(cell);
            }
            cells.extend(row.dwell_figures().map(|(_, m)| int(m)));
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// An aligned table for people: rates as percentages, medians in whole
    /// seconds, per-visit figures to two decimals, `-` for null. The visit
    /// and dwell columns appear only in reports whose rows carry them.
    ///
    /// Keyed by channel, the table says what the counts are online too:
    /// `pickups|views` and `try_ons|carts` (docs/online.md).
    pub fn render_table(&self) -> String {
        let online = self.by.contains(&Dimension::Channel);
        let visits = super::dimension::shows_visits(&self.by);
        let dwells = super::dimension::shows_dwells(&self.by);
        let header: Vec<String> = self
            .by
            .iter()
            .map(|d| d.as_str().to_string())
            .chain(
                [
                    "exposures",
                    if online { "pickups|views" } else { "pickups" },
                    if online { "try_ons|carts" } else { "try_ons" },
                    "purchases",
                    "journeys",
                    "j_try_on",
                    "j_purchase",
                    "expo>view",
                    "view>try",
                    "try>buy",
                    "view>buy",
                    "med_s_view>try",
                    "med_s_try>buy",
                ]
                .map(String::from),
            )
            .chain(
                [
                    "visits",
                    "expo/visit",
                    "pick/visit",
                    "try/visit",
                    "buy/visit",
                ]
                .into_iter()
                .filter(|_| visits)
                .map(String::from),
            )
            .chain(
                ["dwells", "dwell_s_med", "dwell_s_total"]
                    .into_iter()
                    .filter(|_| dwells)
                    .map(String::from),
            )
            .collect();
        let dims = self.by.len();
        let mut lines: Vec<Vec<String>> = vec![header];
        for row in &self.rows {
            let mut line: Vec<String> = row
                .dims
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "-".to_string()))
                .collect();
            line.extend(row.counts().map(|(_, c)| c.to_string()));
            line.extend(
                row.rates()
                    .map(|(_, r)| r.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0))),
            );
            let int = |m: Option<i64>| m.map_or("-".to_string(), |m| m.to_string());
            line.extend(row.medians().map(|(_, m)| int(m)));
            if visits {
                line.push(int(row.visits_i64()));
                line.extend(
                    row.per_visit_rates()
                        .map(|(_, r)| r.map_or("-".to_string(), |r| format!("{r:.2}"))),
                );
            }
            if dwells {
                line.extend(row.dwell_figures().map(|(_, m)| int(m)));
            }
            lines.push(line);
        }
        let mut out = format!(
            "window {}, by {}\n",
            crate::cli::format_window(self.window),
            self.by_label()
        );
        out.push_str(&crate::cli::align_columns(&lines, dims));
        out
    }
}
