//! Other processes' BPF programs. Another engineer's agent or test attaching
//! a syscall tracepoint puts every task on the slow syscall path, our
//! "no agent" baseline included, and shares the CPUs: a round that saw one is
//! marked, and the report prefers the rounds that saw none.

use std::time::{Duration, Instant};

/// "PID COMM" of each process other than `ours` holding a BPF program fd.
pub fn holders(ours: Option<u32>) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if Some(pid) == ours || pid == std::process::id() {
            continue;
        }
        // Processes and fds come and go while we look: unreadable ones are skipped.
        let Ok(fds) = std::fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_to_string(fd.path()).is_ok_and(|t| t.contains("\nprog_type:")));
        if holds {
            let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
            out.push(format!("{pid} {}", comm.trim()));
        }
    }
    out
}

/// Waits up to `patience` for no other process to hold BPF programs; returns
/// those still there.
pub fn wait_quiet(patience: Duration) -> Vec<String> {
    let deadline = Instant::now() + patience;
    loop {
        let h = holders(None);
        if h.is_empty() || Instant::now() > deadline {
            return h;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
