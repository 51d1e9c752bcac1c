//! YAML text → a small tree whose nodes know their line.
//!
//! Built from saphyr-parser events (the workspace's YAML parser) rather than a
//! generic value type so that type errors and unknown-key warnings can name
//! the line, and so that nesting depth and alias expansion are bounded: no
//! config file can exhaust the stack or memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// falco.yaml nests four levels; anything far deeper is hostile.
pub const MAX_DEPTH: usize = 64;
/// Bounds alias expansion ("billion laughs"); falco.yaml has ~200 nodes.
pub const MAX_NODES: usize = 100_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// 1-based line of the node's first character; 0 for nodes built from `-o`.
    pub line: u32,
    /// Which source (file or `-o` option) the node came from: an index into
    /// the loader's list of source names.
    pub src: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    /// The text and whether it was plain (unquoted, so `true` may be a bool).
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// A YAML syntax error at a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub line: u32,
}

impl Node {
    pub fn new(kind: Kind, line: u32, src: u16) -> Node {
        Node { kind, line, src }
    }

    pub fn null(src: u16) -> Node {
        Node::new(Kind::Null, 0, src)
    }

    /// Value of `key` in a mapping (the last one wins, as in yaml-cpp).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|e| &e.1),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Scalar(s, _) => {
                let mut s: String = s.chars().take(60).collect();
                if s.len() < 60 {
                    format!("{s:?}")
                } else {
                    s.push('…');
                    format!("{s:?}")
                }
            }
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            Kind::Null | Kind::Scalar(..) => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Kind::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + v.count()).sum::<usize>(),
        }
    }
}

enum Frame {
    Seq(u32, usize, Vec<Node>),
    Map(u32, usize, Vec<(String, Node)>, Option<(String, u32)>),
}

/// Parses the first document of `text`; an empty text is `Null`.
pub fn parse(text: &str, src: u16) -> Result<Node, YamlError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;

    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| YamlError {
            message: e.info().to_string(),
            line: e.marker().line() as u32,
        })?;
        let line = span.start.line() as u32;
        let complete = match ev {
            // Falco reads one document; a second one is ignored like yaml-cpp's Load.
            Event::DocumentEnd if root.is_some() => break,
            Event::Scalar(value, style, anchor, _tag) => {
                let plain = style == ScalarStyle::Plain;
                let kind = if plain && matches!(&*value, "" | "~" | "null" | "Null" | "NULL") {
                    Kind::Null
                } else {
                    Kind::Scalar(value.into_owned(), plain)
                };
                Some((Node::new(kind, line, src), anchor))
            }
            Event::Alias(id) => {
                let Some(n) = anchors.get(&id) else {
                    return Err(err_at(span, "unknown anchor"));
                };
                nodes += n.count();
                if nodes > MAX_NODES {
                    return Err(err_at(span, "too many nodes after alias expansion"));
                }
                let mut n = n.clone();
                n.line = line;
                Some((n, 0))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err_at(
                        span,
                        &format!("nesting deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(line, anchor, Vec::new())
                } else {
                    Frame::Map(line, anchor, Vec::new(), None)
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(l, anchor, items)) => {
                    Some((Node::new(Kind::Seq(items), l, src), anchor))
                }
                Some(Frame::Map(l, anchor, entries, _)) => {
                    Some((Node::new(Kind::Map(entries), l, src), anchor))
                }
                None => return Err(err_at(span, "unbalanced collection end")),
            },
            _ => None,
        };
        let Some((n, anchor)) = complete else {
            continue;
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(err_at(span, "document too large"));
        }
        if anchor > 0 {
            anchors.insert(anchor, n.clone());
        }
        match stack.last_mut() {
            Some(Frame::Seq(_, _, items)) => items.push(n),
            Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
                Some((k, key_line)) => {
                    let mut n = n;
                    // A block collection starts on the line after its key;
                    // messages about it should point at the key.
                    if matches!(n.kind, Kind::Seq(_) | Kind::Map(_)) {
                        n.line = key_line;
                    }
                    entries.push((k, n))
                }
                None => match n.kind {
                    Kind::Scalar(k, _) => *pending = Some((k, n.line)),
                    Kind::Null => *pending = Some((String::new(), n.line)),
                    _ => return Err(err_at(span, "a mapping key must be a plain string")),
                },
            },
            None => root = Some(n),
        }
    }
    Ok(root.unwrap_or_else(|| Node::null(src)))
}

fn err_at(span: Span, message: &str) -> YamlError {
    YamlError {
        message: message.to_string(),
        line: span.start.line() as u32,
    }
}

/// yaml-cpp's notion of a boolean scalar, which Falco uses.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_limits() {
        let n = parse("a: 1\nb:\n  c: [x, 'y']\n", 0).unwrap();
        assert_eq!(n.get("b").unwrap().get("c").unwrap().line, 3);
        assert_eq!(n.get("b").unwrap().line, 2);
        assert!(parse("a: [b\n", 0).is_err());
        assert!(parse(&"[".repeat(10_000), 0).is_err());
        assert_eq!(parse("", 0).unwrap(), Node::null(0));
        assert!(parse("? [a]\n: b\n", 0).is_err());
    }
}
