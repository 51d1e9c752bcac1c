//! Errors and warnings about rules files, each pinned to a file, line and
//! column, naming the item it concerns and what was expected, and rendered
//! with a source snippet (codespan-reporting).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

use crate::model::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// What went wrong, named after Falco's load_result codes so that people who
/// know Falco recognise them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The file could not be read.
    Io,
    /// Not YAML.
    YamlParse,
    /// YAML, but not the shape a rules file has (missing key, wrong type).
    YamlValidate,
    /// Semantically wrong (append to nothing, bad exception, engine version).
    Validate,
    /// The condition does not parse or compile.
    CompileCondition,
    /// The output format does not compile.
    CompileOutput,
    // Warnings from here on.
    UnknownKey,
    UnknownItem,
    UnknownSource,
    UnknownFilter,
    NoEvttype,
    UnusedMacro,
    UnusedList,
    DeprecatedItem,
    AppendNoValues,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "LOAD_ERR_FILE_READ",
            Code::YamlParse => "LOAD_ERR_YAML_PARSE",
            Code::YamlValidate => "LOAD_ERR_YAML_VALIDATE",
            Code::Validate => "LOAD_ERR_VALIDATE",
            Code::CompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            Code::CompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            Code::UnknownKey => "LOAD_UNKNOWN_KEY",
            Code::UnknownItem => "LOAD_UNKNOWN_ITEM",
            Code::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            Code::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            Code::NoEvttype => "LOAD_NO_EVTTYPE",
            Code::UnusedMacro => "LOAD_UNUSED_MACRO",
            Code::UnusedList => "LOAD_UNUSED_LIST",
            Code::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            Code::AppendNoValues => "LOAD_APPEND_NO_VALUES",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Rule,
    Macro,
    List,
    RequiredEngineVersion,
    RequiredPluginVersions,
    /// A top-level entry whose kind is not known (yet).
    Item,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::RequiredEngineVersion => "required_engine_version",
            ItemKind::RequiredPluginVersions => "required_plugin_versions",
            ItemKind::Item => "item",
        }
    }
}

/// The item a diagnostic is about: `rule 'Terminal shell in container'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemRef {
    pub kind: ItemKind,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// Where the problem is; `None` only when there is no file at all.
    pub pos: Option<Pos>,
    /// How many characters from `pos` to underline (at least one is shown).
    pub len: usize,
    pub item: Option<ItemRef>,
    /// What the loader expected to find, when that is a useful hint.
    pub expected: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            pos: None,
            len: 1,
            item: None,
            expected: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, pos: Pos) -> Self {
        self.pos = Some(pos);
        self
    }

    pub fn at_opt(mut self, pos: Option<Pos>) -> Self {
        if pos.is_some() {
            self.pos = pos;
        }
        self
    }

    pub fn len(mut self, len: usize) -> Self {
        self.len = len.max(1);
        self
    }

    pub fn item(mut self, kind: ItemKind, name: &str) -> Self {
        self.item = Some(ItemRef {
            kind,
            name: name.to_string(),
        });
        self
    }

    pub fn expected(mut self, what: impl Into<String>) -> Self {
        self.expected = Some(what.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// One line per diagnostic, like a compiler: `file:line:col: error[CODE]: msg (rule 'x')`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.pos {
            write!(f, "{}:{}:{}: ", p.file.display(), p.line, p.col)?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}]: {}", self.code.as_str(), self.message)?;
        if let Some(i) = &self.item {
            write!(f, " (in {} '{}')", i.kind.as_str(), i.name)?;
        }
        if let Some(e) = &self.expected {
            write!(f, "; expected {e}")?;
        }
        Ok(())
    }
}

