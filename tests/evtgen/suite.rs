//! The event-generator `suite test` files: YAML → concrete cases, with the
//! `cases` (vector and matrix strategies) expanded and `%{ item.KEY }`
//! parameters filled in as event-generator's loader does (a string that is
//! entirely a parameter takes the value, whatever its type).

use std::path::Path;

use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};

/// A YAML value, with mapping order kept (case names and matrix order
/// follow the file).
#[derive(Clone, Debug, PartialEq)]
pub enum Y {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Y>),
    Map(Vec<(String, Y)>),
}

impl Y {
    pub fn get(&self, key: &str) -> Option<&Y> {
        match self {
            Y::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Y::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar as text, as a YAML author would read it.
    pub fn text(&self) -> String {
        match self {
            Y::Null => "null".into(),
            Y::Bool(b) => b.to_string(),
            Y::Int(i) => i.to_string(),
            Y::Float(f) => f.to_string(),
            Y::Str(s) => s.clone(),
            Y::Seq(items) => format!(
                "[{}]",
                items.iter().map(Y::text).collect::<Vec<_>>().join(", ")
            ),
            Y::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}: {}", v.text()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn convert(y: &YamlOwned) -> Y {
    match y {
        YamlOwned::Value(ScalarOwned::Null) => Y::Null,
        YamlOwned::Value(ScalarOwned::Boolean(b)) => Y::Bool(*b),
        YamlOwned::Value(ScalarOwned::Integer(i)) => Y::Int(*i),
        YamlOwned::Value(ScalarOwned::FloatingPoint(f)) => Y::Float(f.into_inner()),
        YamlOwned::Value(ScalarOwned::String(s)) => Y::Str(s.clone()),
        YamlOwned::Representation(s, _, _) => Y::Str(s.clone()),
        YamlOwned::Sequence(items) => Y::Seq(items.iter().map(convert).collect()),
        YamlOwned::Mapping(m) => Y::Map(
            m.iter()
                .map(|(k, v)| (convert(k).text(), convert(v)))
                .collect(),
        ),
        YamlOwned::Tagged(_, inner) => convert(inner),
        YamlOwned::Alias(_) | YamlOwned::BadValue => panic!("unsupported YAML node {y:?}"),
    }
}

/// `key: %{ item.x }` is not valid YAML (`%` cannot start a plain scalar);
/// event-generator's files use it for non-string parameters. Quoting the
/// scalar gives the same string, which the fill then replaces by the value.
fn quote_bare_parameters(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(": %{") {
            Some((head, tail)) if tail.trim_end().ends_with('}') => {
                format!("{head}: \"%{{{}\"", tail.trim_end())
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn parse(text: &str) -> Y {
    let docs = YamlOwned::load_from_str(&quote_bare_parameters(text))
        .unwrap_or_else(|e| panic!("YAML: {e}"));
    convert(docs.first().expect("one YAML document"))
}

/// `%{ item.KEY }`, alone in the string (spaces around allowed).
fn parameter(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("%{")?.strip_suffix('}')?.trim();
    inner.strip_prefix("item.")
}

fn fill(y: &Y, values: &[(String, Y)]) -> Y {
    match y {
        Y::Str(s) => match parameter(s) {
            Some(key) => values
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("template parameter {s} has no value")),
            None => y.clone(),
        },
        Y::Seq(items) => Y::Seq(items.iter().map(|i| fill(i, values)).collect()),
        Y::Map(m) => Y::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), fill(v, values)))
                .collect(),
        ),
        _ => y.clone(),
    }
}

/// Every combination of the matrix's lists, the first key varying slowest.
fn matrix(values: &[(String, Y)]) -> Vec<Vec<(String, Y)>> {
    let mut combos: Vec<Vec<(String, Y)>> = vec![vec![]];
    for (key, list) in values {
        let Y::Seq(items) = list else {
            panic!("matrix value {key} is not a list");
        };
        combos = combos
            .into_iter()
            .flat_map(|c| {
                items.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
}

/// One concrete test.
#[derive(Clone, Debug)]
pub struct Case {
    /// `test[k=v,...]` for template instances, else the test name.
    pub name: String,
    pub file: String,
    /// The test description with the parameters filled in.
    pub desc: Y,
}

impl Case {
    pub fn field(&self, key: &str) -> Option<&Y> {
        self.desc.get(key)
    }
}

fn case_name(test: &str, values: &[(String, Y)]) -> String {
    // runIf is decided by the other keys here; leaving it out keeps names short.
    let parts: Vec<String> = values
        .iter()
        .filter(|(k, _)| k != "runIf")
        .map(|(k, v)| format!("{k}={}", v.text()))
        .collect();
    format!("{test}[{}]", parts.join(","))
}

/// All cases of one suite file.
pub fn load_file(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let root = parse(&text);
    let Some(Y::Seq(tests)) = root.get("tests") else {
        panic!("{file}: no tests list");
    };
    let mut out = Vec::new();
    for test in tests {
        let name = test
            .get("name")
            .and_then(Y::str)
            .unwrap_or_else(|| panic!("{file}: a test has no name"))
            .to_string();
        let Some(Y::Seq(specs)) = test.get("cases") else {
            out.push(Case {
                name,
                file: file.clone(),
                desc: test.clone(),
            });
            continue;
        };
        let Y::Map(template) = test else {
            unreachable!()
        };
        let template = Y::Map(
            template
                .iter()
                .filter(|(k, _)| k != "cases")
                .cloned()
                .collect(),
        );
        for spec in specs {
            let Some(Y::Map(values)) = spec.get("values") else {
                panic!("{file}/{name}: case spec without values");
            };
            let instances = match spec.get("strategy").and_then(Y::str) {
                Some("vector") => vec![values.clone()],
                Some("matrix") => matrix(values),
                other => panic!("{file}/{name}: unknown case strategy {other:?}"),
            };
            for values in instances {
                out.push(Case {
                    name: case_name(&name, &values),
                    file: file.clone(),
                    desc: fill(&template, &values),
                });
            }
        }
    }
    out
}

/// Every case of every `*.yaml` in `dir`, files in name order.
pub fn load_dir(dir: &Path) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let cases: Vec<Case> = files.iter().flat_map(|f| load_file(f)).collect();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_and_parameters() {
        let y = parse(
            "tests:\n  - name: t\n    runIf: %{ item.r }\n    x: \"%{ item.a }\"\n    cases:\n      - strategy: matrix\n        values:\n          r: [null]\n          a: [1, b]\n",
        );
        let Some(Y::Seq(tests)) = y.get("tests") else {
            panic!()
        };
        assert_eq!(tests.len(), 1);
        let m = matrix(&[
            ("a".into(), Y::Seq(vec![Y::Int(1), Y::Int(2)])),
            ("b".into(), Y::Seq(vec![Y::Str("x".into())])),
        ]);
        assert_eq!(m.len(), 2);
        assert_eq!(
            fill(&Y::Str("%{ item.a }".into()), &m[1]),
            Y::Int(2),
            "a whole-string parameter takes the value's type"
        );
    }
}
