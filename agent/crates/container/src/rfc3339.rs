//! RFC 3339 timestamps (`State.StartedAt`) to ns since the epoch, without a
//! date crate: the runtimes only ever send this one shape.

/// `2024-05-01T12:34:56.123456789Z` or with a `+02:00` offset. `None` for
/// anything else, including Docker's zero time `0001-01-01T00:00:00Z`.
pub fn parse_ns(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = (i - start).min(9);
        if digits == 0 {
            return None;
        }
        nanos *= 10_i64.pow((9 - digits) as u32);
    }
    let offset_s = match s.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            if rest.as_bytes()[3] != b':' {
                return None;
            }
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            let v = h * 3600 + m * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_s;
    if secs <= 0 {
        return None;
    }
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_ns("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(
            parse_ns("2024-05-01T12:34:56.123456789Z"),
            Some(1_714_566_896_123_456_789)
        );
        assert_eq!(
            parse_ns("2024-05-01T14:34:56.5+02:00"),
            Some(1_714_566_896_500_000_000)
        );
        assert_eq!(
            parse_ns("2024-05-01T10:34:56-02:00"),
            Some(1_714_566_896_000_000_000)
        );
        // more than 9 fraction digits are truncated
        assert_eq!(
            parse_ns("1970-01-01T00:00:01.0000000019Z"),
            Some(1_000_000_001)
        );
        assert_eq!(parse_ns("0001-01-01T00:00:00Z"), None);
        for bad in [
            "",
            "garbage",
            "2024-13-01T00:00:00Z",
            "2024-05-01T00:00:00",
            "2024-05-01T00:00:00.Z",
            "2024-05-01T0a:00:00Z",
            "2024-05-01T00:00:00+0200",
            "2024-05-01T00:00:00Zjunk",
            "２０２４-05-01T00:00:00Z",
        ] {
            assert_eq!(parse_ns(bad), None, "{bad}");
        }
    }
}
