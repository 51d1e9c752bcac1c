//! Falco's periodic metrics snapshot (`metrics:` in falco.yaml): every
//! `interval`, the counters `/metrics` serves (read through the same
//! [`Sample`]) as one set of Falco-named fields (`falco.num_evts`,
//! `scap.n_drops`, ...), sent as the internal alert "Falco internal: metrics
//! snapshot" and/or appended to `output_file` as `{"sample":N,"output_fields":{...}}`.
//!
//! The snapshot goes to the output sinks only: it is operational data, not a
//! detection, so it is not stored (a gate query with a low threshold would
//! otherwise fail on it), not counted as a rule match and not streamed on
//! `/v1/alerts/stream`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use saker_outputs::{OutputAlert, Outputs};
use serde_json::{json, Value};

use super::detector_thread::Shared;
use crate::metrics::{Inputs, Sample};

pub const SNAPSHOT_RULE: &str = "Falco internal: metrics snapshot";
const MESSAGE: &str = "Falco metrics snapshot";
/// Falco's `scap.engine_name` names the driver; this is ours.
const ENGINE: &str = "saker_ebpf";

/// The running snapshot thread; stopped before the sinks shut down.
pub struct Snapshots {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Snapshots {
    /// Starts the timer when `metrics.enabled` and there is somewhere to
    /// write (`output_rule` or `output_file`).
    pub fn start(
        cfg: &saker_config::Metrics,
        hostname: String,
        shared: Arc<Shared>,
        outputs: Arc<Outputs>,
        store: Option<Arc<saker_store::Store>>,
    ) -> std::io::Result<Option<Snapshots>> {
        if !cfg.enabled || (!cfg.output_rule && cfg.output_file.is_empty()) {
            return Ok(None);
        }
        let interval = cfg.interval.0.max(Duration::from_millis(100));
        let mut builder = Builder::new(cfg.clone(), hostname.clone());
        let mut file = (!cfg.output_file.is_empty()).then(|| FileOut::new(&cfg.output_file));
        let output_rule = cfg.output_rule;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("saker-metrics".into())
            .spawn(move || {
                let mut next = Instant::now() + interval;
                loop {
                    match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        // Stop asked, or the agent is gone.
                        _ => return,
                    }
                    // A late tick (suspended machine) does not fire twice.
                    next = (next + interval).max(Instant::now() + interval / 2);
                    let sample = Sample::collect(&Inputs {
                        shared: &shared,
                        outputs: outputs.stats(),
                        store: store.as_ref().map(|s| s.stats()),
                    });
                    let now = saker_store::timefmt::now_ns();
                    let fields = builder.fields(&sample, now);
                    if output_rule {
                        outputs.send(Arc::new(alert(&hostname, now, &fields)));
                    }
                    if let Some(f) = file.as_mut() {
                        f.append(builder.samples, &fields);
                    }
                }
            })?;
        Ok(Some(Snapshots {
            stop,
            thread: Some(thread),
        }))
    }

    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// The internal alert, shaped as Falco's `handle_msg` makes it.
fn alert(hostname: &str, now: i64, fields: &BTreeMap<String, Value>) -> OutputAlert {
    let time = saker_store::timefmt::format_falco(now);
    let clock = time
        .split_once('T')
        .map_or("", |(_, c)| c.trim_end_matches('Z'));
    // Falco's text form lists the fields after the message: (k=v k=v).
    let listed: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!("{clock}: Informational {MESSAGE} ({})", listed.join(" "));
    let json = json!({
        "hostname": hostname,
        "output": MESSAGE,
        "output_fields": fields,
        "priority": "Informational",
        "rule": SNAPSHOT_RULE,
        "source": "internal",
        "time": time,
    });
    OutputAlert {
        json: json.to_string(),
        text,
        priority: saker_store::Priority::Informational.as_u8(),
        rule: SNAPSHOT_RULE.to_string(),
    }
}

/// `output_file`: JSON lines appended, the file kept open; a failure is
/// logged once until a write succeeds again.
struct FileOut {
    path: PathBuf,
    file: Option<std::fs::File>,
    failing: bool,
}

impl FileOut {
    fn new(path: &str) -> FileOut {
        FileOut {
            path: PathBuf::from(path),
            file: None,
            failing: false,
        }
    }

