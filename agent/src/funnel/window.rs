//! Durations on the command line: `--window 30s`, `10m`, `2h`, `1d`, `500ms`.

/// A duration that is not a positive whole number with a unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration: write a positive whole number and a unit: ms, s, m, h or d (e.g. 30s, 10m, 1h)")]
pub struct BadDuration(pub String);

/// Parses a duration into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, BadDuration> {
    let bad = || BadDuration(s.to_string());
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = s.split_at(digits_end);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    match number.checked_mul(unit_ms) {
        Some(ms) if ms > 0 => Ok(ms),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("10m"), Ok(600_000));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
    }

    #[test]
    fn rejects_missing_units_zero_and_junk() {
        for bad in [
            "",
            "3600",
            "0s",
            "-5m",
            "1.5h",
            "h",
            "10 m",
            "2w",
            "99999999999999999999d",
        ] {
            assert_eq!(
                parse_duration_ms(bad),
                Err(BadDuration(bad.to_string())),
                "{bad}"
            );
        }
    }
}
