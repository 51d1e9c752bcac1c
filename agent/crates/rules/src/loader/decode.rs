//! Typed access to the keys of a YAML mapping, with Falco's error messages
//! (`Item has no mapping for key 'x'`, `Value is not a scalar value`, ...)
//! pinned to the key or value at fault.

use std::collections::BTreeSet;

use super::text::FileText;
use super::yaml::{parse_bool, Kind, Node};
use crate::diag::{Code, Diagnostic, ItemKind, ItemRef};

pub type Res<T> = Result<T, Box<Diagnostic>>;

/// The item being decoded, for error context.
pub struct Ctx<'a> {
    pub ft: &'a FileText,
    pub item: &'a Node,
    pub kind: ItemKind,
    pub name: String,
}

impl Ctx<'_> {
    pub fn err(&self, node: &Node, message: impl Into<String>) -> Box<Diagnostic> {
        let len = node.end.saturating_sub(node.start).clamp(1, 80);
        let mut d = Diagnostic::error(Code::YamlValidate, message)
            .at(self.ft.node_pos(node))
            .len(len);
        d.item = Some(ItemRef {
            kind: self.kind,
            name: self.name.clone(),
        });
        Box::new(d)
    }

    pub fn err_expected(&self, node: &Node, message: &str, expected: &str) -> Box<Diagnostic> {
        Box::new(self.err(node, message).expected(expected))
    }

    /// A scalar string value; `None` when the key is absent and optional.
    pub fn str_val(&self, key: &str, optional: bool) -> Res<Option<(String, &Node)>> {
        let Some(v) = self.item.get(key) else {
            if optional {
                return Ok(None);
            }
            return Err(self.err_expected(
                self.item,
                &format!("Item has no mapping for key '{key}'"),
                &format!("a '{key}' key"),
            ));
        };
        if v.is_null() {
            return Err(self.err_expected(
                v,
                &format!("Mapping for key '{key}' is empty"),
                "a non-empty value",
            ));
        }
        let Some(s) = v.as_scalar() else {
            return Err(self.err_expected(
                v,
                &format!("Value for key '{key}' is not a scalar value"),
                &format!("a scalar, found a {}", v.kind_name()),
            ));
        };
        if s.is_empty() {
            return Err(self.err(v, format!("Value for key '{key}' must be non-empty")));
        }
        Ok(Some((s.to_string(), v)))
    }

    pub fn req_str(&self, key: &str) -> Res<(String, &Node)> {
        // `str_val` with optional = false never returns Ok(None).
        self.str_val(key, false)?
            .ok_or_else(|| self.err(self.item, format!("Item has no mapping for key '{key}'")))
    }

    pub fn bool_val(&self, key: &str) -> Res<Option<bool>> {
        let Some((s, node)) = self.str_val(key, true)? else {
            return Ok(None);
        };
        match parse_bool(&s) {
            Some(b) => Ok(Some(b)),
            None => Err(self.err_expected(
                node,
                &format!("Can't decode YAML scalar value '{s}' for key '{key}'"),
                "true or false",
            )),
        }
    }

    pub fn u64_val(&self, key: &str) -> Res<Option<u64>> {
        let Some((s, node)) = self.str_val(key, true)? else {
            return Ok(None);
        };
        match s.parse::<u64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(self.err_expected(
                node,
                &format!("Can't decode YAML scalar value '{s}' for key '{key}'"),
                "a non-negative integer",
            )),
        }
    }

    /// A sequence of scalars (`items`, `tags`).
    pub fn str_seq(&self, key: &str, optional: bool) -> Res<Option<Vec<String>>> {
        let Some(v) = self.item.get(key) else {
            if optional {
                return Ok(None);
            }
            return Err(self.err_expected(
                self.item,
                &format!("Item has no mapping for key '{key}'"),
                &format!("a '{key}' key with a sequence"),
            ));
        };
        let Kind::Seq(items) = &v.kind else {
            return Err(self.err_expected(
                v,
                &format!("Value for key '{key}' is not a sequence"),
                "a sequence like [a, b]",
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            match i.as_scalar() {
                Some(s) => out.push(s.to_string()),
                None => {
                    return Err(self.err_expected(
                        i,
                        &format!("Sequence value in '{key}' is not scalar"),
                        "a string",
                    ))
                }
            }
        }
        Ok(Some(out))
    }

    pub fn tags(&self) -> Res<Option<BTreeSet<String>>> {
        Ok(self.str_seq("tags", true)?.map(|v| v.into_iter().collect()))
    }

    /// Warns about keys an item of this kind does not have, and about keys
    /// given twice.
    pub fn unknown_keys(&self, known: &[&str]) -> Vec<Diagnostic> {
        let Kind::Map(entries) = &self.item.kind else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, (k, _)) in entries.iter().enumerate() {
            let Some(key) = k.as_scalar() else { continue };
            if entries[..i].iter().any(|(p, _)| p.as_scalar() == Some(key)) {
                out.push(
                    Diagnostic::warning(
                        Code::UnknownKey,
                        format!("Duplicate key '{key}': the first value is used"),
                    )
                    .at(self.ft.node_pos(k))
                    .len(key.chars().count())
                    .item(self.kind, &self.name)
                    .expected("each key once per item"),
                );
            }
        }
        out.extend(
            entries
                .iter()
                .filter(|(k, _)| !k.as_scalar().is_some_and(|k| known.contains(&k)))
                .map(|(k, _)| {
                    let key = k.as_scalar().unwrap_or("<non-scalar key>");
                    Diagnostic::warning(Code::UnknownKey, format!("Unknown key '{key}'"))
                        .at(self.ft.node_pos(k))
                        .len(key.chars().count())
                        .item(self.kind, &self.name)
                        .expected(format!("one of: {}", known.join(", ")))
                }),
        );
        out
    }
}

/// `[a-zA-Z]+[a-zA-Z0-9_]*`: what the condition grammar accepts as a macro name.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[^()"'[:space:]=,]+`: what the condition grammar accepts as a bare list name.
pub fn is_bare_str(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| !matches!(c, '(' | ')' | '"' | '\'' | '=' | ',') && !c.is_whitespace())
}
