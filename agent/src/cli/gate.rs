//! `saker gate runtime`: ask one agent, or every agent behind a headless
//! Service, whether anything at or above a severity fired in a namespace
//! since a time. Exit 0 on pass or skipped (a skip is said loudly on
//! stderr), 1 on fail, 2 on error.

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use saker_store::{AgentAnswer, GateContext, GateRequest, RuntimeVerdict};

#[derive(Subcommand, Debug)]
pub enum GateCommand {
    /// The runtime verdict for a namespace and window.
    Runtime(RuntimeArgs),
}

#[derive(Args, Debug)]
pub struct RuntimeArgs {
    /// One agent's base URL, e.g. http://127.0.0.1:8765.
    #[arg(long, conflicts_with = "agents", required_unless_present = "agents")]
    pub url: Option<String>,
    /// Every agent behind a name (a headless Service): NAME:PORT, or several,
    /// comma-separated. Any failure fails; any skip or unreachable agent marks
    /// the result skipped.
    #[arg(long, value_name = "NAME:PORT[,...]")]
    pub agents: Option<String>,
    #[arg(long)]
    pub namespace: String,
    /// RFC 3339 time or a duration back from now (10m, 2h).
    #[arg(long)]
    pub since: String,
    /// End of the window (exclusive), RFC 3339 or a duration back from now;
    /// default now. A window that ended before an agent restart is still
    /// answered from the coverage the store kept.
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value = "WARNING")]
    pub severity: String,
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Scheme for --agents.
    #[arg(long, default_value = "http")]
    pub scheme: String,
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

fn client(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn query(args: &RuntimeArgs) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let mut q = format!(
        "/v1/gate/runtime?namespace={}&since={}&severity_threshold={}",
        enc(&args.namespace),
        enc(&args.since),
        enc(&args.severity)
    );
    if let Some(u) = &args.until {
        q.push_str("&until=");
        q.push_str(&enc(u));
    }
    q
}

fn ask(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Result<RuntimeVerdict, String> {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}: {}", body.trim()));
    }
    serde_json::from_str(&body).map_err(|e| format!("not a gate verdict: {e}"))
}

pub fn run(cmd: GateCommand) -> anyhow::Result<ExitCode> {
    let GateCommand::Runtime(args) = cmd;
    let token = match &args.token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("--token-file {}", p.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let now = saker_store::timefmt::now_ns();
    let mut params = vec![
        ("namespace", args.namespace.as_str()),
        ("since", args.since.as_str()),
        ("severity_threshold", args.severity.as_str()),
    ];
    if let Some(u) = &args.until {
        params.push(("until", u.as_str()));
    }
    let req = GateRequest::from_params(params, now)
        .map_err(|e| anyhow::anyhow!("--{}: {}", flag_of(&e.parameter), e.message))?;
    let agent = client(args.timeout);
    let path = query(&args);
    let verdict = match (&args.url, &args.agents) {
        (Some(url), _) => ask(
            &agent,
            &format!("{}{path}", url.trim_end_matches('/')),
            token.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?,
        (None, Some(name)) => {
            let mut addrs = Vec::new();
            for one in name.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                addrs.extend(
                    one.to_socket_addrs()
                        .with_context(|| format!("--agents {one}: cannot resolve"))?,
                );
            }
            addrs.sort();
            addrs.dedup();
            if addrs.is_empty() {
                bail!("--agents {name}: resolves to no address");
            }
            let answers: Vec<AgentAnswer> = std::thread::scope(|s| {
                let handles: Vec<_> = addrs
                    .iter()
                    .map(|addr| {
                        let (agent, path, token, scheme) =
                            (&agent, &path, token.as_deref(), &args.scheme);
                        s.spawn(move || AgentAnswer {
                            agent: addr.to_string(),
                            result: ask(agent, &format!("{scheme}://{addr}{path}"), token),
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            saker_store::merge_verdicts(&req, &GateContext::default(), now, answers)
        }
        (None, None) => bail!("give --url or --agents"),
    };
    println!("{}", serde_json::to_string(&verdict)?);
    if !verdict.passed {
        return Ok(ExitCode::from(1));
    }
    if verdict.skipped {
        eprintln!(
            "SKIPPED: the runtime gate could not vouch for this window: {}",
            verdict.reason.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn flag_of(parameter: &str) -> &str {
    match parameter {
        "severity_threshold" => "severity",
        p => p,
    }
}
