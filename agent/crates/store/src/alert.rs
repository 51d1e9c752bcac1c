//! The alert as the store keeps it, and Falco's priority scale.

pub use saker_priority::Priority;

/// One alert as the pipeline hands it to the store. The indexed columns are
/// copied out of the Falco JSON by the pipeline so the store never parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlert {
    /// Event time, nanoseconds since the Unix epoch (Falco's `time`).
    pub time_ns: i64,
    pub rule: String,
    pub priority: Priority,
    pub source: String,
    pub hostname: String,
    /// `k8s.ns.name`; `None` for host processes or unknown metadata.
    pub namespace: Option<String>,
    /// `k8s.pod.name`.
    pub pod: Option<String>,
    /// `container.id` (Falco's 12-character short id, or `host`).
    pub container_id: Option<String>,
    /// The full Falco JSON line, returned verbatim by queries.
    pub json: String,
}

/// Why a line could not become a `StoredAlert`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Falco JSON alert: {0}")]
pub struct AlertParseError(pub String);

#[derive(serde::Deserialize)]
struct FalcoLine<'a> {
    #[serde(borrow)]
    time: &'a str,
    #[serde(borrow)]
    rule: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    priority: &'a str,
    #[serde(borrow, default)]
    source: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    hostname: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    output_fields: Option<FalcoFields<'a>>,
}

#[derive(serde::Deserialize, Default)]
struct FalcoFields<'a> {
    #[serde(borrow, rename = "k8s.ns.name", default)]
    ns: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "k8s.pod.name", default)]
    pod: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "container.id", default)]
    container: Option<std::borrow::Cow<'a, str>>,
}

impl StoredAlert {
    /// Builds the stored form from a Falco JSON line (for replay, imports
    /// and tests; the live pipeline fills the fields it already has).
    pub fn from_falco_json(line: &str) -> Result<StoredAlert, AlertParseError> {
        let f: FalcoLine<'_> =
            serde_json::from_str(line).map_err(|e| AlertParseError(e.to_string()))?;
        let time_ns = crate::timefmt::parse_rfc3339(f.time)
            .ok_or_else(|| AlertParseError(format!("bad time {:?}", f.time)))?;
        let priority = Priority::parse(f.priority)
            .ok_or_else(|| AlertParseError(format!("bad priority {:?}", f.priority)))?;
        let fields = f.output_fields.unwrap_or_default();
        Ok(StoredAlert {
            time_ns,
            rule: f.rule.into_owned(),
            priority,
            source: f.source.map(|s| s.into_owned()).unwrap_or_default(),
            hostname: f.hostname.map(|s| s.into_owned()).unwrap_or_default(),
            namespace: fields.ns.map(|s| s.into_owned()),
            pod: fields.pod.map(|s| s.into_owned()),
            container_id: fields.container.map(|s| s.into_owned()),
            json: line.to_owned(),
        })
    }
}

/// An alert read back from the store, with the id the store gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    /// Assigned at commit; strictly increasing, never reused.
    pub id: i64,
    pub alert: StoredAlert,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_falco_json() {
        let line = r#"{"hostname":"node-1","output":"x","output_fields":{"container.id":"abc123def456","evt.time":1,"k8s.ns.name":"shadow-abc","k8s.pod.name":null},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["a"],"time":"2026-11-22T02:20:26.123456789Z"}"#;
        let a = StoredAlert::from_falco_json(line).unwrap();
        assert_eq!(a.priority, Priority::Warning);
        assert_eq!(a.namespace.as_deref(), Some("shadow-abc"));
        assert_eq!(a.pod, None);
        assert_eq!(a.container_id.as_deref(), Some("abc123def456"));
        assert_eq!(a.rule, "Read sensitive file untrusted");
        assert_eq!(a.json, line);
        assert_eq!(
            crate::timefmt::format_falco(a.time_ns),
            "2026-11-22T02:20:26.123456789Z"
        );
        for bad in [
            "",
            "{}",
            "[1]",
            r#"{"time":"x","rule":"r","priority":"Warning"}"#,
        ] {
            assert!(StoredAlert::from_falco_json(bad).is_err(), "{bad}");
        }
    }
}
