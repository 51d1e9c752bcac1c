//! A serde `Deserializer` over the YAML tree that knows where it is.
//!
//! Deserializing straight from our own tree (instead of through a generic
//! value type) gives three things serde alone does not: every error names the
//! key path and the line; a struct's field list (which serde hands to
//! `deserialize_struct`) doubles as the schema, so unknown keys are found and
//! reported as warnings without a second description of the config; and
//! scalars are typed by what the field asks for, as yaml-cpp (Falco's parser)
//! does, so `listen_port: "8765"` is a port and `program: 123` a string.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::ignored;
use crate::yaml::{parse_bool, Kind, Node};

/// Where nodes came from and what was noticed on the way.
pub struct Ctx {
    /// Source names, indexed by `Node::src`: file paths, or `-o KEY=VALUE`.
    pub sources: Vec<String>,
    pub warnings: RefCell<Vec<String>>,
}

impl Ctx {
    /// `file:line`, or the source name alone for `-o` nodes (line 0).
    pub fn location(&self, src: u16, line: u32) -> String {
        let name = self
            .sources
            .get(src as usize)
            .map_or("config", |s| s.as_str());
        if line == 0 {
            name.to_string()
        } else {
            format!("{name}:{line}")
        }
    }

    pub fn warn(&self, node: &Node, message: String) {
        let loc = self.location(node.src, node.line);
        self.warnings.borrow_mut().push(format!("{loc}: {message}"));
    }

    fn unexpected_key(&self, path: &str, key: &str, fields: &[&str], node: &Node) {
        let msg = if ignored::is_ignored(path) {
            format!("{path}: ignored: not applicable to saker")
        } else if let Some(near) = closest(key, fields) {
            format!("unknown key {path} (did you mean {near}?)")
        } else {
            format!("unknown key {path}")
        };
        self.warn(node, msg);
    }
}

/// The known key a typo most likely meant: within two edits, or one for
/// short keys.
fn closest<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    if key.len() > 64 {
        return None;
    }
    let limit = if key.len() <= 4 { 1 } else { 2 };
    fields
        .iter()
        .map(|f| (edit_distance(key, f), *f))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A deserialization failure; `path` and position are filled in by the
/// innermost node that saw it.
#[derive(Debug)]
pub struct DeError {
    pub path: Option<String>,
    pub src: u16,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            path: None,
            src: 0,
            line: 0,
            message: msg.to_string(),
        }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!("expected {exp}, got {unexp}"))
    }
}

pub struct De<'a> {
    pub node: &'a Node,
    pub path: String,
    pub ctx: &'a Ctx,
}

impl<'a> De<'a> {
    fn child(&self, node: &'a Node, key: &str) -> De<'a> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        De {
            node,
            path,
            ctx: self.ctx,
        }
    }

    fn item(&self, node: &'a Node, i: usize) -> De<'a> {
        De {
            node,
            path: format!("{}[{i}]", self.path),
            ctx: self.ctx,
        }
    }

    fn fail(&self, message: String) -> DeError {
        DeError {
            path: Some(self.path.clone()),
            src: self.node.src,
            line: self.node.line,
            message,
        }
    }

    /// Gives an error raised below us (by a visitor) our path, unless a
    /// deeper node already did.
    fn locate(&self, mut e: DeError) -> DeError {
        if e.path.is_none() {
            e.path = Some(self.path.clone());
            e.src = self.node.src;
            e.line = self.node.line;
        }
        e
    }

    fn expected(&self, what: &str) -> DeError {
        self.fail(format!("expected {what}, got {}", self.node.describe()))
    }

    fn scalar(&self, what: &str) -> Result<&'a str, DeError> {
        match &self.node.kind {
            Kind::Scalar(s, _) => Ok(s),
            _ => Err(self.expected(what)),
        }
    }

    fn int(&self) -> Result<i128, DeError> {
        let s = self.scalar("an integer")?;
        parse_int(s).ok_or_else(|| self.expected("an integer"))
    }
}

/// Decimal, `0x` hex or `0o` octal, with an optional sign (YAML 1.2 core).
pub fn parse_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(h) = digits.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// YAML floats (`.5`, `1e3`, `.inf`, `.nan`) and integers.
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Rust would also take "inf" and "nan", which YAML spells with a dot.
    if s.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return parse_int(s).map(|i| i as f64);
    }
    s.parse().ok()
}

