//! What a client may ask: `/v1/alerts` filters, cursor paging, and the
//! `/v1/gate/runtime` parameters, parsed from query-string values into typed
//! requests. Every rejection names the parameter; nothing here panics on
//! input, and nothing here builds SQL (see `store::read`, which binds values).

use crate::alert::Priority;
use crate::timefmt::parse_time_param;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// A rejected parameter: `{"error": message, "parameter": parameter}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter {parameter}: {message}")]
pub struct ParamError {
    pub parameter: String,
    pub message: String,
}

impl ParamError {
    pub fn new(parameter: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            // Echo at most a short, printable form of a client-chosen name.
            parameter: parameter
                .chars()
                .take(64)
                .filter(|c| !c.is_control())
                .collect(),
            message: message.into(),
        }
    }
}

/// Position after the last alert of a page: alerts strictly older in
/// (time_ns, id) order come next. Stable while alerts arrive, because new
/// alerts get larger ids and paging walks towards smaller ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub time_ns: i64,
    pub id: i64,
}

impl Cursor {
    /// Opaque to clients; 32 hex digits, so it is URL-safe without escaping.
    pub fn encode(&self) -> String {
        format!("{:016x}{:016x}", self.time_ns as u64, self.id as u64)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let t = u64::from_str_radix(&s[..16], 16).ok()? as i64;
        let id = u64::from_str_radix(&s[16..], 16).ok()? as i64;
        (id > 0).then_some(Cursor { time_ns: t, id })
    }
}

/// `/v1/alerts` filters. Newest first; `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub rule: Option<String>,
    /// At least this severe.
    pub min_priority: Option<Priority>,
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            namespace: None,
            pod: None,
            container: None,
            rule: None,
            min_priority: None,
            since_ns: None,
            until_ns: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl Query {
    /// Parses query-string pairs (already percent-decoded). Unknown and
    /// repeated parameters are errors: a typo such as `namepsace=` must not
    /// silently widen a query to every namespace.
    pub fn from_params<'a, I>(params: I, now_ns: i64) -> Result<Query, ParamError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut q = Query::default();
        let mut seen = Seen::default();
        for (k, v) in params {
            seen.once(k)?;
            match k {
                "namespace" => q.namespace = Some(parse_namespace(k, v)?),
                "pod" => q.pod = Some(parse_pod(k, v)?),
                "container" => q.container = Some(parse_container(k, v)?),
                "rule" => q.rule = Some(parse_rule(k, v)?),
                "min_priority" => q.min_priority = Some(parse_priority(k, v)?),
                "since" => q.since_ns = Some(parse_time(k, v, now_ns)?),
                "until" => q.until_ns = Some(parse_time(k, v, now_ns)?),
                "limit" => q.limit = parse_limit(k, v)?,
                "cursor" => {
                    q.cursor =
                        Some(Cursor::decode(v).ok_or_else(|| {
                            ParamError::new(k, "not a cursor returned by this API")
                        })?)
                }
                _ => return Err(ParamError::new(k, "unknown parameter")),
            }
        }
        if let (Some(s), Some(u)) = (q.since_ns, q.until_ns) {
            if u <= s {
                return Err(ParamError::new("until", "must be later than since"));
            }
        }
        Ok(q)
    }
}

/// `/v1/gate/runtime?namespace=NS&since=T&severity_threshold=WARNING[&until=T]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRequest {
    pub namespace: String,
    pub since_ns: i64,
    /// Exclusive end of the window; `None` (the verifier's case) is now.
    /// Lets a window that ended before an agent restart be judged on its
    /// own, without the restart's gap.
    pub until_ns: Option<i64>,
    /// Alerts at least this severe fail the gate. Default WARNING, as in the seed.
    pub threshold: Priority,
}

