//! Store benchmark: fill with N alerts across 1,000 namespaces (insert
//! throughput), then gate-query latency (namespace + 5-minute window) at
//! ~200 queries/s while alerts keep being written.
//!
//! `cargo bench -p saker-store --bench store`
//! Under `cargo test` (no `--bench` argument) it is a 2,000-alert smoke run.
//! Env: SAKER_BENCH_ALERTS (default 1000000), SAKER_BENCH_QUERY_SECS (10),
//! SAKER_BENCH_WRITE_RATE (alerts/s written during the query phase, 20000),
//! SAKER_BENCH_DIR (default: a temp dir).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use saker_store::timefmt::now_ns;
use saker_store::{
    AttachInterval, Coverage, GateContext, GateRequest, Priority, Store, StoreConfig, StoredAlert,
};

const NAMESPACES: u64 = 1000;
const SEC: i64 = 1_000_000_000;
const QUERY_THREADS: u64 = 8;
const QUERIES_PER_SEC: u64 = 200;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn make(seq: u64, time_ns: i64) -> StoredAlert {
    let ns = format!("ns-{}", seq % NAMESPACES);
    let pod = format!("app-{}-{}", seq % NAMESPACES, seq % 3);
    // Mostly Notice/Warning, some Error/Critical, like a noisy cluster.
    let p = match seq % 20 {
        0 => Priority::Critical,
        1..=2 => Priority::Error,
        3..=8 => Priority::Warning,
        _ => Priority::Notice,
    };
    common::alert(seq, time_ns, Some(&ns), Some(&pod), p)
}

fn send_kept(w: &saker_store::StoreWriter, a: StoredAlert) {
    // The bench measures the store, so it waits for room instead of dropping.
    w.send_blocking(a).expect("store closed");
}

/// CPU seconds this process has used (user + system), from /proc. The
/// machines are shared, so wall-clock figures are reported next to the CPU
/// cost, which other tenants do not distort.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" closing the command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used by this process's threads whose name starts with
/// `prefix` (the store's own threads): the store's cost without the
/// benchmark's producer and query threads.
fn thread_cpu_secs(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut total = 0.0;
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        total += (ticks(11) + ticks(12)) / 100.0;
    }
    total
}

