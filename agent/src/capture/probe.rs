//! Loading the kernel programs, filling their maps and attaching them.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::{RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use saker_abi::{
    counter, names, plan_flags, scope, syscalls, Config, SyscallPlan, INTEREST_WORDS, MAX_SYSCALLS,
};

use super::btf::Btf;
use super::syscall_set::SyscallSet;
use super::{tracefs, CaptureError};

/// The compiled kernel object, embedded so one binary is all that ships.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/saker-ebpf"));

/// Which tasks the kernel reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Host,
    Containers,
    /// One PID namespace, named by a path like /proc/PID/ns/pid.
    TargetPidns(PathBuf),
}

#[derive(Clone, Debug)]
pub struct ProbeOptions {
    pub scope: Scope,
    pub syscalls: SyscallSet,
    /// Of `syscalls`, the ones reported only when they name a peer address
    /// (see `plan_flags::ADDRESSED_ONLY`).
    pub addressed_only: SyscallSet,
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ring_bytes: u32,
    /// Run the benchmark's floor probe at syscall exit instead of the real
    /// program (`saker capture` with `SAKER_CAPTURE_FLOOR=string`, for
    /// `cargo xtask bench capture`): no syscall exit is reported.
    pub floor_probe: bool,
}

/// Drop and delivery counters, summed over CPUs, plus the per-CPU detail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub sent: u64,
    pub ring_full: u64,
    pub read_fault: u64,
    pub truncated: u64,
    pub stash_full: u64,
    /// Address-less datagram calls filtered out in the kernel (not a loss).
    pub skipped_no_address: u64,
    /// `[cpu][counter]`, in the order of `saker_abi::counter`.
    pub per_cpu: Vec<[u64; counter::COUNT as usize]>,
}

impl Counters {
    /// Events lost for good (a truncated or faulted value is delivered, flagged).
    pub fn lost(&self) -> u64 {
        self.ring_full + self.stash_full
    }
}

/// Loaded and attached kernel programs.
pub struct Probe {
    ebpf: Ebpf,
    tracefs: PathBuf,
    attached: BTreeSet<u32>,
    /// What the `PLANS` map says is reported only with an address.
    addressed_only: SyscallSet,
    /// The exit program reads arguments from the saved registers
    /// (`Config::args_at_exit`): only AT_ENTER syscalls need an enter program.
    args_at_exit: bool,
    /// The benchmark's floor probe runs at exit instead of the real program
    /// (`ProbeOptions::floor_probe`).
    floor: bool,
}

fn classify_load_error(e: aya::EbpfError) -> CaptureError {
    let text = format!("{e:#}");
    let lower = text.to_lowercase();
    if lower.contains("operation not permitted") || lower.contains("permission denied") {
        CaptureError::Privileges(text)
    } else {
        CaptureError::Load(text)
    }
}

fn pidns_id(path: &Path) -> Result<(u64, u64), CaptureError> {
    let md = std::fs::metadata(path)
        .map_err(|e| CaptureError::Target(format!("{}: {e}", path.display())))?;
    Ok((md.dev(), md.ino()))
}

impl Probe {
    /// Whether most syscalls' arguments are read at exit, from the saved
    /// registers (else every syscall runs an enter program too).
    pub fn args_at_exit(&self) -> bool {
        self.args_at_exit
    }

