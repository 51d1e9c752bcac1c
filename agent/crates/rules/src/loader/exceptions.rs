//! Folds a rule's exceptions into its condition, producing the same text as
//! Falco's build_rule_exception_infos: `(cond) and not (exc1) and not (exc2)`.
//!
//! One deliberate difference: Falco only quotes values containing a space
//! (and breaks values containing quotes or parentheses); we quote any value
//! that is not a plain bare word, escaping `\` and `"`. Values already written
//! in quotes are passed through, as Falco does.

use crate::diag::{Code, Diagnostic, ItemKind};
use crate::model::Source;

use super::collector::{Entry, ExceptionInfo};
use super::text::{concat, synthetic};

/// Quotes a value unless it is a bare word or already quoted.
pub fn quote(v: &str) -> String {
    let already = v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')));
    let bare = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:-*+@%~^$?".contains(c));
    if already || bare {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn paren(v: &str) -> String {
    if v.starts_with('(') {
        v.to_string()
    } else {
        format!("({v})")
    }
}

/// List operators, and operators with a list modifier (`startswith
/// oneof`): Falco 0.44 accepts the modifiers in exception comps, and their
/// right-hand side is a list too.
fn takes_list(op: &str) -> bool {
    matches!(op, "in" | "intersects" | "pmatch")
        || matches!(
            op.split_whitespace().nth(1),
            Some("oneof" | "anyof" | "allof")
        )
}

fn item(e: &Entry) -> &str {
    match e {
        Entry::Item(s) => s,
        _ => "",
    }
}

/// The condition text of one exception, or `None` when it has no values.
fn exception_text(ex: &ExceptionInfo, rule: &str) -> Result<Option<String>, Box<Diagnostic>> {
    let fail = |m: &str| {
        Box::new(
            Diagnostic::error(Code::Validate, m)
                .at(ex.pos.clone())
                .item(ItemKind::Rule, rule),
        )
    };
    match (&ex.fields, &ex.comps) {
        (Entry::Item(field), comp) => {
            let mut vals = Vec::new();
            for v in &ex.values {
                match v {
                    Entry::Item(s) => vals.push(quote(s)),
                    _ => return Err(fail("Expected values array to contain a list of strings")),
                }
            }
            if vals.is_empty() {
                return Ok(None);
            }
            Ok(Some(format!(
                "({field} {} ({}))",
                item(comp),
                vals.join(", ")
            )))
        }
        (Entry::List(fields), Entry::List(comps)) => {
            let mut tuples = Vec::new();
            for values in &ex.values {
                let Entry::List(vals) = values else {
                    return Err(fail("Fields and values lists must have equal length")
                        .map_expected("a list of values, one per field"));
                };
                if vals.len() != fields.len() {
                    return Err(fail("Fields and values lists must have equal length")
                        .map_expected(&format!("{} values, one per field", fields.len())));
                }
                let mut parts = Vec::new();
                for ((f, c), v) in fields.iter().zip(comps).zip(vals) {
                    let (f, c) = (item(f), item(c));
                    let rhs = match v {
                        Entry::List(items) => {
                            let q: Vec<String> = items.iter().map(|i| quote(item(i))).collect();
                            format!("({})", q.join(", "))
                        }
                        Entry::Item(s) if takes_list(c) => paren(s),
                        Entry::Item(s) => quote(s),
                        Entry::Absent => String::new(),
                    };
                    parts.push(format!(" {f} {c} {rhs}"));
                }
                tuples.push(format!("({})", parts.join(" and ")));
            }
            if tuples.is_empty() {
                return Ok(None);
            }
            Ok(Some(format!("({})", tuples.join(" or "))))
        }
        _ => Err(fail(
            "Rule exception must have fields property with a list of fields",
        )),
    }
}

/// `(cond) and not exc1 and not exc2 ...`, or `cond` unchanged without exceptions.
pub fn fold(
    cond: &Source,
    exceptions: &[ExceptionInfo],
    rule: &str,
) -> Result<Source, Box<Diagnostic>> {
    if exceptions.is_empty() {
        return Ok(cond.clone());
    }
    let open_pos = cond
        .pieces
        .first()
        .map(|p| p.pos.clone())
        .unwrap_or_else(|| exceptions[0].pos.clone());
    let mut parts = vec![
        synthetic("(".into(), open_pos.clone()),
        cond.clone(),
        synthetic(")".into(), open_pos),
    ];
    for ex in exceptions {
        if let Some(text) = exception_text(ex, rule)? {
            parts.push(synthetic(format!(" and not {text}"), ex.pos.clone()));
        }
    }
    Ok(concat(parts))
}

trait MapExpected {
    fn map_expected(self, what: &str) -> Self;
}

impl MapExpected for Box<Diagnostic> {
    fn map_expected(self, what: &str) -> Self {
        Box::new(self.expected(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Pos;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn pos() -> Pos {
        Pos {
            file: Arc::new(PathBuf::from("x")),
            line: 1,
            col: 1,
        }
    }

    fn it(s: &str) -> Entry {
        Entry::Item(s.into())
    }

    #[test]
    fn tuple_and_scalar_forms() {
        let cond = synthetic("evt.type = open".into(), pos());
        let tuple = ExceptionInfo {
            name: "a".into(),
            fields: Entry::List(vec![it("proc.name"), it("fd.name")]),
            comps: Entry::List(vec![it("="), it("in")]),
            values: vec![
                Entry::List(vec![it("cat"), Entry::List(vec![it("/a b"), it("/c")])]),
                Entry::List(vec![it("my prog"), it("some_list")]),
            ],
            pos: pos(),
        };
        let scalar = ExceptionInfo {
            name: "b".into(),
            fields: it("proc.pname"),
            comps: it("in"),
            values: vec![it("bash"), it("x\"y")],
            pos: pos(),
        };
        let out = fold(&cond, &[tuple, scalar], "r").unwrap();
        assert_eq!(
            out.text,
            "(evt.type = open) and not (( proc.name = cat and  fd.name in (\"/a b\", /c)) or \
             ( proc.name = \"my prog\" and  fd.name in (some_list))) and not \
             (proc.pname in (bash, \"x\\\"y\"))"
        );
    }

    #[test]
    fn modifier_comps_take_a_list() {
        let cond = synthetic("evt.type = open".into(), pos());
        let ex = ExceptionInfo {
            name: "a".into(),
            fields: Entry::List(vec![it("proc.name"), it("fd.name")]),
            comps: Entry::List(vec![it("startswith oneof"), it("startswith")]),
            values: vec![
                Entry::List(vec![Entry::List(vec![it("sshd"), it("sudo")]), it("/etc/")]),
                Entry::List(vec![it("kube-"), it("/var/")]),
            ],
            pos: pos(),
        };
        let out = fold(&cond, &[ex], "r").unwrap();
        assert_eq!(
            out.text,
            "(evt.type = open) and not (( proc.name startswith oneof (sshd, sudo) and  \
             fd.name startswith /etc/) or ( proc.name startswith oneof (kube-) and  \
             fd.name startswith /var/))"
        );
        assert!(saker_filter::parse(&out.text).is_ok());
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let ex = ExceptionInfo {
            name: "a".into(),
            fields: Entry::List(vec![it("proc.name"), it("fd.name")]),
            comps: Entry::List(vec![it("="), it("=")]),
            values: vec![Entry::List(vec![it("cat")])],
            pos: pos(),
        };
        let cond = synthetic("x".into(), pos());
        assert!(fold(&cond, &[ex], "r").is_err());
    }
}
