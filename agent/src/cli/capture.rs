//! `saker capture`: raw syscall events as JSON lines, for the whole node or one
//! container, with the loss counters at exit and on SIGUSR1.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use saker_abi::{kind, syscalls, ArgKind, Record};
use saker_state::decode::{Argv, OpenHow, SockAddr};
use tokio::signal::unix::{signal, SignalKind};

use crate::capture::reader::{Flow, Reader};
use crate::capture::{Counters, Probe, ProbeOptions, Scope, SyscallSet};
use saker_state::Clock;

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Only trace the PID namespace of this process (sidecar mode: a container's init).
    #[arg(long, conflicts_with_all = ["target_pidns", "containers_only"])]
    pub target_pid: Option<u32>,
    /// Only trace this PID namespace, given as a path like /proc/PID/ns/pid.
    #[arg(long, conflicts_with = "containers_only")]
    pub target_pidns: Option<PathBuf>,
    /// Only trace processes outside the host's PID namespace.
    #[arg(long)]
    pub containers_only: bool,
    /// Comma-separated syscalls to capture (default: every one saker knows
    /// except read/write/pread/pwrite).
    #[arg(long, value_name = "LIST")]
    pub syscalls: Option<String>,
    /// Stop after this long (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Ring buffer size in bytes (power of two).
    #[arg(long, default_value_t = 8 << 20)]
    pub ring_bytes: u32,
    /// Also keep the process, fd and container tables and print, per event,
    /// the fields rules will see (`"saker.fields": "proc.name=cat fd.name=..."`).
    #[arg(long)]
    pub enrich: bool,
}

pub fn scope_from(
    target_pid: Option<u32>,
    target_pidns: Option<PathBuf>,
    containers_only: bool,
) -> anyhow::Result<Scope> {
    if let Some(pid) = target_pid {
        let path = PathBuf::from(format!("/proc/{pid}/ns/pid"));
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            bail!("--target-pid {pid}: no such process (no /proc/{pid})");
        }
        return Ok(Scope::TargetPidns(path));
    }
    if let Some(path) = target_pidns {
        if !path.exists() {
            bail!("--target-pidns {}: no such file", path.display());
        }
        return Ok(Scope::TargetPidns(path));
    }
    Ok(if containers_only {
        Scope::Containers
    } else {
        Scope::Host
    })
}

/// Whether `cargo xtask bench capture` asked for its floor probe
/// (`SAKER_CAPTURE_FLOOR=string`). Only `saker capture` reads this; the
/// agent (`saker run`) never runs the probe.
fn floor_probe_from_env() -> anyhow::Result<bool> {
    match std::env::var("SAKER_CAPTURE_FLOOR").ok().as_deref() {
        None | Some("") => Ok(false),
        Some("string") => Ok(true),
        Some(other) => bail!("SAKER_CAPTURE_FLOOR={other:?}: the only floor probe is \"string\""),
    }
}

pub fn run(args: CaptureArgs) -> anyhow::Result<ExitCode> {
    let syscalls = match &args.syscalls {
        Some(list) => {
            SyscallSet::parse_list(list).map_err(|e| anyhow::anyhow!("--syscalls: {e}"))?
        }
        None => SyscallSet::all(),
    };
    if !args.ring_bytes.is_power_of_two() || args.ring_bytes < 4096 {
        bail!(
            "--ring-bytes {}: must be a power of two of at least 4096",
            args.ring_bytes
        );
    }
    let scope = scope_from(
        args.target_pid,
        args.target_pidns.clone(),
        args.containers_only,
    )?;
    let opts = ProbeOptions {
        scope,
        syscalls,
        // Capture shows every call it is asked for.
        addressed_only: SyscallSet::empty(),
        ring_bytes: args.ring_bytes,
        floor_probe: floor_probe_from_env()?,
    };
    let mut probe = Probe::load(&opts)?;
    let ring = probe.take_ring()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(capture_loop(&probe, ring, args.duration, args.enrich))?;
    Ok(ExitCode::SUCCESS)
}

