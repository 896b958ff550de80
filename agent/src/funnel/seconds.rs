//! Step times and dwell lengths as the report prints them: whole seconds,
//! rounded once, exactly, from the milliseconds the events carry; and the
//! arithmetic of instants and durations the journey rules need.

use protocol::time::UnixMillis;
use std::time::Duration;

/// The total of `values` in whole seconds, rounded once as [`median_s`]
/// rounds: to the nearest second, halves away from zero.
pub fn total_s(values: &[Duration]) -> i64 {
    let sum_ms: i128 = values
        .iter()
        .map(|v| i128::try_from(v.as_millis()).unwrap_or(i128::MAX))
        .sum();
    let seconds = div_round_half_away_from_zero(sum_ms, 1_000);
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// The median of `values` in whole seconds, rounded as [`median_s`];
/// `None` for no values.
pub fn median_duration_s(values: &[Duration]) -> Option<i64> {
    let mut ms: Vec<i64> = values
        .iter()
        .map(|v| i64::try_from(v.as_millis()).unwrap_or(i64::MAX))
        .collect();
    median_s(&mut ms)
}

/// The median in whole seconds, `None` for no values.
///
/// The median of an even count is the mean of the middle two. It is rounded
/// once, exactly (in integers, no float on the way), to the nearest second,
/// half away from zero: 6 999 ms → 7 s, 7 500 ms → 8 s, 7 499 ms → 7 s, and
/// the middle pair 1 000 ms and 1 999 ms (mean 1 499.5 ms) → 1 s. Steps take
/// seconds to minutes, so milliseconds would only show the jitter of the
/// clocks and links that stamped the events.
pub fn median_s(values_ms: &mut [i64]) -> Option<i64> {
    if values_ms.is_empty() {
        return None;
    }
    values_ms.sort_unstable();
    let mid = values_ms.len() / 2;
    // Twice the median in milliseconds, so that an even count's mean of the
    // middle two stays an integer.
    let twice_ms = if values_ms.len() % 2 == 1 {
        2 * i128::from(values_ms[mid])
    } else {
        i128::from(values_ms[mid - 1]) + i128::from(values_ms[mid])
    };
    let seconds = div_round_half_away_from_zero(twice_ms, 2_000);
    // The median of i64 milliseconds, in seconds, always fits an i64.
    Some(i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX }))
}

/// `num / den` rounded to the nearest integer, halves away from zero;
/// `den` is positive.
fn div_round_half_away_from_zero(num: i128, den: i128) -> i128 {
    let (quotient, remainder) = (num / den, num % den);
    if 2 * remainder.abs() >= den {
        quotient + num.signum()
    } else {
        quotient
    }
}

/// The last instant a journey opened at `opened` is open: `opened` + W,
/// the far end of time if that overflows.
pub fn window_end(opened: UnixMillis, window: Duration) -> UnixMillis {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    UnixMillis(opened.0.saturating_add(window_ms))
}

/// How long after `from` the later step `to` came (steps are strictly
/// after one another, so never negative).
pub(crate) fn between(from: UnixMillis, to: UnixMillis) -> Duration {
    Duration::from_millis(u64::try_from(to.0.saturating_sub(from.0)).unwrap_or(0))
}
