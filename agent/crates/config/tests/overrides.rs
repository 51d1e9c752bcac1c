//! `-o key.path=value` (Falco's syntax) and `config_files` includes.

use std::path::PathBuf;

use saker_config::{Config, ConfigError, DropAction, Loaded};

fn load(text: &str, o: &[&str]) -> Result<Loaded, ConfigError> {
    let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
    Config::from_str_with("cfg.yaml", text, &o)
}

#[test]
fn scalars_are_typed_by_their_key() {
    let l = load(
        "json_output: false\n",
        &["json_output=true", "output_timeout=500", "priority=error"],
    )
    .unwrap();
    assert!(l.config.json_output);
    assert_eq!(l.config.output_timeout, 500);
    assert_eq!(l.config.priority, saker_config::Priority::Error);
    assert!(l.warnings.is_empty());
}

#[test]
fn deep_overrides_create_missing_sections() {
    let l = load(
        "",
        &[
            "webserver.listen_port=9000",
            "http_output.enabled=true",
            "http_output.url=http://127.0.0.1:2801/",
            "api.tls.cert=/c.pem",
            "api.tls.key=/k.pem",
            "api.listen=0.0.0.0:9443",
            "capture.scope=containers",
        ],
    )
    .unwrap();
    let c = &l.config;
    assert_eq!(c.webserver.listen_port, 9000);
    assert!(c.http_output.enabled);
    assert_eq!(c.http_output.url, "http://127.0.0.1:2801/");
    assert_eq!(c.api.tls.cert, Some(PathBuf::from("/c.pem")));
    assert_eq!(c.http_listen().to_string(), "0.0.0.0:9443");
}

#[test]
fn list_overrides_index_append_and_replace() {
    let base = "rules_files:\n  - /a.yaml\n  - /b.yaml\n";
    let l = load(
        base,
        &[
            "rules_files[0]=/z.yaml",
            "rules_files[]=/c.yaml",
            "rules_files[3]=/d.yaml",
        ],
    )
    .unwrap();
    assert_eq!(
        l.config.rules_files,
        ["/z.yaml", "/b.yaml", "/c.yaml", "/d.yaml"].map(PathBuf::from)
    );
    let l = load(base, &["rules_files=/only.yaml"]).unwrap();
    assert_eq!(l.config.rules_files, [PathBuf::from("/only.yaml")]);
    let l = load(
        base,
        &[
            "rules_files=[/x.yaml, /y.yaml]",
            "syscall_event_drops.actions=[exit]",
        ],
    )
    .unwrap();
    assert_eq!(
        l.config.rules_files,
        ["/x.yaml", "/y.yaml"].map(PathBuf::from)
    );
    assert_eq!(l.config.syscall_event_drops.actions, [DropAction::Exit]);
    let l = load(
        "",
        &[
            "base_syscalls.custom_set=",
            "base_syscalls.custom_set[]=!mprotect",
        ],
    )
    .unwrap();
    assert_eq!(l.config.base_syscalls.custom_set, ["!mprotect"]);
}

#[test]
fn object_values_as_in_falco() {
    let l = load(
        "",
        &[
            "append_output[]={match: {rule: Terminal shell in container}, extra_output: on %evt.cpu}",
            "webserver={listen_port: 1234, enabled: false}",
        ],
    )
    .unwrap();
    assert_eq!(
        l.config.append_output[0].matches.rule.as_deref(),
        Some("Terminal shell in container")
    );
    assert_eq!(l.config.webserver.listen_port, 1234);
    assert!(!l.config.webserver.enabled);
}

