//! The container metadata cache the hot path reads. `get` never waits: a
//! miss queues one asynchronous lookup (deduplicated) and returns `None`
//! until the runtime has answered. Answers are refreshed on an interval,
//! "not found" is cached, and a runtime that is gone is logged once.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::cgroup::{ContainerMatch, RuntimeHint};
use crate::info::ContainerInfo;
use crate::runtime::{Outcome, RuntimeConfig, Runtimes};

/// Counters, read with [`ContainerCache::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Lookups sent to the runtimes.
    pub lookups: u64,
    pub found: u64,
    pub not_found: u64,
    /// Lookups that failed because a runtime could not be asked.
    pub failures: u64,
    /// Errors written to the log (once per runtime outage, not per event).
    pub errors_logged: u64,
    /// Lookups dropped because the queue was full.
    pub queue_full: u64,
    pub entries: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    lookups: AtomicU64,
    found: AtomicU64,
    not_found: AtomicU64,
    failures: AtomicU64,
    errors_logged: AtomicU64,
    queue_full: AtomicU64,
}

/// What the cache knows about one id.
#[derive(Debug, Clone)]
enum Entry {
    Found {
        info: Arc<ContainerInfo>,
        at: Instant,
    },
    Missing {
        at: Instant,
    },
    Failed {
        at: Instant,
    },
}

/// State of an id, for callers that need to tell "not yet" from "never".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupState {
    Unknown,
    Found(Arc<ContainerInfo>),
    NotFound,
    Failed,
}

struct Shared {
    cfg: RuntimeConfig,
    runtimes: Runtimes,
    entries: RwLock<HashMap<Arc<str>, Entry>>,
    pending: Mutex<HashSet<Arc<str>>>,
    /// Sockets currently failing; an entry means "already logged".
    down: Mutex<HashSet<PathBuf>>,
    done: Notify,
    stats: Counters,
}

type Request = (Arc<str>, Option<RuntimeHint>);

/// Cheap to clone; all clones share one cache and one worker.
#[derive(Clone)]
pub struct ContainerCache {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for ContainerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ContainerCache {
    /// Starts the lookup worker and the refresh sweep on `handle`. They end
    /// when the last clone of the cache is dropped.
    pub fn start(cfg: RuntimeConfig, handle: &Handle) -> Self {
        let (tx, rx) = mpsc::channel(cfg.queue_len.max(1));
        let shared = Arc::new(Shared {
            runtimes: Runtimes::new(&cfg),
            cfg,
            entries: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashSet::new()),
            down: Mutex::new(HashSet::new()),
            done: Notify::new(),
            stats: Counters::default(),
        });
        handle.spawn(worker(shared.clone(), rx));
        handle.spawn(sweeper(shared.clone(), tx.downgrade()));
        Self { shared, tx }
    }

    /// Hot path: the cached metadata, or `None` (and one queued lookup).
    /// Never blocks on I/O; takes a read lock on a map only.
    pub fn get(&self, full_id: &str) -> Option<Arc<ContainerInfo>> {
        self.get_hinted(full_id, None)
    }

    /// `get` for a cgroup match: the hint picks which runtime to ask first.
    pub fn get_match(&self, m: &ContainerMatch) -> Option<Arc<ContainerInfo>> {
        self.get_hinted(&m.full_id, Some(m.hint))
    }

    pub fn get_hinted(
        &self,
        full_id: &str,
        hint: Option<RuntimeHint>,
    ) -> Option<Arc<ContainerInfo>> {
        let (result, stale) = {
            let Ok(map) = self.shared.entries.read() else {
                return None;
            };
            match map.get(full_id) {
                Some(Entry::Found { info, at }) => (
                    Some(info.clone()),
                    at.elapsed() >= self.shared.cfg.refresh_interval,
                ),
                Some(Entry::Missing { at }) => (None, at.elapsed() >= self.shared.cfg.negative_ttl),
                Some(Entry::Failed { at }) => {
                    (None, at.elapsed() >= self.shared.cfg.retry_interval)
                }
                None => (None, true),
            }
        };
        let c = &self.shared.stats;
        if result.is_some() { &c.hits } else { &c.misses }.fetch_add(1, Ordering::Relaxed);
        if stale {
            self.enqueue(full_id, hint);
        }
        result
    }

    /// What is known right now, without queueing anything.
    pub fn state(&self, full_id: &str) -> LookupState {
        let Ok(map) = self.shared.entries.read() else {
            return LookupState::Unknown;
        };
        match map.get(full_id) {
            None => LookupState::Unknown,
            Some(Entry::Found { info, .. }) => LookupState::Found(info.clone()),
            Some(Entry::Missing { .. }) => LookupState::NotFound,
            Some(Entry::Failed { .. }) => LookupState::Failed,
        }
    }

