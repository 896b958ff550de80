//! Step times and dwell lengths as the report prints them: whole seconds,
//! rounded once, exactly, from the milliseconds the events carry.

/// The sum of `values_ms` in whole seconds, rounded once as [`median_s`]
/// rounds: to the nearest second, halves away from zero.
pub fn total_s(values_ms: &[i64]) -> i64 {
    let sum: i128 = values_ms.iter().map(|&v| i128::from(v)).sum();
    let seconds = div_round_half_away_from_zero(sum, 1_000);
    i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX })
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
