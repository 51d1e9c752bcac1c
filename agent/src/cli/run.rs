//! `saker run`: the agent. Capture → state → rules → alerts → sinks, with the
//! HTTP API beside it, hot reload on SIGHUP and a draining shutdown.
//!
//! Threads: the detector runs on its own thread (the ring buffer, the state
//! tables and the rules belong to it alone, so nothing on the event path takes
//! a lock); everything else (API, container runtime queries, signals,
//! periodic counters) runs on a small tokio runtime.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

use crate::agent::{Agent, AgentOptions};

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Configuration file (falco.yaml-shaped).
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
    /// Rules files or directories, in load order (repeatable; overrides the config's rules_files).
    #[arg(short = 'r', long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Config override, Falco's `-o key.path=value` (repeatable).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Only trace the PID namespace of this process (sidecar mode).
    #[arg(long)]
    pub target_pid: Option<u32>,
    /// Only trace processes outside the host's PID namespace.
    #[arg(long)]
    pub containers_only: bool,
    /// Move an unreadable alert store aside and start with an empty one.
    #[arg(long)]
    pub store_reset: bool,
    /// Stop after this long (tests and benchmarks).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scope = super::capture::scope_from(args.target_pid, None, args.containers_only)?;
    let opts = AgentOptions::from_cli(&args, scope)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("saker-rt")
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move { serve(opts, args.duration).await })
}

async fn serve(opts: AgentOptions, duration: Option<Duration>) -> anyhow::Result<ExitCode> {
    let api_opts = opts.api.clone();
    let agent = Agent::start(opts, tokio::runtime::Handle::current())?;
    let _api = if api_opts.enabled {
        Some(crate::api::serve(&api_opts, agent.api_state()).await?)
    } else {
        None
    };
    // The watcher and the signal handlers share the agent; shutdown takes it.
    let agent = Arc::new(Mutex::new(Some(agent)));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let deadline = tokio::time::sleep(duration.unwrap_or(Duration::from_secs(100 * 365 * 86400)));
    tokio::pin!(deadline);
    let watcher = {
        let agent = agent.clone();
        let files = agent
            .lock()
            .ok()
            .and_then(|a| a.as_ref().map(Agent::watched_files))
            .unwrap_or_default();
        crate::agent::reload::watch(files, move || reload(&agent, "file change"))
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = &mut deadline => break,
            _ = hup.recv() => {
                // Loading and compiling rules blocks: off the async workers, and not
                // awaited, so SIGTERM is still heard during a reload.
                let agent = agent.clone();
                tokio::task::spawn_blocking(move || reload(&agent, "SIGHUP"));
            }
        }
    }
    drop(watcher);
    // A reload in progress holds the lock (compiling, attaching, waiting for
    // the detector): wait for it off the async workers, which keep serving
    // the API meanwhile.
    let agent = tokio::task::spawn_blocking(move || match agent.lock() {
        Ok(mut g) => g
            .take()
            .ok_or_else(|| anyhow::anyhow!("agent already stopped")),
        Err(_) => Err(anyhow::anyhow!("agent state poisoned")),
    })
    .await??;
    let report =
        tokio::task::spawn_blocking(move || agent.shutdown(Duration::from_secs(5))).await?;
    eprintln!("{}", serde_json::json!({"saker.shutdown": report}));
    Ok(ExitCode::SUCCESS)
}

fn reload(agent: &Arc<Mutex<Option<Agent>>>, why: &str) {
    let Ok(mut guard) = agent.lock() else {
        return;
    };
    let Some(a) = guard.as_mut() else {
        return;
    };
    match a.reload() {
        Ok(summary) => tracing::warn!(trigger = why, %summary, "rules reloaded"),
        Err(e) => {
            tracing::error!(trigger = why, error = %e, "reload rejected; the previous rules keep running")
        }
    }
}