    /// Waits (up to `timeout`) for an answer; for start-up scans and tests,
    /// never for the event path.
    pub async fn fetch(
        &self,
        full_id: &str,
        hint: Option<RuntimeHint>,
        timeout: Duration,
    ) -> LookupState {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut asked = false;
        loop {
            let notified = self.shared.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pending = self
                .shared
                .pending
                .lock()
                .map(|p| p.contains(full_id))
                .unwrap_or(false);
            if !pending {
                let st = self.state(full_id);
                if asked || !matches!(st, LookupState::Unknown | LookupState::Failed) {
                    return st;
                }
                self.enqueue(full_id, hint);
                asked = true;
                continue;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.state(full_id);
            }
        }
    }

    /// Forgets an id (container removed).
    pub fn remove(&self, full_id: &str) {
        if let Ok(mut m) = self.shared.entries.write() {
            m.remove(full_id);
        }
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.shared.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            hits: l(&c.hits),
            misses: l(&c.misses),
            lookups: l(&c.lookups),
            found: l(&c.found),
            not_found: l(&c.not_found),
            failures: l(&c.failures),
            errors_logged: l(&c.errors_logged),
            queue_full: l(&c.queue_full),
            entries: self
                .shared
                .entries
                .read()
                .map(|m| m.len() as u64)
                .unwrap_or(0),
        }
    }

    fn enqueue(&self, full_id: &str, hint: Option<RuntimeHint>) {
        enqueue(&self.shared, &self.tx, full_id, hint);
    }
}

fn enqueue(shared: &Shared, tx: &mpsc::Sender<Request>, full_id: &str, hint: Option<RuntimeHint>) {
    let id: Arc<str> = {
        let Ok(mut p) = shared.pending.lock() else {
            return;
        };
        if p.contains(full_id) {
            return; // already queued or in flight; no allocation per event
        }
        let id: Arc<str> = Arc::from(full_id);
        p.insert(id.clone());
        id
    };
    if tx.try_send((id.clone(), hint)).is_err() {
        shared.stats.queue_full.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut p) = shared.pending.lock() {
            p.remove(&id);
        }
    }
}

async fn worker(shared: Arc<Shared>, mut rx: mpsc::Receiver<Request>) {
    let permits = Arc::new(Semaphore::new(shared.cfg.max_concurrent.max(1)));
    while let Some((id, hint)) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            lookup_one(&shared, &id, hint).await;
            drop(permit);
        });
    }
}

async fn lookup_one(shared: &Shared, id: &Arc<str>, hint: Option<RuntimeHint>) {
    shared.stats.lookups.fetch_add(1, Ordering::Relaxed);
    let (outcome, answered) = shared.runtimes.lookup(id, hint).await;
    note_recovered(shared, &answered);
    let now = Instant::now();
    let entry = match outcome {
        Outcome::Found(info) => {
            shared.stats.found.fetch_add(1, Ordering::Relaxed);
            Some(Entry::Found {
                info: Arc::from(info),
                at: now,
            })
        }
        Outcome::NotFound => {
            shared.stats.not_found.fetch_add(1, Ordering::Relaxed);
            Some(Entry::Missing { at: now })
        }
        Outcome::Unavailable(errors) => {
            shared.stats.failures.fetch_add(1, Ordering::Relaxed);
            note_down(shared, errors);
            // Keep what we had: a runtime hiccup must not blank known fields.
            let had = shared.entries.read().ok().and_then(|m| m.get(id).cloned());
            match had {
                Some(Entry::Found { info, .. }) => Some(Entry::Found { info, at: now }),
                _ => Some(Entry::Failed { at: now }),
            }
        }
    };
    if let (Some(e), Ok(mut m)) = (entry, shared.entries.write()) {
        if m.len() >= shared.cfg.max_entries && !m.contains_key(id) {
            evict_one(&mut m);
        }
        m.insert(id.clone(), e);
    }
    if let Ok(mut p) = shared.pending.lock() {
        p.remove(id);
    }
    shared.done.notify_waiters();
}

/// Logs each failing socket once, when it starts failing.
fn note_down(shared: &Shared, errors: Vec<(PathBuf, crate::Error)>) {
    let Ok(mut down) = shared.down.lock() else {
        return;
    };
    for (sock, err) in errors {
        if down.insert(sock.clone()) {
            shared.stats.errors_logged.fetch_add(1, Ordering::Relaxed);
            if sock.as_os_str().is_empty() {
                tracing::error!("no container runtime socket found; container and k8s fields stay empty until one appears");
            } else {
                tracing::error!(socket = %sock.display(), error = %err, "container runtime unavailable; container and k8s fields stay empty until it is back");
            }
        }
    }
}

fn note_recovered(shared: &Shared, answered: &[PathBuf]) {
    if answered.is_empty() {
        return;
    }
    let Ok(mut down) = shared.down.lock() else {
        return;
    };
    down.remove(&PathBuf::new());
    for sock in answered {
        if down.remove(sock) {
            tracing::info!(socket = %sock.display(), "container runtime answering again");
        }
    }
}

/// Drops a negative entry if there is one, else the oldest.
fn evict_one(m: &mut HashMap<Arc<str>, Entry>) {
    let victim = m
        .iter()
        .min_by_key(|(_, e)| match e {
            Entry::Missing { at } | Entry::Failed { at } => (0, *at),
            Entry::Found { at, .. } => (1, *at),
        })
        .map(|(k, _)| k.clone());
    if let Some(k) = victim {
        m.remove(&k);
    }
}

