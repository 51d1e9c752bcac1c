//! `CoverageTracker`: the pipeline records when capture attaches and
//! detaches and every drop it sees; the gate reads a `Coverage` snapshot.
//! Memory stays bounded: drops coalesce per category and minute, and history
//! older than `keep` is pruned, after which windows reaching back that far
//! are reported as not vouched for rather than as clean.
//!
//! With `persist_to(store)` the history also lives in the store, so a
//! restarted agent still vouches for what the previous run watched. What a
//! persisted attach interval covers is decided by heartbeats: the caller
//! passes a time up to which every event has been processed and every
//! alert handed to the store, and the heartbeat travels through the store's
//! queue behind those alerts. After kill -9 the interval therefore ends at
//! the last heartbeat that committed, never later than what was observed.
//! Drops and new intervals (which only shrink coverage) are persisted no
//! later than the next heartbeat.

use std::sync::{Mutex, OnceLock};

use crate::gate::{AttachInterval, Coverage, DropReport};
use crate::store::{CovChange, CoverageSink, Store};
use crate::timefmt::NS_PER_SEC;

/// Drops of one category within the same minute (of event time) share one
/// report, timed at the latest of them (see `gate::drop_in_window`).
const COALESCE_NS: i64 = 60 * NS_PER_SEC;

pub struct CoverageTracker {
    state: Mutex<Coverage>,
    keep_ns: i64,
    sink: OnceLock<CoverageSink>,
    /// The last cutoff sent to the store: pruning is persisted at least this
    /// often, since the store holds history (its own drops) memory does not.
    persisted_cutoff: std::sync::atomic::AtomicI64,
}

/// How often pruning reaches the store when memory had nothing to prune.
const PERSIST_PRUNE_EVERY_NS: i64 = 3_600 * NS_PER_SEC;

