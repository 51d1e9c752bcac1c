//! The config's shape: Falco's falco.yaml keys that mean the same thing for
//! saker, plus saker's own sections (see `sections`). Every struct has
//! `#[serde(default)]` and no `flatten`, because its field list is also the
//! schema that unknown keys are checked against.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::outputs::{
    FileOutput, HttpOutput, OutputsConfig, OutputsQueue, ProgramOutput, StdoutOutput, SyslogOutput,
};
use crate::sections::{Api, Capture, Container, Gate, Store};
use crate::types::{AppendOutput, DropAction, Interval, Priority, RuleMatching, Selection};

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Reload when a rules or config file changes (SIGHUP always reloads).
    pub watch_config_files: bool,
    /// Rules files or directories (their `*.yaml`/`*.yml`), in load order.
    /// `-r` on the command line replaces this list. The deprecated
    /// `rules_file` key is read when `rules_files` is absent.
    pub rules_files: Vec<PathBuf>,
    /// Falco's `rules:` enable/disable selections, applied in order.
    pub rules: Vec<Selection>,
    /// Rules less severe than this are not loaded.
    pub priority: Priority,
    pub rule_matching: RuleMatching,

    pub time_format_iso_8601: bool,
    pub json_output: bool,
    pub json_include_output_property: bool,
    pub json_include_message_property: bool,
    pub json_include_output_fields_property: bool,
    pub json_include_tags_property: bool,
    pub buffered_outputs: bool,
    pub outputs_queue: OutputsQueue,
    /// Milliseconds a sink may take on one alert before it counts a timeout.
    pub output_timeout: u64,
    pub append_output: Vec<AppendOutput>,
    pub stdout_output: StdoutOutput,
    pub syslog_output: SyslogOutput,
    pub file_output: FileOutput,
    pub http_output: HttpOutput,
    pub program_output: ProgramOutput,

    pub webserver: Webserver,
    pub log_stderr: bool,
    pub log_syslog: bool,
    pub log_level: LogLevel,
    pub syscall_event_drops: SyscallEventDrops,
    pub metrics: Metrics,
    pub base_syscalls: BaseSyscalls,

    pub capture: Capture,
    pub container: Container,
    pub store: Store,
    pub api: Api,
    pub gate: Gate,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            watch_config_files: true,
            rules_files: Vec::new(),
            rules: Vec::new(),
            priority: Priority::Debug,
            rule_matching: RuleMatching::First,
            time_format_iso_8601: false,
            json_output: false,
            json_include_output_property: true,
            json_include_message_property: false,
            json_include_output_fields_property: true,
            json_include_tags_property: true,
            buffered_outputs: false,
            outputs_queue: OutputsQueue::default(),
            output_timeout: 2000,
            append_output: Vec::new(),
            stdout_output: StdoutOutput::default(),
            syslog_output: SyslogOutput::default(),
            file_output: FileOutput::default(),
            http_output: HttpOutput::default(),
            program_output: ProgramOutput::default(),
            webserver: Webserver::default(),
            log_stderr: true,
            log_syslog: false,
            log_level: LogLevel::Info,
            syscall_event_drops: SyscallEventDrops::default(),
            metrics: Metrics::default(),
            base_syscalls: BaseSyscalls::default(),
            capture: Capture::default(),
            container: Container::default(),
            store: Store::default(),
            api: Api::default(),
            gate: Gate::default(),
        }
    }
}

impl Config {
    /// The output keys, gathered for the outputs stage.
    pub fn outputs(&self) -> OutputsConfig {
        OutputsConfig {
            json_output: self.json_output,
            buffered_outputs: self.buffered_outputs,
            output_timeout: self.output_timeout,
            outputs_queue: self.outputs_queue.clone(),
            stdout_output: self.stdout_output.clone(),
            file_output: self.file_output.clone(),
            http_output: self.http_output.clone(),
            syslog_output: self.syslog_output.clone(),
            program_output: self.program_output.clone(),
        }
    }

