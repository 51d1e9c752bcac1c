//! Runs one concrete case the way event-generator's HostRunner does: a
//! chain of processes (on the host or in the container), the last of which
//! runs the `before` script, creates the resources and does the syscall
//! steps. The work itself is done by tests/evtgen/workload.c; this side
//! turns the case into the workload's plan and collects what happened.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::suite::{Case, Y};

/// Where the suite runs: a scratch dir (bind-mounted at /eg in the
/// container) holding the workload binary and one directory per case.
pub struct Env {
    pub dir: PathBuf,
    pub container: Option<Ctr>,
}

pub struct Ctr {
    pub name: String,
    /// 64 hex.
    pub id: String,
    /// Host pid of the container's init, for its root via /proc/PID/root.
    pub pid: u32,
}

/// Inside the container the scratch dir is here.
pub const CTR_MOUNT: &str = "/eg";
/// The chain's root process, as event-generator itself is upstream.
pub const LAUNCHER: &str = "event-generator";

pub struct ProcSpec {
    pub name: Option<String>,
    pub exe: Option<String>,
    pub exe_path: Option<String>,
    pub args: Option<String>,
    pub user: Option<String>,
}

pub struct Expected {
    pub source: Option<String>,
    pub priority: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// The parts of a case the runner acts on.
pub struct Spec {
    pub rule: Option<String>,
    pub runner: Option<String>,
    pub run_if: Option<Y>,
    pub before: Option<String>,
    pub container: bool,
    pub procs: Vec<ProcSpec>,
    pub resources: Vec<Y>,
    pub steps: Vec<Y>,
    /// None: a negative case, nothing may fire.
    pub expected: Option<Expected>,
}

fn opt_str(y: Option<&Y>) -> Option<String> {
    match y {
        None | Some(Y::Null) => None,
        Some(v) => Some(v.text()),
    }
}

impl Spec {
    pub fn of(case: &Case) -> Spec {
        let ctx = case.field("context");
        let container = match ctx.and_then(|c| c.get("container")) {
            None | Some(Y::Null) => false,
            Some(Y::Map(_)) => true,
            Some(other) => panic!("{}: context.container {other:?}", case.name),
        };
        let procs = match ctx.and_then(|c| c.get("processes")) {
            Some(Y::Seq(ps)) => ps
                .iter()
                .map(|p| ProcSpec {
                    name: opt_str(p.get("name")),
                    exe: opt_str(p.get("exe")),
                    exe_path: opt_str(p.get("exePath")),
                    args: opt_str(p.get("args")),
                    user: opt_str(p.get("user")),
                })
                .collect(),
            _ => vec![],
        };
        let seq = |k: &str| match case.field(k) {
            Some(Y::Seq(v)) => v.clone(),
            _ => vec![],
        };
        let expected = match case.field("expectedOutcome") {
            None | Some(Y::Null) => None,
            Some(e) => Some(Expected {
                source: opt_str(e.get("source")),
                priority: opt_str(e.get("priority")),
                fields: match e.get("outputFields") {
                    Some(Y::Map(m)) => m.iter().map(|(k, v)| (k.clone(), v.text())).collect(),
                    _ => vec![],
                },
            }),
        };
        Spec {
            rule: opt_str(case.field("rule")),
            runner: opt_str(case.field("runner")),
            run_if: case.field("runIf").cloned(),
            before: opt_str(case.field("before")),
            container,
            procs,
            resources: seq("resources"),
            steps: seq("steps"),
            expected,
        }
    }

