//! Output format strings (`"... user=%user.name cmd=%proc.cmdline"`),
//! compiled once per rule.
//!
//! Syntax, as Falco's formatter: `%field`, `%field[arg]`, `%evt.arg.NAME`,
//! `%transformer(field)` (e.g. `%tolower(proc.name)`), `%(field)` to delimit
//! a field from following text, an optional width `%12proc.name` (the value
//! is cut or padded with spaces to exactly that width), `%%` for a percent
//! sign, and a leading `*` (accepted and ignored). A missing value renders as
//! `<NA>`.

use crate::ast::Operand;
use crate::compile::{compile_operand, CompileError, CompiledOperand};
use crate::fields::{render_value, FieldSource, FieldType, Value};

/// What the formatter could not understand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("format: {message} (at byte {offset})")]
    Syntax { offset: usize, message: String },
    #[error("format: {0}")]
    Field(#[from] CompileError),
}

#[derive(Debug)]
enum Piece {
    Text(String),
    Field { idx: usize, width: usize },
}

/// One field of a format: its spelling (the `output_fields` key) and how to
/// get its values.
#[derive(Debug)]
pub struct OutputField {
    /// The key of `output_fields`: the field as spelled in the format
    /// (`proc.aname[2]`, `evt.arg.flags`, `tolower(proc.name)`), as libsinsp.
    pub name: String,
    pub ty: FieldType,
    operand: CompiledOperand,
}

impl OutputField {
    /// Run `f` on the field's values (none when missing).
    pub fn with_values<S: FieldSource + ?Sized, R>(
        &self,
        src: &S,
        f: impl FnOnce(Option<&[Value<'_>]>) -> R,
    ) -> R {
        self.operand.with_values(src, f)
    }
}

/// A compiled format string.
#[derive(Debug)]
pub struct OutputFormat {
    pieces: Vec<Piece>,
    fields: Vec<OutputField>,
}

/// Compile a format string.
pub fn compile_format(fmt: &str) -> Result<OutputFormat, OutputError> {
    let mut out = OutputFormat {
        pieces: Vec::new(),
        fields: Vec::new(),
    };
    out.append(fmt)?;
    Ok(out)
}

impl OutputFormat {
    /// Parse more format text and append it (Falco's `append_output`, or the
    /// suggested container/k8s fields the caller adds).
    pub fn append(&mut self, fmt: &str) -> Result<(), OutputError> {
        // A leading `*` tells libsinsp to render `<NA>` for missing values
        // instead of dropping the line; we always do that.
        let fmt = fmt.strip_prefix('*').unwrap_or(fmt);
        let b = fmt.as_bytes();
        let mut text = String::new();
        let mut i = 0;
        let mut lit_start = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            text.push_str(&fmt[lit_start..i]);
            if b.get(i + 1) == Some(&b'%') {
                text.push('%');
                i += 2;
                lit_start = i;
                continue;
            }
            let start = i;
            i += 1;
            let wstart = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let width = fmt[wstart..i].parse::<usize>().unwrap_or(0).min(4096);
            let i_field = i;
            let (operand, end) = parse_field(fmt, i).ok_or_else(|| OutputError::Syntax {
                offset: start,
                message: "expected a field name after '%'".into(),
            })?;
            i = end;
            lit_start = i;
            if !text.is_empty() {
                self.pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            // libsinsp keys output fields by their spelling in the format.
            let spelled = match b[i_field] {
                b'(' => &fmt[i_field + 1..end - 1],
                _ => &fmt[i_field..end],
            };
            let idx = self.field_index(&operand, spelled)?;
            self.pieces.push(Piece::Field { idx, width });
        }
        text.push_str(&fmt[lit_start..]);
        if !text.is_empty() {
            self.pieces.push(Piece::Text(text));
        }
        Ok(())
    }

    fn field_index(&mut self, operand: &Operand, spelled: &str) -> Result<usize, OutputError> {
        let (_, ty, compiled) = compile_operand(operand)?;
        let name = spelled.to_string();
        if let Some(i) = self.fields.iter().position(|f| f.name == name) {
            return Ok(i);
        }
        self.fields.push(OutputField {
            name,
            ty,
            operand: compiled,
        });
        Ok(self.fields.len() - 1)
    }

    /// The fields, in order of first appearance, each once.
    pub fn fields(&self) -> &[OutputField] {
        &self.fields
    }

    /// Render the text line: missing values as `<NA>`, several values
    /// joined with commas.
    pub fn render_text<S: FieldSource + ?Sized>(&self, src: &S, out: &mut String) {
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { idx, width } => {
                    let f = &self.fields[*idx];
                    let start = out.len();
                    f.with_values(src, |vals| match vals {
                        None => out.push_str("<NA>"),
                        Some(vals) => {
                            for (k, v) in vals.iter().enumerate() {
                                if k > 0 {
                                    out.push(',');
                                }
                                render_value(v, f.ty, out);
                            }
                        }
                    });
                    if *width > 0 {
                        fit(out, start, *width);
                    }
                }
            }
        }
    }

    /// Visit each field with its values (`None` when missing), for the
    /// alert's `output_fields`.
    pub fn render_fields<S: FieldSource + ?Sized>(
        &self,
        src: &S,
        mut visit: impl FnMut(&OutputField, Option<&[Value<'_>]>),
    ) {
        for f in &self.fields {
            f.with_values(src, |vals| visit(f, vals));
        }
    }
}

/// Make the text written since `start` exactly `width` characters: cut or
/// padded with spaces, as libsinsp's formatter does.
fn fit(out: &mut String, start: usize, width: usize) {
    match out[start..].char_indices().nth(width) {
        Some((cut, _)) => out.truncate(start + cut),
        None => {
            let n = out[start..].chars().count();
            out.extend(std::iter::repeat_n(' ', width - n));
        }
    }
}

/// Parse a field (or `transformer(field)`, or `(field)`) at byte `i`;
/// returns the operand and the end offset.
fn parse_field(fmt: &str, i: usize) -> Option<(Operand, usize)> {
    let rest = &fmt[i..];
    // `%(field)` delimits the field from the text that follows.
    if let Some(inner) = rest.strip_prefix('(') {
        let close = inner.find(')')?;
        let (op, used) = crate::parser::parse_operand(&inner[..close])?;
        if used != close {
            return None;
        }
        return Some((op, i + 1 + close + 1));
    }
    let (op, used) = crate::parser::parse_operand(rest)?;
    Some((op, i + used))
}

#[cfg(test)]
mod tests;
