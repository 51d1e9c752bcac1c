//! `cargo bench -p saker-rules --bench rules`: the whole stable Falco ruleset
//! over a synthetic but realistic event mix, with and without the evt.type
//! index. Reports ns/event and events/s on one core.
//!
//! Two sources are measured: `SyntheticEvent` (the test helper; every field
//! lookup formats and hashes the field name, so it overstates the cost) and
//! `Prepared`, the same values in a table indexed by field id, which is how
//! the agent's state tables answer (state already populated).

use rustc_hash::FxHashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use saker_filter::fields::{FieldArg, FieldRef, FieldSource, OwnedValue, SyntheticEvent, Values};
use saker_rules::{load, Engine, LoadOptions};

fn upstream() -> PathBuf {
    std::env::var("SAKER_FALCO_UPSTREAM").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/falco-upstream"),
        PathBuf::from,
    )
}

/// A process with populated state, as the state tables would hold it.
fn proc(
    ev: &str,
    name: &str,
    exe: &str,
    args: &str,
    parent: &str,
    ancestors: &[&str],
) -> SyntheticEvent {
    let cmdline = if args.is_empty() {
        name.to_string()
    } else {
        format!("{name} {args}")
    };
    let mut e = SyntheticEvent::new(ev);
    e.try_set("proc.name", &[name]).unwrap();
    e.try_set("proc.exe", &[exe]).unwrap();
    e.try_set("proc.exepath", &[exe]).unwrap();
    e.try_set("proc.args", &[args]).unwrap();
    e.try_set("proc.cmdline", &[&cmdline]).unwrap();
    e.try_set("proc.pname", &[parent]).unwrap();
    e.try_set("proc.pcmdline", &[parent]).unwrap();
    e.try_set("proc.pexe", &[&format!("/usr/bin/{parent}")])
        .unwrap();
    e.try_set("proc.aname", ancestors).unwrap();
    e.try_set("proc.pid", &["4242"]).unwrap();
    e.try_set("proc.vpid", &["4242"]).unwrap();
    e.try_set("proc.tty", &["0"]).unwrap();
    e.try_set("proc.sname", &[parent]).unwrap();
    e.try_set("user.name", &["www-data"]).unwrap();
    e.try_set("user.uid", &["33"]).unwrap();
    e.try_set("user.loginuid", &["-1"]).unwrap();
    e.try_set("container.id", &["3ad7b26ded6d"]).unwrap();
    e.try_set("container.image.repository", &["docker.io/library/nginx"])
        .unwrap();
    e.try_set("evt.rawres", &["0"]).unwrap();
    e.try_set("evt.res", &["SUCCESS"]).unwrap();
    e
}

fn open(name: &str, path: &str, flags: &str, read: bool) -> SyntheticEvent {
    let mut e = proc(
        "openat",
        name,
        &format!("/usr/sbin/{name}"),
        "",
        "containerd-shim",
        &["containerd-shim", "systemd"],
    );
    let (dir, file) = path.rsplit_once('/').unwrap_or(("/", path));
    e.try_set("fd.name", &[path]).unwrap();
    e.try_set("fd.directory", &[if dir.is_empty() { "/" } else { dir }])
        .unwrap();
    e.try_set("fd.filename", &[file]).unwrap();
    e.try_set("fd.typechar", &["f"]).unwrap();
    e.try_set("fd.type", &["file"]).unwrap();
    e.try_set("fd.num", &["7"]).unwrap();
    e.try_set("evt.arg.flags", &[flags]).unwrap();
    e.try_set("evt.is_open_read", &[if read { "true" } else { "false" }])
        .unwrap();
    e.try_set("evt.is_open_write", &[if read { "false" } else { "true" }])
        .unwrap();
    e
}

fn exec(name: &str, args: &str, parent: &str) -> SyntheticEvent {
    let mut e = proc(
        "execve",
        name,
        &format!("/usr/bin/{name}"),
        args,
        parent,
        &[parent, "containerd-shim", "systemd"],
    );
    e.try_set("evt.arg.filename", &[&format!("/usr/bin/{name}")])
        .unwrap();
    e
}