    pub fn output_timeout(&self) -> Duration {
        Duration::from_millis(self.output_timeout)
    }

    /// Where the one HTTP server (Falco's webserver endpoints and saker's
    /// API) listens: `api.listen` when set, else `webserver.listen_address`
    /// and `listen_port`.
    pub fn http_listen(&self) -> SocketAddr {
        self.api.listen.unwrap_or(SocketAddr::new(
            self.webserver.listen_address,
            self.webserver.listen_port,
        ))
    }
}

/// Falco's `webserver`: `/healthz`, `/versions`, `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Webserver {
    pub enabled: bool,
    /// saker's default is loopback (Falco's is 0.0.0.0).
    pub listen_address: IpAddr,
    pub listen_port: u16,
    pub k8s_healthz_endpoint: String,
    pub ssl_enabled: bool,
    /// PEM file holding both the certificate and its key, as in Falco.
    pub ssl_certificate: PathBuf,
    /// Serve `/metrics` (saker's default is on; Falco's is off).
    pub prometheus_metrics_enabled: bool,
}

impl Default for Webserver {
    fn default() -> Self {
        Webserver {
            enabled: true,
            listen_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            listen_port: 8765,
            k8s_healthz_endpoint: "/healthz".into(),
            ssl_enabled: false,
            ssl_certificate: "/etc/saker/saker.pem".into(),
            prometheus_metrics_enabled: true,
        }
    }
}

/// Falco's `log_level` names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    #[default]
    Info,
    Debug,
}

/// Falco's `syscall_event_drops`: when and how to report kernel drops.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct SyscallEventDrops {
    /// Fraction of the last second's events dropped that triggers the actions, in [0, 1].
    pub threshold: f64,
    pub actions: Vec<DropAction>,
    /// Token bucket refill, messages per second (0.03333: one per 30 s).
    pub rate: f64,
    pub max_burst: u32,
    /// Pretend drops happen, to test the actions.
    pub simulate_drops: bool,
}

impl Default for SyscallEventDrops {
    fn default() -> Self {
        SyscallEventDrops {
            threshold: 0.1,
            actions: vec![DropAction::Log, DropAction::Alert],
            rate: 0.03333,
            max_burst: 1,
            simulate_drops: false,
        }
    }
}

/// Falco's `metrics`: periodic snapshots as an internal alert or a file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct Metrics {
    pub enabled: bool,
    pub interval: Interval,
    /// Emit "Falco internal: metrics snapshot" alerts.
    pub output_rule: bool,
    /// Append snapshots as JSON lines; empty for none.
    pub output_file: String,
    pub rules_counters_enabled: bool,
    pub resource_utilization_enabled: bool,
    pub state_counters_enabled: bool,
    pub kernel_event_counters_enabled: bool,
    pub kernel_event_counters_per_cpu_enabled: bool,
    /// Run counts and times of the agent's BPF programs, when the kernel
    /// collects them (`/proc/sys/kernel/bpf_stats_enabled`).
    pub libbpf_stats_enabled: bool,
    /// Memory figures in MB (`*_mb`) rather than the raw unit (`*_kb`, `*_bytes`).
    pub convert_memory_to_mb: bool,
    /// Also report zero-valued metrics (the headline counters always are).
    pub include_empty_values: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: false,
            interval: Interval(Duration::from_secs(3600)),
            output_rule: true,
            output_file: String::new(),
            rules_counters_enabled: true,
            resource_utilization_enabled: true,
            state_counters_enabled: true,
            kernel_event_counters_enabled: true,
            kernel_event_counters_per_cpu_enabled: false,
            libbpf_stats_enabled: true,
            convert_memory_to_mb: true,
            include_empty_values: false,
        }
    }
}

/// Falco's `base_syscalls`: the syscalls traced beyond the rules' own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BaseSyscalls {
    /// Syscall names to add; `!name` removes one.
    pub custom_set: Vec<String>,
    /// Add only the minimal set the state engine needs.
    pub repair: bool,
    /// Trace every syscall saker knows, including the noisy ones.
    pub all: bool,
}
