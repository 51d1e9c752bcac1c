//! Boot-time to wall-clock conversion. Records carry CLOCK_BOOTTIME (monotonic
//! across suspend, immune to NTP steps); alerts want realtime. The offset is
//! taken once; `refresh` can be called periodically to follow clock steps.

/// Converts CLOCK_BOOTTIME ns to realtime ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    offset_ns: i64,
}

fn now_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec.saturating_mul(1_000_000_000) + ts.tv_nsec
}

impl Clock {
    /// Measures realtime - boottime now.
    pub fn new() -> Self {
        let boot = now_ns(libc::CLOCK_BOOTTIME);
        let real = now_ns(libc::CLOCK_REALTIME);
        Clock {
            offset_ns: real - boot,
        }
    }

    /// A fixed offset (replay, tests).
    pub fn with_offset(offset_ns: i64) -> Self {
        Clock { offset_ns }
    }

    pub fn offset_ns(&self) -> i64 {
        self.offset_ns
    }

    pub fn refresh(&mut self) {
        *self = Clock::new();
    }

    /// Realtime ns for a boot-time ns.
    pub fn realtime(&self, boot_ns: u64) -> u64 {
        (boot_ns as i64).saturating_add(self.offset_ns).max(0) as u64
    }

    /// Current CLOCK_BOOTTIME in ns.
    pub fn boot_now() -> u64 {
        now_ns(libc::CLOCK_BOOTTIME).max(0) as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Formats realtime ns as Falco's `evt.time` (`HH:MM:SS.nnnnnnnnn`, UTC) or
/// `evt.time.iso8601` (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`).
pub fn format_time(out: &mut String, ns: u64, iso: bool) {
    use core::fmt::Write;
    let secs = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    if iso {
        let (y, mo, d) = civil_from_days(days);
        let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{frac:09}Z");
    } else {
        let _ = write!(out, "{h:02}:{m:02}:{s:02}.{frac:09}");
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_plausible_and_formats() {
        let c = Clock::new();
        // Realtime is after 2020 on any machine running this.
        assert!(c.realtime(Clock::boot_now()) > 1_600_000_000_000_000_000);
        let mut s = String::new();
        format_time(&mut s, 1_763_778_026_123_456_789, true);
        assert_eq!(s, "2025-11-22T02:20:26.123456789Z");
        s.clear();
        format_time(&mut s, 1_763_778_026_000_000_001, false);
        assert_eq!(s, "02:20:26.000000001");
        assert_eq!(Clock::with_offset(-10).realtime(5), 0);
    }
}