fn connect(name: &str, ip: &str, port: &str) -> SyntheticEvent {
    let mut e = proc(
        "connect",
        name,
        &format!("/usr/bin/{name}"),
        "",
        "bash",
        &["bash", "sshd", "systemd"],
    );
    for (k, v) in [
        ("fd.sip", ip),
        ("fd.snet", ip),
        ("fd.rip", ip),
        ("fd.sport", port),
        ("fd.rport", port),
        ("fd.lport", "51234"),
        ("fd.l4proto", "tcp"),
        ("fd.sockfamily", "ip"),
        ("fd.typechar", "4"),
        ("fd.type", "ipv4"),
        ("fd.name", &format!("10.0.0.5:51234->{ip}:{port}")),
        ("fd.connected", "true"),
    ] {
        e.try_set(k, &[v]).unwrap();
    }
    e
}

/// A mix weighted like a busy container host after in-kernel filtering.
fn mix() -> Vec<SyntheticEvent> {
    let mut v = Vec::new();
    for p in [
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/etc/ld.so.cache",
        "/proc/self/stat",
        "/etc/nginx/nginx.conf",
        "/var/www/html/index.html",
        "/usr/share/zoneinfo/UTC",
    ] {
        for n in ["nginx", "python3", "java"] {
            v.push(open(n, p, "O_RDONLY|O_CLOEXEC", true));
        }
    }
    for (p, n) in [
        ("/var/log/nginx/access.log", "nginx"),
        ("/tmp/cache.bin", "python3"),
        ("/var/lib/app/state.db", "java"),
    ] {
        v.push(open(n, p, "O_WRONLY|O_CREAT|O_APPEND", false));
    }
    for (n, a, p) in [
        ("ls", "-la /tmp", "bash"),
        ("cat", "/etc/hostname", "sh"),
        ("grep", "-r foo .", "bash"),
        ("date", "", "cron"),
        ("sh", "-c /usr/local/bin/healthcheck", "containerd-shim"),
        ("python3", "app.py", "tini"),
    ] {
        v.push(exec(n, a, p));
    }
    for (n, ip, port) in [
        ("curl", "93.184.216.34", "443"),
        ("python3", "10.96.0.10", "53"),
        ("java", "10.0.3.7", "5432"),
    ] {
        v.push(connect(n, ip, port));
    }
    v.push(proc(
        "dup2",
        "bash",
        "/usr/bin/bash",
        "",
        "sshd",
        &["sshd", "systemd"],
    ));
    v.push(proc(
        "socket",
        "python3",
        "/usr/bin/python3",
        "",
        "tini",
        &["tini"],
    ));
    v.push(proc(
        "close",
        "nginx",
        "/usr/sbin/nginx",
        "",
        "containerd-shim",
        &["containerd-shim"],
    ));
    v
}

/// The same event, answered from a table indexed by field id.
struct Prepared {
    evt_type: String,
    by_id: Vec<Option<Vec<OwnedValue>>>,
    with_arg: FxHashMap<FieldRef, Vec<OwnedValue>>,
}

impl Prepared {
    fn new(ev: &SyntheticEvent, engine: &Engine) -> Prepared {
        let mut p = Prepared {
            evt_type: ev.evt_type().to_string(),
            by_id: Vec::new(),
            with_arg: FxHashMap::default(),
        };
        let mut refs: Vec<FieldRef> = Vec::new();
        for r in engine.rules() {
            refs.extend(r.filter.fields_used().iter().cloned());
        }
        for f in refs {
            let mut vals = Values::new();
            if !ev.extract(&f, &mut vals) {
                continue;
            }
            let owned: Vec<OwnedValue> = vals.iter().map(to_owned).collect();
            if f.arg == FieldArg::None {
                let i = f.id as usize;
                if p.by_id.len() <= i {
                    p.by_id.resize(i + 1, None);
                }
                p.by_id[i] = Some(owned);
            } else {
                p.with_arg.insert(f, owned);
            }
        }
        p
    }
}

fn to_owned(v: &saker_filter::Value<'_>) -> OwnedValue {
    use saker_filter::Value as V;
    match *v {
        V::Str(s) => OwnedValue::Str(s.to_string()),
        V::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
        V::U64(n) => OwnedValue::U64(n),
        V::I64(n) => OwnedValue::I64(n),
        V::Bool(b) => OwnedValue::Bool(b),
        V::Ip(ip) => OwnedValue::Ip(ip),
    }
}

impl FieldSource for Prepared {
    fn evt_type(&self) -> &str {
        &self.evt_type
    }
    fn extract<'a>(&'a self, f: &FieldRef, out: &mut Values<'a>) -> bool {
        let vals = if f.arg == FieldArg::None {
            self.by_id.get(f.id as usize).and_then(Option::as_ref)
        } else {
            self.with_arg.get(f)
        };
        match vals {
            Some(v) => {
                out.extend(v.iter().map(OwnedValue::as_value));
                true
            }
            None => false,
        }
    }
}

