//! What a user sees for each mistake: warnings that still load, and errors
//! that name the file, line, key and expected type.

use std::path::PathBuf;

use saker_config::{Config, ConfigError, Loaded, Priority, Selection};

fn load(text: &str) -> Result<Loaded, ConfigError> {
    Config::from_str_with("cfg.yaml", text, &[])
}

fn err(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_key_warns_and_still_loads() {
    let l = load(
        "json_output: true\nhttp_output:\n  enabled: false\n  urll: http://x\nfrobnicate: 1\n",
    )
    .unwrap();
    assert!(l.config.json_output);
    assert_eq!(
        l.warnings,
        [
            "cfg.yaml:4: unknown key http_output.urll (did you mean url?)",
            "cfg.yaml:5: unknown key frobnicate"
        ]
    );
}

#[test]
fn unknown_key_in_list_item_has_index() {
    let l = load("append_output:\n  - match: {rule: x, tag: y}\n").unwrap();
    assert_eq!(
        l.warnings,
        ["cfg.yaml:2: unknown key append_output[0].match.tag (did you mean tags?)"]
    );
}

#[test]
fn ignored_falco_keys_say_so() {
    let l = load("engine:\n  kind: kmod\nwebserver:\n  threadiness: 4\n").unwrap();
    assert_eq!(
        l.warnings,
        [
            "cfg.yaml:1: engine: ignored: not applicable to saker",
            "cfg.yaml:4: webserver.threadiness: ignored: not applicable to saker"
        ]
    );
}

#[test]
fn wrong_types_fail_with_path_line_and_expected_type() {
    let cases = [
        ("webserver:\n  listen_port: abc\n", r#"cfg.yaml:2: webserver.listen_port: expected an integer, got "abc""#),
        ("webserver:\n  listen_port: 70000\n", "cfg.yaml:2: webserver.listen_port: expected an integer from 0 to 65535, got \"70000\""),
        ("json_output: maybe\n", r#"cfg.yaml:1: json_output: expected a boolean (true or false), got "maybe""#),
        ("webserver: 5\n", r#"cfg.yaml:1: webserver: expected a mapping, got "5""#),
        ("rules_files: {a: b}\n", "cfg.yaml:1: rules_files: expected a list, got a mapping"),
        ("stdout_output:\n  enabled: [x]\n", "cfg.yaml:2: stdout_output.enabled: expected a boolean (true or false), got a list"),
        ("syscall_event_drops:\n  actions: [log, shout]\n", r#"cfg.yaml:2: syscall_event_drops.actions[1]: expected one of ignore, log, alert, exit, got "shout""#),
        ("syscall_event_drops:\n  threshold: lots\n", r#"cfg.yaml:2: syscall_event_drops.threshold: expected a number, got "lots""#),
        ("rule_matching: some\n", r#"cfg.yaml:1: rule_matching: expected one of first, all, got "some""#),
        ("priority: loud\n", "cfg.yaml:1: priority: expected one of emergency"),
        ("metrics:\n  interval: 10\n", r#"cfg.yaml:2: metrics.interval: expected a duration like 500ms, 30s, 15m, 1h or 7d, got "10""#),
        ("webserver:\n  listen_address: localhost\n", "cfg.yaml:2: webserver.listen_address: invalid IP address syntax"),
        ("api:\n  listen: 127.0.0.1\n", "cfg.yaml:2: api.listen: invalid socket address syntax"),
        ("capture:\n  ring_bytes: lots\n", "cfg.yaml:2: capture.ring_bytes: expected a size like"),
        ("rules:\n  - enable: {rule: a, tag: b}\n", "cfg.yaml:2: rules[0]: expected exactly one of rule: or tag:"),
        ("rules:\n  - enable: {rule: a}\n    disable: {rule: b}\n", "cfg.yaml:2: rules[0]: expected exactly one of enable: or disable:"),
        ("append_output:\n  - extra_fields: [{a: x, b: y}]\n", "cfg.yaml:2: append_output[0].extra_fields[0]: expected one name: format pair per list item"),
        ("- a\n- b\n", "cfg.yaml:1: (top level): expected a mapping of config keys, got a list"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(
            got.starts_with(want),
            "for {text:?}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn invalid_values_fail_with_key() {
    let cases = [
        (
            "syscall_event_drops:\n  threshold: 2\n",
            "cfg.yaml:2: syscall_event_drops.threshold: expected a number from 0 to 1",
        ),
        (
            "syscall_event_drops:\n  actions: [ignore, log]\n",
            "cfg.yaml:2: syscall_event_drops.actions: ignore cannot be combined",
        ),
        (
            "http_output:\n  enabled: true\n",
            "cfg.yaml:1: http_output.url: required when http_output is enabled",
        ),
        (
            "capture:\n  ring_bytes: 5000\n",
            "cfg.yaml:2: capture.ring_bytes: expected a power of two",
        ),
        (
            "capture:\n  scope: containers\n  target_pid: 1\n",
            "cfg.yaml:2: capture.scope: containers cannot be combined",
        ),
        (
            "api:\n  tls:\n    cert: /c\n",
            "cfg.yaml:2: api.tls: cert and key must be set together",
        ),
        (
            "metrics:\n  enabled: true\n  interval: 10ms\n",
            "cfg.yaml:3: metrics.interval: must be at least 100ms",
        ),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(
            got.starts_with(want),
            "for {text:?}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let e = load("a: 1\nb: [x\n").unwrap_err();
    assert!(matches!(e, ConfigError::Yaml { line: 2 | 3, .. }), "{e:?}");
    assert!(e.to_string().starts_with("cfg.yaml:"), "{e}");
}

#[test]
fn missing_config_file_names_the_path() {
    let e = Config::load(Some("/nonexistent/saker.yaml".as_ref()), &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/saker.yaml"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = Config::load(Some(dir.path()), &[]).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
}

#[test]
fn missing_rules_file_is_the_callers_check() {
    let l = load("rules_files: [/nonexistent/rules.yaml]\n").unwrap();
    assert_eq!(
        l.config.rules_files,
        [PathBuf::from("/nonexistent/rules.yaml")]
    );
}

#[test]
fn yaml_cpp_leniency() {
    // Quoted numbers and booleans are read by the type the key wants, and a
    // lone scalar where a list goes is a list of one, as in Falco.
    let l = load("webserver:\n  listen_port: \"9000\"\njson_output: \"yes\"\nrules_files: /r.yaml\nhttp_output:\n  url: 123\n  enabled: on\n").unwrap();
    assert_eq!(l.config.webserver.listen_port, 9000);
    assert!(l.config.json_output);
    assert_eq!(l.config.rules_files, [PathBuf::from("/r.yaml")]);
    assert_eq!(l.config.http_output.url, "123");
    // An empty section or key keeps the defaults.
    let l = load("webserver:\nstdout_output:\n  enabled:\nsyscall_event_drops: ~\n").unwrap();
    assert_eq!(l.config.webserver.listen_port, 8765);
    assert!(l.config.stdout_output.enabled);
    assert_eq!(l.config.syscall_event_drops.max_burst, 1);
    assert!(l.warnings.is_empty());
    // Duplicate keys: the last wins, with a warning.
    let l = load("json_output: false\njson_output: true\n").unwrap();
    assert!(l.config.json_output);
    assert_eq!(
        l.warnings,
        ["cfg.yaml:2: duplicate key json_output: the last one is used"]
    );
    // Priorities in any case, and Falco's `info`.
    let l = load("priority: WARNING\n").unwrap();
    assert_eq!(l.config.priority, Priority::Warning);
    assert_eq!(
        load("priority: info\n").unwrap().config.priority,
        Priority::Informational
    );
}

#[test]
fn rules_selections_and_append_output() {
    let l = load(
        "rules:\n  - disable: {rule: \"*\"}\n  - enable:\n      tag: network\n  - enable: {rule: Netcat*}\n\
         append_output:\n  - match: {source: syscall, tags: [a, b]}\n    extra_output: on CPU %evt.cpu\n    \
         extra_fields:\n      - evt.hostname\n      - home: \"/root\"\n",
    )
    .unwrap();
    assert_eq!(
        l.config.rules,
        [
            Selection::DisableRule("*".into()),
            Selection::EnableTag("network".into()),
            Selection::EnableRule("Netcat*".into())
        ]
    );
    let a = &l.config.append_output[0];
    assert_eq!(a.matches.source.as_deref(), Some("syscall"));
    assert_eq!(a.matches.tags, ["a", "b"]);
    assert_eq!(a.extra_output.as_deref(), Some("on CPU %evt.cpu"));
    let f: Vec<_> = a
        .extra_fields
        .iter()
        .map(|f| (f.key.as_str(), f.format.as_str()))
        .collect();
    assert_eq!(f, [("evt.hostname", "%evt.hostname"), ("home", "/root")]);
}

#[test]
fn env_vars_expand_like_falco() {
    std::env::set_var("SAKER_CONFIG_TEST_PORT", "9111");
    std::env::set_var("SAKER_CONFIG_TEST_DIR", "/srv");
    let l = load(
        "webserver:\n  listen_port: ${SAKER_CONFIG_TEST_PORT}\nfile_output:\n  filename: ${SAKER_CONFIG_TEST_DIR}/ev.json\n\
         program_output:\n  program: echo $${HOME} ${SAKER_CONFIG_TEST_UNSET}x\n",
    )
    .unwrap();
    assert_eq!(l.config.webserver.listen_port, 9111);
    assert_eq!(l.config.file_output.filename, "/srv/ev.json");
    assert_eq!(l.config.program_output.program, "echo ${HOME} x");
}

#[test]
fn rules_file_is_the_old_spelling() {
    let l = load("rules_file:\n  - /a.yaml\n").unwrap();
    assert_eq!(l.config.rules_files, [PathBuf::from("/a.yaml")]);
    assert_eq!(
        l.warnings,
        ["cfg.yaml:1: rules_file is deprecated, use rules_files"]
    );
    let l = load("rules_file: /a.yaml\nrules_files: [/b.yaml]\n").unwrap();
    assert_eq!(l.config.rules_files, [PathBuf::from("/b.yaml")]);
    assert_eq!(
        l.warnings,
        ["cfg.yaml:1: rules_file: ignored, rules_files is set"]
    );
}

#[test]
fn capture_target_implies_scope_and_sizes_parse() {
    let l = load(
        "capture:\n  target_pid: 42\n  ring_bytes: 16MiB\nstore:\n  max_age: 0s\n  max_bytes: 0\n",
    )
    .unwrap();
    let c = &l.config;
    assert_eq!(
        c.capture.scope,
        saker_config::sections::CaptureScope::TargetPidns
    );
    assert_eq!(c.capture.ring_bytes.0, 16 << 20);
    assert_eq!(c.store.max_age(), None);
    assert_eq!(c.store.max_bytes(), None);
}