async fn capture_loop(
    probe: &Probe,
    ring: aya::maps::RingBuf<aya::maps::MapData>,
    duration: Option<Duration>,
    enrich: bool,
) -> anyhow::Result<()> {
    let mut reader = Reader::new(ring)?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let deadline = tokio::time::sleep(duration.unwrap_or(Duration::from_secs(100 * 365 * 86400)));
    tokio::pin!(deadline);
    let stdout = std::io::stdout();
    let mut printer = Printer::new(stdout.lock());
    if enrich {
        let lookup = crate::pipeline::runtime_lookup(
            saker_container::RuntimeConfig::default(),
            &tokio::runtime::Handle::current(),
        );
        let mut state =
            saker_state::State::with_lookup(saker_state::StateConfig::default(), Box::new(lookup));
        state.scan_proc();
        printer.state = Some(state);
    }
    // Where the syscall arguments come from (see the README's requirements).
    let args_at = if probe.args_at_exit() {
        "exit"
    } else {
        "enter"
    };
    eprintln!(
        "{}",
        serde_json::json!({"saker.capture": "attached", "args_at": args_at})
    );
    loop {
        reader.drain(&mut |rec| printer.record(rec));
        printer.flush();
        tokio::select! {
            r = reader.wait() => r?,
            _ = usr1.recv() => report(probe, &reader, "sigusr1"),
            _ = &mut deadline => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    reader.drain(&mut |rec| printer.record(rec));
    printer.flush();
    report(probe, &reader, "exit");
    Ok(())
}

fn report(probe: &Probe, reader: &Reader, when: &str) {
    let c = probe.counters().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the kernel counters");
        Counters::default()
    });
    let r = reader.stats();
    let line = serde_json::json!({
        "saker.capture.stats": {
            "when": when,
            "sent": c.sent,
            "delivered": r.records,
            "malformed": r.malformed,
            "lost": c.lost(),
            "drops": {"ring_full": c.ring_full, "stash_full": c.stash_full},
            "read_faults": c.read_fault,
            "truncated": c.truncated,
            "per_cpu": c.per_cpu.iter().map(|v| serde_json::json!({
                "sent": v[saker_abi::counter::SENT as usize],
                "ring_full": v[saker_abi::counter::DROP_RING_FULL as usize],
                "read_fault": v[saker_abi::counter::READ_FAULT as usize],
                "truncated": v[saker_abi::counter::TRUNCATED as usize],
                "stash_full": v[saker_abi::counter::DROP_STASH_FULL as usize],
            })).collect::<Vec<_>>(),
        }
    });
    eprintln!("{line}");
}

/// Writes records as JSON lines into a reused buffer.
struct Printer<W: Write> {
    out: W,
    buf: Vec<u8>,
    clock: Clock,
    num: u64,
    /// execve enter halves waiting for their exit, by tid.
    pending: HashMap<u32, Vec<u8>>,
    /// With --enrich: the state tables, fed every record.
    state: Option<saker_state::State>,
}

