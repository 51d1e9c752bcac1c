//! `CoverageTracker`: the pipeline records when capture attaches and
//! detaches and every drop it sees; the gate reads a `Coverage` snapshot.
//! Memory stays bounded: drops coalesce per category and minute, and history
//! older than `keep` is pruned, after which windows reaching back that far
//! are reported as not vouched for rather than as clean.

use std::sync::Mutex;

use crate::gate::{AttachInterval, Coverage, DropReport};
use crate::timefmt::NS_PER_SEC;

/// Drops of one category within this span share one report.
const COALESCE_NS: i64 = 60 * NS_PER_SEC;

pub struct CoverageTracker {
    state: Mutex<Coverage>,
    keep_ns: i64,
}

impl CoverageTracker {
    /// `keep`: how much history to hold (match the store's `max_age`).
    pub fn new(keep: std::time::Duration) -> CoverageTracker {
        CoverageTracker {
            state: Mutex::new(Coverage::default()),
            keep_ns: i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Coverage) -> T) -> T {
        // A poisoned lock still holds valid data (each update is one push or
        // one field write), so keep using it rather than losing coverage.
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Capture is attached (or re-attached) from `now_ns`.
    pub fn attached(&self, now_ns: i64) {
        self.with(|c| {
            if c.attached.last().is_none_or(|a| a.end_ns.is_some()) {
                c.attached.push(AttachInterval {
                    start_ns: now_ns,
                    end_ns: None,
                });
            }
        });
    }

    /// Capture stopped at `now_ns`.
    pub fn detached(&self, now_ns: i64) {
        self.with(|c| {
            if let Some(a) = c.attached.last_mut() {
                if a.end_ns.is_none() {
                    a.end_ns = Some(now_ns.max(a.start_ns));
                }
            }
        });
    }

    /// `count` events lost at `time_ns` (e.g. ring buffer full).
    pub fn dropped(&self, time_ns: i64, count: u64, category: &str) {
        if count == 0 {
            return;
        }
        self.with(|c| {
            let recent = c
                .drops
                .iter_mut()
                .rev()
                .take(8)
                .find(|d| d.category == category && (time_ns - d.time_ns).abs() < COALESCE_NS);
            match recent {
                Some(d) => {
                    d.count = d.count.saturating_add(count);
                    d.time_ns = d.time_ns.min(time_ns);
                }
                None => c.drops.push(DropReport {
                    time_ns,
                    count,
                    category: category.to_owned(),
                }),
            }
        });
    }

    /// Forgets history older than `keep` before `now_ns`.
    pub fn prune(&self, now_ns: i64) {
        let cutoff = now_ns.saturating_sub(self.keep_ns);
        self.with(|c| {
            let before = (c.drops.len(), c.attached.len());
            c.drops.retain(|d| d.time_ns >= cutoff);
            c.attached.retain(|a| a.end_ns.is_none_or(|e| e >= cutoff));
            if (c.drops.len(), c.attached.len()) != before {
                c.deleted_upto_ns = Some(c.deleted_upto_ns.map_or(cutoff, |f| f.max(cutoff)));
            }
        });
    }

    pub fn snapshot(&self) -> Coverage {
        self.with(|c| c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::coverage_gaps;

    const S: i64 = NS_PER_SEC;

    #[test]
    fn tracks_attach_detach_and_drops() {
        let t = CoverageTracker::new(std::time::Duration::from_secs(3600));
        assert!(!coverage_gaps(&t.snapshot(), 10 * S, 20 * S).is_empty());
        t.attached(0);
        t.attached(5 * S); // already attached: no new interval
        assert!(coverage_gaps(&t.snapshot(), 10 * S, 20 * S).is_empty());
        t.detached(30 * S);
        t.attached(40 * S);
        let c = t.snapshot();
        assert_eq!(c.attached.len(), 2);
        assert_eq!(coverage_gaps(&c, 25 * S, 50 * S).len(), 1);
        t.dropped(100 * S, 3, "ring_full");
        t.dropped(110 * S, 4, "ring_full");
        t.dropped(110 * S, 1, "too_large");
        t.dropped(500 * S, 0, "ring_full");
        let c = t.snapshot();
        assert_eq!(c.drops.len(), 2);
        assert_eq!(c.drops[0].count, 7);
        assert!(coverage_gaps(&c, 50 * S, 120 * S)
            .iter()
            .any(|g| g.contains("8 event(s) dropped")));
    }

    #[test]
    fn pruned_history_is_not_vouched_for() {
        let t = CoverageTracker::new(std::time::Duration::from_secs(60));
        t.attached(0);
        t.dropped(10 * S, 1, "ring_full");
        t.prune(1000 * S);
        let c = t.snapshot();
        assert!(c.drops.is_empty());
        assert_eq!(c.attached.len(), 1, "the open interval stays");
        // The window that held the forgotten drop is skipped, not clean.
        assert!(!coverage_gaps(&c, 0, 1000 * S).is_empty());
        assert!(coverage_gaps(&c, 950 * S, 1000 * S).is_empty());
    }
}
