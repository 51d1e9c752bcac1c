//! Every condition in the upstream Falco rules files parses, and every rule
//! compiles with the files' own macros and lists.
//!
//! The files are read at test time from `$SAKER_FALCO_UPSTREAM`, or from
//! `<workspace>/../shared/falco-upstream`; they are never copied here.

use std::collections::HashMap;
use std::path::PathBuf;

use saker_filter::{compile, compile_format, parse, Env};
use saphyr::{LoadableYamlNode, Yaml};

fn upstream_dir() -> PathBuf {
    if let Ok(p) = std::env::var("SAKER_FALCO_UPSTREAM") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/falco-upstream")
}

const FILES: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

struct Item {
    kind: &'static str,
    name: String,
    condition: Option<String>,
    output: Option<String>,
    items: Vec<String>,
}

fn scalar(y: &Yaml) -> Option<String> {
    if let Some(s) = y.as_str() {
        return Some(s.to_string());
    }
    if let Some(i) = y.as_integer() {
        return Some(i.to_string());
    }
    y.as_bool().map(|b| b.to_string())
}

fn load(file: &str) -> Vec<Item> {
    let path = upstream_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (set SAKER_FALCO_UPSTREAM)",
            path.display()
        )
    });
    // yaml-cpp (Falco's parser) accepts a flow sequence closed at its key's
    // indentation, as the sandbox file does; YAML 1.2 does not. Indent such
    // lone closers.
    let text: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with(']') || t.starts_with('}') {
                format!("    {t}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let docs = Yaml::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut out = Vec::new();
    for doc in &docs {
        let Some(seq) = doc.as_sequence() else {
            continue;
        };
        for entry in seq {
            for kind in ["rule", "macro", "list"] {
                let Some(name) = entry.as_mapping_get(kind).and_then(scalar) else {
                    continue;
                };
                let condition = entry.as_mapping_get("condition").and_then(scalar);
                let output = entry.as_mapping_get("output").and_then(scalar);
                let items = entry
                    .as_mapping_get("items")
                    .and_then(|i| i.as_sequence())
                    .map(|s| s.iter().filter_map(scalar).collect())
                    .unwrap_or_default();
                out.push(Item {
                    kind,
                    name,
                    condition,
                    output,
                    items,
                });
            }
        }
    }
    out
}

#[test]
fn every_upstream_condition_parses() {
    let mut count = 0;
    let mut failures = Vec::new();
    for file in FILES {
        for item in load(file) {
            let Some(cond) = &item.condition else {
                continue;
            };
            count += 1;
            if let Err(e) = parse(cond) {
                failures.push(format!(
                    "{file}: {} {}: {e}\n  {cond}",
                    item.kind, item.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(count > 400, "only {count} conditions found");
}

#[test]
fn every_upstream_rule_compiles() {
    let mut compiled = 0;
    let mut failures = Vec::new();
    for file in FILES {
        let items = load(file);
        // Each file on its own, like Falco loading it with the stable file
        // first; the sandbox and incubating files reuse stable macros.
        let mut all = load(FILES[0]);
        all.extend(items.iter().map(|i| Item {
            kind: i.kind,
            name: i.name.clone(),
            condition: i.condition.clone(),
            output: i.output.clone(),
            items: i.items.clone(),
        }));
        let mut env = Env::new();
        let mut lists: HashMap<String, Vec<String>> = HashMap::new();
        for i in &all {
            match i.kind {
                "macro" => {
                    if let Some(c) = &i.condition {
                        env.macros
                            .insert(i.name.clone(), parse(c).expect("macro parses"));
                    }
                }
                "list" => {
                    lists.insert(i.name.clone(), i.items.clone());
                }
                _ => {}
            }
        }
        env.lists = lists;
        for i in items.iter().filter(|i| i.kind == "rule") {
            let Some(c) = &i.condition else { continue };
            let expr = parse(c).expect("rule parses");
            match compile(&expr, &env) {
                Ok(f) => {
                    compiled += 1;
                    assert!(!f.fields_used().is_empty(), "{}", i.name);
                }
                Err(e) => failures.push(format!(
                    "{file}: rule {}: {e} (in macro {:?} at {})",
                    i.name, e.in_macro, e.offset
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compiled > 80, "only {compiled} rules compiled");
}

#[test]
fn every_upstream_output_compiles() {
    let mut count = 0;
    let mut failures = Vec::new();
    for file in FILES {
        for item in load(file) {
            let Some(out) = &item.output else { continue };
            count += 1;
            match compile_format(out) {
                Ok(f) => assert!(!f.fields().is_empty(), "{}", item.name),
                Err(e) => failures.push(format!("{file}: {}: {e}\n  {out}", item.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(count > 80, "only {count} outputs");
}

/// Rules are indexed by event type: almost every upstream rule must have a
/// bounded set of event types (Falco warns for the others).
#[test]
fn upstream_rules_have_bounded_event_types() {
    let mut all = Vec::new();
    let mut env = Env::new();
    for file in FILES {
        all.extend(load(file));
    }
    for i in &all {
        match i.kind {
            "macro" => {
                if let Some(c) = &i.condition {
                    env.macros
                        .insert(i.name.clone(), parse(c).expect("macro parses"));
                }
            }
            "list" => {
                env.lists.insert(i.name.clone(), i.items.clone());
            }
            _ => {}
        }
    }
    let mut unbounded = Vec::new();
    let mut total = 0;
    for i in all.iter().filter(|i| i.kind == "rule") {
        let Some(c) = &i.condition else { continue };
        let Ok(f) = compile(&parse(c).expect("parses"), &env) else {
            continue;
        };
        total += 1;
        if f.evt_types().is_unbounded() {
            unbounded.push(i.name.clone());
        }
    }
    assert!(total > 80);
    assert!(unbounded.is_empty(), "unbounded: {unbounded:?}");
    // Spot check one stable rule.
    let rule = all
        .iter()
        .find(|i| i.name == "Terminal shell in container")
        .expect("rule");
    let f = compile(&parse(rule.condition.as_deref().unwrap()).unwrap(), &env).unwrap();
    assert!(f.evt_types().contains("execve") && !f.evt_types().contains("open"));
}

/// Every field the upstream rules use is in the catalogue.
#[test]
fn catalogue_covers_fields_used() {
    let path = upstream_dir().join("fields_used.tsv");
    let text = std::fs::read_to_string(&path).expect("fields_used.tsv");
    let mut n = 0;
    for line in text.lines().skip(1) {
        let Some(spelled) = line.split('\t').next().filter(|s| !s.is_empty()) else {
            continue;
        };
        let (name, arg) = match spelled.split_once('[') {
            Some((n, a)) => (n, Some(a.trim_end_matches(']'))),
            None => (spelled, None),
        };
        let r =
            saker_filter::fields::resolve(name, arg).unwrap_or_else(|e| panic!("{spelled}: {e}"));
        assert_eq!(r.to_string(), spelled);
        n += 1;
    }
    assert_eq!(n, 108);
}
