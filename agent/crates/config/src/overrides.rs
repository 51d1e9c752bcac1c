//! `-o key.path=value`, with Falco's key syntax:
//!
//! ```text
//! Key     := NodeKey ('.' NodeKey)*
//! NodeKey := name ('[' index? ']')*      -- `[]` appends to a list
//! ```
//!
//! so `-o webserver.listen_port=8766`, `-o rules_files[0]=/x.yaml`,
//! `-o rules_files[]=/y.yaml`. A value in `{...}` (as in Falco) or `[...]` is
//! parsed as YAML; anything else is one scalar, typed by the key it lands on
//! (so `-o json_output=true` is a bool). Missing maps on the way are created.

use crate::yaml::{self, Kind, Node};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    Append,
}

/// A parsed `-o`: where it goes and what it holds.
#[derive(Debug)]
pub struct Override {
    pub path: Vec<Seg>,
    pub value: Node,
}

/// Parses one `-o` argument; `src` tags the value's nodes for messages.
pub fn parse(spec: &str, src: u16) -> Result<Override, String> {
    let Some((key, value)) = spec.split_once('=') else {
        return Err("expected key=value (as in -o json_output=true)".into());
    };
    if key.trim().is_empty() {
        return Err("empty key".into());
    }
    let path = parse_key(key)?;
    let t = value.trim();
    let value =
        if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')) {
            let mut n = yaml::parse(t, src)
                .map_err(|e| format!("value is not valid YAML: {}", e.message))?;
            zero_lines(&mut n);
            n
        } else if matches!(value, "null" | "~") {
            Node::null(src)
        } else {
            Node::new(Kind::Scalar(value.to_string(), true), 0, src)
        };
    Ok(Override { path, value })
}

/// Lines inside an `-o` value would point into the command line, not a file.
fn zero_lines(n: &mut Node) {
    n.line = 0;
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(zero_lines),
        Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| zero_lines(v)),
        _ => {}
    }
}

pub fn parse_key(key: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("empty name in key {key:?}"));
        }
        if name.contains(']') {
            return Err(format!("unexpected ']' in key {key:?}"));
        }
        segs.push(Seg::Key(name.to_string()));
        while !rest.is_empty() {
            let Some(body) = rest.strip_prefix('[') else {
                return Err(format!("expected '[' or '.' after ']' in key {key:?}"));
            };
            let Some(end) = body.find(']') else {
                return Err(format!("missing ']' in key {key:?}"));
            };
            let idx = &body[..end];
            segs.push(if idx.is_empty() {
                Seg::Append
            } else {
                Seg::Index(
                    idx.parse().map_err(|_| {
                        format!("expected a list index, found {idx:?} in key {key:?}")
                    })?,
                )
            });
            rest = &body[end + 1..];
        }
    }
    // Deeper than any real key; bounds the tree (and its recursive drop).
    if segs.len() > yaml::MAX_DEPTH {
        return Err(format!("key nests deeper than {} levels", yaml::MAX_DEPTH));
    }
    Ok(segs)
}

/// Sets `o.value` at `o.path` under `root`, creating maps and lists on the way.
pub fn apply(root: &mut Node, o: Override) -> Result<(), String> {
    let mut cur = root;
    let mut at = String::new();
    for seg in &o.path {
        // An empty value (`-o key=`) clears; it can then be built up again.
        let empty = matches!(&cur.kind, Kind::Null)
            || matches!(&cur.kind, Kind::Scalar(s, _) if s.is_empty());
        if empty {
            cur.kind = match seg {
                Seg::Key(_) => Kind::Map(Vec::new()),
                _ => Kind::Seq(Vec::new()),
            };
        }
        let desc = cur.describe();
        cur = match (seg, &mut cur.kind) {
            (Seg::Key(k), Kind::Map(entries)) => {
                at = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                // The last duplicate wins when reading, so set that one.
                match entries.iter().rposition(|(ek, _)| ek == k) {
                    Some(i) => &mut entries[i].1,
                    None => {
                        entries.push((k.clone(), Node::null(o.value.src)));
                        &mut entries.last_mut().expect("just pushed").1
                    }
                }
            }
            (Seg::Index(i), Kind::Seq(items)) => {
                let len = items.len();
                at = format!("{at}[{i}]");
                if *i == len {
                    items.push(Node::null(o.value.src));
                }
                items
                    .get_mut(*i)
                    .ok_or_else(|| format!("{at}: index out of range (the list has {len} items)"))?
            }
            (Seg::Append, Kind::Seq(items)) => {
                at = format!("{at}[{}]", items.len());
                items.push(Node::null(o.value.src));
                items.last_mut().expect("just pushed")
            }
            (Seg::Key(k), _) => {
                return Err(format!(
                    "cannot set key {k:?} inside {}, which is {}",
                    show(&at),
                    desc
                ));
            }
            (_, _) => {
                return Err(format!("{} is {}, not a list", show(&at), desc));
            }
        };
    }
    *cur = o.value;
    Ok(())
}

fn show(at: &str) -> &str {
    if at.is_empty() {
        "the top level"
    } else {
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            parse_key("a.b[2][].c").unwrap(),
            vec![
                Seg::Key("a".into()),
                Seg::Key("b".into()),
                Seg::Index(2),
                Seg::Append,
                Seg::Key("c".into())
            ]
        );
        for bad in ["a..b", ".a", "a.", "a[x]", "a[1", "[0]", "a[0]b", "a]"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_paths() {
        let mut root = yaml::parse("l: [a, b]\nm: {k: v}\ns: x\n", 0).unwrap();
        apply(&mut root, parse("l[1]=c", 1).unwrap()).unwrap();
        apply(&mut root, parse("l[2]=d", 1).unwrap()).unwrap();
        apply(&mut root, parse("l[]=e", 1).unwrap()).unwrap();
        apply(&mut root, parse("m.n.o=1", 1).unwrap()).unwrap();
        assert!(apply(&mut root, parse("l[9]=z", 1).unwrap()).is_err());
        assert!(apply(&mut root, parse("s.k=z", 1).unwrap()).is_err());
        assert!(apply(&mut root, parse("m[0]=z", 1).unwrap()).is_err());
        let Kind::Seq(l) = &root.get("l").unwrap().kind else {
            panic!()
        };
        assert_eq!(l.len(), 4);
        assert!(root.get("m").unwrap().get("n").unwrap().get("o").is_some());
    }
}