/// Runs `f` over the mix until `budget` has passed; returns ns/event.
fn measure<S: FieldSource>(
    events: &[S],
    budget: Duration,
    mut f: impl FnMut(&S) -> usize,
) -> (f64, usize) {
    let mut n = 0u64;
    let mut matches = 0usize;
    let start = Instant::now();
    while start.elapsed() < budget {
        for e in events {
            matches += black_box(f(black_box(e)));
        }
        n += events.len() as u64;
    }
    (start.elapsed().as_nanos() as f64 / n as f64, matches)
}

fn report(label: &str, ns: f64) {
    println!("{label:<44} {ns:>9.1} ns/event {:>12.0} events/s", 1e9 / ns);
}

fn main() {
    // `cargo bench` passes `--bench`; a quick smoke run under `cargo test` needs less time.
    let quick = !std::env::args().any(|a| a == "--bench");
    let budget = Duration::from_millis(if quick { 50 } else { 2000 });
    let path = upstream().join("falco_rules.yaml");
    let t = Instant::now();
    let loaded = match load(std::slice::from_ref(&path), &LoadOptions::default()) {
        Ok(l) => l,
        Err(d) => panic!("{}: {}", path.display(), d.render(false)),
    };
    println!(
        "loaded {} ({} rules, {} macros, {} lists) in {:.1} ms",
        path.display(),
        loaded.counts.rules,
        loaded.counts.macros,
        loaded.counts.lists,
        t.elapsed().as_secs_f64() * 1e3
    );
    let engine = &loaded.engine;
    let synthetic = mix();
    let prepared: Vec<Prepared> = synthetic.iter().map(|e| Prepared::new(e, engine)).collect();
    println!(
        "event mix: {} events per round, {} active rules",
        synthetic.len(),
        engine.active_count()
    );

    // Fixed work for instruction counting under callgrind (the shared VM has
    // no hardware counters and wall-clock figures are noisy):
    // SAKER_BENCH_ROUNDS=N SAKER_BENCH_MODE=index|noindex valgrind --tool=callgrind ...
    if let Some(rounds) = std::env::var("SAKER_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<u64>().ok())
    {
        let index = std::env::var("SAKER_BENCH_MODE").map_or(true, |m| m != "noindex");
        let mut n = 0usize;
        for _ in 0..rounds {
            for e in &prepared {
                n += if index {
                    engine.evaluate(e, |r| {
                        black_box(r);
                    })
                } else {
                    engine.evaluate_unindexed(e, |r| {
                        black_box(r);
                    })
                };
            }
        }
        let events = rounds * prepared.len() as u64;
        println!("{rounds} rounds, {events} events, {n} matches");
        return;
    }

    let (a, m1) = measure(&prepared, budget, |e| {
        engine.evaluate(e, |r| {
            black_box(r);
        })
    });
    let (b, m2) = measure(&prepared, budget, |e| {
        engine.evaluate_unindexed(e, |r| {
            black_box(r);
        })
    });
    let (c, _) = measure(&synthetic, budget, |e| {
        engine.evaluate(e, |r| {
            black_box(r);
        })
    });
    let (d, _) = measure(&synthetic, budget, |e| {
        engine.evaluate_unindexed(e, |r| {
            black_box(r);
        })
    });
    report("prepared source, evt.type index", a);
    report("prepared source, no index (every rule)", b);
    report("SyntheticEvent, evt.type index", c);
    report("SyntheticEvent, no index (every rule)", d);
    // Where the time goes: the most expensive rules on the events they index.
    let mut per_rule: Vec<(f64, &str)> = engine
        .active_rules()
        .map(|r| {
            let evs: Vec<&Prepared> = prepared
                .iter()
                .filter(|e| r.evt_types.contains(&e.evt_type))
                .collect();
            if evs.is_empty() {
                return (0.0, r.name.as_str());
            }
            let (ns, _) = measure(&evs, budget / 10, |e| r.filter.matches(*e) as usize);
            (
                ns * evs.len() as f64 / prepared.len() as f64,
                r.name.as_str(),
            )
        })
        .collect();
    per_rule.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ns, name) in per_rule.iter().take(5) {
        println!("  {ns:>8.1} ns/event (mix-weighted) {name}");
    }
    println!(
        "index speed-up: {:.1}x (prepared), {:.1}x (synthetic); matches seen: {}",
        b / a,
        d / c,
        (m1 > 0) as u8 + (m2 > 0) as u8
    );
}
