//! Time parsing and formatting at the API edge: RFC3339, relative durations
//! (`5m`), and the two output spellings (Falco's and Python's isoformat).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const NS_PER_SEC: i64 = 1_000_000_000;

/// Wall-clock now in ns since the epoch (0 if the clock is before 1970).
pub fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// RFC3339 (any offset, optional fraction) to ns since the epoch; `None` when
/// malformed or outside what an i64 of nanoseconds holds (1677..2262).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    // Longest legal form is ~35 bytes; refuse megabyte inputs before parsing.
    if s.len() > 64 {
        return None;
    }
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos()).ok()
}

/// A relative duration such as `30s`, `5m`, `2h`, `1d` or `1h30m`, in ns.
/// Units: s, m, h, d. Rejects empty, zero-less garbage and overflow.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 32 || !s.is_ascii() {
        return None;
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut saw_unit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return None,
        };
        if digits.is_empty() || digits.len() > 12 {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?.checked_mul(NS_PER_SEC)?)?;
        digits.clear();
        saw_unit = true;
    }
    // A bare number ("5") is ambiguous: require the unit.
    if !digits.is_empty() || !saw_unit {
        return None;
    }
    Some(total)
}

/// A point in time from a query parameter: RFC3339, or a duration meaning
/// "that long before `now_ns`".
pub fn parse_time_param(s: &str, now_ns: i64) -> Option<i64> {
    if let Some(d) = parse_duration(s) {
        return now_ns.checked_sub(d);
    }
    parse_rfc3339(s)
}

/// Falco's spelling: UTC, nine fraction digits, `Z`.
pub fn format_falco(ns: i64) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond()
        ),
        Err(_) => String::new(),
    }
}

/// Python's `datetime.isoformat()` for an aware UTC datetime, which is what
/// the seed verifier put in `since_timestamp`: microseconds only when non-zero,
/// `+00:00` offset.
pub fn format_python_iso(ns: i64) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) {
        Ok(t) => {
            let base = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            let micros = t.microsecond();
            if micros == 0 {
                format!("{base}+00:00")
            } else {
                format!("{base}.{micros:06}+00:00")
            }
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let ns = parse_rfc3339("2026-11-22T02:20:26.123456789Z").unwrap();
        assert_eq!(format_falco(ns), "2026-11-22T02:20:26.123456789Z");
        assert_eq!(format_python_iso(ns), "2026-11-22T02:20:26.123456+00:00");
        let whole = parse_rfc3339("2026-11-22T04:20:26+02:00").unwrap();
        assert_eq!(format_python_iso(whole), "2026-11-22T02:20:26+00:00");
        for bad in [
            "",
            "2026-11-22",
            "2026-13-22T00:00:00Z",
            "2026-11-22T25:00:00Z",
            "9999999-11-22T00:00:00Z",
            "2026-11-22T00:00:00Z'; DROP TABLE alerts;--",
            "２０２６-11-22T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30 * NS_PER_SEC));
        assert_eq!(parse_duration("5m"), Some(300 * NS_PER_SEC));
        assert_eq!(parse_duration("2h"), Some(7_200 * NS_PER_SEC));
        assert_eq!(parse_duration("1d"), Some(86_400 * NS_PER_SEC));
        assert_eq!(parse_duration("1h30m"), Some(5_400 * NS_PER_SEC));
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "-5m",
            "5m5",
            "99999999999999d",
            "5 m",
            "５m",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(
            parse_time_param("5m", 1_000 * NS_PER_SEC),
            Some(700 * NS_PER_SEC)
        );
        assert_eq!(parse_time_param("9999999999d", 0), None);
    }
}
