//! YAML text → a small tree in which every node knows where it sits.
//!
//! We build our own tree from saphyr-parser's events (rather than using a
//! generic YAML value type) for three reasons: every node must carry its
//! line and column for diagnostics, scalars must keep their style so that a
//! condition's characters can be mapped back to the file, and nesting depth
//! and alias expansion must be bounded so that no input can exhaust the stack
//! or memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Rules files nest four or five levels; anything far deeper is hostile.
pub const MAX_DEPTH: usize = 64;
/// Bounds alias expansion ("billion laughs").
pub const MAX_NODES: usize = 2_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// 1-based line and column of the node's first character.
    pub line: u32,
    pub col: u32,
    /// Character offsets of the node in the document (start inclusive, end exclusive).
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

impl From<ScalarStyle> for Style {
    fn from(s: ScalarStyle) -> Self {
        match s {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        }
    }
}

/// A YAML syntax error at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub line: u32,
    pub col: u32,
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Scalar(..) => "scalar",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
        }
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// Value of `key` in a mapping (the first one wins, as with yaml-cpp's
    /// `node[key]`, which Falco uses).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Key node and value node of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_scalar() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            Kind::Null | Kind::Scalar(..) => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Kind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}

enum Frame {
    Seq(Span, usize, Vec<Node>),
    Map(Span, usize, Vec<(Node, Node)>, Option<Node>),
}

/// Parses every document of `text`. Empty documents come back as `Null`.
///
/// yaml-cpp (Falco's parser) accepts a flow collection whose closing bracket
/// sits at the indentation of its parent key, as in the upstream sandbox
/// rules; YAML 1.2 and saphyr do not. So on that exact error we indent the
/// lone closing bracket and retry (a bounded number of times). Only that
/// line changes, so reported lines and columns stay right.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut owned: Option<String> = None;
    for _ in 0..256 {
        let cur = owned.as_deref().unwrap_or(text);
        match parse_strict(cur) {
            Err(e) if e.message.contains("indentation") => {
                let Some(fixed) = indent_closer(cur, e.line) else {
                    return Err(e);
                };
                owned = Some(fixed);
            }
            other => return other,
        }
    }
    parse_strict(owned.as_deref().unwrap_or(text))
}

/// Indents line `line` (1-based) by two spaces if it starts with `]` or `}`.
fn indent_closer(text: &str, line: u32) -> Option<String> {
    let idx = (line as usize).checked_sub(1)?;
    let mut out = String::with_capacity(text.len() + 2);
    let mut changed = false;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i == idx && l.trim_start().starts_with([']', '}']) && l.len() < 4096 {
            out.push_str("  ");
            changed = true;
        }
        out.push_str(l);
    }
    changed.then_some(out)
}

fn parse_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut doc_root: Option<Node> = None;

    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| YamlError {
            message: e.info().to_string(),
            line: e.marker().line() as u32,
            col: e.marker().col() as u32 + 1,
        })?;
        let complete = match ev {
            Event::DocumentStart(_) => {
                doc_root = None;
                None
            }
            Event::DocumentEnd => {
                docs.push(doc_root.take().unwrap_or(Node {
                    kind: Kind::Null,
                    line: span.start.line() as u32,
                    col: 1,
                    start: span.start.index(),
                    end: span.start.index(),
                }));
                None
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let kind = if style == ScalarStyle::Plain && is_null_word(&value) {
                    Kind::Null
                } else {
                    Kind::Scalar(value.into_owned(), style.into())
                };
                Some((node(kind, span), anchor))
            }
            Event::Alias(id) => {
                let Some(n) = anchors.get(&id) else {
                    return Err(err_at(span, "unknown anchor"));
                };
                nodes += n.count();
                if nodes > MAX_NODES {
                    return Err(err_at(span, "too many nodes after alias expansion"));
                }
                // The alias node keeps the anchored content but its own position.
                let mut n = n.clone();
                n.line = span.start.line() as u32;
                n.col = span.start.col() as u32 + 1;
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
                    Frame::Seq(span, anchor, Vec::new())
                } else {
                    Frame::Map(span, anchor, Vec::new(), None)
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(start, anchor, items)) => Some((
                    node(Kind::Seq(items), Span::new(start.start, span.end)),
                    anchor,
                )),
                Some(Frame::Map(start, anchor, entries, _)) => Some((
                    node(Kind::Map(entries), Span::new(start.start, span.end)),
                    anchor,
                )),
                None => return Err(err_at(span, "unbalanced collection end")),
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
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
                Some(k) => entries.push((k, n)),
                None => *pending = Some(n),
            },
            None => doc_root = Some(n),
        }
    }
    Ok(docs)
}

fn node(kind: Kind, span: Span) -> Node {
    Node {
        kind,
        line: span.start.line() as u32,
        col: span.start.col() as u32 + 1,
        start: span.start.index(),
        end: span.end.index(),
    }
}

fn err_at(span: Span, message: &str) -> YamlError {
    YamlError {
        message: message.to_string(),
        line: span.start.line() as u32,
        col: span.start.col() as u32 + 1,
    }
}

fn is_null_word(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
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
    fn positions_and_nesting() {
        let docs =
            parse("- rule: a\n  condition: >\n    x and\n    y\n- list: l\n  items: [a, b]\n")
                .unwrap();
        assert_eq!(docs.len(), 1);
        let Kind::Seq(items) = &docs[0].kind else {
            panic!("not a seq")
        };
        assert_eq!(items.len(), 2);
        let (k, v) = items[0].entry("condition").unwrap();
        assert_eq!((k.line, k.col), (2, 3));
        assert_eq!(v.as_scalar(), Some("x and y\n"));
        assert_eq!(items[1].line, 5);
        assert_eq!(items[1].col, 3);
    }

    #[test]
    fn errors_and_limits() {
        assert!(parse("- a: [b\n").is_err());
        let deep = "[".repeat(1000);
        assert!(parse(&deep).is_err());
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        assert!(parse(bomb).is_err());
        assert_eq!(parse("").unwrap().len(), 0);
        assert!(parse("x: ~\n").unwrap()[0].get("x").unwrap().is_null());
    }
}