    /// Why the case does not run on this machine, from its `runIf`.
    pub fn not_runnable(&self) -> Option<String> {
        let run_if = match &self.run_if {
            None | Some(Y::Null) => return None,
            Some(r) => r,
        };
        let Y::Map(conds) = run_if else {
            return Some(format!("unsupported runIf {}", run_if.text()));
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        for (key, cond) in conds {
            let op = cond.get("op").map(Y::text);
            let val = cond.get("val").map(Y::text).unwrap_or_default();
            let ok = match (key.as_str(), op.as_deref()) {
                ("arch", Some("eq")) => arch == val,
                ("arch", Some("ne")) => arch != val,
                _ => return Some(format!("unsupported runIf {}", run_if.text())),
            };
            if !ok {
                return Some(format!("runIf {} is false on {arch}", run_if.text()));
            }
        }
        None
    }

    /// Cases that touch no shared path can run side by side (the slow
    /// ones sleep 6s in `before`): no resources, and only read-only opens.
    pub fn parallel_safe(&self) -> bool {
        !self.container
            && self.resources.is_empty()
            && self.steps.iter().all(|s| {
                let sc = s.get("syscall").map(Y::text).unwrap_or_default();
                let flags = s
                    .get("args")
                    .and_then(|a| a.get("flags").or_else(|| a.get("how")?.get("flags")))
                    .map(|f| int_arg(f).unwrap_or(-1))
                    .unwrap_or(0);
                sc.starts_with("open") && flags & 3 == 0 && flags & libc::O_CREAT as i64 == 0
            })
    }

    /// Every user the case's processes run as.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.procs.iter().filter_map(|p| p.user.as_deref())
    }
}

const FLAGS: &[(&str, i64)] = &[
    ("O_RDONLY", libc::O_RDONLY as i64),
    ("O_WRONLY", libc::O_WRONLY as i64),
    ("O_RDWR", libc::O_RDWR as i64),
    ("O_CREAT", libc::O_CREAT as i64),
    ("O_EXCL", libc::O_EXCL as i64),
    ("O_NOCTTY", libc::O_NOCTTY as i64),
    ("O_TRUNC", libc::O_TRUNC as i64),
    ("O_APPEND", libc::O_APPEND as i64),
    ("O_NONBLOCK", libc::O_NONBLOCK as i64),
    ("O_DIRECTORY", libc::O_DIRECTORY as i64),
    ("O_NOFOLLOW", libc::O_NOFOLLOW as i64),
    ("O_CLOEXEC", libc::O_CLOEXEC as i64),
    ("O_PATH", libc::O_PATH as i64),
    ("O_TMPFILE", libc::O_TMPFILE as i64),
    ("O_SYNC", libc::O_SYNC as i64),
    ("O_DSYNC", libc::O_DSYNC as i64),
    ("AF_UNIX", libc::AF_UNIX as i64),
    ("AF_INET", libc::AF_INET as i64),
    ("AF_INET6", libc::AF_INET6 as i64),
    ("AF_NETLINK", libc::AF_NETLINK as i64),
    ("AF_PACKET", libc::AF_PACKET as i64),
    ("SOCK_STREAM", libc::SOCK_STREAM as i64),
    ("SOCK_DGRAM", libc::SOCK_DGRAM as i64),
    ("SOCK_RAW", libc::SOCK_RAW as i64),
    ("SOCK_NONBLOCK", libc::SOCK_NONBLOCK as i64),
    ("SOCK_CLOEXEC", libc::SOCK_CLOEXEC as i64),
    ("AT_FDCWD", libc::AT_FDCWD as i64),
    ("AT_SYMLINK_FOLLOW", libc::AT_SYMLINK_FOLLOW as i64),
    ("AT_EMPTY_PATH", libc::AT_EMPTY_PATH as i64),
];

/// An integer syscall argument: a number or `A|B|C` symbolic flags.
fn int_arg(y: &Y) -> Result<i64, String> {
    match y {
        Y::Int(i) => Ok(*i),
        Y::Str(s) => s
            .split('|')
            .map(|part| {
                let part = part.trim();
                FLAGS
                    .iter()
                    .find(|(n, _)| *n == part)
                    .map(|(_, v)| *v)
                    .or_else(|| part.parse().ok())
                    .ok_or_else(|| format!("unknown constant {part:?}"))
            })
            .try_fold(0, |acc, v| v.map(|v| acc | v)),
        other => Err(format!("not an integer: {}", other.text())),
    }
}

/// File modes are written in octal (`mode: 0644`), which YAML 1.2 reads as
/// decimal 644: read the digits back as octal.
fn mode_arg(y: &Y) -> Result<i64, String> {
    match y {
        Y::Int(i) => i64::from_str_radix(&i.to_string(), 8).map_err(|e| e.to_string()),
        Y::Str(s) => i64::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|e| e.to_string()),
        other => Err(format!("bad mode {}", other.text())),
    }
}