#[test]
fn override_type_errors_name_the_option() {
    let e = load("", &["webserver.listen_port=abc"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        r#"-o webserver.listen_port=abc: webserver.listen_port: expected an integer, got "abc""#
    );
    let e = load("", &["rules_files={a: b}"]).unwrap_err().to_string();
    assert_eq!(
        e,
        "-o rules_files={a: b}: rules_files: expected a list, got a mapping"
    );
    let l = load("", &["webserver.urll=x"]).unwrap();
    assert_eq!(
        l.warnings,
        ["-o webserver.urll=x: unknown key webserver.urll"]
    );
}

#[test]
fn bad_overrides_are_clear_errors() {
    let cases = [
        ("foo", "bad -o \"foo\": expected key=value"),
        ("=x", "bad -o \"=x\": empty key"),
        ("a..b=1", "bad -o \"a..b=1\": empty name in key"),
        ("rules_files[x]=1", "bad -o \"rules_files[x]=1\": expected a list index, found \"x\""),
        ("rules_files[0=1", "bad -o \"rules_files[0=1\": missing ']'"),
        ("rules_files[5]=/x", "bad -o \"rules_files[5]=/x\": rules_files[5]: index out of range (the list has 1 items)"),
        ("json_output.x=1", "bad -o \"json_output.x=1\": cannot set key \"x\" inside json_output"),
        ("json_output[0]=1", "bad -o \"json_output[0]=1\": json_output is \"true\", not a list"),
        ("webserver={a: [}", "bad -o \"webserver={a: [}\": value is not valid YAML"),
    ];
    for (o, want) in cases {
        let e = load("rules_files: [/a]\njson_output: true\n", &[o]).unwrap_err();
        assert!(matches!(e, ConfigError::Override { .. }), "{o}: {e:?}");
        let got = e.to_string();
        assert!(
            got.starts_with(want),
            "for -o {o}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn config_files_merge_with_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(
        d.join("10-rules.yaml"),
        "rules_files: [/extra.yaml]\njson_output: true\n",
    )
    .unwrap();
    std::fs::write(d.join("20-port.yml"), "webserver: {listen_port: 9001}\n").unwrap();
    std::fs::write(d.join("30-ignored.txt"), "not: yaml: at all: [\n").unwrap();
    let over = dir.path().join("over.yaml");
    std::fs::write(&over, "rules_files: [/only.yaml]\n").unwrap();
    let addonly = dir.path().join("add.yaml");
    std::fs::write(&addonly, "json_output: false\nlog_level: debug\n").unwrap();
    let main = dir.path().join("main.yaml");
    std::fs::write(
        &main,
        format!(
            "config_files:\n  - {}\n  - {{path: {}, strategy: add-only}}\nrules_files: [/main.yaml]\n",
            d.display(),
            addonly.display()
        ),
    )
    .unwrap();
    let l = Config::load(Some(&main), &[]).unwrap();
    assert_eq!(
        l.config.rules_files,
        ["/main.yaml", "/extra.yaml"].map(PathBuf::from)
    );
    assert!(l.config.json_output);
    assert_eq!(l.config.webserver.listen_port, 9001);
    assert_eq!(l.config.log_level, saker_config::LogLevel::Debug);
    assert_eq!(
        l.files,
        [
            main.clone(),
            d.join("10-rules.yaml"),
            d.join("20-port.yml"),
            addonly
        ]
    );
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);

    // -o config_files is applied before the includes, as in Falco.
    let o = vec![format!(
        "config_files=[{{path: {}, strategy: override}}]",
        over.display()
    )];
    let l = Config::load(Some(&main), &o).unwrap();
    assert_eq!(l.config.rules_files, [PathBuf::from("/only.yaml")]);

    // Nested includes are refused; a missing included file is an error.
    let nested = dir.path().join("nested.yaml");
    std::fs::write(&nested, "config_files: [/x]\n").unwrap();
    let o = vec![format!("config_files={}", nested.display())];
    let e = Config::load(Some(&main), &o).unwrap_err().to_string();
    assert!(
        e.contains("config_files: not allowed in an included config file"),
        "{e}"
    );
    let e = Config::load(Some(&main), &["config_files=/nonexistent/x.yaml".into()]).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.yaml"), "{e}");
    // Type errors in an included file name that file.
    std::fs::write(&over, "webserver: {listen_port: x}\n").unwrap();
    let o = vec![format!("config_files={}", over.display())];
    let e = Config::load(Some(&main), &o).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:1: webserver.listen_port", over.display())),
        "{e}"
    );
}