/// Refreshes stale found entries in the background and forgets long-dead
/// negative ones, so the map does not grow with every short-lived id.
async fn sweeper(shared: Arc<Shared>, tx: mpsc::WeakSender<Request>) {
    let period = (shared.cfg.refresh_interval / 2).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(tx) = tx.upgrade() else { break };
        let forget_after = shared.cfg.negative_ttl.max(shared.cfg.retry_interval) * 10;
        let mut stale = Vec::new();
        if let Ok(mut m) = shared.entries.write() {
            m.retain(|id, e| match e {
                Entry::Found { at, .. } => {
                    if at.elapsed() >= shared.cfg.refresh_interval {
                        stale.push(id.clone());
                    }
                    true
                }
                Entry::Missing { at } | Entry::Failed { at } => at.elapsed() < forget_after,
            });
        }
        for id in stale {
            enqueue(&shared, &tx, &id, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(docker: Vec<PathBuf>) -> RuntimeConfig {
        RuntimeConfig {
            retry_interval: Duration::from_millis(50),
            negative_ttl: Duration::from_millis(50),
            refresh_interval: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
            ..RuntimeConfig::with_sockets(docker, vec![])
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn absent_socket_keeps_fields_empty_and_logs_once() {
        let cache = ContainerCache::start(
            cfg(vec!["/nonexistent/saker/docker.sock".into()]),
            &Handle::current(),
        );
        for _ in 0..1000 {
            assert!(cache.get(ID).is_none());
        }
        assert_eq!(
            cache.fetch(ID, None, Duration::from_secs(2)).await,
            LookupState::Failed
        );
        // Many more events and retries: still one log line.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            for _ in 0..100 {
                assert!(cache.get(ID).is_none());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = cache.stats();
        assert!(s.failures >= 2, "{s:?}");
        assert!(
            s.lookups < 20,
            "lookups are deduplicated and rate limited: {s:?}"
        );
        assert_eq!(s.errors_logged, 1, "{s:?}");
        assert_eq!(s.found, 0);
    }

    #[tokio::test]
    async fn miss_enqueues_once_and_not_found_is_cached() {
        // A fake Docker API that says 404 and counts requests.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = std::env::temp_dir().join(format!("saker-cache-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let sock = dir.join("d.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let hits = Arc::new(AtomicU64::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                h.fetch_add(1, Ordering::Relaxed);
                let mut b = [0u8; 2048];
                let _ = s.read(&mut b).await;
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let mut c = cfg(vec![sock.clone()]);
        c.negative_ttl = Duration::from_secs(60);
        let cache = ContainerCache::start(c, &Handle::current());
        for _ in 0..100 {
            assert!(cache.get(ID).is_none());
        }
        assert_eq!(
            cache.fetch(ID, None, Duration::from_secs(2)).await,
            LookupState::NotFound
        );
        for _ in 0..100 {
            assert!(cache.get(ID).is_none());
        }
        assert_eq!(
            hits.load(Ordering::Relaxed),
            1,
            "one request for 200 misses"
        );
        let s = cache.stats();
        assert_eq!((s.not_found, s.errors_logged, s.misses), (1, 0, 200));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stale_socket_then_runtime_comes_back() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = std::env::temp_dir().join(format!("saker-cache-back-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let sock = dir.join("d.sock");
        let _ = std::fs::remove_file(&sock);
        // A socket file nobody listens on: connection refused.
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let cache = ContainerCache::start(cfg(vec![sock.clone()]), &Handle::current());
        assert_eq!(
            cache.fetch(ID, None, Duration::from_secs(2)).await,
            LookupState::Failed
        );
        assert_eq!(cache.stats().errors_logged, 1);

        std::fs::remove_file(&sock).unwrap();
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut b = [0u8; 2048];
                let _ = s.read(&mut b).await;
                let body =
                    format!(r#"{{"Id":"{ID}","Name":"/back","Config":{{"Image":"a/b:c"}}}}"#);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(60)).await; // retry_interval
        assert!(cache.get(ID).is_none(), "the retry is queued, not awaited");
        let st = cache.fetch(ID, None, Duration::from_secs(2)).await;
        let LookupState::Found(info) = st else {
            panic!("{st:?}")
        };
        assert_eq!(info.name.as_deref(), Some("back"));
        assert_eq!(info.image_tag.as_deref(), Some("c"));
        assert_eq!(cache.get(ID).unwrap().id, &ID[..12]);
        assert!(
            cache.shared.down.lock().unwrap().is_empty(),
            "outage cleared"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn eviction_prefers_negative_entries() {
        let mut m = HashMap::new();
        let now = Instant::now();
        m.insert(
            Arc::from("a"),
            Entry::Found {
                info: Arc::new(ContainerInfo::new("a")),
                at: now,
            },
        );
        m.insert(Arc::from("b"), Entry::Missing { at: now });
        evict_one(&mut m);
        assert!(m.contains_key("a") && !m.contains_key("b"));
    }
}