/// `${ res.field }` binds a resource's fd; anything else is an integer.
fn fd_arg(y: &Y) -> Result<String, String> {
    if let Y::Str(s) = y {
        if let Some(inner) = s
            .trim()
            .strip_prefix("${")
            .and_then(|s| s.strip_suffix('}'))
        {
            return Ok(format!("${}", inner.trim()));
        }
    }
    int_arg(y).map(|i| i.to_string())
}

/// The step's arguments in the workload's positional order.
fn step_args(sc: &str, args: &Y) -> Result<Vec<String>, String> {
    let get = |k: &str| args.get(k);
    let s = |k: &str| -> Result<String, String> {
        get(k)
            .map(Y::text)
            .ok_or_else(|| format!("{sc}: missing {k}"))
    };
    let i = |k: &str, default: i64| -> Result<String, String> {
        get(k)
            .map(|v| int_arg(v).map(|n| n.to_string()))
            .unwrap_or(Ok(default.to_string()))
    };
    let fd = |k: &str, default: i64| -> Result<String, String> {
        get(k).map(fd_arg).unwrap_or(Ok(default.to_string()))
    };
    let mode = |y: Option<&Y>| -> Result<String, String> {
        y.map(|m| mode_arg(m).map(|n| n.to_string()))
            .unwrap_or(Ok("0".into()))
    };
    let cwd = libc::AT_FDCWD as i64;
    Ok(match sc {
        "open" => vec![s("pathname")?, i("flags", 0)?, mode(get("mode"))?],
        "openat" => vec![
            fd("dirfd", cwd)?,
            s("pathname")?,
            i("flags", 0)?,
            mode(get("mode"))?,
        ],
        "openat2" => {
            let how = get("how").cloned().unwrap_or(Y::Map(vec![]));
            vec![
                fd("dirfd", cwd)?,
                s("pathname")?,
                how.get("flags").map(int_arg).unwrap_or(Ok(0))?.to_string(),
                mode(how.get("mode"))?,
                how.get("resolve")
                    .map(int_arg)
                    .unwrap_or(Ok(0))?
                    .to_string(),
            ]
        }
        "link" => vec![s("oldPath")?, s("newPath")?],
        "linkat" => vec![
            fd("oldDirFd", cwd)?,
            s("oldPath")?,
            fd("newDirFd", cwd)?,
            s("newPath")?,
            i("flags", 0)?,
        ],
        "symlink" => vec![s("target")?, s("linkPath")?],
        "symlinkat" => vec![s("target")?, fd("newDirFd", cwd)?, s("linkPath")?],
        "dup2" => vec![fd("oldFd", -1)?, fd("newFd", -1)?],
        "dup3" => vec![fd("oldFd", -1)?, fd("newFd", -1)?, i("flags", 0)?],
        "socket" => vec![i("domain", 0)?, i("type", 0)?, i("protocol", 0)?],
        other => return Err(format!("unsupported syscall {other}")),
    })
}

/// `ip:port` or `[ip6]:port`.
pub fn split_addr(addr: &str) -> Result<(String, u16), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("bad address {addr}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().map_err(|_| format!("bad port in {addr}"))?;
    Ok((host.to_string(), port))
}

