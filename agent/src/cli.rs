//! What every command's output and flags share: durations on the command
//! line (`--window 30s`, `10m`, `2h`, `1d`, `500ms`) and back, the
//! `--catalog` file, the column layout of tables for people, and the
//! runtime the long-running services (gateway, collector, dashboard) use.

/// A duration that is not a positive whole number with a unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration: write a positive whole number and a unit: ms, s, m, h or d (e.g. 30s, 10m, 1h)")]
pub struct BadDuration(pub String);

/// The async runtime of a long-running service: the same two worker
/// threads for each, whatever the machine's core count.
pub fn service_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

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

/// Parses a duration (`--window 1h`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, BadDuration> {
    let ms = parse_duration_ms(s)?;
    // Positive, as parse_duration_ms promises.
    Ok(std::time::Duration::from_millis(
        u64::try_from(ms).map_err(|_| BadDuration(s.to_string()))?,
    ))
}

/// `1h`, `90s`, `1500ms`: the largest unit that divides the window.
pub fn format_window(window: std::time::Duration) -> String {
    let ms = window.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms != 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Lays out `lines` (the first one the header) as columns two spaces apart:
/// the first `left` columns (names) left-aligned, the rest (numbers)
/// right-aligned. Shared by the funnel table and the demo's side-by-side one.
pub fn align_columns(lines: &[Vec<String>], left: usize) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|col| {
            lines
                .iter()
                .map(|l| l[col].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(col, cell)| {
                if col < left {
                    format!("{cell:<w$}", w = widths[col])
                } else {
                    format!("{cell:>w$}", w = widths[col])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The catalog named by `--catalog`, or an empty one without the flag
/// (reports then key SKUs by GTIN).
pub fn load_catalog(path: Option<&std::path::Path>) -> anyhow::Result<crate::funnel::Catalog> {
    use anyhow::Context;
    let Some(path) = path else {
        return Ok(crate::funnel::Catalog::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read catalog {}", path.display()))?;
    crate::funnel::Catalog::parse(&text).with_context(|| format!("catalog {}", path.display()))
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

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn formats_a_window_in_its_largest_whole_unit() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(format_window(ms(3_600_000)), "1h");
        assert_eq!(format_window(ms(90_000)), "90s");
        assert_eq!(format_window(ms(1500)), "1500ms");
        assert_eq!(format_window(ms(172_800_000)), "2d");
    }

    #[test]
    fn aligns_names_left_and_numbers_right() {
        let lines = vec![
            vec!["sku".to_string(), "pickups".to_string()],
            vec!["A-LONG".to_string(), "7".to_string()],
        ];
        assert_eq!(
            align_columns(&lines, 1),
            "sku     pickups\nA-LONG        7\n"
        );
    }
}
