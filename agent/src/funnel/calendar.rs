//! A store's own days, ISO weeks and hours (`--by day`, `week`, `hour`):
//! which local hour or day an instant falls in, and how reports name them.
//!
//! An instant is placed by the offset its store's time zone has at that
//! instant, so an event at 01:30 on the night clocks go back counts in the
//! local 01 hour whichever of the two it was; a day on which clocks change
//! has 23 or 25 hours.

use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use protocol::time::UnixMillis;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The finest time unit a report is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// `--by hour` (with or without day and week).
    Hour,
    /// `--by day` or `--by week`.
    Day,
}

/// The local hour or day (per `grain`) of the instant `ts` in `zone`, as
/// a count of hours or days since 1970-01-01 local time.
pub fn slot(zone: &TimeZone, ts: UnixMillis, grain: Grain) -> i64 {
    let offset_s = Timestamp::from_millisecond(ts.0)
        .map(|ts| zone.to_offset(ts).seconds())
        .unwrap_or(0);
    let local_ms = ts.0.saturating_add(i64::from(offset_s) * 1000);
    local_ms.div_euclid(match grain {
        Grain::Hour => HOUR_MS,
        Grain::Day => DAY_MS,
    })
}

/// The local date and hour a slot starts at.
fn civil(slot: i64, grain: Grain) -> jiff::civil::DateTime {
    let ms = slot.saturating_mul(match grain {
        Grain::Hour => HOUR_MS,
        Grain::Day => DAY_MS,
    });
    // Slots come from timestamps jiff accepted, so this is in its range.
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    Offset::UTC.to_datetime(ts)
}

/// `2026-11-11`.
pub fn day_label(slot: i64, grain: Grain) -> String {
    let d = civil(slot, grain).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// `2026-W46`: the ISO 8601 week (weeks start on Monday; week 1 holds the
/// year's first Thursday, so its year can differ from the date's).
pub fn week_label(slot: i64, grain: Grain) -> String {
    let week = civil(slot, grain).date().iso_week_date();
    format!("{:04}-W{:02}", week.year(), week.week())
}

/// `2026-11-11T14`: the local hour, on the hour grain only.
pub fn hour_label(slot: i64) -> String {
    let t = civil(slot, Grain::Hour);
    format!(
        "{:04}-{:02}-{:02}T{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> UnixMillis {
        rfc3339.parse().unwrap()
    }

    #[test]
    fn places_an_instant_in_its_stores_local_day_week_and_hour() {
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-11-11T17:30Z is 01:30 on the 12th in Shanghai (UTC+8).
        let ts = ms("2026-11-11T17:30:00Z");
        let hour = slot(&shanghai, ts, Grain::Hour);
        assert_eq!(hour_label(hour), "2026-11-12T01");
        assert_eq!(day_label(hour, Grain::Hour), "2026-11-12");
        let day = slot(&shanghai, ts, Grain::Day);
        assert_eq!(day_label(day, Grain::Day), "2026-11-12");
        // In UTC it is still the 11th, a Wednesday of ISO week 46.
        let utc = slot(&TimeZone::UTC, ts, Grain::Day);
        assert_eq!(day_label(utc, Grain::Day), "2026-11-11");
        assert_eq!(week_label(utc, Grain::Day), "2026-W46");
    }

    #[test]
    fn iso_weeks_can_belong_to_the_neighbouring_year() {
        // 2027-01-01 is a Friday: ISO week 53 of 2026. 2024-12-30 is a
        // Monday in week 1 of 2025.
        let day = |s: &str| slot(&TimeZone::UTC, ms(s), Grain::Day);
        assert_eq!(
            week_label(day("2027-01-01T12:00:00Z"), Grain::Day),
            "2026-W53"
        );
        assert_eq!(
            week_label(day("2024-12-30T00:00:00Z"), Grain::Day),
            "2025-W01"
        );
    }

    #[test]
    fn the_hour_clocks_go_back_is_one_local_hour_and_half_hour_offsets_hold() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z. 00:30Z is
        // 02:30 CEST, 01:30Z is 02:30 CET: both the local 02 hour.
        let first = slot(&paris, ms("2026-10-25T00:30:00Z"), Grain::Hour);
        let second = slot(&paris, ms("2026-10-25T01:30:00Z"), Grain::Hour);
        assert_eq!(first, second);
        assert_eq!(hour_label(first), "2026-10-25T02");
        // India is UTC+5:30: 18:29Z is 23:59 local, 18:30Z the next day.
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let day = |s: &str| day_label(slot(&kolkata, ms(s), Grain::Day), Grain::Day);
        assert_eq!(day("2026-11-11T18:29:59Z"), "2026-11-11");
        assert_eq!(day("2026-11-11T18:30:00Z"), "2026-11-12");
    }
}
