//! The seam between the loader and the compiler: what the collector hands on
//! after reading every file and applying overrides, appends and exceptions.
//!
//! The loader owns everything that produces these values; the compiler owns
//! everything that consumes them. Conditions stay as source text here, with the
//! position of that text in its file, so that a parse or compile error can be
//! reported at the right file, line and column.

use std::path::PathBuf;
use std::sync::Arc;

/// A place in a rules file. Lines and columns are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub col: u32,
}

/// A piece of condition source text and where its first character sits.
///
/// `text` may be the concatenation of several YAML values (a condition plus
/// appends, or the condition generated from exceptions); `pieces` maps byte
/// ranges of `text` back to their origin so an error at a byte offset can be
/// reported in the right file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub text: String,
    pub pieces: Vec<SourcePiece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePiece {
    /// Byte range within `Source::text`.
    pub start: usize,
    pub end: usize,
    /// Where `text[start]` sits in the file.
    pub pos: Pos,
}

impl Source {
    /// Where byte `offset` of `text` came from (best effort: the line and
    /// column are exact for text taken verbatim from a single-line or literal
    /// block scalar, and the start of the piece otherwise).
    pub fn pos_of(&self, offset: usize) -> Option<Pos> {
        let piece = self
            .pieces
            .iter()
            .find(|p| offset >= p.start && offset < p.end.max(p.start + 1))
            .or_else(|| self.pieces.last())?;
        // Offsets come from other components: clamp them to a char boundary.
        let mut end = offset.min(self.text.len()).max(piece.start);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = self.text.get(piece.start..end).unwrap_or_default();
        let newlines = before.matches('\n').count() as u32;
        let mut pos = piece.pos.clone();
        if newlines == 0 {
            pos.col += before.chars().count() as u32;
        } else {
            pos.line += newlines;
            pos.col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        }
        Some(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pos_of_never_panics_inside_a_char() {
        let file = Arc::new(PathBuf::from("f"));
        let s = Source {
            text: "aé b".into(),
            pieces: vec![SourcePiece {
                start: 0,
                end: 5,
                pos: Pos {
                    file,
                    line: 3,
                    col: 7,
                },
            }],
        };
        for off in 0..10 {
            let p = s.pos_of(off).unwrap();
            assert_eq!(p.line, 3);
        }
        assert_eq!(s.pos_of(4).unwrap().col, 10);
    }
}

pub use saker_priority::Priority;

/// A list after inlining: the items of earlier lists named in it are spliced in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<String>,
    pub pos: Pos,
    /// Names of the earlier lists spliced into this one (they count as used).
    pub uses: Vec<String>,
}

/// A macro, with appends applied. A macro may only use macros whose `index`
/// is below its own `visibility` (its definition's place in load order, moved
/// forward by a later redefinition or append); rules may use all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroDef {
    pub name: String,
    pub condition: Source,
    pub pos: Pos,
    pub index: usize,
    pub visibility: usize,
}

/// A rule, with overrides, appends and exceptions applied. Exceptions are
/// already folded into `condition` (as `(cond) and not (exc1 or exc2 ...)`,
/// exactly as Falco builds them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDef {
    pub name: String,
    pub desc: String,
    pub condition: Source,
    pub output: String,
    pub output_pos: Pos,
    pub priority: Priority,
    /// `syscall` unless the file says otherwise; rules of other sources are
    /// kept (listed, validated) but not run against syscall events.
    pub source: String,
    pub enabled: bool,
    /// Sorted and deduplicated, as Falco keeps them (a set).
    pub tags: Vec<String>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: Option<u64>,
    pub pos: Pos,
}

/// Everything the files defined, in load order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    /// Highest `required_engine_version` seen, if any.
    pub required_engine_version: Option<String>,
    /// Each `required_plugin_versions` entry: (name, version) and its alternatives.
    pub required_plugin_versions: Vec<Vec<(String, String)>>,
}