impl CoverageTracker {
    /// `keep`: how much history to hold (match the store's `max_age`).
    pub fn new(keep: std::time::Duration) -> CoverageTracker {
        CoverageTracker {
            state: Mutex::new(Coverage::default()),
            keep_ns: i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX),
            sink: OnceLock::new(),
            persisted_cutoff: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    /// Loads earlier runs' coverage from `store` and persists every change
    /// from now on. Call once, before `attached`; a second call is ignored.
    pub fn persist_to(&self, store: &Store) {
        let sink = store.coverage_sink();
        if self.sink.set(sink.clone()).is_err() {
            tracing::warn!("coverage is already persisted to a store; ignored");
            return;
        }
        let old = store.persisted_coverage();
        self.with(|c| {
            let mut attached = old.attached;
            attached.append(&mut c.attached);
            c.attached = attached;
            c.deleted_upto_ns = c.deleted_upto_ns.max(old.deleted_upto_ns);
            // Whatever this run already knew goes to disk too; only this
            // run's drops, since the store adds a persisted drop's count to
            // the one it holds (re-sending the loaded ones would double them).
            if let Some(a) = c.attached.last().filter(|a| a.end_ns.is_none()) {
                sink.push(CovChange::Attach(a.start_ns));
            }
            let kept_from = c.deleted_upto_ns.unwrap_or(i64::MIN);
            for d in c.drops.iter().filter(|d| d.time_ns >= kept_from) {
                sink.push(CovChange::Drop(d.clone()));
            }
            let mut drops = old.drops;
            drops.append(&mut c.drops);
            c.drops = drops;
            c.stops.extend(old.stops);
        });
    }

    /// Every event up to `time_ns` has been processed and its alerts handed
    /// to the store (through the same queue, before this call), and every
    /// drop up to then recorded: the persisted interval may end there.
    /// Call from the thread that sends the alerts. No-op unless persisting
    /// and attached.
    pub fn heartbeat(&self, time_ns: i64) {
        let Some(sink) = self.sink.get() else {
            return;
        };
        let open = self.with(|c| {
            c.attached
                .last()
                .is_some_and(|a| a.end_ns.is_none() && a.start_ns <= time_ns)
        });
        if open {
            sink.heartbeat(time_ns);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Coverage) -> T) -> T {
        // A poisoned lock still holds valid data (each update is one push or
        // one field write), so keep using it rather than losing coverage.
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    fn persist(&self, change: CovChange) {
        if let Some(s) = self.sink.get() {
            s.push(change);
        }
    }

    /// Capture is attached (or re-attached) from `now_ns`.
    pub fn attached(&self, now_ns: i64) {
        let new = self.with(|c| {
            let new = c.attached.last().is_none_or(|a| a.end_ns.is_some());
            if new {
                c.attached.push(AttachInterval {
                    start_ns: now_ns,
                    end_ns: None,
                });
            }
            new
        });
        if new {
            self.persist(CovChange::Attach(now_ns));
        }
    }

    /// Capture stopped at `now_ns`. (On disk the interval keeps ending at its
    /// last heartbeat: only a heartbeat proves the alerts before it stored.)
    pub fn detached(&self, now_ns: i64) {
        let closed = self.with(|c| match c.attached.last_mut() {
            Some(a) if a.end_ns.is_none() => {
                a.end_ns = Some(now_ns.max(a.start_ns));
                true
            }
            _ => false,
        });
        if closed {
            self.persist(CovChange::Detach);
        }
    }

    /// `count` events lost at `time_ns` (e.g. ring buffer full).
    pub fn dropped(&self, time_ns: i64, count: u64, category: &str) {
        self.dropped_between(time_ns, time_ns, count, category);
    }

    /// `count` events lost somewhere in [first_ns, last_ns] (e.g. between
    /// two reads of the kernel's counters).
    pub fn dropped_between(&self, first_ns: i64, last_ns: i64, count: u64, category: &str) {
        if count == 0 {
            return;
        }
        let first_ns = first_ns.min(last_ns);
        let report = |time_ns, first_ns| DropReport {
            time_ns,
            count,
            category: category.to_owned(),
            first_ns: Some(first_ns),
        };
        self.with(|c| {
            let minute = last_ns.div_euclid(COALESCE_NS);
            let recent =
                c.drops.iter_mut().rev().take(8).find(|d| {
                    d.category == category && d.time_ns.div_euclid(COALESCE_NS) == minute
                });
            match recent {
                Some(d) => {
                    d.count = d.count.saturating_add(count);
                    // The latest time: a window starting at or before it
                    // holds at least one of the merged drops (the earliest
                    // would hide the later ones from a window starting
                    // between them); `first_ns` bounds them from below.
                    d.time_ns = d.time_ns.max(last_ns);
                    // An unknown start stays unknown (the whole minute),
                    // as the store merges it.
                    d.first_ns = d.first_ns.map(|f| f.min(first_ns));
                }
                None => c.drops.push(report(last_ns, first_ns)),
            }
        });
        self.persist(CovChange::Drop(report(last_ns, first_ns)));
    }

    /// Forgets history older than `keep` before `now_ns`.
    pub fn prune(&self, now_ns: i64) {
        let cutoff = now_ns.saturating_sub(self.keep_ns);
        let pruned = self.with(|c| {
            let before = (c.drops.len(), c.attached.len());
            c.drops.retain(|d| d.time_ns >= cutoff);
            c.attached.retain(|a| a.end_ns.is_none_or(|e| e >= cutoff));
            c.stops.retain(|s| s.at_ns >= cutoff);
            let pruned = (c.drops.len(), c.attached.len()) != before;
            if pruned {
                c.deleted_upto_ns = Some(c.deleted_upto_ns.map_or(cutoff, |f| f.max(cutoff)));
            }
            pruned
        });
        use std::sync::atomic::Ordering;
        let last = self.persisted_cutoff.load(Ordering::Relaxed);
        if pruned || cutoff.saturating_sub(last) >= PERSIST_PRUNE_EVERY_NS {
            self.persisted_cutoff.store(cutoff, Ordering::Relaxed);
            self.persist(CovChange::Prune(cutoff));
        }
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
