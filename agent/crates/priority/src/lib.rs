//! Falco's priority scale, in one place: the rules loader, the config, the
//! alert formatter and the store all read, compare and print priorities the
//! same way.

use std::fmt;

/// Falco priorities, most severe first: `<=` means "at least as severe", and
/// the numeric value is what the store indexes.
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

/// What a priority may be spelled as, for error messages.
pub const EXPECTED: &str =
    "one of emergency, alert, critical, error, warning, notice, informational, debug";

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

    /// Case-insensitive, with the aliases Falco's rules and config accept
    /// (`emerg`, `crit`, `err`, `warn`, `info`).
    pub fn parse(s: &str) -> Option<Priority> {
        // No spelling is longer than 13 bytes: bound the work on hostile input.
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

    /// As Falco writes it in alerts ("Warning", "Critical", ...).
    pub fn as_str(self) -> &'static str {
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

    /// The value the store keeps.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(v: u8) -> Option<Priority> {
        Priority::ALL.get(usize::from(v)).copied()
    }

    /// At least as severe as `threshold`.
    pub fn at_least(self, threshold: Priority) -> bool {
        self <= threshold
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPriority(pub String);

impl fmt::Display for UnknownPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {EXPECTED}, got {:?}", self.0)
    }
}

impl std::error::Error for UnknownPriority {}

impl std::str::FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::parse(s).ok_or_else(|| UnknownPriority(s.chars().take(64).collect()))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Priority {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_and_orders_by_severity() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(Priority::parse(p.upper_name()), Some(p));
            assert_eq!(Priority::from_u8(p.as_u8()), Some(p));
        }
        for (alias, p) in [
            ("emerg", Priority::Emergency),
            ("CRIT", Priority::Critical),
            ("err", Priority::Error),
            ("Warn", Priority::Warning),
            ("info", Priority::Informational),
        ] {
            assert_eq!(Priority::parse(alias), Some(p), "{alias}");
        }
        assert_eq!(Priority::parse("warnings"), None);
        assert_eq!(Priority::parse(""), None);
        // Unicode case folding is not ASCII's: no match, no panic.
        assert_eq!(Priority::parse("WARNİNG"), None);
        assert_eq!(Priority::parse(&"x".repeat(1 << 20)), None);
        assert_eq!(Priority::from_u8(8), None);
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
        let e = "loud".parse::<Priority>().unwrap_err().to_string();
        assert!(
            e.contains("expected one of") && e.contains("\"loud\""),
            "{e}"
        );
    }
}