/// event-generator splits `args` on spaces, keeping quoted groups whole.
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = args.trim_start();
    while !rest.is_empty() {
        let (word, tail) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => match rest[1..].find(q) {
                Some(end) => (&rest[1..1 + end], &rest[2 + end..]),
                None => rest.split_at(rest.find(' ').unwrap_or(rest.len())),
            },
            _ => rest.split_at(rest.find(' ').unwrap_or(rest.len())),
        };
        out.push(word.to_string());
        rest = tail.trim_start();
    }
    out
}

/// uid:gid of `user` in a passwd file.
pub fn lookup_user(passwd: &str, user: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// What one run of a case left behind.
pub struct Outcome {
    /// The process the expected alert is about (host pid, or the pid in the
    /// container's namespace).
    pub subject: Option<u32>,
    /// Setup or workload problems: the case fails with these.
    pub errors: Vec<String>,
}

/// Host paths the case may create (resource parents, link targets...),
/// removed afterwards so the machine is left as found.
struct HostUndo {
    remove_files: Vec<PathBuf>,
    remove_dirs: Vec<PathBuf>,
}

impl HostUndo {
    /// Creates `dir` and its missing parents, remembering the topmost new one.
    fn mkdir_all(&mut self, dir: &Path) -> std::io::Result<()> {
        let mut first_missing = None;
        for anc in dir.ancestors() {
            if anc.exists() {
                break;
            }
            first_missing = Some(anc.to_path_buf());
        }
        std::fs::create_dir_all(dir)?;
        if let Some(d) = first_missing {
            self.remove_dirs.push(d);
        }
        Ok(())
    }

    fn remove_later_if_new(&mut self, path: &str) {
        if std::fs::symlink_metadata(path).is_err() {
            self.remove_files.push(path.into());
        }
    }
}

impl Drop for HostUndo {
    fn drop(&mut self) {
        for f in &self.remove_files {
            let _ = std::fs::remove_file(f);
        }
        for d in self.remove_dirs.iter().rev() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn check_field(v: &str) -> Result<&str, String> {
    if v.contains(['\t', '\n']) {
        Err(format!("value {v:?} has a tab or newline"))
    } else {
        Ok(v)
    }
}

fn ctr_root(ctr: &Ctr) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root", ctr.pid))
}

/// The plan for the workload, plus the host-side preparation it needs.
fn prepare(
    env: &Env,
    idx: usize,
    spec: &Spec,
    undo: &mut HostUndo,
) -> Result<(PathBuf, String), String> {
    let host_dir = env.dir.join(format!("c{idx}"));
    std::fs::create_dir_all(&host_dir).map_err(|e| e.to_string())?;
    // Paths as the workload sees them.
    let seen = |p: &Path| -> String {
        match &env.container {
            Some(_) if spec.container => {
                let rel = p.strip_prefix(&env.dir).unwrap();
                format!("{CTR_MOUNT}/{}", rel.display())
            }
            _ => p.display().to_string(),
        }
    };
    let workload = env.dir.join("bin").join(LAUNCHER);
    let passwd = if spec.container {
        let ctr = env.container.as_ref().ok_or("no container")?;
        std::fs::read_to_string(ctr_root(ctr).join("etc/passwd")).map_err(|e| e.to_string())?
    } else {
        std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?
    };
    let mut plan: Vec<Vec<String>> = vec![vec!["R".into(), seen(&host_dir.join("result"))]];
    for (i, p) in spec.procs.iter().enumerate() {
        let name = p
            .name
            .clone()
            .or_else(|| {
                p.exe_path
                    .as_deref()
                    .map(|e| e.rsplit('/').next().unwrap().to_string())
            })
            .unwrap_or_else(|| LAUNCHER.to_string());
        let argv0 = p.exe.clone().unwrap_or_else(|| name.clone());
        let exec_path = match (&env.container, spec.container, &p.exe) {
            // A dropped binary: a fresh copy in the container's writable
            // layer, at the path the case names as its exe.
            (Some(ctr), true, Some(exe)) if exe.starts_with('/') && !exe.starts_with("/dev/") => {
                let dst = ctr_root(ctr).join(exe.trim_start_matches('/'));
                std::fs::create_dir_all(dst.parent().unwrap()).map_err(|e| e.to_string())?;
                let _ = std::fs::remove_file(&dst);
                std::fs::copy(&workload, &dst).map_err(|e| format!("copy to {exe}: {e}"))?;
                let dir = Path::new(exe).parent().unwrap();
                if exe.rsplit('/').next() == Some(name.as_str()) {
                    exe.clone()
                } else {
                    let link = dir.join(&name);
                    let host_link = ctr_root(ctr).join(link.strip_prefix("/").unwrap());
                    let _ = std::fs::remove_file(&host_link);
                    std::os::unix::fs::symlink(exe, &host_link).map_err(|e| e.to_string())?;
                    link.display().to_string()
                }
            }
            _ => {
                let d = host_dir.join(format!("p{i}"));
                std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
                let link = d.join(&name);
                std::fs::hard_link(&workload, &link)
                    .map_err(|e| format!("link {}: {e}", link.display()))?;
                seen(&link)
            }
        };
        let user = match &p.user {
            None => "-".to_string(),
            Some(u) => {
                let (uid, gid) = lookup_user(&passwd, u).ok_or(format!("no user {u}"))?;
                format!("{uid}:{gid}")
            }
        };
        let mut rec = vec!["P".into(), exec_path, user, argv0];
        rec.extend(p.args.as_deref().map(split_args).unwrap_or_default());
        plan.push(rec);
    }
    if let Some(b) = &spec.before {
        plan.push(vec!["B".into(), b.clone()]);
    }
    for r in &spec.resources {
        let name = r.get("name").map(Y::text).unwrap_or_default();
        let kind = r.get("type").map(Y::text).unwrap_or_default();
        match kind.as_str() {
            "fd" => {
                let sub = r.get("subtype").map(Y::text).unwrap_or_default();
                let (tag, key) = match sub.as_str() {
                    "file" => ("F", "filePath"),
                    "directory" => ("D", "dirPath"),
                    other => return Err(format!("unsupported fd resource subtype {other}")),
                };
                let path = r.get(key).map(Y::text).ok_or(format!("{name}: no {key}"))?;
                if !spec.container {
                    let dir = if tag == "D" {
                        Path::new(&path)
                    } else {
                        Path::new(&path).parent().unwrap_or(Path::new("/"))
                    };
                    undo.mkdir_all(dir)
                        .map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
                }
                plan.push(vec![tag.into(), name, path]);
            }
            "clientServer" => {
                let proto = r.get("l4Proto").map(Y::text).unwrap_or_default();
                let (domain, ty) = match proto.as_str() {
                    "tcp4" => (libc::AF_INET, libc::SOCK_STREAM),
                    "tcp6" => (libc::AF_INET6, libc::SOCK_STREAM),
                    other => return Err(format!("unsupported clientServer l4Proto {other}")),
                };
                let addr = r.get("address").map(Y::text).unwrap_or_default();
                let (ip, port) = split_addr(&addr)?;
                plan.push(vec![
                    "C".into(),
                    name,
                    domain.to_string(),
                    ty.to_string(),
                    ip,
                    port.to_string(),
                ]);
            }
            "process" if r.get("fileLess") == Some(&Y::Bool(true)) => {
                plan.push(vec!["M".into(), name]);
            }
            other => return Err(format!("unsupported resource type {other}")),
        }
    }
    for s in &spec.steps {
        if s.get("type").map(Y::text).as_deref() != Some("syscall") {
            return Err(format!("unsupported step {}", s.text()));
        }
        let sc = s.get("syscall").map(Y::text).unwrap_or_default();
        let name = s.get("name").map(Y::text).unwrap_or_default();
        let args = s.get("args").cloned().unwrap_or(Y::Map(vec![]));
        let a = step_args(&sc, &args)?;
        if !spec.container {
            // What the steps create on the host goes away after the case.
            match sc.as_str() {
                "link" | "linkat" => undo.remove_later_if_new(&a[if sc == "link" { 1 } else { 3 }]),
                "symlink" | "symlinkat" => undo.remove_later_if_new(a.last().unwrap()),
                "open" | "openat" | "openat2" => {
                    let (path, flags) = if sc == "open" {
                        (&a[0], &a[1])
                    } else {
                        (&a[1], &a[2])
                    };
                    if flags.parse::<i64>().unwrap_or(0) & libc::O_CREAT as i64 != 0 {
                        undo.remove_later_if_new(path);
                    }
                }
                _ => {}
            }
        }
        let mut rec = vec!["S".into(), sc, name];
        rec.extend(a);
        plan.push(rec);
    }
    let mut text = String::new();
    for rec in &plan {
        let fields: Result<Vec<&str>, String> = rec.iter().map(|f| check_field(f)).collect();
        text.push_str(&fields?.join("\t"));
        text.push('\n');
    }
    let plan_path = host_dir.join("plan");
    std::fs::write(&plan_path, text).map_err(|e| e.to_string())?;
    Ok((host_dir, seen(&plan_path)))
}

fn wait_with_timeout(mut cmd: Command, timeout: Duration) -> Result<std::process::Output, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.map_err(|e| e.to_string()),
        Err(_) => {
            // SAFETY: our own child, still unreaped (its waiter is blocked).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            Err(format!("workload did not finish within {timeout:?}"))
        }
    }
}

