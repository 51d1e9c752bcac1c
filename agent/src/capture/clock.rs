//! Turning the kernel's CLOCK_BOOTTIME stamps into wall-clock time.

/// Wall-clock ns = boot ns + offset. The offset is taken once at start: boot
/// time keeps counting across suspend, and a later NTP step only shifts new
/// alerts by the step, as it would for any agent.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset_ns: i64,
}

fn now_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into our timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

impl Clock {
    pub fn new() -> Self {
        let boot = now_ns(libc::CLOCK_BOOTTIME);
        let real = now_ns(libc::CLOCK_REALTIME);
        Clock { offset_ns: real - boot }
    }

    pub fn wall_ns(&self, boot_ns: u64) -> i64 {
        boot_ns as i64 + self.offset_ns
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_stamp_maps_near_now() {
        let c = Clock::new();
        let boot = now_ns(libc::CLOCK_BOOTTIME) as u64;
        let diff = (c.wall_ns(boot) - now_ns(libc::CLOCK_REALTIME)).abs();
        assert!(diff < 1_000_000_000, "off by {diff} ns");
    }
}