impl GateRequest {
    pub fn from_params<'a, I>(params: I, now_ns: i64) -> Result<GateRequest, ParamError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut seen = Seen::default();
        let (mut namespace, mut since, mut threshold) = (None, None, Priority::Warning);
        let mut until = None;
        for (k, v) in params {
            seen.once(k)?;
            match k {
                "namespace" => namespace = Some(parse_namespace(k, v)?),
                "since" => since = Some(parse_time(k, v, now_ns)?),
                "until" => until = Some(parse_time(k, v, now_ns)?),
                "severity_threshold" => threshold = parse_priority(k, v)?,
                _ => return Err(ParamError::new(k, "unknown parameter")),
            }
        }
        let namespace = namespace.ok_or_else(|| ParamError::new("namespace", "required"))?;
        // No default window: a verifier that forgot `since` must hear it,
        // not get an answer about some window it did not choose.
        let since_ns = since.ok_or_else(|| ParamError::new("since", "required"))?;
        if until.is_some_and(|u| u <= since_ns) {
            return Err(ParamError::new("until", "must be later than since"));
        }
        Ok(GateRequest {
            namespace,
            since_ns,
            until_ns: until,
            threshold,
        })
    }
}

#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn once(&mut self, k: &str) -> Result<(), ParamError> {
        if self.0.len() > 16 {
            return Err(ParamError::new(k, "too many parameters"));
        }
        if self.0.iter().any(|s| s == k) {
            return Err(ParamError::new(k, "given more than once"));
        }
        self.0.push(k.to_owned());
        Ok(())
    }
}

fn nonempty<'v>(k: &str, v: &'v str) -> Result<&'v str, ParamError> {
    if v.is_empty() {
        Err(ParamError::new(k, "empty"))
    } else {
        Ok(v)
    }
}

/// Kubernetes namespace: an RFC 1123 label (lower-case alphanumerics and '-', ≤ 63).
pub fn parse_namespace(k: &str, v: &str) -> Result<String, ParamError> {
    let v = nonempty(k, v)?;
    let ok = v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !v.starts_with('-')
        && !v.ends_with('-');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ParamError::new(
            k,
            "not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)",
        ))
    }
}

/// Pod name: an RFC 1123 subdomain (lower-case alphanumerics, '-', '.', ≤ 253).
fn parse_pod(k: &str, v: &str) -> Result<String, ParamError> {
    let v = nonempty(k, v)?;
    let ok = v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ParamError::new(
            k,
            "not a Kubernetes pod name (lower-case letters, digits, '-' and '.', at most 253)",
        ))
    }
}

/// Container id as Falco prints it: 12 or 64 hex digits, or `host`; we
/// accept the id-like alphabet so other runtimes' spellings still match.
fn parse_container(k: &str, v: &str) -> Result<String, ParamError> {
    let v = nonempty(k, v)?;
    let ok = v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ParamError::new(k, "not a container id"))
    }
}

/// Rule names are free text in Falco, so any printable text matches
/// literally (the value is bound, never spliced into SQL).
fn parse_rule(k: &str, v: &str) -> Result<String, ParamError> {
    let v = nonempty(k, v)?;
    if v.len() > 1024 {
        return Err(ParamError::new(k, "longer than 1024 bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err(ParamError::new(k, "contains control characters"));
    }
    Ok(v.to_owned())
}

pub fn parse_priority(k: &str, v: &str) -> Result<Priority, ParamError> {
    Priority::parse(nonempty(k, v)?).ok_or_else(|| {
        ParamError::new(
            k,
            "not a Falco priority (emergency, alert, critical, error, warning, notice, informational, debug)",
        )
    })
}

pub fn parse_time(k: &str, v: &str, now_ns: i64) -> Result<i64, ParamError> {
    parse_time_param(nonempty(k, v)?, now_ns).ok_or_else(|| {
        ParamError::new(
            k,
            "expected RFC3339 (2026-01-02T15:04:05Z) or a duration before now (30s, 5m, 2h, 1d)",
        )
    })
}

fn parse_limit(k: &str, v: &str) -> Result<u32, ParamError> {
    let v = nonempty(k, v)?;
    let n = if v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<u64>().ok()
    } else {
        None
    };
    match n {
        Some(n) if (1..=u64::from(MAX_LIMIT)).contains(&n) => Ok(n as u32),
        _ => Err(ParamError::new(
            k,
            format!("must be an integer from 1 to {MAX_LIMIT}"),
        )),
    }
}
