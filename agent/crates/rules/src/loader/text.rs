//! A rules file's text, and the mapping from a scalar's value back to the
//! lines and columns it was written on (so that an error at byte 40 of a
//! folded multi-line condition is reported on the right line).

use std::path::PathBuf;
use std::sync::Arc;

use super::yaml::{Node, Style};
use crate::model::{Pos, Source, SourcePiece};

pub struct FileText {
    pub path: Arc<PathBuf>,
    pub text: Arc<str>,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl FileText {
    pub fn new(path: Arc<PathBuf>, text: Arc<str>) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        FileText {
            path,
            text,
            line_starts,
        }
    }

    pub fn pos(&self, line: u32, col: u32) -> Pos {
        Pos {
            file: self.path.clone(),
            line: line.max(1),
            col: col.max(1),
        }
    }

    pub fn node_pos(&self, n: &Node) -> Pos {
        self.pos(n.line, n.col)
    }

    /// The text of a 1-based line, without its newline.
    fn line(&self, line: u32) -> Option<&str> {
        let i = (line as usize).checked_sub(1)?;
        let start = *self.line_starts.get(i)?;
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |e| e - 1);
        self.text.get(start..end)
    }

    /// The value of a scalar node, with pieces mapping its bytes to the file.
    pub fn scalar_source(&self, node: &Node, value: &str) -> Source {
        let mut pieces = Vec::new();
        // saphyr puts a block scalar's start at its first content character,
        // and a quoted scalar's at its opening quote.
        let (mut line, mut first) = (node.line, true);
        let quoted = matches!(style(node), Some(Style::SingleQuoted | Style::DoubleQuoted));
        let mut cursor = 0usize;
        // Each source line must contribute to the value; stop at the first that
        // does not (escape sequences, the end of the scalar).
        while cursor < value.len() {
            let Some(raw) = self.line(line) else { break };
            let (skip, content) = if first {
                let skip = node.col.saturating_sub(1) as usize + usize::from(quoted);
                let rest = raw.chars().skip(skip).collect::<String>();
                (skip, rest)
            } else {
                let trimmed = raw.trim_start_matches([' ', '\t']);
                (
                    raw.chars().count() - trimmed.chars().count(),
                    trimmed.to_string(),
                )
            };
            let rest = &value[cursor..];
            let ws = rest.len() - rest.trim_start().len();
            let matched = common_prefix(&rest[ws..], &content);
            if matched > 0 {
                pieces.push(SourcePiece {
                    start: cursor + ws,
                    end: cursor + ws + matched,
                    pos: self.pos(line, skip as u32 + 1),
                });
                cursor += ws + matched;
            } else if !content.trim().is_empty() {
                break;
            }
            line += 1;
            first = false;
        }
        if pieces.is_empty() {
            pieces.push(SourcePiece {
                start: 0,
                end: value.len(),
                pos: self.node_pos(node),
            });
        }
        // Make the pieces contiguous so every byte has an origin.
        pieces[0].start = 0;
        for i in 1..pieces.len() {
            pieces[i - 1].end = pieces[i].start;
        }
        if let Some(last) = pieces.last_mut() {
            last.end = value.len();
        }
        Source {
            text: value.to_string(),
            pieces,
        }
    }
}

fn style(n: &Node) -> Option<Style> {
    match &n.kind {
        super::yaml::Kind::Scalar(_, s) => Some(*s),
        _ => None,
    }
}

/// Length in bytes of the longest common prefix of `a` and `b`.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .take_while(|((_, x), y)| x == y)
        .last()
        .map_or(0, |((i, c), _)| i + c.len_utf8())
}

/// Builds a `Source` from generated text attributed to a single position.
pub fn synthetic(text: String, pos: Pos) -> Source {
    Source {
        pieces: vec![SourcePiece {
            start: 0,
            end: text.len(),
            pos,
        }],
        text,
    }
}

/// Concatenates sources, keeping every piece's origin.
pub fn concat(parts: Vec<Source>) -> Source {
    let mut out = Source {
        text: String::new(),
        pieces: Vec::new(),
    };
    for p in parts {
        let base = out.text.len();
        out.text.push_str(&p.text);
        out.pieces.extend(p.pieces.into_iter().map(|mut piece| {
            piece.start += base;
            piece.end += base;
            piece
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::yaml;
    use super::*;

    fn src_of(doc: &str, key: &str) -> Source {
        let ft = FileText::new(Arc::new(PathBuf::from("f.yaml")), Arc::from(doc));
        let docs = yaml::parse(doc).unwrap();
        let yaml::Kind::Seq(items) = &docs[0].kind else {
            panic!()
        };
        let node = items[0].get(key).unwrap();
        ft.scalar_source(node, node.as_scalar().unwrap())
    }

    #[test]
    fn folded_condition_maps_lines() {
        let s = src_of(
            "- macro: m\n  condition: >\n    evt.type = open\n    and proc.name = x\n",
            "condition",
        );
        assert_eq!(s.text, "evt.type = open and proc.name = x\n");
        let at = s.text.find("proc").unwrap();
        let p = s.pos_of(at).unwrap();
        assert_eq!((p.line, p.col), (4, 9));
        let p = s.pos_of(0).unwrap();
        assert_eq!((p.line, p.col), (3, 5));
    }

    #[test]
    fn plain_and_quoted() {
        let s = src_of("- macro: m\n  condition: a = b and c\n", "condition");
        let p = s.pos_of(s.text.find('c').unwrap()).unwrap();
        assert_eq!((p.line, p.col), (2, 24));
        let s = src_of("- macro: m\n  condition: \"a = 'b' and c\"\n", "condition");
        let p = s.pos_of(s.text.find('c').unwrap()).unwrap();
        assert_eq!((p.line, p.col), (2, 27));
    }

    #[test]
    fn literal_with_blank_lines() {
        let s = src_of(
            "- macro: m\n  condition: |\n    a\n\n    and b\n",
            "condition",
        );
        let p = s.pos_of(s.text.find('b').unwrap()).unwrap();
        assert_eq!((p.line, p.col), (5, 9));
    }
}
