//! Invalid rules files: each error names the file, the line (and column) and
//! the item, says what was expected where useful, and nothing panics.

use saker_rules::diag::{Code, Diagnostic, ItemKind};
use saker_rules::{load_str, LoadOptions};

const FILE: &str = "/rules/local.yaml";

/// Loads `yaml`, expects failure, and returns the first error.
fn first_error(yaml: &str) -> Diagnostic {
    let diags = match load_str(FILE, yaml, &LoadOptions::default()) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(d) => d,
    };
    // Rendering must work too (snippets) and mention the file.
    let rendered = diags.render(false);
    assert!(rendered.contains(FILE), "{rendered}");
    let first = diags.errors().next().expect("an error").clone();
    first
}

fn assert_at(d: &Diagnostic, line: u32, kind: ItemKind, name: &str) {
    let pos = d.pos.as_ref().expect("a position");
    assert_eq!(pos.file.to_str(), Some(FILE), "{d}");
    assert_eq!(pos.line, line, "{d}");
    assert!(pos.col >= 1, "{d}");
    let item = d.item.as_ref().expect("an item");
    assert_eq!((item.kind, item.name.as_str()), (kind, name), "{d}");
}

const GOOD_RULE: &str = "- rule: base
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
";

#[test]
fn malformed_yaml() {
    let d = first_error("- rule: broken\n  desc: [unclosed\n  condition: evt.type = open\n");
    assert_eq!(d.code, Code::YamlParse);
    assert!(d.pos.as_ref().unwrap().line >= 2);
    assert_eq!(d.item.as_ref().unwrap().name, "broken");
    assert_eq!(d.pos.as_ref().unwrap().file.to_str(), Some(FILE));
}

#[test]
fn not_a_sequence() {
    let d = first_error("rule: x\n");
    assert_eq!(d.code, Code::YamlValidate);
    assert_eq!(d.pos.as_ref().unwrap().line, 1);
}

