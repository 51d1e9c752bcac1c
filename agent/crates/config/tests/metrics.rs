//! Falco's `metrics:` section: every key typed, the 100 ms floor Falco
//! enforces, `-o` overrides, and errors that name the key.

use std::time::Duration;

use saker_config::{Config, ConfigError, Loaded};

fn load(text: &str, o: &[&str]) -> Result<Loaded, ConfigError> {
    let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
    Config::from_str_with("cfg.yaml", text, &o)
}

fn err(text: &str, o: &[&str]) -> String {
    load(text, o).unwrap_err().to_string()
}

#[test]
fn every_falco_key_is_read() {
    let l = load(
        "metrics:
  enabled: true
  interval: 15m
  output_rule: false
  output_file: /tmp/falco_stats.jsonl
  rules_counters_enabled: false
  resource_utilization_enabled: false
  state_counters_enabled: false
  kernel_event_counters_enabled: false
  kernel_event_counters_per_cpu_enabled: true
  libbpf_stats_enabled: false
  plugins_metrics_enabled: true
  kernel_iter_event_counters_enabled: true
  jemalloc_stats_enabled: false
  convert_memory_to_mb: false
  include_empty_values: true
",
        &[],
    )
    .unwrap();
    let m = &l.config.metrics;
    assert!(m.enabled);
    assert_eq!(m.interval.0, Duration::from_secs(15 * 60));
    assert!(!m.output_rule);
    assert_eq!(m.output_file, "/tmp/falco_stats.jsonl");
    assert!(!m.rules_counters_enabled);
    assert!(!m.resource_utilization_enabled);
    assert!(!m.state_counters_enabled);
    assert!(!m.kernel_event_counters_enabled);
    assert!(m.kernel_event_counters_per_cpu_enabled);
    assert!(!m.libbpf_stats_enabled);
    assert!(!m.convert_memory_to_mb);
    assert!(m.include_empty_values);
    // Only the Falco-only keys warn, as ignored; none is "unknown".
    assert_eq!(l.warnings.len(), 3, "{:?}", l.warnings);
    for w in &l.warnings {
        assert!(w.contains("ignored: not applicable to saker"), "{w}");
    }
}

#[test]
fn defaults_are_falcos() {
    let m = load("", &[]).unwrap().config.metrics;
    assert!(!m.enabled);
    assert_eq!(m.interval.0, Duration::from_secs(3600));
    assert!(m.output_rule);
    assert!(m.output_file.is_empty());
    assert!(m.libbpf_stats_enabled);
    assert!(m.convert_memory_to_mb);
    assert!(!m.include_empty_values);
}

#[test]
fn overrides_as_the_e2e_test_passes_them() {
    let m = load(
        "",
        &[
            "metrics.enabled=true",
            "metrics.interval=1s",
            "metrics.output_rule=true",
            "metrics.include_empty_values=true",
        ],
    )
    .unwrap()
    .config
    .metrics;
    assert!(m.enabled);
    assert_eq!(m.interval.0, Duration::from_secs(1));
    assert!(m.output_rule);
    assert!(m.include_empty_values);
}

#[test]
fn interval_floor_is_100ms_when_enabled() {
    // Falco refuses to start below 100ms ("Metrics interval must have a
    // minimum value of 100ms"); a disabled section is not checked.
    let ok = load("metrics: {enabled: true, interval: 100ms}\n", &[]).unwrap();
    assert_eq!(ok.config.metrics.interval.0, Duration::from_millis(100));
    assert!(load("metrics: {enabled: false, interval: 99ms}\n", &[]).is_ok());
    let e = err("metrics:\n  enabled: true\n  interval: 99ms\n", &[]);
    assert!(
        e.contains("metrics.interval: must be at least 100ms, got 99ms"),
        "{e}"
    );
    let e = err("", &["metrics.enabled=true", "metrics.interval=50ms"]);
    assert!(e.contains("metrics.interval"), "{e}");
    assert!(e.contains("at least 100ms"), "{e}");
}

#[test]
fn wrong_types_name_the_key() {
    let cases = [
        (
            "metrics:\n  enabled: sometimes\n",
            "cfg.yaml:2: metrics.enabled: expected a boolean (true or false), got \"sometimes\"",
        ),
        (
            "metrics:\n  output_rule: [a]\n",
            "cfg.yaml:2: metrics.output_rule: expected a boolean (true or false), got a list",
        ),
        (
            "metrics:\n  output_file: {a: b}\n",
            "cfg.yaml:2: metrics.output_file: expected a string, got a mapping",
        ),
        (
            "metrics:\n  interval: soon\n",
            "cfg.yaml:2: metrics.interval: expected a duration like 500ms",
        ),
        (
            "metrics:\n  interval: 15\n",
            "cfg.yaml:2: metrics.interval: expected a duration like 500ms",
        ),
        (
            "metrics:\n  libbpf_stats_enabled: 2\n",
            "cfg.yaml:2: metrics.libbpf_stats_enabled: expected a boolean (true or false), got \"2\"",
        ),
        (
            "metrics:\n  convert_memory_to_mb: mb\n",
            "cfg.yaml:2: metrics.convert_memory_to_mb: expected a boolean",
        ),
        (
            "metrics:\n  include_empty_values: 0.5\n",
            "cfg.yaml:2: metrics.include_empty_values: expected a boolean",
        ),
        ("metrics: on\n", "cfg.yaml:1: metrics: expected a mapping"),
    ];
    for (text, want) in cases {
        let got = err(text, &[]);
        assert!(
            got.starts_with(want),
            "for {text:?}\n got: {got}\nwant: {want}"
        );
    }
    let e = err("", &["metrics.enabled=perhaps"]);
    assert!(e.contains("metrics.enabled"), "{e}");
    assert!(e.contains("boolean"), "{e}");
}

#[test]
fn a_key_without_a_value_keeps_its_default() {
    // As in Falco (yaml-cpp), `key:` with nothing after it is the default.
    let m = load("metrics:\n  include_empty_values:\n  output_rule:\n", &[])
        .unwrap()
        .config
        .metrics;
    assert!(!m.include_empty_values);
    assert!(m.output_rule);
}

#[test]
fn a_typo_in_the_section_warns_with_its_path() {
    let l = load("metrics:\n  enabeld: true\n", &[]).unwrap();
    assert!(!l.config.metrics.enabled);
    assert!(
        l.warnings.iter().any(|w| w.contains("metrics.enabeld")),
        "{:?}",
        l.warnings
    );
}
