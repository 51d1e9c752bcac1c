//! Token-level helpers: a byte cursor over the condition text.

use super::{ParseError, Result};
use crate::ast::{Modifier, Transformer};

pub(super) struct Cursor<'s> {
    pub src: &'s str,
    pub pos: usize,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x08 | 0x0b | 0x0c)
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'s> Cursor<'s> {
    pub fn new(src: &'s str) -> Self {
        Cursor { src, pos: 0 }
    }

    fn bytes(&self) -> &'s [u8] {
        self.src.as_bytes()
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        self.bytes().get(i).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub fn peek_blank(&self) -> bool {
        self.peek().is_some_and(is_blank)
    }

    /// Skip blanks; true if any were skipped.
    pub fn blank(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
        self.pos > start
    }

    pub fn eat(&mut self, s: &str) -> bool {
        if self.bytes()[self.pos..].starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// `kw` as a whole word (not followed by an identifier character).
    pub fn keyword(&mut self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        if self.bytes()[self.pos..].starts_with(kw.as_bytes())
            && !self.peek_at(end).is_some_and(is_ident)
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// The identifier-like word at the cursor, consumed.
    pub fn word(&mut self) -> Option<&'s str> {
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.src[start..self.pos])
    }

    /// `[a-zA-Z][a-zA-Z0-9_]*`
    fn segment_end(&self, at: usize) -> Option<usize> {
        if !self.peek_at(at).is_some_and(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        let mut i = at + 1;
        while self.peek_at(i).is_some_and(is_ident) {
            i += 1;
        }
        Some(i)
    }

    pub fn identifier(&mut self) -> Option<&'s str> {
        let end = self.segment_end(self.pos)?;
        let s = &self.src[self.pos..end];
        self.pos = end;
        Some(s)
    }

    /// `ident(.ident)+`
    pub fn field_name(&mut self) -> Option<&'s str> {
        let mut end = self.segment_end(self.pos)?;
        let mut dots = 0;
        while self.peek_at(end) == Some(b'.') {
            match self.segment_end(end + 1) {
                Some(e) => {
                    end = e;
                    dots += 1;
                }
                None => break,
            }
        }
        if dots == 0 {
            return None;
        }
        let s = &self.src[self.pos..end];
        self.pos = end;
        Some(s)
    }

    /// `name(` for a known transformer, consumed with the parenthesis.
    pub fn transformer(&mut self) -> Option<Transformer> {
        let end = self.segment_end(self.pos)?;
        if self.peek_at(end) != Some(b'(') {
            return None;
        }
        let t = Transformer::from_name(&self.src[self.pos..end])?;
        self.pos = end + 1;
        Some(t)
    }

    pub fn eat_word_paren(&mut self, w: &str) -> bool {
        let end = self.pos + w.len();
        if self.bytes()[self.pos..].starts_with(w.as_bytes()) && self.peek_at(end) == Some(b'(') {
            self.pos = end + 1;
            true
        } else {
            false
        }
    }

    /// `anyof`/`allof`/`oneof` followed by a parenthesised list.
    pub fn modifier(&mut self) -> Option<Modifier> {
        let end = self.segment_end(self.pos)?;
        let m = match &self.src[self.pos..end] {
            "anyof" => Modifier::AnyOf,
            "allof" => Modifier::AllOf,
            "oneof" => Modifier::OneOf,
            _ => return None,
        };
        let mut i = end;
        while self.peek_at(i).is_some_and(is_blank) {
            i += 1;
        }
        if self.peek_at(i) != Some(b'(') {
            return None;
        }
        self.pos = end;
        Some(m)
    }

    fn run(&mut self, stop: impl Fn(u8) -> bool) -> Option<&'s str> {
        let start = self.pos;
        while self.peek().is_some_and(|b| !stop(b)) {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.src[start..self.pos])
    }

    /// `[^()"'\s=,]+`
    pub fn bare_str(&mut self) -> Option<&'s str> {
        self.run(|b| is_blank(b) || matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b','))
    }

    /// `[^\[\]"'\s]+`
    pub fn field_arg_bare(&mut self) -> Option<&'s str> {
        self.run(|b| is_blank(b) || matches!(b, b'[' | b']' | b'"' | b'\''))
    }

    /// A single- or double-quoted string, unescaped. `Ok(None)` when the
    /// cursor is not at a quote; an error when the quote is not closed.
    pub fn quoted(&mut self) -> Result<Option<String>> {
        let Some(q @ (b'"' | b'\'')) = self.peek() else {
            return Ok(None);
        };
        let start = self.pos;
        let bytes = self.bytes();
        let mut out = Vec::new();
        let mut i = start + 1;
        while i < bytes.len() {
            let b = bytes[i];
            if b == q {
                self.pos = i + 1;
                // Only ASCII was replaced, so this stays valid UTF-8.
                return Ok(Some(String::from_utf8_lossy(&out).into_owned()));
            }
            if b == b'\\' && i + 1 < bytes.len() {
                let e = bytes[i + 1];
                let r = match e {
                    b'n' => Some(b'\n'),
                    b't' => Some(b'\t'),
                    b'r' => Some(b'\r'),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'\\' | b'"' | b'\'' | b'/' => Some(e),
                    _ => None,
                };
                match r {
                    Some(c) => out.push(c),
                    // Unknown escapes are kept verbatim (regexes like "\." need it).
                    None => out.extend_from_slice(&[b'\\', e]),
                }
                i += 2;
                continue;
            }
            out.push(b);
            i += 1;
        }
        Err(ParseError {
            offset: start,
            message: "unterminated quoted string".into(),
        })
    }
}
