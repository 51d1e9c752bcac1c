//! Everything the agent needs to start, resolved from the config file, the
//! `-o` overrides and the command line (in that order of precedence, last
//! wins), with every path and value checked before anything is loaded.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use saker_config::Config;

use crate::alerts::FormatOptions;
use crate::capture::Scope;
use crate::cli::run::RunArgs;
use crate::pipeline::interest::BaseSyscalls;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropAction {
    Ignore,
    Log,
    Alert,
    Exit,
}

/// Falco's `syscall_event_drops`.
#[derive(Clone, Debug)]
pub struct DropPolicy {
    pub threshold: f64,
    pub actions: Vec<DropAction>,
    pub rate: f64,
    pub max_burst: u32,
}

impl Default for DropPolicy {
    fn default() -> Self {
        DropPolicy {
            threshold: 0.1,
            actions: vec![DropAction::Log, DropAction::Alert],
            rate: 1.0 / 30.0,
            max_burst: 1,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ApiOptions {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub token_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    /// Query requests per second allowed across clients (0 = unlimited).
    pub rate_limit: u32,
}

#[derive(Clone, Debug)]
pub struct AgentOptions {
    pub config_file: Option<PathBuf>,
    pub rules_files: Vec<PathBuf>,
    pub load: saker_rules::LoadOptions,
    pub format: FormatOptions,
    pub outputs: saker_outputs::OutputsConfig,
    pub scope: Scope,
    pub ring_bytes: u32,
    pub base_syscalls: BaseSyscalls,
    pub runtime: saker_container::RuntimeConfig,
    pub store: Option<saker_store::StoreConfig>,
    pub store_reset: bool,
    pub api: ApiOptions,
    pub drops: DropPolicy,
    pub watch_config_files: bool,
    /// Falco's `metrics:` (periodic snapshots).
    pub metrics: saker_config::Metrics,
}

impl AgentOptions {
    pub fn from_cli(args: &RunArgs, scope: Scope) -> anyhow::Result<AgentOptions> {
        let loaded = saker_config::Config::load(args.config.as_deref(), &args.options)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for w in &loaded.warnings {
            tracing::warn!("config: {w}");
        }
        let mut opts = Self::from_config(&loaded.config, scope)?;
        opts.config_file = args.config.clone();
        if !args.rules.is_empty() {
            opts.rules_files = args.rules.clone();
        }
        opts.store_reset = args.store_reset;
        if opts.rules_files.is_empty() {
            bail!("no rules files: pass -r FILE or set rules_files in the config");
        }
        for p in &opts.rules_files {
            if !p.exists() {
                bail!("rules file {} does not exist", p.display());
            }
        }
        Ok(opts)
    }

    pub fn from_config(c: &Config, scope: Scope) -> anyhow::Result<AgentOptions> {
        let selections = c
            .rules
            .iter()
            .map(|sel| match sel {
                saker_config::Selection::EnableRule(r) => {
                    saker_rules::Selection::EnableRule(r.clone())
                }
                saker_config::Selection::DisableRule(r) => {
                    saker_rules::Selection::DisableRule(r.clone())
                }
                saker_config::Selection::EnableTag(t) => {
                    saker_rules::Selection::EnableTag(t.clone())
                }
                saker_config::Selection::DisableTag(t) => {
                    saker_rules::Selection::DisableTag(t.clone())
                }
            })
            .collect();
        let append_output = c
            .append_output
            .iter()
            .map(|a| saker_rules::engine::AppendOutput {
                rule: a.matches.rule.clone(),
                source: a.matches.source.clone(),
                tags: a.matches.tags.clone(),
                extra_output: a.extra_output.clone(),
                extra_fields: a
                    .extra_fields
                    .iter()
                    .map(|f| (f.key.clone(), f.format.clone()))
                    .collect(),
            })
            .collect();
        let load = saker_rules::LoadOptions {
            engine: saker_rules::EngineOptions {
                rule_matching: match c.rule_matching {
                    saker_config::RuleMatching::First => saker_rules::RuleMatching::First,
                    saker_config::RuleMatching::All => saker_rules::RuleMatching::All,
                },
                min_priority: c.priority,
                selections,
                append_output,
            },
        };
        let format = FormatOptions {
            include_output: c.json_include_output_property,
            include_tags: c.json_include_tags_property,
            include_output_fields: c.json_include_output_fields_property,
            ..FormatOptions::default()
        };
        let drops = DropPolicy {
            threshold: c.syscall_event_drops.threshold,
            actions: c
                .syscall_event_drops
                .actions
                .iter()
                .map(|a| match a {
                    saker_config::DropAction::Ignore => DropAction::Ignore,
                    saker_config::DropAction::Log => DropAction::Log,
                    saker_config::DropAction::Alert => DropAction::Alert,
                    saker_config::DropAction::Exit => DropAction::Exit,
                })
                .collect(),
            rate: c.syscall_event_drops.rate,
            max_burst: c.syscall_event_drops.max_burst,
        };
        let store = c.store.enabled.then(|| {
            let mut s = saker_store::StoreConfig::new(&c.store.path);
            s.max_age = c.store.max_age();
            s.max_bytes = c.store.max_bytes();
            s.queue_capacity = c.store.queue_capacity;
            s
        });
        let runtime = saker_container::RuntimeConfig::with_sockets(
            c.container.docker_sockets.clone(),
            c.container.cri_sockets.clone(),
        );
        // The command line picks the scope when it says anything; else the config.
        let scope = match scope {
            Scope::Host => match c.capture.scope {
                saker_config::sections::CaptureScope::Host => Scope::Host,
                saker_config::sections::CaptureScope::Containers => Scope::Containers,
                saker_config::sections::CaptureScope::TargetPidns => match (&c.capture.target_pidns, c.capture.target_pid) {
                    (Some(p), _) => Scope::TargetPidns(p.clone()),
                    (None, Some(pid)) => Scope::TargetPidns(format!("/proc/{pid}/ns/pid").into()),
                    (None, None) => bail!("capture.scope: target_pidns needs capture.target_pid or capture.target_pidns"),
                },
            },
            other => other,
        };
        let ring_bytes = u32::try_from(c.capture.ring_bytes.0)
            .ok()
            .filter(|b| b.is_power_of_two() && *b >= 4096)
            .with_context(|| {
                format!(
                    "capture.ring_bytes: {} must be a power of two between 4 KiB and 2 GiB",
                    c.capture.ring_bytes.0
                )
            })?;
        Ok(AgentOptions {
            config_file: None,
            rules_files: c.rules_files.clone(),
            load,
            format,
            outputs: c.outputs(),
            scope,
            ring_bytes,
            base_syscalls: BaseSyscalls {
                custom_set: c.base_syscalls.custom_set.clone(),
                repair: c.base_syscalls.repair,
            },
            runtime,
            store,
            store_reset: false,
            api: ApiOptions {
                enabled: c.webserver.enabled,
                listen: c.http_listen(),
                token_file: c.api.auth.token_file.clone(),
                tls_cert: c.api.tls.cert.clone(),
                tls_key: c.api.tls.key.clone(),
                tls_client_ca: c.api.tls.client_ca.clone(),
                rate_limit: c.api.rate_limit.per_second,
            },
            drops,
            watch_config_files: c.watch_config_files,
            metrics: c.metrics.clone(),
        })
    }
}
