//! The shipped config and the unmodified upstream falco.yaml.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use saker_config::sections::CaptureScope;
use saker_config::{Config, DropAction, Priority, RuleMatching};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn upstream_dir() -> PathBuf {
    std::env::var_os("SAKER_FALCO_UPSTREAM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/falco-upstream"))
}

#[test]
fn shipped_config_loads_without_warnings() {
    let path = workspace().join("deploy/saker.yaml");
    let loaded = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let c = &loaded.config;
    assert!(c.json_output);
    assert!(c.stdout_output.enabled);
    assert!(c.rules_files.iter().any(|p| p.ends_with("rules.d")));
    assert_eq!(c.http_listen().to_string(), "127.0.0.1:8765");
    assert_eq!(c.capture.scope, CaptureScope::Host);
    assert_eq!(c.capture.ring_bytes.0, 8 << 20);
    assert!(c.store.enabled);
    assert_eq!(c.store.max_age(), Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(c.store.max_bytes(), Some(1 << 30));
    assert_eq!(c.gate.trivy.timeout.0, Duration::from_secs(300));
    assert_eq!(loaded.files, vec![path]);
    // The shipped file states the defaults: loading nothing gives the same.
    let defaults = Config::load(None, &[]).unwrap();
    assert!(defaults.warnings.is_empty());
    assert_eq!(defaults.config.container, c.container);
    assert_eq!(defaults.config.store, c.store);
    assert_eq!(defaults.config.metrics, c.metrics);
    assert_eq!(defaults.config.syscall_event_drops, c.syscall_event_drops);
    assert_eq!(defaults.config.api, c.api);
    assert_eq!(defaults.config.gate, c.gate);
    assert_eq!(defaults.config.webserver, c.webserver);
}

#[test]
fn upstream_falco_yaml_loads_with_falco_values() {
    let path = upstream_dir().join("falco.yaml");
    assert!(
        path.is_file(),
        "{} not found; set SAKER_FALCO_UPSTREAM to the falco-upstream directory",
        path.display()
    );
    let loaded = Config::load(Some(&path), &[]).unwrap();
    let c = &loaded.config;
    assert!(!c.json_output);
    assert!(c.json_include_output_property);
    assert!(c.json_include_tags_property);
    assert!(c.json_include_output_fields_property);
    assert!(!c.json_include_message_property);
    assert_eq!(c.priority, Priority::Debug);
    assert_eq!(c.rule_matching, RuleMatching::First);
    assert!(c.watch_config_files);
    assert_eq!(
        c.rules_files,
        [
            "/etc/falco/falco_rules.yaml",
            "/etc/falco/falco_rules.local.yaml",
            "/etc/falco/rules.d"
        ]
        .map(PathBuf::from)
    );
    assert!(c.rules.is_empty());
    assert_eq!(c.webserver.listen_port, 8765);
    assert_eq!(
        c.webserver.listen_address,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    assert!(c.webserver.enabled);
    assert!(!c.webserver.prometheus_metrics_enabled);
    assert_eq!(
        c.webserver.ssl_certificate,
        PathBuf::from("/etc/falco/falco.pem")
    );
    assert!(c.stdout_output.enabled);
    assert!(c.syslog_output.enabled);
    assert!(!c.file_output.enabled);
    assert_eq!(c.file_output.filename, "./events.txt");
    assert_eq!(c.http_output.user_agent, "falcosecurity/falco");
    assert_eq!(c.http_output.max_consecutive_timeouts, 5);
    assert_eq!(c.outputs_queue.capacity, 0);
    assert_eq!(c.output_timeout, 2000);
    assert!(!c.buffered_outputs);
    assert_eq!(c.append_output.len(), 1);
    assert_eq!(c.append_output[0], Default::default());
    assert_eq!(c.syscall_event_drops.threshold, 0.1);
    assert_eq!(
        c.syscall_event_drops.actions,
        [DropAction::Log, DropAction::Alert]
    );
    assert_eq!(c.syscall_event_drops.rate, 0.03333);
    assert_eq!(c.syscall_event_drops.max_burst, 1);
    assert!(!c.metrics.enabled);
    assert_eq!(c.metrics.interval.0, Duration::from_secs(3600));
    assert!(c.base_syscalls.custom_set.is_empty());
    assert!(!c.base_syscalls.repair);
    assert!(c.log_stderr && c.log_syslog);
    // Falco-only keys warn as ignored; nothing is unknown.
    let w = loaded.warnings.join("\n");
    assert!(!w.contains("unknown key"), "{w}");
    for key in [
        "engine",
        "plugins",
        "load_plugins",
        "falco_libs",
        "capture.path_prefix",
        "webserver.threadiness",
        "append_output[0].suggested_output",
    ] {
        assert!(
            w.contains(&format!(": {key}: ignored: not applicable to saker")),
            "{key} not reported in:\n{w}"
        );
    }
    // Each warning names the file and line.
    assert!(loaded
        .warnings
        .iter()
        .all(|l| l.starts_with(&format!("{}:", path.display()))));
}

#[test]
fn upstream_with_overrides_like_falco_docs() {
    let path = upstream_dir().join("falco.yaml");
    let o = ["json_output=true", "log_level=debug", "engine.kind=kmod"].map(String::from);
    let loaded = Config::load(Some(&path), &o).unwrap();
    assert!(loaded.config.json_output);
    assert_eq!(loaded.config.log_level, saker_config::LogLevel::Debug);
}