    fn append(&mut self, sample: u64, fields: &BTreeMap<String, Value>) {
        let mut line = json!({"sample": sample, "output_fields": fields}).to_string();
        line.push('\n');
        let res = (|| -> std::io::Result<()> {
            if self.file.is_none() {
                self.file = Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)?,
                );
            }
            let f = self.file.as_mut().expect("opened above");
            f.write_all(line.as_bytes())?;
            f.flush()
        })();
        match res {
            Ok(()) => self.failing = false,
            Err(e) => {
                // Reopen next time: the file may have been removed or rotated.
                self.file = None;
                if !self.failing {
                    tracing::warn!(file = %self.path.display(), error = %e, "metrics.output_file: cannot append the snapshot");
                }
                self.failing = true;
            }
        }
    }
}

/// What the previous snapshot saw, for rates and `_prev` fields.
#[derive(Clone, Copy, Default)]
struct Prev {
    at_ns: i64,
    num_evts: u64,
    n_evts: u64,
    n_drops: u64,
}

/// Builds the fields of each snapshot; keeps the previous one's counters.
pub struct Builder {
    cfg: saker_config::Metrics,
    hostname: String,
    prev: Option<Prev>,
    /// Snapshots built so far (Falco's `sample` in output_file lines).
    pub samples: u64,
}

