//! Rate limiting for operational logs: the first occurrence is logged at once, later ones are
//! summed into a summary at most once per interval, so a dead sink cannot flood the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NEVER: u64 = u64::MAX;

pub(crate) struct RateLog {
    start: Instant,
    interval_ms: u64,
    /// Milliseconds since `start` of the last line logged, or NEVER.
    last_ms: AtomicU64,
    /// Occurrences not yet reported in a line.
    unreported: AtomicU64,
}

impl RateLog {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            start: Instant::now(),
            interval_ms: interval.as_millis().max(1) as u64,
            last_ms: AtomicU64::new(NEVER),
            unreported: AtomicU64::new(0),
        }
    }

    /// Records one occurrence. Returns how many occurrences to report now, if a line is due.
    /// Lock-free because `Outputs::send` calls it on drops.
    pub(crate) fn record(&self) -> Option<u64> {
        self.unreported.fetch_add(1, Ordering::Relaxed);
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == NEVER || now.saturating_sub(last) >= self.interval_ms;
        if due
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let n = self.unreported.swap(0, Ordering::Relaxed);
            return Some(n.max(1));
        }
        None
    }

    /// Occurrences not yet logged; taken so that a final summary can report them.
    pub(crate) fn take_unreported(&self) -> u64 {
        self.unreported.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_summary() {
        let r = RateLog::new(Duration::from_millis(50));
        assert_eq!(r.record(), Some(1));
        for _ in 0..9 {
            assert_eq!(r.record(), None);
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(r.record(), Some(10));
        assert_eq!(r.record(), None);
        assert_eq!(r.take_unreported(), 1);
    }
}
