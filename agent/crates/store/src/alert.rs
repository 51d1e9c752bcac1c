//! The alert as the store keeps it, and Falco's priority scale.

use std::fmt;

/// Falco priorities, most severe first: the numeric value is what the store
/// indexes, so "at least as severe as P" is `priority <= P`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Priority {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Priority {
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// The value stored in the `priority` column.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(v: u8) -> Option<Priority> {
        Priority::ALL.get(usize::from(v)).copied()
    }

    /// Capitalised as Falco writes it in JSON output.
    pub fn falco_name(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// Upper case, as the shadow verifier spells thresholds (`WARNING`).
    pub fn upper_name(self) -> &'static str {
        match self {
            Priority::Emergency => "EMERGENCY",
            Priority::Alert => "ALERT",
            Priority::Critical => "CRITICAL",
            Priority::Error => "ERROR",
            Priority::Warning => "WARNING",
            Priority::Notice => "NOTICE",
            Priority::Informational => "INFORMATIONAL",
            Priority::Debug => "DEBUG",
        }
    }

    /// Case-insensitive, with the aliases Falco's config and rules accept.
    pub fn parse(s: &str) -> Option<Priority> {
        // Bound the work before lowercasing: no priority name is longer than 13 bytes.
        if s.len() > 16 {
            return None;
        }
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" | "emerg" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" | "crit" => Priority::Critical,
            "error" | "err" => Priority::Error,
            "warning" | "warn" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// At least as severe as `threshold`.
    pub fn at_least(self, threshold: Priority) -> bool {
        self <= threshold
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.falco_name())
    }
}

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
    fn priority_names_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.falco_name()), Some(p));
            assert_eq!(Priority::parse(p.upper_name()), Some(p));
            assert_eq!(Priority::from_u8(p.as_u8()), Some(p));
        }
        assert_eq!(Priority::parse("INFO"), Some(Priority::Informational));
        assert_eq!(Priority::parse("warn"), Some(Priority::Warning));
        assert_eq!(Priority::parse(""), None);
        assert_eq!(Priority::parse("WARNİNG"), None);
        assert_eq!(Priority::from_u8(8), None);
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
    }
}