    /// The exit program loaded: `PROG_SYS_EXIT`, or `PROG_SYS_EXIT_STASH`
    /// where the first cannot run.
    fn exit_prog(&self) -> &'static str {
        if self.floor {
            names::PROG_FLOOR_STRING
        } else if self.args_at_exit {
            names::PROG_SYS_EXIT
        } else {
            names::PROG_SYS_EXIT_STASH
        }
    }

    /// Verifies and loads one of the syscall tracepoint programs.
    fn load_tracepoint(&mut self, prog: &str) -> Result<(), CaptureError> {
        let p: &mut TracePoint = self
            .ebpf
            .program_mut(prog)
            .ok_or_else(|| CaptureError::Load(format!("program {prog} missing from the object")))?
            .try_into()
            .map_err(|e| CaptureError::Load(format!("{prog}: {e}")))?;
        let started = std::time::Instant::now();
        p.load().map_err(|e| CaptureError::from_program(prog, e))?;
        tracing::info!(program = prog, elapsed = ?started.elapsed(), "verified and loaded");
        Ok(())
    }

    pub fn load(opts: &ProbeOptions) -> Result<Probe, CaptureError> {
        let btf = Btf::from_sys_fs().map_err(|e| CaptureError::NoBtf(e.to_string()))?;
        let tracefs = tracefs::root()?;

        let mut config = Config::DEFAULT;
        config.self_tgid = std::process::id();
        config.wakeup_bytes = (opts.ring_bytes / 8).max(256);
        config.offsets = btf.kernel_offsets();
        config.socket_walk = u32::from(config.offsets.has_socket_offsets());
        let at_exit = btf
            .syscall_arg_regs()
            .is_some_and(|(regs, size)| config.set_arg_regs(regs, size));
        if !at_exit {
            tracing::warn!(
                "syscall argument registers not found in BTF: every syscall runs an enter program too"
            );
        }
        config.tp_nr_off =
            tracefs::field_offset(&tracefs, "syscalls", "sys_enter_openat", "__syscall_nr")?;
        // Arguments are consecutive longs from the first one; `dfd` is openat's first.
        config.tp_enter_args_off =
            tracefs::field_offset(&tracefs, "syscalls", "sys_enter_openat", "dfd")?;
        config.tp_exit_ret_off =
            tracefs::field_offset(&tracefs, "syscalls", "sys_exit_openat", "ret")?;
        match &opts.scope {
            Scope::Host => config.scope = scope::HOST,
            Scope::Containers => {
                config.scope = scope::CONTAINERS;
                (config.pidns_dev, config.pidns_ino) = pidns_id(Path::new("/proc/1/ns/pid"))?;
            }
            Scope::TargetPidns(path) => {
                config.scope = scope::TARGET_PIDNS;
                (config.pidns_dev, config.pidns_ino) = pidns_id(path)?;
            }
        }

        // The config is read-only global data, fixed here: the verifier
        // then sees its fields as constants (see the kernel side's CONFIG).
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(names::EVENTS, opts.ring_bytes)
            .override_global(names::CONFIG, &config, true)
            .load(EBPF_OBJECT)
            .map_err(classify_load_error)?;

        {
            let mut plans: Array<_, SyscallPlan> =
                Array::try_from(map_mut(&mut ebpf, names::PLANS)?)?;
            for def in syscalls::SYSCALLS {
                plans.set(def.nr, def.plan(), 0)?;
            }
        }
        let mut probe = Probe {
            ebpf,
            tracefs,
            attached: BTreeSet::new(),
            addressed_only: SyscallSet::empty(),
            args_at_exit: config.args_at_exit(),
            floor: false,
        };
        probe.load_tracepoint(names::PROG_SYS_ENTER)?;
        // The exit program that reads arguments from the saved registers
        // needs bpf_task_pt_regs (5.15); an older kernel refuses it, and the
        // one that takes them from the enter program's stash runs instead.
        // SAKER_CAPTURE_ARGS_AT_ENTER=1 asks for the latter (tests use it).
        let forced = std::env::var("SAKER_CAPTURE_ARGS_AT_ENTER").is_ok_and(|v| v == "1");
        let at_exit = probe.args_at_exit
            && !forced
            && match probe.load_tracepoint(names::PROG_SYS_EXIT) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "reading syscall arguments at exit is not possible here; every syscall runs an enter program too");
                    false
                }
            };
        if forced {
            tracing::warn!("SAKER_CAPTURE_ARGS_AT_ENTER=1: syscall arguments are taken at enter");
        }
        if !at_exit {
            probe.load_tracepoint(names::PROG_SYS_EXIT_STASH)?;
            probe.args_at_exit = false;
        }
        if opts.floor_probe {
            if !at_exit {
                return Err(CaptureError::Load(
                    "the floor probe needs the syscall arguments read at exit (kernel 5.15 or later, SAKER_CAPTURE_ARGS_AT_ENTER unset)".into(),
                ));
            }
            probe.load_tracepoint(names::PROG_FLOOR_STRING)?;
            probe.floor = true;
            tracing::warn!(
                "SAKER_CAPTURE_FLOOR=string: a benchmark probe runs at syscall exit; no syscall exit is reported"
            );
        }
        let exit: &mut RawTracePoint = probe
            .ebpf
            .program_mut(names::PROG_PROC_EXIT)
            .ok_or_else(|| CaptureError::Load("proc exit program missing".into()))?
            .try_into()
            .map_err(|e| CaptureError::Load(format!("{e}")))?;
        exit.load()
            .map_err(|e| CaptureError::from_program(names::PROG_PROC_EXIT, e))?;
        exit.attach("sched_process_exit")
            .map_err(|e| CaptureError::from_program(names::PROG_PROC_EXIT, e))?;

        probe.set_interest(&opts.syscalls, &opts.addressed_only)?;
        Ok(probe)
    }

    /// Makes `set` the syscalls reported, those in `addressed_only` only
    /// when they name a peer address. New ones get their tracepoints
    /// attached; ones dropped stay attached but are filtered by the bitmap
    /// in the kernel, so a change never opens a window without capture.
    pub fn set_interest(
        &mut self,
        set: &SyscallSet,
        addressed_only: &SyscallSet,
    ) -> Result<(), CaptureError> {
        // Plans first: a call widened back to every form is reported in
        // full from the moment the bitmap names it.
        self.set_addressed_only(addressed_only)?;
        // An exec's exit may come through another exec syscall's tracepoint
        // (see plan_flags::EXEC): wanting one means attaching them all. The
        // bitmap still reports only what was asked for.
        let mut attach = set.clone();
        if set
            .iter()
            .any(|nr| syscalls::by_nr(nr).is_some_and(|d| d.flags & plan_flags::EXEC != 0))
        {
            for d in syscalls::SYSCALLS
                .iter()
                .filter(|d| d.flags & plan_flags::EXEC != 0)
            {
                attach.insert(d.nr);
            }
        }
        for nr in attach.iter() {
            if self.attached.contains(&nr) {
                continue;
            }
            let def = syscalls::by_nr(nr)
                .ok_or_else(|| CaptureError::Load(format!("syscall {nr} not in table")))?;
            if !tracefs::has_syscall_tracepoint(&self.tracefs, def.name) {
                tracing::warn!(
                    syscall = def.name,
                    "this kernel has no tracepoint for it; not captured"
                );
                continue;
            }
            // Enter first, so an exit never misses an enter attached after it.
            let needs_enter = !self.args_at_exit || def.flags & plan_flags::AT_ENTER != 0;
            let enter =
                needs_enter.then(|| (names::PROG_SYS_ENTER, format!("sys_enter_{}", def.name)));
            let exit = Some((self.exit_prog(), format!("sys_exit_{}", def.name)));
            for (prog, ev) in [enter, exit].into_iter().flatten() {
                let p: &mut TracePoint = self
                    .ebpf
                    .program_mut(prog)
                    .ok_or_else(|| CaptureError::Load(format!("program {prog} missing")))?
                    .try_into()
                    .map_err(|e| CaptureError::Load(format!("{prog}: {e}")))?;
                p.attach("syscalls", &ev)
                    .map_err(|e| CaptureError::from_program(prog, e))?;
            }
            self.attached.insert(nr);
        }
        let mut map: Array<_, u64> = Array::try_from(map_mut(&mut self.ebpf, names::INTEREST)?)?;
        for (i, word) in set.words().iter().enumerate().take(INTEREST_WORDS) {
            map.set(i as u32, *word, 0)?;
        }
        Ok(())
    }

    /// Sets or clears `ADDRESSED_ONLY` in the plans whose membership changed.
    /// The record of what the map says is kept entry by entry, so a failed
    /// write leaves it true and the next call retries what is left.
    fn set_addressed_only(&mut self, want: &SyscallSet) -> Result<(), CaptureError> {
        let mut plans: Array<_, SyscallPlan> =
            Array::try_from(map_mut(&mut self.ebpf, names::PLANS)?)?;
        for def in syscalls::SYSCALLS {
            let on = want.contains(def.nr);
            if on == self.addressed_only.contains(def.nr) {
                continue;
            }
            let mut plan = def.plan();
            if on {
                plan.flags |= plan_flags::ADDRESSED_ONLY;
            }
            plans.set(def.nr, plan, 0)?;
            if on {
                self.addressed_only.insert(def.nr);
            } else {
                self.addressed_only.remove(def.nr);
            }
        }
        Ok(())
    }

    /// The ring buffer, for the reader. Can be taken once.
    pub fn take_ring(&mut self) -> Result<RingBuf<MapData>, CaptureError> {
        let map = self
            .ebpf
            .take_map(names::EVENTS)
            .ok_or_else(|| CaptureError::Load("ring buffer already taken".into()))?;
        Ok(RingBuf::try_from(map)?)
    }

    pub fn counters(&self) -> Result<Counters, CaptureError> {
        let map = self
            .ebpf
            .map(names::COUNTERS)
            .ok_or_else(|| CaptureError::Load("COUNTERS map missing".into()))?;
        let arr: PerCpuArray<_, u64> = PerCpuArray::try_from(map)?;
        let mut out = Counters::default();
        for idx in 0..counter::COUNT {
            let values = arr.get(&idx, 0)?;
            if out.per_cpu.len() < values.len() {
                out.per_cpu
                    .resize(values.len(), [0; counter::COUNT as usize]);
            }
            for (cpu, v) in values.iter().enumerate() {
                out.per_cpu[cpu][idx as usize] = *v;
            }
        }
        let sum = |i: u32| out.per_cpu.iter().map(|c| c[i as usize]).sum();
        out.sent = sum(counter::SENT);
        out.ring_full = sum(counter::DROP_RING_FULL);
        out.read_fault = sum(counter::READ_FAULT);
        out.truncated = sum(counter::TRUNCATED);
        out.stash_full = sum(counter::DROP_STASH_FULL);
        out.skipped_no_address = sum(counter::SKIPPED_NO_ADDRESS);
        Ok(out)
    }
}

fn map_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut aya::maps::Map, CaptureError> {
    ebpf.map_mut(name)
        .ok_or_else(|| CaptureError::Load(format!("map {name} missing from the object")))
}

const _: () = assert!(MAX_SYSCALLS == INTEREST_WORDS * 64);
