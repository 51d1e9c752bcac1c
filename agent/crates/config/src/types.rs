//! Value types shared by the sections: priorities, durations, sizes, and the
//! list-shaped Falco settings (`rules:` selections, `append_output`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

pub use saker_priority::Priority;

/// Falco's `rule_matching`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleMatching {
    /// Stop at the first matching rule (Falco's default).
    #[default]
    First,
    /// Report every matching rule.
    All,
}

/// An action of `syscall_event_drops.actions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropAction {
    Ignore,
    Log,
    Alert,
    Exit,
}

/// A Prometheus-style duration, as Falco's `metrics.interval`: `500ms`,
/// `30s`, `15m`, `1h`, `7d`, `1w`, `1y`, or several (`1h30m`). A bare number
/// is rejected because its unit would be a guess.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Interval(pub Duration);

impl Interval {
    pub fn parse(s: &str) -> Result<Interval, String> {
        let bad = || format!("expected a duration like 500ms, 30s, 15m, 1h or 7d, got {s:?}");
        let mut total: u128 = 0;
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let unit_len = rest[digits..]
                .bytes()
                .take_while(u8::is_ascii_alphabetic)
                .count();
            if digits == 0 || unit_len == 0 || digits > 18 {
                return Err(bad());
            }
            let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
            let ms: u128 = match &rest[digits..digits + unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                "y" => 365 * 86_400_000,
                _ => return Err(bad()),
            };
            total = total.saturating_add(n.saturating_mul(ms));
            rest = &rest[digits + unit_len..];
        }
        let ms = u64::try_from(total).map_err(|_| bad())?;
        Ok(Interval(Duration::from_millis(ms)))
    }
}

impl TryFrom<String> for Interval {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Interval::parse(&s)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

/// A byte count: an integer, or a number with a unit (`64KiB`, `8MiB`,
/// `1GiB`; `K`/`M`/`G`/`T` and `KB`/`MB`... are binary too, as people mean
/// them for buffers and disk caps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "Scalar")]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let bad = || format!("expected a size like 8388608, 8MiB or 1GiB, got {s:?}");
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 20 {
            return Err(bad());
        }
        let n: u64 = t[..digits].parse().map_err(|_| bad())?;
        let shift = match t[digits..].trim() {
            "" | "B" => 0,
            "K" | "KB" | "KiB" | "k" | "kB" => 10,
            "M" | "MB" | "MiB" => 20,
            "G" | "GB" | "GiB" => 30,
            "T" | "TB" | "TiB" => 40,
            _ => return Err(bad()),
        };
        n.checked_mul(1u64 << shift).map(ByteSize).ok_or_else(bad)
    }
}

/// Any scalar as text, whatever YAML type it resolved to.
#[derive(Deserialize)]
#[serde(transparent)]
struct Scalar(String);

impl TryFrom<Scalar> for ByteSize {
    type Error = String;
    fn try_from(s: Scalar) -> Result<Self, String> {
        ByteSize::parse(&s.0)
    }
}

/// One entry of Falco's `rules:` list, applied in order after the rules
/// files are loaded. Names may contain `*` wildcards.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSelection")]
pub enum Selection {
    EnableRule(String),
    DisableRule(String),
    EnableTag(String),
    DisableTag(String),
}

#[derive(Deserialize)]
struct RawSelection {
    enable: Option<RawMatcher>,
    disable: Option<RawMatcher>,
}

#[derive(Deserialize)]
struct RawMatcher {
    rule: Option<String>,
    tag: Option<String>,
}

impl TryFrom<RawSelection> for Selection {
    type Error = String;
    fn try_from(r: RawSelection) -> Result<Self, String> {
        let (enable, m) = match (r.enable, r.disable) {
            (Some(m), None) => (true, m),
            (None, Some(m)) => (false, m),
            _ => return Err("expected exactly one of enable: or disable:".into()),
        };
        match (m.rule, m.tag, enable) {
            (Some(r), None, true) => Ok(Selection::EnableRule(r)),
            (Some(r), None, false) => Ok(Selection::DisableRule(r)),
            (None, Some(t), true) => Ok(Selection::EnableTag(t)),
            (None, Some(t), false) => Ok(Selection::DisableTag(t)),
            _ => Err("expected exactly one of rule: or tag:".into()),
        }
    }
}

/// One `append_output` entry. Empty `match` conditions match every rule;
/// several must all hold (tags: the rule has all of them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AppendOutput {
    #[serde(rename = "match")]
    pub matches: AppendMatch,
    /// Appended to the output text after a space.
    pub extra_output: Option<String>,
    /// `(key, format)` pairs added to the output fields only; a bare field
    /// name is given as `("evt.hostname", "%evt.hostname")`, like Falco.
    pub extra_fields: Vec<ExtraField>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AppendMatch {
    pub rule: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
}

/// An `extra_fields` item: `- evt.hostname` or `- name: "format"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraField {
    pub key: String,
    pub format: String,
}

impl<'de> Deserialize<'de> for ExtraField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtraField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name or a one-key mapping name: format")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ExtraField, E> {
                Ok(ExtraField {
                    key: s.to_string(),
                    format: format!("%{s}"),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ExtraField, A::Error> {
                let Some((key, format)) = m.next_entry::<String, String>()? else {
                    return Err(de::Error::custom(
                        "expected one name: format pair, got none",
                    ));
                };
                if m.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom(
                        "expected one name: format pair per list item, got several",
                    ));
                }
                Ok(ExtraField { key, format })
            }
        }
        d.deserialize_any(V)
    }
}