/// CPU seconds of the calling thread.
fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Gate queries at QUERIES_PER_SEC for `query_secs` while a background
/// writer adds alerts at `write_rate` (0: none, the same run's baseline).
fn query_phase(
    store: &Arc<Store>,
    first_seq: u64,
    write_rate: u64,
    query_secs: u64,
    start_ns: i64,
    salt: u64,
) -> u64 {
    // Query phase: a background writer at `write_rate`, and query threads
    // issuing QUERIES_PER_SEC gate queries in total on a fixed schedule.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, written, w) = (stop.clone(), written.clone(), store.writer());
        std::thread::spawn(move || {
            let t = Instant::now();
            let mut seq = first_seq;
            while !stop.load(Ordering::Relaxed) {
                let due = (t.elapsed().as_secs_f64() * write_rate as f64) as u64;
                let behind = due.saturating_sub(seq - first_seq).min(1000);
                for _ in 0..behind {
                    send_kept(&w, make(seq, now_ns()));
                    seq += 1;
                }
                written.store(seq - first_seq, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let coverage = Coverage {
        attached: vec![AttachInterval {
            start_ns: start_ns - 3600 * SEC,
            end_ns: None,
        }],
        ..Default::default()
    };
    let ctx = GateContext::default();
    let alerts_seen = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for q in 0..QUERY_THREADS {
        let (store, coverage, ctx, seen) = (
            store.clone(),
            coverage.clone(),
            ctx.clone(),
            alerts_seen.clone(),
        );
        let spawn = std::thread::Builder::new().name(format!("gate-q{q}"));
        handles.push(
            spawn
                .spawn(move || {
                    let per_thread = QUERIES_PER_SEC / QUERY_THREADS;
                    let interval = Duration::from_secs_f64(1.0 / per_thread as f64);
                    let total = per_thread * query_secs;
                    let mut lat = Vec::with_capacity(total as usize);
                    // Stagger threads so queries arrive evenly.
                    let t0 = Instant::now() + interval.mul_f64(q as f64 / QUERY_THREADS as f64);
                    for i in 0..total {
                        let due = t0 + interval * i as u32;
                        if let Some(d) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(d);
                        }
                        let seq = q * 7919 + i * 104_729 + salt;
                        let now = now_ns();
                        let req = GateRequest {
                            namespace: format!("ns-{}", seq % NAMESPACES),
                            since_ns: now - 300 * SEC,
                            until_ns: None,
                            threshold: Priority::Warning,
                        };
                        let s = Instant::now();
                        let v = store
                            .gate_runtime(&req, &coverage, &ctx, now)
                            .expect("gate query");
                        lat.push(s.elapsed());
                        seen.fetch_add(v.raw_lines_count, Ordering::Relaxed);
                    }
                    (lat, own_cpu_secs())
                })
                .expect("query thread"),
        );
    }
    let mut lat: Vec<Duration> = Vec::new();
    let mut query_cpu = 0.0;
    for h in handles {
        let (l, cpu) = h.join().expect("query thread");
        lat.extend(l);
        query_cpu += cpu;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    lat.sort_unstable();
    println!(
        "gate query (namespace + 5m window) at {QUERIES_PER_SEC}/s for {query_secs}s while writing \
         {:.0} alerts/s: {} queries, avg {:.1} alerts/window, {:.3} CPU-ms/query, p50 {:.3} ms, \
         p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {} over 5 ms, loadavg {}",
        written.load(Ordering::Relaxed) as f64 / query_secs as f64,
        lat.len(),
        alerts_seen.load(Ordering::Relaxed) as f64 / lat.len().max(1) as f64,
        query_cpu * 1e3 / lat.len().max(1) as f64,
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.90).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        lat.iter().filter(|d| d.as_millis() >= 5).count(),
        loadavg()
    );
    written.load(Ordering::Relaxed)
}

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: do a
    // seconds-long smoke run then, so CI exercises the code, not the figures.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = if smoke {
        2_000
    } else {
        env_u64("SAKER_BENCH_ALERTS", 1_000_000)
    };
    let query_secs = if smoke {
        1
    } else {
        env_u64("SAKER_BENCH_QUERY_SECS", 10)
    };
    let write_rate = env_u64("SAKER_BENCH_WRITE_RATE", 20_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var("SAKER_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_owned());
    let mut cfg = StoreConfig::new(&dir);
    cfg.max_age = None;
    cfg.max_bytes = None;
    let store = Arc::new(Store::open(cfg).expect("open store"));

    // Alerts span the last hour, so each namespace gets about n/1000 alerts
    // spread over it and a 5-minute window holds ~1/12 of them.
    let start_ns = now_ns() - 3600 * SEC;
    let step = (3600 * SEC) / n.max(1) as i64;

    println!(
        "store bench: {n} alerts, {NAMESPACES} namespaces, dir {}",
        dir.display()
    );
    // Alerts are built first: the figure is the store's, not the JSON encoder's.
    let t = Instant::now();
    let alerts: Vec<StoredAlert> = (0..n)
        .map(|seq| make(seq, start_ns + seq as i64 * step))
        .collect();
    println!("generated {n} alerts in {:.2}s", t.elapsed().as_secs_f64());
    let w = store.writer();
    let t = Instant::now();
    let cpu0 = cpu_secs();
    let store_cpu0 = thread_cpu_secs("saker-store");
    for a in alerts {
        send_kept(&w, a);
    }
    store.acks().wait_for(n as i64, Duration::from_secs(600));
    let fill = t.elapsed();
    let cpu = cpu_secs() - cpu0;
    let store_cpu = thread_cpu_secs("saker-store") - store_cpu0;
    let st = store.stats();
    println!(
        "insert: {n} alerts in {:.2}s = {:.0} alerts/s wall; {:.2} CPU-s = {:.0} alerts per CPU-second; \
         store threads {:.2} CPU-s = {:.2} us/alert ({} batches, avg {:.0}/batch), disk {:.1} MiB, loadavg {}",
        fill.as_secs_f64(),
        n as f64 / fill.as_secs_f64(),
        cpu,
        n as f64 / cpu.max(0.01),
        store_cpu,
        store_cpu * 1e6 / n.max(1) as f64,
        st.batches,
        st.committed as f64 / st.batches.max(1) as f64,
        st.disk_bytes as f64 / (1 << 20) as f64,
        loadavg()
    );

    // Query phase, twice in the same run: first with no writer (the
    // machine's own noise, as a baseline), then while alerts keep coming.
    let written = query_phase(&store, n, 0, query_secs, start_ns, 0);
    query_phase(&store, n + written, write_rate, query_secs, start_ns, 1);
    let st = store.stats();
    println!(
        "store: committed {}, dropped {}, write_failed {}, disk {:.1} MiB, loadavg {}",
        st.committed,
        st.dropped_queue_full,
        st.write_failed,
        st.disk_bytes as f64 / (1 << 20) as f64,
        loadavg()
    );
}
