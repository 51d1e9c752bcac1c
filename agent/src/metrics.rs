//! `/metrics`: Prometheus text with Falco's metric names, plus `saker_*`
//! per-stage counters. Values are read from the shared counters at scrape
//! time, so the event path only ever bumps plain atomics.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::agent::Shared;
use crate::capture::Counters;

type Labels = Vec<(String, String)>;

fn counter(reg: &mut Registry, name: &str, help: &str, v: u64) {
    let c: Counter = Counter::default();
    c.inc_by(v);
    reg.register(name, help, c);
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: i64) {
    let g: Gauge = Gauge::default();
    g.set(v);
    reg.register(name, help, g);
}

/// Resident memory and CPU seconds of this process, from /proc/self.
fn process_usage() -> (i64, f64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

pub struct Inputs<'a> {
    pub shared: &'a Shared,
    pub outputs: Vec<saker_outputs::SinkStats>,
    pub store: Option<saker_store::StoreStats>,
}

/// Every value `/metrics` serves, read once from the shared counters. The
/// periodic snapshot (`metrics:` in the config) reads the same sample, so
/// the two never disagree on where a number comes from.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub kernel: Counters,
    pub records: u64,
    pub malformed: u64,
    pub alerts: u64,
    pub active_rules: u64,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub attached: bool,
    /// ((rule, priority), matches), by rule name.
    pub matches: Vec<((String, &'static str), u64)>,
    pub state: saker_state::Stats,
    pub outputs: Vec<saker_outputs::SinkStats>,
    pub store: Option<saker_store::StoreStats>,
    pub rss_bytes: i64,
    pub cpu_s: f64,
    pub started_ns: i64,
}

impl Sample {
    pub fn collect(i: &Inputs<'_>) -> Sample {
        let s = i.shared;
        let (rss_bytes, cpu_s) = process_usage();
        Sample {
            kernel: s.kernel.lock().map(|k| k.clone()).unwrap_or_default(),
            records: s.records.load(Ordering::Relaxed),
            malformed: s.malformed.load(Ordering::Relaxed),
            alerts: s.alerts.load(Ordering::Relaxed),
            active_rules: s.active_rules.load(Ordering::Relaxed),
            reloads_ok: s.reloads_ok.load(Ordering::Relaxed),
            reloads_failed: s.reloads_failed.load(Ordering::Relaxed),
            attached: s.attached(),
            matches: s
                .matches
                .lock()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
            state: s.state.lock().map(|st| *st).unwrap_or_default(),
            outputs: i.outputs.clone(),
            store: i.store.clone(),
            rss_bytes,
            cpu_s,
            started_ns: s.started_ns,
        }
    }

    /// Falco's `outputs_queue_num_drops`: alerts a full sink queue refused.
    pub fn output_queue_drops(&self) -> u64 {
        self.outputs.iter().map(|o| o.dropped_queue_full).sum()
    }
}

pub fn render(i: &Inputs<'_>) -> String {
    render_sample(&Sample::collect(i))
}

fn render_sample(s: &Sample) -> String {
    let mut reg = Registry::default();
    let k = &s.kernel;

    let matches: Family<Labels, Counter> = Family::default();
    for ((rule, priority), n) in &s.matches {
        matches
            .get_or_create(&vec![
                ("rule_name".into(), rule.clone()),
                ("priority".into(), priority.to_string()),
                ("source".into(), "syscall".into()),
            ])
            .inc_by(*n);
    }
    reg.register(
        "falcosecurity_falco_rules_matches",
        "Rule matches, by rule, priority and source",
        matches,
    );
    counter(
        &mut reg,
        "falcosecurity_scap_n_evts",
        "Events the kernel sent",
        k.sent,
    );
    counter(
        &mut reg,
        "falcosecurity_scap_n_drops",
        "Events lost in the kernel",
        k.lost(),
    );
    let buffer: Family<Labels, Counter> = Family::default();
    buffer
        .get_or_create(&vec![("drop".into(), "ring_full".into())])
        .inc_by(k.ring_full);
    buffer
        .get_or_create(&vec![("drop".into(), "stash_full".into())])
        .inc_by(k.stash_full);
    reg.register(
        "falcosecurity_scap_n_drops_buffer",
        "Events lost, by reason",
        buffer,
    );
    counter(
        &mut reg,
        "falcosecurity_falco_outputs_queue_num_drops",
        "Alerts dropped because an output queue was full",
        s.output_queue_drops(),
    );
    let (rss, cpu) = (s.rss_bytes, s.cpu_s);
    gauge(
        &mut reg,
        "falcosecurity_falco_memory_rss_bytes",
        "Resident memory",
        rss,
    );
    let cpu_c: Counter<f64> = Counter::default();
    cpu_c.inc_by(cpu);
    reg.register(
        "falcosecurity_falco_cpu_seconds",
        "CPU time used by the agent",
        cpu_c,
    );

    counter(
        &mut reg,
        "saker_capture_records",
        "Records decoded from the ring buffer",
        s.records,
    );
    counter(
        &mut reg,
        "saker_capture_malformed_records",
        "Records that failed validation",
        s.malformed,
    );
    counter(
        &mut reg,
        "saker_capture_read_faults",
        "Arguments the kernel could not read",
        k.read_fault,
    );
    counter(
        &mut reg,
        "saker_capture_truncated",
        "Records with a truncated value",
        k.truncated,
    );
    counter(
        &mut reg,
        "saker_capture_skipped_no_address",
        "Datagram calls without a peer address that the kernel left out because no loaded rule can match them",
        k.skipped_no_address,
    );
    counter(&mut reg, "saker_alerts", "Alerts raised", s.alerts);
    gauge(
        &mut reg,
        "saker_rules_active",
        "Rules running",
        s.active_rules as i64,
    );
    let reloads: Family<Labels, Counter> = Family::default();
    reloads
        .get_or_create(&vec![("result".into(), "ok".into())])
        .inc_by(s.reloads_ok);
    reloads
        .get_or_create(&vec![("result".into(), "failed".into())])
        .inc_by(s.reloads_failed);
    reg.register("saker_rules_reloads", "Rules reloads", reloads);
    gauge(
        &mut reg,
        "saker_capture_attached",
        "1 while capture is attached",
        s.attached as i64,
    );
    gauge(
        &mut reg,
        "saker_state_processes",
        "Processes in the state table",
        s.state.table.processes as i64,
    );
    gauge(
        &mut reg,
        "saker_state_fds",
        "File descriptors in the state tables",
        s.state.fds as i64,
    );

    let sink: Family<Labels, Counter> = Family::default();
    for o in &s.outputs {
        let l = |what: &str| -> Labels {
            vec![
                ("sink".into(), o.name.to_string()),
                ("result".into(), what.to_string()),
            ]
        };
        sink.get_or_create(&l("sent")).inc_by(o.sent);
        sink.get_or_create(&l("dropped_queue_full"))
            .inc_by(o.dropped_queue_full);
        sink.get_or_create(&l("failed")).inc_by(o.failed);
        sink.get_or_create(&l("timeout")).inc_by(o.timeouts);
    }
    reg.register(
        "saker_output_alerts",
        "Alerts per output sink and result",
        sink,
    );
    if let Some(st) = &s.store {
        counter(
            &mut reg,
            "saker_store_committed",
            "Alerts committed to the store",
            st.committed,
        );
        counter(
            &mut reg,
            "saker_store_queue_dropped",
            "Alerts the store queue could not take",
            st.dropped_queue_full,
        );
        counter(
            &mut reg,
            "saker_store_write_failed",
            "Alerts lost to failed store writes",
            st.write_failed,
        );
        gauge(
            &mut reg,
            "saker_store_disk_bytes",
            "Bytes the store uses on disk",
            st.disk_bytes as i64,
        );
    }

    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        out.clear();
    }
    out
}
