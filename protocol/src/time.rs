//! Wall-clock timestamps as milliseconds since the Unix epoch, written and
//! read as RFC 3339 UTC with milliseconds (`2026-11-20T09:59:58.120Z`).
//!
//! The funnel needs nothing but ordering and differences in milliseconds, so
//! an `i64` is the whole model; the civil-date arithmetic is Howard Hinnant's
//! public-domain days-from-civil algorithm.

use core::fmt;
use core::str::FromStr;

/// Milliseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(pub i64);

/// Years 0000–9999 are what RFC 3339 can write.
const MIN_MS: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl UnixMillis {
    /// Builds a timestamp from civil UTC fields; `None` if any is out of range.
    pub fn from_civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> Option<Self> {
        let ok = (0..=9999).contains(&y)
            && (1..=12).contains(&mo)
            && (1..=days_in_month(y, mo)).contains(&d)
            && (0..24).contains(&h)
            && (0..60).contains(&mi)
            && (0..60).contains(&s)
            && (0..1000).contains(&ms);
        ok.then(|| {
            UnixMillis(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
        })
    }

    /// The system clock's time now.
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(since.as_millis() as i64)
    }
}

impl fmt::Display for UnixMillis {
    /// Always UTC with exactly three fraction digits. Out-of-range values
    /// (outside years 0000–9999) are clamped so the output is always valid.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.clamp(MIN_MS, MAX_MS);
        let days = t.div_euclid(86_400_000);
        let in_day = t.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
        let (mi, rest) = (rest / 60_000, rest % 60_000);
        let (s, ms) = (rest / 1000, rest % 1000);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

/// A timestamp that is not RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp (expected e.g. 2026-11-20T09:59:58.120Z)")]
pub struct BadTimestamp;

impl FromStr for UnixMillis {
    type Err = BadTimestamp;

    /// Accepts RFC 3339 date-times: `T` or `t` (or a space) between date and
    /// time, any number of fraction digits (truncated to milliseconds), and
    /// `Z` or a `±hh:mm` offset.
    fn from_str(s: &str) -> Result<Self, BadTimestamp> {
        let b = s.as_bytes();
        let num = |from: usize, len: usize| -> Result<i64, BadTimestamp> {
            let digits = b.get(from..from + len).ok_or(BadTimestamp)?;
            digits.iter().try_fold(0i64, |acc, &c| {
                c.is_ascii_digit()
                    .then(|| acc * 10 + i64::from(c - b'0'))
                    .ok_or(BadTimestamp)
            })
        };
        let expect = |at: usize, chars: &[u8]| -> Result<(), BadTimestamp> {
            b.get(at)
                .filter(|c| chars.contains(c))
                .map(|_| ())
                .ok_or(BadTimestamp)
        };
        expect(4, b"-")?;
        expect(7, b"-")?;
        expect(10, b"Tt ")?;
        expect(13, b":")?;
        expect(16, b":")?;
        let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        let mut at = 19;
        let mut ms = 0;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 3 {
                    ms = ms * 10 + i64::from(b[at] - b'0');
                }
                at += 1;
            }
            if at == start {
                return Err(BadTimestamp);
            }
            for _ in (at - start)..3 {
                ms *= 10;
            }
        }
        let offset_min = match b.get(at) {
            Some(b'Z' | b'z') if at + 1 == b.len() => 0,
            Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() => {
                expect(at + 3, b":")?;
                let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if oh > 23 || om > 59 {
                    return Err(BadTimestamp);
                }
                let off = oh * 60 + om;
                if sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return Err(BadTimestamp),
        };
        let local = UnixMillis::from_civil(y, mo, d, h, mi, sec, ms).ok_or(BadTimestamp)?;
        Ok(UnixMillis(local.0 - offset_min * 60_000))
    }
}

#[cfg(feature = "std")]
impl serde::Serialize for UnixMillis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "std")]
impl<'de> serde::Deserialize<'de> for UnixMillis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn formats_epoch_and_a_known_instant() {
        assert_eq!(UnixMillis(0).to_string(), "1970-01-01T00:00:00.000Z");
        // Checked with `date -u -d @1795168798`.
        assert_eq!(
            UnixMillis(1_795_168_798_120).to_string(),
            "2026-11-20T09:59:58.120Z"
        );
        assert_eq!(UnixMillis(-1).to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats_and_accepts_offsets() {
        let t: UnixMillis = "2026-11-20T09:59:58.120Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-20T09:59:58.120Z");
        let plus8: UnixMillis = "2026-11-20T17:59:58.120+08:00".parse().unwrap();
        assert_eq!(plus8, t);
        let no_frac: UnixMillis = "2026-11-20T09:59:58Z".parse().unwrap();
        assert_eq!(t.0 - no_frac.0, 120);
        let micro: UnixMillis = "2026-11-20T09:59:58.120999Z".parse().unwrap();
        assert_eq!(micro, t);
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for bad in [
            "",
            "2026-11-20",
            "2026-11-20T09:59:58.120",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T09:59:58.Z",
            "2026-11-20T09:59:58.120+0800",
            "２０２６-11-20T09:59:58Z",
            "2026-11-20T09:59:58.120Zjunk",
        ] {
            assert_eq!(bad.parse::<UnixMillis>(), Err(BadTimestamp), "{bad}");
        }
    }

    #[test]
    fn round_trips_every_day_boundary_over_centuries() {
        let mut t = MIN_MS;
        while t < MAX_MS {
            let s = UnixMillis(t).to_string();
            assert_eq!(s.parse::<UnixMillis>(), Ok(UnixMillis(t)), "{s}");
            t += 86_400_000 * 7 + 3_723_456;
        }
    }
}
