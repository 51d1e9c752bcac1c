//! The macro and list names a parsed condition refers to: for macro
//! visibility checks and for Falco's "unused macro/list" warnings.

use saker_filter::ast::{Expr, Rhs, Span};

/// Names referenced by a condition, with where each reference sits.
#[derive(Default, Debug)]
pub struct Refs {
    pub macros: Vec<(String, Span)>,
    pub lists: Vec<String>,
}

/// Walks `expr` without recursion so that no input can overflow the stack.
pub fn collect(expr: &Expr) -> Refs {
    let mut out = Refs::default();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(v, _) | Expr::Or(v, _) => stack.extend(v.iter().rev()),
            Expr::Not(inner, _) => stack.push(inner),
            Expr::Macro(name, span) => out.macros.push((name.clone(), *span)),
            Expr::Check(c) => match &c.rhs {
                Rhs::ListRef(name, _) => out.lists.push(name.clone()),
                Rhs::List(items, _) => out
                    .lists
                    .extend(items.iter().filter(|i| i.bare).map(|i| i.value.clone())),
                _ => {}
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_macros_and_lists() {
        let e = saker_filter::parser::parse(
            "spawned_process and not (proc.name in (shell_binaries, \"x\") or proc.pname in known)",
        )
        .unwrap();
        let r = collect(&e);
        let m: Vec<_> = r.macros.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(m, ["spawned_process"]);
        assert!(r.lists.contains(&"shell_binaries".to_string()));
        assert!(!r.lists.contains(&"x".to_string()));
    }
}
