//! `${VAR}` expansion in config values, exactly as Falco's yaml_helper does:
//! `${VAR}` becomes the variable's value (or nothing when unset), `$${X}`
//! becomes the literal `${X}`, anything else is left alone. Applied to file
//! values only; `-o` values are taken literally, as in Falco.

use crate::yaml::{Kind, Node};

pub fn expand_tree(node: &mut Node, lookup: &dyn Fn(&str) -> Option<String>) {
    match &mut node.kind {
        Kind::Scalar(s, _) if s.contains('$') => *s = expand(s, lookup),
        Kind::Seq(items) => items.iter_mut().for_each(|n| expand_tree(n, lookup)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| expand_tree(v, lookup)),
        _ => {}
    }
}

pub fn expand(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                // No closing brace: the rest is literal.
                out.push_str(tail);
                return out;
            };
            if let Some(v) = lookup(&body[..end]) {
                out.push_str(&v);
            }
            rest = &body[end + 1..];
        } else if let Some(body) = tail.strip_prefix("$${") {
            let Some(end) = body.find('}') else {
                out.push_str(tail);
                return out;
            };
            out.push_str("${");
            out.push_str(&body[..=end]);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn falco_semantics() {
        let env = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(expand("${HOME}/x", &env), "/root/x");
        assert_eq!(expand("a${NOPE}b", &env), "ab");
        assert_eq!(expand("$${HOME}", &env), "${HOME}");
        assert_eq!(expand("$HOME $ ${unclosed", &env), "$HOME $ ${unclosed");
        assert_eq!(expand("${HOME}${HOME}", &env), "/root/root");
    }
}