fn mem_field(kb: u64, name: &str, to_mb: bool) -> (String, Value) {
    if to_mb {
        (
            format!("falco.{name}_mb"),
            json!((kb as f64 / 1024.0 * 10.0).round() / 10.0),
        )
    } else {
        (format!("falco.{name}_kb"), json!(kb))
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl Builder {
    pub fn new(cfg: saker_config::Metrics, hostname: String) -> Builder {
        Builder {
            cfg,
            hostname,
            prev: None,
            samples: 0,
        }
    }

    /// The snapshot's `output_fields`, sorted by name (as Falco's JSON is).
    pub fn fields(&mut self, s: &Sample, now_ns: i64) -> BTreeMap<String, Value> {
        self.samples += 1;
        let cfg = &self.cfg;
        let mut f: BTreeMap<String, Value> = BTreeMap::new();
        // A zero is left out unless include_empty_values; headline counters
        // are always there.
        let put = |f: &mut BTreeMap<String, Value>, k: String, v: Value| {
            let empty = v.as_f64() == Some(0.0) || v.as_str() == Some("");
            if !empty || cfg.include_empty_values {
                f.insert(k, v);
            }
        };
        let prev = self.prev;
        let dt = prev.map_or(0.0, |p| (now_ns - p.at_ns) as f64 / 1e9);

        // Wrapper fields, always.
        let num_evts = s.records;
        f.insert("evt.hostname".into(), json!(self.hostname));
        f.insert("evt.source".into(), json!("syscall"));
        f.insert("evt.time".into(), json!(now_ns));
        f.insert("falco.version".into(), json!(env!("CARGO_PKG_VERSION")));
        f.insert("falco.start_ts".into(), json!(s.started_ns));
        f.insert(
            "falco.duration_sec".into(),
            json!(((now_ns - s.started_ns).max(0) / 1_000_000_000) as u64),
        );
        f.insert("falco.kernel_release".into(), json!(host::kernel_release()));
        f.insert("falco.host_boot_ts".into(), json!(host::boot_ts_ns()));
        f.insert("falco.host_num_cpus".into(), json!(host::num_cpus()));
        f.insert(
            "falco.outputs_queue_num_drops".into(),
            json!(s.output_queue_drops()),
        );
        f.insert("scap.engine_name".into(), json!(ENGINE));
        f.insert("falco.num_evts".into(), json!(num_evts));
        f.insert(
            "falco.num_evts_prev".into(),
            json!(prev.map_or(0, |p| p.num_evts)),
        );
        if let Some(p) = prev.filter(|_| dt > 0.0) {
            f.insert(
                "falco.evts_rate_sec".into(),
                json!(round1(num_evts.saturating_sub(p.num_evts) as f64 / dt)),
            );
        }
        let n_evts = s.kernel.sent;
        let n_drops = s.kernel.lost();
        let d_evts = n_evts.saturating_sub(prev.map_or(0, |p| p.n_evts));
        let d_drops = n_drops.saturating_sub(prev.map_or(0, |p| p.n_drops));
        f.insert(
            "scap.n_drops_perc".into(),
            json!(if d_evts + d_drops > 0 {
                100.0 * d_drops as f64 / (d_evts + d_drops) as f64
            } else {
                0.0
            }),
        );

        if cfg.rules_counters_enabled {
            let mut total = 0;
            for ((rule, _), n) in &s.matches {
                total += n;
                put(
                    &mut f,
                    format!("falco.rules.{}", rule.replace(' ', "_")),
                    json!(n),
                );
            }
            f.insert("falco.rules.matches_total".into(), json!(total));
        }

        if cfg.resource_utilization_enabled {
            let me = host::self_usage();
            let age_s = (now_ns - s.started_ns).max(1) as f64 / 1e9;
            put(
                &mut f,
                "falco.cpu_usage_perc".into(),
                json!(round1(100.0 * s.cpu_s / age_s)),
            );
            let to_mb = cfg.convert_memory_to_mb;
            for (kb, name) in [
                ((s.rss_bytes.max(0) as u64) / 1024, "memory_rss"),
                (me.vsz_kb, "memory_vsz"),
                (me.pss_kb, "memory_pss"),
                (host::memory_used_kb(), "host_memory_used"),
            ] {
                let (k, v) = mem_field(kb, name, to_mb);
                put(&mut f, k, v);
            }
            let cgroup = host::container_memory_bytes();
            if to_mb {
                put(
                    &mut f,
                    "falco.container_memory_used_mb".into(),
                    json!(round1(cgroup as f64 / 1048576.0)),
                );
            } else {
                put(
                    &mut f,
                    "falco.container_memory_used_bytes".into(),
                    json!(cgroup),
                );
            }
            let h = host::cpu_and_procs();
            put(
                &mut f,
                "falco.host_cpu_usage_perc".into(),
                json!(round1(h.cpu_perc)),
            );
            put(
                &mut f,
                "falco.host_procs_running".into(),
                json!(h.procs_running),
            );
            put(
                &mut f,
                "falco.host_open_fds".into(),
                json!(host::open_fds()),
            );
        }

        if cfg.state_counters_enabled {
            let st = &s.state;
            put(&mut f, "falco.n_threads".into(), json!(st.table.processes));
            put(&mut f, "falco.n_fds".into(), json!(st.fds));
            put(
                &mut f,
                "falco.n_added_threads".into(),
                json!(st.table.created),
            );
            put(
                &mut f,
                "falco.n_removed_threads".into(),
                json!(st.table.reaped + st.table.evicted_exited + st.table.evicted_live),
            );
            put(
                &mut f,
                "falco.n_drops_full_threadtable".into(),
                json!(st.table.evicted_live),
            );
        }

        if cfg.kernel_event_counters_enabled || cfg.kernel_event_counters_per_cpu_enabled {
            f.insert("scap.n_evts".into(), json!(n_evts));
            f.insert(
                "scap.n_evts_prev".into(),
                json!(prev.map_or(0, |p| p.n_evts)),
            );
            f.insert("scap.n_drops".into(), json!(n_drops));
            f.insert(
                "scap.n_drops_prev".into(),
                json!(prev.map_or(0, |p| p.n_drops)),
            );
            let rate = |d: u64| if dt > 0.0 { round1(d as f64 / dt) } else { 0.0 };
            f.insert("scap.evts_rate_sec".into(), json!(rate(d_evts)));
            f.insert("scap.evts_drop_rate_sec".into(), json!(rate(d_drops)));
            put(
                &mut f,
                "scap.n_drops_buffer_total".into(),
                json!(s.kernel.ring_full),
            );
            put(
                &mut f,
                "scap.n_drops_scratch_map".into(),
                json!(s.kernel.stash_full),
            );
        }
        if cfg.kernel_event_counters_per_cpu_enabled {
            use saker_abi::counter;
            for (cpu, c) in s.kernel.per_cpu.iter().enumerate() {
                let at = |i: u32| c.get(i as usize).copied().unwrap_or(0);
                put(
                    &mut f,
                    format!("scap.n_evts_cpu_{cpu}"),
                    json!(at(counter::SENT)),
                );
                put(
                    &mut f,
                    format!("scap.n_drops_cpu_{cpu}"),
                    json!(at(counter::DROP_RING_FULL) + at(counter::DROP_STASH_FULL)),
                );
            }
        }

        if cfg.libbpf_stats_enabled {
            for (name, st) in host::bpf_program_stats() {
                put(&mut f, format!("scap.{name}.run_cnt"), json!(st.run_cnt));
                put(
                    &mut f,
                    format!("scap.{name}.run_time_ns"),
                    json!(st.run_time_ns),
                );
                put(
                    &mut f,
                    format!("scap.{name}.avg_time_ns"),
                    json!(st.run_time_ns.checked_div(st.run_cnt).unwrap_or(0)),
                );
            }
        }

        self.prev = Some(Prev {
            at_ns: now_ns,
            num_evts,
            n_evts,
            n_drops,
        });
        f
    }
}

/// Host and process facts from /proc, read at snapshot time only.
mod host {
    use std::collections::BTreeMap;

    fn read(path: &str) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `Key:   123 kB` lines of /proc files.
    fn kb(text: &str, key: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    pub fn kernel_release() -> String {
        read("/proc/sys/kernel/osrelease").trim().to_string()
    }

    pub fn boot_ts_ns() -> i64 {
        read("/proc/stat")
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<i64>().ok())
            .map_or(0, |s| s * 1_000_000_000)
    }

    pub fn num_cpus() -> u64 {
        std::thread::available_parallelism().map_or(0, |n| n.get() as u64)
    }

    pub struct SelfUsage {
        pub vsz_kb: u64,
        pub pss_kb: u64,
    }

    pub fn self_usage() -> SelfUsage {
        SelfUsage {
            vsz_kb: kb(&read("/proc/self/status"), "VmSize"),
            pss_kb: kb(&read("/proc/self/smaps_rollup"), "Pss"),
        }
    }

    pub fn memory_used_kb() -> u64 {
        let m = read("/proc/meminfo");
        kb(&m, "MemTotal").saturating_sub(kb(&m, "MemAvailable"))
    }

    /// Falco's container memory: the usage of the agent's own memory cgroup
    /// (`FALCO_CGROUP_MEM_PATH` names the file instead, as in Falco). Falco
    /// reads /sys/fs/cgroup/memory/memory.usage_in_bytes, which is the
    /// container's own only inside a container; on a host it is the whole
    /// machine's, so the agent's cgroup is looked up instead (v1 memory
    /// controller, else v2 `memory.current`).
    pub fn container_memory_bytes() -> u64 {
        if let Ok(path) = std::env::var("FALCO_CGROUP_MEM_PATH") {
            return read(&path).trim().parse().unwrap_or(0);
        }
        let cgroups = read("/proc/self/cgroup");
        let file = cgroups.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            if controllers.split(',').any(|c| c == "memory") {
                Some(format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"))
            } else {
                None
            }
        });
        let file = file.or_else(|| {
            let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
            ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
                .iter()
                .map(|root| format!("{root}{path}/memory.current"))
                .find(|f| std::path::Path::new(f).exists())
        });
        file.map_or(0, |f| read(&f).trim().parse().unwrap_or(0))
    }

    pub struct Host {
        pub cpu_perc: f64,
        pub procs_running: u64,
    }

    /// CPU busy share since boot (all CPUs) and running tasks, from /proc/stat.
    pub fn cpu_and_procs() -> Host {
        let stat = read("/proc/stat");
        let mut h = Host {
            cpu_perc: 0.0,
            procs_running: 0,
        };
        for l in stat.lines() {
            if let Some(rest) = l.strip_prefix("cpu ") {
                let v: Vec<f64> = rest
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let total: f64 = v.iter().sum();
                // idle + iowait are the 4th and 5th columns.
                let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
                if total > 0.0 {
                    h.cpu_perc = 100.0 * (total - idle) / total;
                }
            } else if let Some(n) = l.strip_prefix("procs_running ") {
                h.procs_running = n.trim().parse().unwrap_or(0);
            }
        }
        h
    }

    pub fn open_fds() -> u64 {
        read("/proc/sys/fs/file-nr")
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    #[derive(Default)]
    pub struct ProgStats {
        pub run_cnt: u64,
        pub run_time_ns: u64,
    }

    /// Our BPF programs' kernel statistics (only kept while
    /// /proc/sys/kernel/bpf_stats_enabled is 1), by program name, summed
    /// over programs of the same name; read from /proc/self/fdinfo.
    pub fn bpf_program_stats() -> BTreeMap<String, ProgStats> {
        let mut out = BTreeMap::new();
        if read("/proc/sys/kernel/bpf_stats_enabled").trim() != "1" {
            return out;
        }
        let Ok(fds) = std::fs::read_dir("/proc/self/fdinfo") else {
            return out;
        };
        for e in fds.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if !text.contains("\nprog_type:") {
                continue;
            }
            let field = |k: &str| -> u64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            };
            let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let name = prog_name(fd).unwrap_or_else(|| format!("prog_{}", field("prog_id")));
            let st: &mut ProgStats = out.entry(name).or_default();
            st.run_cnt += field("run_cnt");
            st.run_time_ns += field("run_time_ns");
        }
        out
    }

    /// The program's name (BPF_OBJ_GET_INFO_BY_FD on our own fd).
    fn prog_name(fd: i32) -> Option<String> {
        const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
        // `struct bpf_prog_info` up to and including `name` (bytes 64..80).
        let mut info = [0u8; 88];
        // bpf_attr.info: bpf_fd u32, info_len u32, info u64 (pointer).
        #[repr(C)]
        struct InfoAttr {
            bpf_fd: u32,
            info_len: u32,
            info: u64,
            _pad: [u64; 13],
        }
        let mut attr = InfoAttr {
            bpf_fd: fd as u32,
            info_len: info.len() as u32,
            info: info.as_mut_ptr() as u64,
            _pad: [0; 13],
        };
        // SAFETY: attr is a zero-tailed bpf_attr whose info pointer and
        // length describe `info`, which outlives the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_OBJ_GET_INFO_BY_FD,
                &mut attr as *mut InfoAttr,
                std::mem::size_of::<InfoAttr>(),
            )
        };
        if r != 0 {
            return None;
        }
        let name = &info[64..80];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        let s = String::from_utf8_lossy(&name[..end]).into_owned();
        (!s.is_empty()).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> saker_config::Metrics {
        saker_config::Metrics {
            enabled: true,
            ..Default::default()
        }
    }

    fn sample(records: u64, sent: u64, lost_ring: u64) -> Sample {
        Sample {
            records,
            kernel: crate::capture::Counters {
                sent,
                ring_full: lost_ring,
                ..Default::default()
            },
            started_ns: 1_000_000_000_000,
            matches: vec![(("Read sensitive file untrusted".into(), "Warning"), 3)],
            ..Default::default()
        }
    }

    #[test]
    fn rates_and_prev_come_from_the_previous_snapshot() {
        let mut b = Builder::new(cfg(), "h".into());
        let t0 = 1_000_000_000_000 + 5_000_000_000;
        let f1 = b.fields(&sample(100, 150, 0), t0);
        assert_eq!(f1["falco.num_evts"], json!(100));
        assert_eq!(f1["falco.num_evts_prev"], json!(0));
        assert!(!f1.contains_key("falco.evts_rate_sec"));
        assert_eq!(f1["falco.duration_sec"], json!(5));
        let f2 = b.fields(&sample(300, 450, 50), t0 + 2_000_000_000);
        assert_eq!(f2["falco.num_evts"], json!(300));
        assert_eq!(f2["falco.num_evts_prev"], json!(100));
        assert_eq!(f2["falco.evts_rate_sec"], json!(100.0));
        assert_eq!(f2["scap.n_evts"], json!(450));
        assert_eq!(f2["scap.n_evts_prev"], json!(150));
        assert_eq!(f2["scap.evts_rate_sec"], json!(150.0));
        assert_eq!(f2["scap.n_drops"], json!(50));
        assert_eq!(f2["scap.evts_drop_rate_sec"], json!(25.0));
        // 50 lost of 350 that happened in the interval.
        assert_eq!(f2["scap.n_drops_perc"], json!(100.0 * 50.0 / 350.0));
        assert_eq!(f2["scap.n_drops_buffer_total"], json!(50));
        assert_eq!(f2["falco.rules.Read_sensitive_file_untrusted"], json!(3));
        assert_eq!(f2["falco.rules.matches_total"], json!(3));
        assert_eq!(b.samples, 2);
    }

    #[test]
    fn empty_values_are_left_out_unless_asked_for() {
        let mut b = Builder::new(cfg(), "h".into());
        let f = b.fields(&sample(0, 0, 0), 2_000_000_000_000);
        // Headline counters stay, zero or not.
        for k in [
            "scap.n_evts",
            "scap.n_drops",
            "falco.num_evts",
            "scap.n_drops_perc",
        ] {
            assert!(f.contains_key(k), "{k} missing");
        }
        assert!(!f.contains_key("scap.n_drops_buffer_total"));
        assert!(!f.contains_key("falco.n_fds"));
        let mut all = cfg();
        all.include_empty_values = true;
        let f = Builder::new(all, "h".into()).fields(&sample(0, 0, 0), 2_000_000_000_000);
        assert_eq!(f["scap.n_drops_buffer_total"], json!(0));
        assert_eq!(f["falco.n_fds"], json!(0));
    }

    #[test]
    fn sections_follow_their_switches_and_memory_units() {
        let mut c = cfg();
        c.rules_counters_enabled = false;
        c.kernel_event_counters_enabled = false;
        c.state_counters_enabled = false;
        c.convert_memory_to_mb = false;
        let mut s = sample(1, 1, 0);
        s.rss_bytes = 10 * 1024 * 1024;
        let f = Builder::new(c, "h".into()).fields(&s, 2_000_000_000_000);
        assert!(!f.keys().any(|k| k.starts_with("falco.rules.")));
        assert!(!f.contains_key("scap.n_evts"));
        assert_eq!(f["falco.memory_rss_kb"], json!(10240));
        assert!(!f.contains_key("falco.memory_rss_mb"));
        let f = Builder::new(cfg(), "h".into()).fields(&s, 2_000_000_000_000);
        assert_eq!(f["falco.memory_rss_mb"], json!(10.0));
    }

    #[test]
    fn the_alert_has_falcos_internal_shape() {
        let mut b = Builder::new(cfg(), "host1".into());
        let now = 1_700_000_000_123_456_789;
        let fields = b.fields(&sample(5, 5, 0), now);
        let a = alert("host1", now, &fields);
        let v: Value = serde_json::from_str(&a.json).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "hostname",
                "output",
                "output_fields",
                "priority",
                "rule",
                "source",
                "time"
            ]
        );
        assert_eq!(v["rule"], SNAPSHOT_RULE);
        assert_eq!(v["priority"], "Informational");
        assert_eq!(v["source"], "internal");
        assert_eq!(v["output"], "Falco metrics snapshot");
        assert_eq!(v["time"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(v["output_fields"]["evt.time"], json!(now));
        assert_eq!(a.priority, 6);
        assert!(
            a.text.starts_with(
                "22:13:20.123456789: Informational Falco metrics snapshot (evt.hostname=\"host1\" "
            ),
            "{}",
            a.text
        );
        assert!(a.text.ends_with(')'));
    }
}