/// All diagnostics of one load, with the text of every file read so they can
/// be rendered with snippets.
#[derive(Clone, Debug, Default, thiserror::Error)]
#[error("{} error(s), {} warning(s){}", self.error_count(), self.warning_count(), self.first_error_suffix())]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
    files: Vec<(Arc<PathBuf>, Arc<str>)>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub fn add_file(&mut self, path: Arc<PathBuf>, text: Arc<str>) {
        if !self.files.iter().any(|(p, _)| *p == path) {
            self.files.push((path, text));
        }
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for (p, t) in other.files {
            self.add_file(p, t);
        }
        self.list.extend(other.list);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter().filter(|d| !d.is_error())
    }

    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    pub fn warning_count(&self) -> usize {
        self.warnings().count()
    }

    fn first_error_suffix(&self) -> String {
        self.errors()
            .next()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    }

    /// Renders every diagnostic with a source snippet, codespan style.
    pub fn render(&self, color: bool) -> String {
        let mut buf = if color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        self.render_to(&mut buf);
        String::from_utf8_lossy(buf.as_slice()).into_owned()
    }

    pub fn render_to(&self, out: &mut dyn termcolor::WriteColor) {
        let mut files = SimpleFiles::new();
        let ids: Vec<usize> = self
            .files
            .iter()
            .map(|(p, t)| files.add(p.display().to_string(), t.clone()))
            .collect();
        let config = term::Config::default();
        for d in &self.list {
            let cs = self.to_codespan(d, &ids);
            if term::emit_to_write_style(out, &config, &files, &cs).is_err() {
                // A snippet that cannot be rendered must not hide the message.
                let _ = writeln!(out, "{d}");
            }
        }
    }

    fn to_codespan(&self, d: &Diagnostic, ids: &[usize]) -> CsDiagnostic<usize> {
        let mut cs = match d.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_code(d.code.as_str())
        .with_message(&d.message);
        let mut notes = Vec::new();
        if let Some(p) = &d.pos {
            let found = self.files.iter().position(|(f, _)| *f == p.file);
            match found.map(|i| (ids[i], byte_range(&self.files[i].1, p, d.len))) {
                Some((id, range)) => {
                    let label = match &d.item {
                        Some(i) => format!("in {} '{}'", i.kind.as_str(), i.name),
                        None => String::new(),
                    };
                    cs = cs.with_labels(vec![Label::primary(id, range).with_message(label)]);
                }
                None => notes.push(format!("at {}:{}:{}", p.file.display(), p.line, p.col)),
            }
        }
        if let (Some(i), None) = (&d.item, &d.pos) {
            notes.push(format!("in {} '{}'", i.kind.as_str(), i.name));
        }
        if let Some(e) = &d.expected {
            notes.push(format!("expected {e}"));
        }
        cs.with_notes(notes)
    }
}

/// Byte range in `text` of `len` characters starting at the 1-based line and column of `pos`.
fn byte_range(text: &str, pos: &Pos, len: usize) -> std::ops::Range<usize> {
    let line_start = if pos.line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(pos.line as usize - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let mut chars = line.char_indices().skip(pos.col.saturating_sub(1) as usize);
    let start = chars.next().map_or(line.len(), |(i, _)| i);
    let end = line[start..]
        .char_indices()
        .nth(len.max(1))
        .map_or(line.len(), |(i, _)| start + i);
    line_start + start..line_start + end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_and_display() {
        let file = Arc::new(PathBuf::from("r.yaml"));
        let mut ds = Diagnostics::default();
        ds.add_file(file.clone(), Arc::from("- rule: x\n  priority: loud\n"));
        ds.push(
            Diagnostic::error(Code::YamlValidate, "Invalid priority")
                .at(Pos {
                    file: file.clone(),
                    line: 2,
                    col: 13,
                })
                .len(4)
                .item(ItemKind::Rule, "x")
                .expected("one of emergency, alert, ..."),
        );
        let out = ds.render(false);
        assert!(out.contains("r.yaml:2:13"), "{out}");
        assert!(out.contains("priority: loud"), "{out}");
        assert!(out.contains("in rule 'x'"), "{out}");
        let line = ds.list[0].to_string();
        assert!(line.starts_with("r.yaml:2:13: error[LOAD_ERR_YAML_VALIDATE]"));
        // Out-of-range positions must not panic.
        ds.list[0].pos.as_mut().unwrap().line = 99;
        let _ = ds.render(false);
    }
}
