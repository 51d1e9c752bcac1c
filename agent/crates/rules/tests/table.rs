//! The table-driven suite: every case in `tests/cases/*.yaml` is a rules
//! snippet (or just a condition), a synthetic event, and the expected
//! outcome: `match`, `nomatch`, `error`, or the list of rules that match in
//! order. See tests/cases/README.md for the format.

use std::path::PathBuf;

use saker_filter::SyntheticEvent;
use saker_rules::loader::yaml::{self, Kind, Node};
use saker_rules::{load_str, LoadOptions, Priority, RuleMatching, Selection};

struct Case {
    name: String,
    file: String,
    line: u32,
    rules: String,
    events: Vec<Vec<(String, Vec<String>)>>,
    expect: Expect,
    error: Option<String>,
    warning: Option<String>,
    opts: LoadOptions,
}

#[derive(Debug)]
enum Expect {
    Match,
    NoMatch,
    Error,
    Rules(Vec<String>),
}

fn scalar(n: &Node) -> String {
    n.as_scalar().unwrap_or_default().to_string()
}

fn values(n: &Node) -> Vec<String> {
    match &n.kind {
        Kind::Seq(items) => items.iter().map(scalar).collect(),
        Kind::Null => Vec::new(),
        _ => vec![scalar(n)],
    }
}

fn event(n: &Node) -> Vec<(String, Vec<String>)> {
    let Kind::Map(entries) = &n.kind else {
        panic!("event at line {} is not a mapping", n.line)
    };
    entries
        .iter()
        .map(|(k, v)| (scalar(k), values(v)))
        .collect()
}

fn rule_from_condition(cond: &str) -> String {
    let body: String = cond.lines().map(|l| format!("    {l}\n")).collect();
    format!("- rule: r\n  desc: d\n  condition: |-\n{body}  output: \"out %proc.name\"\n  priority: WARNING\n")
}

fn parse_case(file: &str, n: &Node) -> Case {
    let get = |k: &str| n.get(k);
    let name = get("case")
        .map(scalar)
        .unwrap_or_else(|| panic!("{file}:{}: no 'case'", n.line));
    let rules = match (get("rules"), get("condition")) {
        (Some(r), _) => scalar(r),
        (None, Some(c)) => rule_from_condition(&scalar(c)),
        _ => panic!("{file}: case '{name}' has neither rules nor condition"),
    };
    let events = match get("events") {
        Some(Node {
            kind: Kind::Seq(items),
            ..
        }) => items.iter().map(event).collect(),
        _ => vec![get("event").map(event).unwrap_or_default()],
    };
    let expect = match get("expect") {
        Some(Node {
            kind: Kind::Seq(items),
            ..
        }) => Expect::Rules(items.iter().map(scalar).collect()),
        Some(e) => match e.as_scalar() {
            Some("match") => Expect::Match,
            Some("nomatch") => Expect::NoMatch,
            Some("error") => Expect::Error,
            other => panic!("{file}: case '{name}': bad expect {other:?}"),
        },
        None if get("error").is_some() => Expect::Error,
        None => panic!("{file}: case '{name}' has no expect"),
    };
    let mut opts = LoadOptions::default();
    // The suite observes every match unless a case asks for Falco's default.
    opts.engine.rule_matching = RuleMatching::All;
    if let Some(o) = get("options") {
        if let Some(m) = o.get("rule_matching").and_then(Node::as_scalar) {
            opts.engine.rule_matching = RuleMatching::parse(m).expect("rule_matching");
        }
        if let Some(p) = o.get("min_priority").and_then(Node::as_scalar) {
            opts.engine.min_priority = Priority::parse(p).expect("priority");
        }
        for (key, make) in [
            (
                "disable_tag",
                Selection::DisableTag as fn(String) -> Selection,
            ),
            ("enable_tag", Selection::EnableTag),
            ("disable_rule", Selection::DisableRule),
            ("enable_rule", Selection::EnableRule),
        ] {
            if let Some(v) = o.get(key) {
                opts.engine
                    .selections
                    .extend(values(v).into_iter().map(make));
            }
        }
    }
    Case {
        name,
        file: file.to_string(),
        line: n.line,
        rules,
        events,
        expect,
        error: get("error").map(scalar),
        warning: get("warning").map(scalar),
        opts,
    }
}

fn build_event(fields: &[(String, Vec<String>)]) -> Result<SyntheticEvent, String> {
    let ty = fields
        .iter()
        .find(|(k, _)| k == "evt.type")
        .and_then(|(_, v)| v.first().cloned())
        .unwrap_or_else(|| "execve".into());
    let mut ev = SyntheticEvent::new(&ty);
    for (k, v) in fields.iter().filter(|(k, _)| k != "evt.type") {
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        ev.try_set(k, &refs)?;
    }
    Ok(ev)
}

/// Runs one case; `Err` describes how it failed.
fn run(c: &Case) -> Result<(), String> {
    let loaded = load_str("case.yaml", &c.rules, &c.opts);
    let loaded = match (&c.expect, loaded) {
        (Expect::Error, Err(d)) => {
            let first = d.errors().next().ok_or("Err without an error")?;
            if let Some(want) = &c.error {
                if !first.message.contains(want.as_str()) {
                    return Err(format!(
                        "error '{}' does not contain '{want}'",
                        first.message
                    ));
                }
            }
            if first.pos.is_none() {
                return Err(format!("error without a position: {first}"));
            }
            return Ok(());
        }
        (Expect::Error, Ok(_)) => return Err("loaded, but an error was expected".into()),
        (_, Err(d)) => return Err(format!("load failed:\n{}", d.render(false))),
        (_, Ok(l)) => l,
    };
    if let Some(want) = &c.warning {
        if !loaded
            .diagnostics
            .warnings()
            .any(|w| w.message.contains(want.as_str()))
        {
            return Err(format!("no warning containing '{want}'"));
        }
    }
    for fields in &c.events {
        let ev = build_event(fields)?;
        let mut matched = Vec::new();
        loaded
            .engine
            .evaluate(&ev, |r| matched.push(r.name.clone()));
        // The index must never change the outcome.
        let mut unindexed = Vec::new();
        loaded
            .engine
            .evaluate_unindexed(&ev, |r| unindexed.push(r.name.clone()));
        if matched != unindexed {
            return Err(format!("index {matched:?} != unindexed {unindexed:?}"));
        }
        let ok = match &c.expect {
            Expect::Match => !matched.is_empty(),
            Expect::NoMatch => matched.is_empty(),
            Expect::Rules(want) => &matched == want,
            Expect::Error => unreachable!(),
        };
        if !ok {
            return Err(format!(
                "expected {:?}, matched {matched:?} for {fields:?}",
                c.expect
            ));
        }
    }
    Ok(())
}

fn cases() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let docs =
            yaml::parse(&text).unwrap_or_else(|e| panic!("{name}: {e} at {}:{}", e.line, e.col));
        for d in &docs {
            let Kind::Seq(items) = &d.kind else {
                panic!("{name}: not a list")
            };
            out.extend(items.iter().map(|n| parse_case(&name, n)));
        }
    }
    out
}

#[test]
fn table() {
    let cases = cases();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = run(c) {
            failures.push(format!("{}:{}: {}: {e}", c.file, c.line, c.name));
        }
    }
    println!("{} cases, {} failed", cases.len(), failures.len());
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
