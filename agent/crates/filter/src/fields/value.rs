//! Field values as a source hands them out (borrowed) and as tests store
//! them (owned).

use std::fmt::Write as _;
use std::net::IpAddr;

use smallvec::SmallVec;

use super::FieldType;

/// One value of a field, borrowed from the event source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    /// Non-UTF-8 strings and buffers (paths may be any bytes).
    Bytes(&'a [u8]),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
}

impl<'a> Value<'a> {
    /// The bytes of a string value; `None` for other kinds.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Str(s) => Some(s.as_bytes()),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The reusable buffer a source fills: inline for up to sixteen values (deep ancestor chains fit).
pub type Values<'a> = SmallVec<[Value<'a>; 16]>;

/// An owned value, for [`super::SyntheticEvent`] and callers that build
/// events by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedValue {
    Str(String),
    Bytes(Vec<u8>),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
}

impl OwnedValue {
    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Str(s) => Value::Str(s),
            OwnedValue::Bytes(b) => Value::Bytes(b),
            OwnedValue::U64(v) => Value::U64(*v),
            OwnedValue::I64(v) => Value::I64(*v),
            OwnedValue::Bool(v) => Value::Bool(*v),
            OwnedValue::Ip(v) => Value::Ip(*v),
        }
    }

    /// Parse text as a value of type `ty` (used to build test events).
    pub fn parse(ty: FieldType, text: &str) -> Option<OwnedValue> {
        Some(match ty {
            FieldType::U64 | FieldType::Port | FieldType::AbsTime | FieldType::RelTime => {
                OwnedValue::U64(crate::compile::parse_u64(text)?)
            }
            FieldType::I64 => OwnedValue::I64(crate::compile::parse_i64(text)?),
            FieldType::Bool => OwnedValue::Bool(crate::compile::parse_bool(text)?),
            FieldType::IpAddr | FieldType::IpNet => OwnedValue::Ip(text.parse().ok()?),
            FieldType::Bytes => OwnedValue::Bytes(text.as_bytes().to_vec()),
            FieldType::Str | FieldType::StrList => OwnedValue::Str(text.to_string()),
        })
    }
}

/// Render a value as Falco prints it in text output.
pub fn render_value(v: &Value<'_>, ty: FieldType, out: &mut String) {
    match *v {
        Value::Str(s) => out.push_str(s),
        Value::Bytes(b) => render_bytes(b, out),
        Value::U64(n) => match ty {
            FieldType::AbsTime => render_abstime(n, out),
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
}

/// Printable bytes as they are, others as `\xNN` (Falco prints buffers with
/// non-printables escaped too).
fn render_bytes(b: &[u8], out: &mut String) {
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

/// `HH:MM:SS.nnnnnnnnn` in UTC, like Falco's `%evt.time`.
fn render_abstime(ns: u64, out: &mut String) {
    let secs = ns / 1_000_000_000;
    let nanos = ns % 1_000_000_000;
    let day = secs % 86_400;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:09}",
        day / 3600,
        (day / 60) % 60,
        day % 60,
        nanos
    );
}