fn json_str(buf: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly as JSON requires.
    let _ = serde_json::to_writer(&mut *buf, s);
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl<W: Write> Printer<W> {
    fn new(out: W) -> Self {
        Printer {
            out,
            buf: Vec::with_capacity(64 * 1024),
            clock: Clock::new(),
            num: 0,
            pending: HashMap::new(),
            state: None,
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            if let Err(e) = self.out.write_all(&self.buf).and_then(|_| self.out.flush()) {
                tracing::error!(error = %e, "cannot write to stdout");
            }
            self.buf.clear();
        }
    }

    fn record(&mut self, rec: &Record<'_>) -> Flow {
        if let Some(state) = self.state.as_mut() {
            state.apply(rec);
        }
        match rec.header.kind {
            kind::SYSCALL_ENTER => {
                // Keep a copy until the exit half arrives; a thread that never
                // returns (killed) leaves at most one stale entry per tid.
                let bytes = record_bytes(rec);
                self.pending.insert(rec.header.tid, bytes);
                return Flow::Continue;
            }
            kind::SYSCALL_EXIT => {
                let enter = self
                    .pending
                    .remove(&rec.header.tid)
                    .or_else(|| self.pending.remove(&rec.header.pid));
                match enter.as_deref().map(Record::parse) {
                    Some(Ok(enter_rec)) => self.write(rec, Some(&enter_rec)),
                    _ => self.write(rec, None),
                }
            }
            _ => self.write(rec, None),
        }
        if self.buf.len() > 48 * 1024 {
            self.flush();
        }
        Flow::Continue
    }

    /// `rec` gives identity and result; `args_from` (the enter half, when
    /// there is one) gives the arguments.
    fn write(&mut self, rec: &Record<'_>, args_from: Option<&Record<'_>>) {
        self.num += 1;
        let h = &rec.header;
        let def = syscalls::by_nr(h.syscall_nr);
        let evt_type = match h.kind {
            kind::PROC_EXIT => "procexit",
            _ => def.map_or("unknown", |d| d.name),
        };
        let kind_name = match h.kind {
            kind::CLONE_CHILD => "clone_child",
            kind::PROC_EXIT => "procexit",
            _ => "syscall",
        };
        let b = &mut self.buf;
        let _ = write!(
            b,
            "{{\"evt.num\":{},\"evt.time\":{},\"evt.type\":\"{}\",\"evt.kind\":\"{}\",\"evt.cpu\":{},\"proc.pid\":{},\"thread.tid\":{},\"proc.ppid\":{},\"proc.vpid\":{},\"thread.vtid\":{},\"proc.pidns\":{},\"proc.name\":",
            self.num,
            self.clock.realtime(h.ts_ns),
            evt_type,
            kind_name,
            h.cpu,
            h.pid,
            h.tid,
            h.ppid,
            h.vpid,
            h.vtid,
            h.pidns,
        );
        json_str(b, &lossy(rec.comm()));
        let _ = write!(
            b,
            ",\"user.uid\":{},\"group.gid\":{},\"user.euid\":{},\"user.loginuid\":{},\"proc.tty\":{},\"cgroup.id\":{},\"evt.res\":{}",
            h.uid,
            h.gid,
            h.euid,
            h.loginuid as i32,
            h.tty,
            h.cgroup_id,
            h.res,
        );
        if let (Some(def), true) = (
            def,
            h.kind != kind::PROC_EXIT && h.kind != kind::CLONE_CHILD,
        ) {
            let src = args_from.unwrap_or(rec);
            write_args(b, def, src);
        }
        if let Some(state) = &self.state {
            b.extend_from_slice(b",\"saker.fields\":");
            json_str(b, &state.view(rec).describe());
        }
        b.extend_from_slice(b"}\n");
    }
}

fn record_bytes(rec: &Record<'_>) -> Vec<u8> {
    let mut v = Vec::with_capacity(rec.header.len as usize);
    // SAFETY: the header is plain integers; we rebuild the wire form.
    v.extend_from_slice(unsafe {
        std::slice::from_raw_parts(&rec.header as *const _ as *const u8, saker_abi::HEADER_SIZE)
    });
    for blob in rec.blobs() {
        v.push(blob.arg);
        v.push(blob.flags);
        v.extend_from_slice(&(blob.bytes.len() as u16).to_le_bytes());
        v.extend_from_slice(blob.bytes);
    }
    v
}

fn write_args(b: &mut Vec<u8>, def: &syscalls::SyscallDef, rec: &Record<'_>) {
    b.extend_from_slice(b",\"evt.args\":{");
    let mut truncated: Vec<&str> = Vec::new();
    for (i, ((kind, _aux), name)) in def.args.iter().zip(def.arg_names).enumerate() {
        if *kind == ArgKind::None {
            continue;
        }
        if i > 0 && b.last() != Some(&b'{') {
            b.push(b',');
        }
        json_str(b, name);
        b.push(b':');
        let raw = rec.header.args[i];
        let blob = rec.blob(i as u8);
        if let Some(bl) = blob {
            if bl.truncated() {
                truncated.push(name);
            }
        }
        match (kind, blob) {
            (ArgKind::Int, _) => {
                let _ = write!(b, "{}", raw as i64);
            }
            (ArgKind::Fd, _) => {
                let _ = write!(b, "{}", raw as i32);
            }
            (ArgKind::Path | ArgKind::Str, Some(bl)) => json_str(b, &lossy(bl.c_str())),
            (ArgKind::Buf, Some(bl)) => json_str(b, &lossy(bl.bytes)),
            (ArgKind::Argv, Some(bl)) => {
                b.push(b'[');
                for (n, arg) in Argv::new(bl.bytes).enumerate() {
                    if n > 0 {
                        b.push(b',');
                    }
                    json_str(b, &lossy(arg));
                }
                b.push(b']');
            }
            (ArgKind::SockAddr | ArgKind::SockAddrOut | ArgKind::MsgHdr, Some(bl)) => {
                write_sockaddr(b, bl.bytes)
            }
            (ArgKind::OpenHow, Some(bl)) => match OpenHow::parse(bl.bytes) {
                Some(h) => {
                    let _ = write!(
                        b,
                        "{{\"flags\":{},\"mode\":{},\"resolve\":{}}}",
                        h.flags, h.mode, h.resolve
                    );
                }
                None => b.extend_from_slice(b"null"),
            },
            (ArgKind::FdPair, Some(bl)) => match saker_state::decode::fd_pair(bl.bytes) {
                Some((r, w)) => {
                    let _ = write!(b, "[{r},{w}]");
                }
                None => b.extend_from_slice(b"null"),
            },
            (ArgKind::CloneArgs, Some(bl)) => match saker_state::decode::clone_args_flags(bl.bytes)
            {
                Some(f) => {
                    let _ = write!(b, "{f}");
                }
                None => b.extend_from_slice(b"null"),
            },
            _ => b.extend_from_slice(b"null"),
        }
    }
    b.push(b'}');
    // The socket's own end, read by the kernel on connect and accept exits
    // and on datagram calls that name a peer.
    if let Some(bl) = rec.blob(saker_abi::BLOB_LOCAL_ADDR) {
        if let Some(addr) = bl.bytes.get(4..) {
            b.extend_from_slice(b",\"evt.local_addr\":");
            write_sockaddr(b, addr);
        }
    }
    if !truncated.is_empty() {
        b.extend_from_slice(b",\"evt.truncated\":[");
        for (n, t) in truncated.iter().enumerate() {
            if n > 0 {
                b.push(b',');
            }
            json_str(b, t);
        }
        b.push(b']');
    }
}

fn write_sockaddr(b: &mut Vec<u8>, bytes: &[u8]) {
    match SockAddr::parse(bytes) {
        Some(SockAddr::Inet(ip, port)) => {
            let _ = write!(
                b,
                "{{\"family\":\"AF_INET\",\"addr\":\"{ip}\",\"port\":{port}}}"
            );
        }
        Some(SockAddr::Inet6(ip, port)) => {
            let _ = write!(
                b,
                "{{\"family\":\"AF_INET6\",\"addr\":\"{ip}\",\"port\":{port}}}"
            );
        }
        Some(SockAddr::Unix { path, .. }) => {
            b.extend_from_slice(b"{\"family\":\"AF_UNIX\",\"path\":");
            json_str(b, &lossy(path));
            b.push(b'}');
        }
        Some(SockAddr::Other(f)) => {
            let _ = write!(b, "{{\"family\":{f}}}");
        }
        None => b.extend_from_slice(b"null"),
    }
}