/// Runs one case to completion.
pub fn run_case(env: &Env, idx: usize, spec: &Spec) -> Outcome {
    let mut undo = HostUndo {
        remove_files: vec![],
        remove_dirs: vec![],
    };
    let mut errors = Vec::new();
    let started = Instant::now();
    let (host_dir, plan) = match prepare(env, idx, spec, &mut undo) {
        Ok(p) => p,
        Err(e) => {
            return Outcome {
                subject: None,
                errors: vec![format!("setup: {e}")],
            }
        }
    };
    let cmd = match (&env.container, spec.container) {
        (Some(ctr), true) => {
            let mut c = Command::new("podman");
            c.args(["--runtime", "runc", "exec", "-e"])
                .arg(format!("EG_PLAN={plan}"))
                .arg(&ctr.name)
                .arg(format!("{CTR_MOUNT}/bin/{LAUNCHER}"));
            c
        }
        (None, true) => {
            return Outcome {
                subject: None,
                errors: vec!["no container".into()],
            }
        }
        _ => {
            let mut c = Command::new(env.dir.join("bin").join(LAUNCHER));
            c.env("EG_PLAN", &plan).env_remove("EG_DEPTH");
            c
        }
    };
    match wait_with_timeout(cmd, Duration::from_secs(60)) {
        Ok(out) if !out.status.success() => errors.push(format!(
            "workload exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => {}
        Err(e) => errors.push(e),
    }
    let result = std::fs::read_to_string(host_dir.join("result")).unwrap_or_default();
    let mut subject = None;
    for line in result.lines() {
        let mut w = line.splitn(2, ' ');
        match (w.next(), w.next()) {
            (Some("subject"), Some(pid)) => subject = pid.trim().parse().ok(),
            (Some("error"), Some(e)) => errors.push(e.to_string()),
            (Some("step"), Some(rest)) => {
                let f: Vec<&str> = rest.split(' ').collect();
                if f.len() == 3 && f[1].starts_with('-') {
                    let errno: i32 = f[2].parse().unwrap_or(0);
                    errors.push(format!(
                        "step {} failed: {}",
                        f[0],
                        std::io::Error::from_raw_os_error(errno)
                    ));
                }
            }
            _ => {}
        }
    }
    if subject.is_none() {
        errors.push(format!(
            "the workload reported no subject process (after {:?})",
            started.elapsed()
        ));
    }
    let _ = std::fs::remove_dir_all(&host_dir);
    Outcome { subject, errors }
}

/// Host changes the suite needs (missing users, local addresses for
/// clientServer resources), undone on drop.
#[derive(Default)]
pub struct HostSetup {
    users: Vec<String>,
    addrs: Vec<String>,
}

impl HostSetup {
    /// event-generator creates a missing user before the test and deletes
    /// it after. Done before the agent starts, as on a prepared machine.
    pub fn add_user(&mut self, user: &str) -> Result<(), String> {
        let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
        if lookup_user(&passwd, user).is_some() {
            return Ok(());
        }
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "useradd {user}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.users.push(user.to_string());
        Ok(())
    }

    /// event-generator puts a clientServer address that is not local on a
    /// new dummy link; this kernel has no dummy links, so it goes on lo
    /// (same effect: a local address the server binds and the client
    /// reaches).
    pub fn ensure_local_addr(&mut self, ip: &str) -> Result<(), String> {
        let shown = Command::new("ip")
            .args(["-o", "addr", "show"])
            .output()
            .map_err(|e| format!("ip addr: {e}"))?;
        let text = String::from_utf8_lossy(&shown.stdout);
        if text
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(ip))
        {
            return Ok(());
        }
        let cidr = if ip.contains(':') {
            format!("{ip}/128")
        } else {
            format!("{ip}/32")
        };
        let out = Command::new("ip")
            .args(["addr", "add", &cidr, "dev", "lo"])
            .output()
            .map_err(|e| format!("ip addr add: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip addr add {cidr} dev lo: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.addrs.push(cidr);
        Ok(())
    }
}

impl Drop for HostSetup {
    fn drop(&mut self) {
        for u in &self.users {
            let _ = Command::new("userdel").arg(u).output();
        }
        for a in &self.addrs {
            let _ = Command::new("ip")
                .args(["addr", "del", a, "dev", "lo"])
                .output();
        }
    }
}

/// Users the container cases run as that the image lacks are added to the
/// container's own passwd/group (as event-generator creates them), with
/// the host's ids when the host has the user.
pub fn add_container_users(ctr: &Ctr, users: &BTreeSet<String>) -> Result<(), String> {
    let root = ctr_root(ctr);
    let passwd_path = root.join("etc/passwd");
    let group_path = root.join("etc/group");
    let mut passwd = std::fs::read_to_string(&passwd_path).map_err(|e| e.to_string())?;
    let mut group = std::fs::read_to_string(&group_path).unwrap_or_default();
    let host = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut next = 2000;
    for u in users {
        if lookup_user(&passwd, u).is_some() {
            continue;
        }
        let (uid, gid) = lookup_user(&host, u).unwrap_or_else(|| {
            next += 1;
            (next, next)
        });
        passwd.push_str(&format!("{u}:x:{uid}:{gid}:{u}:/:/bin/sh\n"));
        group.push_str(&format!("{u}:x:{gid}:\n"));
    }
    std::fs::write(&passwd_path, passwd).map_err(|e| e.to_string())?;
    std::fs::write(&group_path, group).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_like_event_generator() {
        assert_eq!(split_args("-e /bin/sh"), ["-e", "/bin/sh"]);
        assert_eq!(split_args("a \"b c\" 'd'"), ["a", "b c", "d"]);
        assert_eq!(split_args("BEGIN RSA PRIVATE"), ["BEGIN", "RSA", "PRIVATE"]);
    }

    #[test]
    fn constants() {
        assert_eq!(
            int_arg(&Y::Str("O_WRONLY|O_CREAT|O_TRUNC".into())).unwrap(),
            (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as i64
        );
        assert_eq!(mode_arg(&Y::Int(644)).unwrap(), 0o644);
        assert_eq!(split_addr("[::1]:9999").unwrap(), ("::1".to_string(), 9999));
        assert_eq!(
            fd_arg(&Y::Str("${ cs.client.fd }".into())).unwrap(),
            "$cs.client.fd"
        );
    }
}