macro_rules! de_int {
    ($($method:ident $visit:ident $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let v = self.int()?;
            let v = <$ty>::try_from(v).map_err(|_| {
                self.expected(&format!("an integer from {} to {}", <$ty>::MIN, <$ty>::MAX))
            })?;
            visitor.$visit(v).map_err(|e| self.locate(e))
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for De<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Scalar(s, true) => {
                // YAML 1.2 core booleans only: an untyped `yes` stays a string.
                let core_bool = match s.as_str() {
                    "true" | "True" | "TRUE" => Some(true),
                    "false" | "False" | "FALSE" => Some(false),
                    _ => None,
                };
                if let Some(b) = core_bool {
                    visitor.visit_bool(b)
                } else if let Some(i) = parse_int(s) {
                    match i64::try_from(i) {
                        Ok(i) => visitor.visit_i64(i),
                        Err(_) => match u64::try_from(i) {
                            Ok(u) => visitor.visit_u64(u),
                            Err(_) => visitor.visit_str(s),
                        },
                    }
                } else if let Some(f) = s
                    .bytes()
                    .next()
                    .filter(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
                    .and_then(|_| parse_float(s))
                {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_str(s)
                }
            }
            Kind::Scalar(s, false) => visitor.visit_str(s),
            Kind::Seq(_) => return self.deserialize_seq(visitor),
            Kind::Map(_) => return self.deserialize_map(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = self.scalar("a boolean (true or false)")?;
        let b = parse_bool(s).ok_or_else(|| self.expected("a boolean (true or false)"))?;
        visitor.visit_bool(b).map_err(|e| self.locate(e))
    }

    de_int!(
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = self.scalar("a number")?;
        let f = parse_float(s).ok_or_else(|| self.expected("a number"))?;
        visitor.visit_f64(f).map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = self.scalar("a string")?;
        visitor.visit_str(s).map_err(|e| self.locate(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if matches!(self.node.kind, Kind::Null) {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            Kind::Null => visitor.visit_unit().map_err(|e| self.locate(e)),
            _ => Err(self.expected("nothing (null)")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            Kind::Seq(items) => visitor.visit_seq(SeqAcc {
                parent: &self,
                items: items.iter().enumerate(),
            }),
            // yaml-cpp reads a lone scalar where Falco expects a list as a
            // list of one (`rules_files: /etc/falco/rules.d`); an empty one
            // (`-o base_syscalls.custom_set=`) as an empty list.
            Kind::Scalar(s, _) if s.is_empty() => visitor.visit_seq(SeqAcc {
                parent: &self,
                items: [].iter().enumerate(),
            }),
            Kind::Scalar(..) => visitor.visit_seq(SeqAcc {
                parent: &self,
                items: std::slice::from_ref(self.node).iter().enumerate(),
            }),
            Kind::Null => visitor.visit_seq(SeqAcc {
                parent: &self,
                items: [].iter().enumerate(),
            }),
            Kind::Map(_) => return Err(self.expected("a list")),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.map(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.map(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Only unit variants are used in the config: a scalar names one.
        let what = format!("one of {}", variants.join(", "));
        let s = self.scalar(&what)?;
        if !variants.contains(&s) {
            return Err(self.expected(&what));
        }
        let d: de::value::StrDeserializer<'_, DeError> = s.into_deserializer();
        visitor.visit_enum(d).map_err(|e| self.locate(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

impl<'a> De<'a> {
    fn map<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries: &[(String, Node)] = match &self.node.kind {
            Kind::Map(e) => e,
            // An empty section (`webserver:`) means all defaults, as in Falco.
            Kind::Null => &[],
            _ => return Err(self.expected("a mapping")),
        };
        // yaml-cpp keeps the last of duplicate keys; serde would reject them.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (i, (k, _)) in entries.iter().enumerate() {
            if let Some(prev) = last.insert(k, i) {
                let path = self.child(&entries[prev].1, k).path;
                self.ctx.warn(
                    &entries[i].1,
                    format!("duplicate key {path}: the last one is used"),
                );
            }
        }
        let acc = MapAcc {
            parent: &self,
            entries: entries.iter().enumerate(),
            last,
            fields,
            value: None,
        };
        visitor.visit_map(acc).map_err(|e| self.locate(e))
    }
}

struct SeqAcc<'p, 'a, I> {
    parent: &'p De<'a>,
    items: I,
}

impl<'de, 'p, 'a, I> de::SeqAccess<'de> for SeqAcc<'p, 'a, I>
where
    I: Iterator<Item = (usize, &'a Node)>,
{
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let child = self.parent.item(node, i);
        let path = child.path.clone();
        seed.deserialize(child).map(Some).map_err(|e| {
            let at = De {
                node,
                path,
                ctx: self.parent.ctx,
            };
            at.locate(e)
        })
    }
}

struct MapAcc<'p, 'a, I> {
    parent: &'p De<'a>,
    entries: I,
    last: HashMap<&'a str, usize>,
    fields: Option<&'static [&'static str]>,
    value: Option<(&'a str, &'a Node)>,
}

impl<'de, 'p, 'a, I> de::MapAccess<'de> for MapAcc<'p, 'a, I>
where
    I: Iterator<Item = (usize, &'a (String, Node))>,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (i, (k, v)) in self.entries.by_ref() {
            if self.last.get(k.as_str()) != Some(&i) {
                continue;
            }
            if let Some(fields) = self.fields {
                if !fields.contains(&k.as_str()) {
                    let path = self.parent.child(v, k).path;
                    self.parent.ctx.unexpected_key(&path, k, fields, v);
                    continue;
                }
                // A key with no value keeps the field's default, as in Falco.
                if matches!(v.kind, Kind::Null) {
                    continue;
                }
            }
            self.value = Some((k, v));
            let d: de::value::StrDeserializer<'_, DeError> = k.as_str().into_deserializer();
            return seed.deserialize(d).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let Some((k, node)) = self.value.take() else {
            return Err(de::Error::custom("value without a key"));
        };
        let child = self.parent.child(node, k);
        let path = child.path.clone();
        seed.deserialize(child).map_err(|e| {
            let at = De {
                node,
                path,
                ctx: self.parent.ctx,
            };
            at.locate(e)
        })
    }
}

/// Deserializes `node` as a `T`, recording warnings in `ctx`.
pub fn from_node<T: de::DeserializeOwned>(node: &Node, ctx: &Ctx) -> Result<T, DeError> {
    T::deserialize(De {
        node,
        path: String::new(),
        ctx,
    })
}