#[test]
fn unknown_field() {
    let d = first_error(
        "- rule: uses unknown field\n  desc: d\n  condition: >\n    evt.type = open and\n    proc.nosuchfield = x\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(d.code, Code::CompileCondition);
    assert_at(&d, 5, ItemKind::Rule, "uses unknown field");
    assert_eq!(d.pos.as_ref().unwrap().col, 5);
    assert!(d.message.contains("proc.nosuchfield"), "{d}");
}

#[test]
fn unknown_field_skipped_with_skip_if_unknown_filter() {
    let yaml = "- rule: skipme\n  desc: d\n  condition: evt.type = open and proc.nosuchfield = x\n  output: o\n  priority: INFO\n  skip-if-unknown-filter: true\n";
    let l = load_str(FILE, yaml, &LoadOptions::default()).expect("loads with a warning");
    assert_eq!(l.counts.active_rules, 0);
    let w = l
        .diagnostics
        .warnings()
        .find(|w| w.code == Code::UnknownFilter)
        .expect("warning");
    assert_eq!(w.item.as_ref().unwrap().name, "skipme");
}

#[test]
fn undefined_macro() {
    let d = first_error(
        "- rule: needs macro\n  desc: d\n  condition: evt.type = open and not_a_macro\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(d.message, "Undefined macro 'not_a_macro' used in filter.");
    assert_at(&d, 3, ItemKind::Rule, "needs macro");
    assert_eq!(d.pos.as_ref().unwrap().col, 34);
}

#[test]
fn macro_sees_only_earlier_macros() {
    let d = first_error(
        "- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open\n- rule: r\n  desc: d\n  condition: a\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(d.message, "Undefined macro 'b' used in filter.");
    assert_at(&d, 2, ItemKind::Macro, "a");
}

#[test]
fn append_to_undefined_rule() {
    let d = first_error(&format!(
        "{GOOD_RULE}- rule: ghost\n  condition: and proc.name = x\n  override:\n    condition: append\n"
    ));
    assert_eq!(d.code, Code::Validate);
    assert_at(&d, 6, ItemKind::Rule, "ghost");
    assert!(d.expected.is_some());
    let d = first_error(&format!(
        "{GOOD_RULE}- rule: ghost2\n  condition: and proc.name = x\n  append: true\n"
    ));
    assert_at(&d, 6, ItemKind::Rule, "ghost2");
}

#[test]
fn bad_priority() {
    let d = first_error(
        "- rule: loud\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: LOUDEST\n",
    );
    assert_at(&d, 5, ItemKind::Rule, "loud");
    assert_eq!(d.pos.as_ref().unwrap().col, 13);
    assert!(d.message.contains("LOUDEST"));
    assert!(d.expected.as_deref().unwrap().contains("warning"));
}

#[test]
fn bad_regex() {
    let d = first_error(
        "- rule: regexy\n  desc: d\n  condition: evt.type = open and proc.name regex \"[unclosed\"\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(d.code, Code::CompileCondition);
    assert_at(&d, 3, ItemKind::Rule, "regexy");
}

#[test]
fn unbalanced_parenthesis() {
    let d = first_error(
        "- rule: parens\n  desc: d\n  condition: (evt.type = open and (proc.name = x)\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(d.code, Code::CompileCondition);
    assert_at(&d, 3, ItemKind::Rule, "parens");
}

#[test]
fn incompatible_engine_version() {
    let d = first_error(&format!("- required_engine_version: 0.99.0\n{GOOD_RULE}"));
    assert_eq!(d.code, Code::Validate);
    assert_at(&d, 1, ItemKind::RequiredEngineVersion, "");
    assert!(
        d.message.contains("0.99.0") && d.message.contains("0.57.0"),
        "{d}"
    );
    let d = first_error("- required_engine_version: 1.0.0\n");
    assert!(d.message.contains("1.0.0"));
    let d = first_error("- required_engine_version: not.a.version\n");
    assert!(d.expected.as_deref().unwrap().contains("semver"));
    // Legacy integers mean 0.N.0; older and equal versions load.
    assert!(load_str(
        FILE,
        "- required_engine_version: 12\n- required_engine_version: 0.57.0\n",
        &LoadOptions::default()
    )
    .is_ok());
    assert!(load_str(
        FILE,
        "- required_engine_version: 58\n",
        &LoadOptions::default()
    )
    .is_err());
}

#[test]
fn missing_required_key() {
    let d = first_error(
        "- rule: nodesc\n  condition: evt.type = open\n  output: o\n  priority: INFO\n",
    );
    assert!(d.message.contains("'desc'"), "{d}");
    assert_at(&d, 1, ItemKind::Rule, "nodesc");
}

#[test]
fn wrong_type_for_key() {
    let d = first_error("- rule: t\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  enabled: maybe\n");
    assert_at(&d, 6, ItemKind::Rule, "t");
    assert_eq!(d.expected.as_deref(), Some("true or false"));
    let d = first_error("- list: l\n  items: notalist\n");
    assert_at(&d, 2, ItemKind::List, "l");
}

#[test]
fn output_with_unknown_field() {
    let d = first_error("- rule: out\n  desc: d\n  condition: evt.type = open\n  output: \"x=%proc.nosuch\"\n  priority: INFO\n");
    assert_eq!(d.code, Code::CompileOutput);
    assert_at(&d, 4, ItemKind::Rule, "out");
}

#[test]
fn unknown_key_is_a_warning() {
    let yaml = format!("{GOOD_RULE}  colour: red\n");
    let l = load_str(FILE, &yaml, &LoadOptions::default()).expect("warnings only");
    let w = l
        .diagnostics
        .warnings()
        .find(|w| w.code == Code::UnknownKey)
        .expect("warning");
    assert_eq!(w.pos.as_ref().unwrap().line, 6);
    assert!(w.message.contains("colour"));
}

#[test]
fn garbage_never_panics() {
    for text in [
        "",
        "-",
        "- -",
        ":",
        "[[[[",
        "- rule:",
        "- rule: x\n  exceptions: 3",
        "- macro: 3\n  condition: [a]",
        "\u{0}\u{1}",
        "- list: x\n  items: [a, [b]]",
        "- rule: x\n  override: 5",
        "- rule: x\n  override: {condition: explode}",
        "- required_plugin_versions: [{name: container, version: x}]",
        "&a [*a]",
        "- rule: x\n  desc: d\n  condition: ((((((\n  output: o\n  priority: info",
    ] {
        let _ = load_str(FILE, text, &LoadOptions::default());
    }
}

#[test]
fn plugin_requirements() {
    // The container plugin is built in; other plugins warn.
    let ok = "- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n";
    let l = load_str(FILE, ok, &LoadOptions::default()).expect("container is built in");
    assert_eq!(l.diagnostics.warning_count(), 0);
    let other = "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n";
    let l = load_str(FILE, other, &LoadOptions::default()).expect("warning only");
    let w = l.diagnostics.warnings().next().expect("a warning");
    assert!(w.message.contains("k8saudit"));
    assert_eq!(w.pos.as_ref().unwrap().line, 2);
    let bad = "- required_plugin_versions:\n  - name: container\n    version: latest\n";
    let d = first_error(bad);
    assert!(d.message.contains("Invalid required version"), "{d}");
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<saker_rules::Engine>();
    assert_send_sync::<saker_rules::Loaded>();
}

#[test]
fn broken_macro_is_reported_once() {
    let yaml = "- macro: m\n  condition: (evt.type = open\n- rule: r\n  desc: d\n  condition: m and proc.name = x\n  output: o\n  priority: INFO\n";
    let d = load_str(FILE, yaml, &LoadOptions::default()).unwrap_err();
    assert_eq!(d.error_count(), 1, "{}", d.render(false));
    let e = d.errors().next().unwrap();
    assert_at(e, 2, ItemKind::Macro, "m");
}

#[test]
fn append_output_matches_rules_like_falco() {
    use saker_rules::AppendOutput;
    let yaml = "- rule: a\n  desc: d\n  condition: evt.type = execve\n  output: base a\n  priority: INFO\n  tags: [net, x]\n- rule: b\n  desc: d\n  condition: evt.type = execve\n  output: base b\n  priority: INFO\n";
    let mut opts = LoadOptions::default();
    opts.engine.append_output = vec![
        AppendOutput {
            tags: vec!["net".into()],
            extra_output: Some("on %proc.name".into()),
            ..Default::default()
        },
        AppendOutput {
            extra_fields: vec![("host".into(), "%evt.hostname".into())],
            ..Default::default()
        },
        AppendOutput {
            rule: Some("b".into()),
            source: Some("k8s_audit".into()),
            extra_output: Some("never".into()),
            ..Default::default()
        },
    ];
    let l = load_str(FILE, yaml, &opts).expect("loads");
    let rules = l.engine.rules();
    assert_eq!(rules[0].output_text, "base a on %proc.name");
    assert_eq!(rules[1].output_text, "base b");
    assert_eq!(rules[1].extra_fields.len(), 1);
    assert_eq!(rules[1].extra_fields[0].0, "host");
    opts.engine.append_output = vec![AppendOutput {
        extra_fields: vec![("bad".into(), "%no.such".into())],
        ..Default::default()
    }];
    let d = load_str(FILE, yaml, &opts).unwrap_err();
    assert_eq!(d.errors().next().unwrap().code, Code::CompileOutput);
}
