//! Turning a field as written (`proc.aname[2]`, `evt.arg.flags`) into a
//! [`FieldRef`]: done once at compile time so evaluation never looks up a
//! name.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use super::{ArgKind, FieldId, CATALOGUE};

/// The pre-parsed argument of a field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldArg {
    None,
    Index(u32),
    /// A key: `proc.env[HOME]`, `k8s.pod.label[app]`,
    /// `container.mount.dest[/var/run/docker.sock]`, or the NAME of
    /// `evt.arg.NAME`.
    Key(Box<str>),
}

/// A resolved field: what the evaluator hands to [`super::FieldSource`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub id: FieldId,
    pub arg: FieldArg,
}

impl FieldRef {
    pub fn new(id: FieldId) -> Self {
        FieldRef {
            id,
            arg: FieldArg::None,
        }
    }
}

/// Displays the canonical spelling: `proc.aname[2]`, `evt.arg.flags`,
/// `evt.arg[0]`, `proc.env[HOME]`.
impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.id.info();
        match (&self.arg, info.arg) {
            (FieldArg::None, _) => f.write_str(info.name),
            (FieldArg::Index(i), _) => write!(f, "{}[{i}]", info.name),
            (FieldArg::Key(k), ArgKind::ArgName) if is_ident(k) => {
                write!(f, "{}.{k}", info.name)
            }
            (FieldArg::Key(k), _) => write!(f, "{}[{k}]", info.name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("unknown field '{0}'")]
    Unknown(String),
    #[error("field '{field}' requires an argument ({expected})")]
    MissingArg {
        field: String,
        expected: &'static str,
    },
    #[error("field '{field}' does not take an argument")]
    UnexpectedArg { field: String },
    #[error("field '{field}': invalid argument '{arg}' ({expected})")]
    BadArg {
        field: String,
        arg: String,
        expected: &'static str,
    },
}

impl FieldError {
    /// The field name the error is about (for skip-if-unknown handling).
    pub fn field(&self) -> &str {
        match self {
            FieldError::Unknown(f) => f,
            FieldError::MissingArg { field, .. }
            | FieldError::UnexpectedArg { field }
            | FieldError::BadArg { field, .. } => field,
        }
    }
}

fn by_name() -> &'static HashMap<&'static str, FieldId> {
    static MAP: OnceLock<HashMap<&'static str, FieldId>> = OnceLock::new();
    MAP.get_or_init(|| CATALOGUE.iter().map(|f| (f.name, f.id)).collect())
}

/// Look a field up by its exact catalogue name.
pub fn lookup(name: &str) -> Option<FieldId> {
    by_name().get(name).copied()
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Resolve a field name and its optional bracket argument.
pub fn resolve(name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
    let Some(id) = lookup(name) else {
        // `evt.arg.NAME` / `evt.rawarg.NAME`: the name is the argument.
        for base in [FieldId::EvtArg, FieldId::EvtRawArg] {
            let prefix = base.name();
            if let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                if arg.is_some() {
                    return Err(FieldError::UnexpectedArg { field: name.into() });
                }
                if !rest.is_empty() && !rest.contains('.') {
                    return Ok(FieldRef {
                        id: base,
                        arg: FieldArg::Key(rest.into()),
                    });
                }
            }
        }
        return Err(FieldError::Unknown(name.into()));
    };
    let field = || name.to_string();
    let index = |a: &str| -> Result<u32, FieldError> {
        a.trim().parse::<u32>().map_err(|_| FieldError::BadArg {
            field: field(),
            arg: a.into(),
            expected: "a non-negative index",
        })
    };
    let arg = match (id.info().arg, arg) {
        (ArgKind::None, None) => FieldArg::None,
        (ArgKind::None, Some(_)) => return Err(FieldError::UnexpectedArg { field: field() }),
        (ArgKind::Index, None) => {
            return Err(FieldError::MissingArg {
                field: field(),
                expected: "an index",
            })
        }
        (ArgKind::Key | ArgKind::ArgName, None) => {
            return Err(FieldError::MissingArg {
                field: field(),
                expected: "a key",
            })
        }
        (ArgKind::OptIndex | ArgKind::OptKey, None) => FieldArg::None,
        (ArgKind::Index | ArgKind::OptIndex, Some(a)) => FieldArg::Index(index(a)?),
        (ArgKind::Key | ArgKind::OptKey, Some(a)) => FieldArg::Key(a.into()),
        (ArgKind::ArgName, Some(a)) => match a.trim().parse::<u32>() {
            Ok(i) => FieldArg::Index(i),
            Err(_) => FieldArg::Key(a.into()),
        },
    };
    Ok(FieldRef { id, arg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_plain_indexed_keyed_and_dotted_fields() {
        assert_eq!(
            resolve("proc.name", None).unwrap(),
            FieldRef::new(FieldId::ProcName)
        );
        let r = resolve("proc.aname", Some("2")).unwrap();
        assert_eq!(r.arg, FieldArg::Index(2));
        assert_eq!(r.to_string(), "proc.aname[2]");
        assert_eq!(resolve("proc.aname", None).unwrap().arg, FieldArg::None);
        let r = resolve("evt.arg.flags", None).unwrap();
        assert_eq!(
            (r.id, r.arg.clone()),
            (FieldId::EvtArg, FieldArg::Key("flags".into()))
        );
        assert_eq!(r.to_string(), "evt.arg.flags");
        assert_eq!(
            resolve("evt.arg", Some("0")).unwrap().arg,
            FieldArg::Index(0)
        );
        let r = resolve("container.mount.dest", Some("/var/run/docker.sock")).unwrap();
        assert_eq!(r.to_string(), "container.mount.dest[/var/run/docker.sock]");
        assert_eq!(
            resolve("proc.exe_ino.ctime", None).unwrap().id,
            FieldId::ProcExeInoCtime
        );
    }

    #[test]
    fn reports_unknown_and_bad_arguments() {
        assert_eq!(
            resolve("proc.nope", None).unwrap_err(),
            FieldError::Unknown("proc.nope".into())
        );
        assert!(matches!(
            resolve("proc.name", Some("1")),
            Err(FieldError::UnexpectedArg { .. })
        ));
        assert!(matches!(
            resolve("proc.aname", Some("x")),
            Err(FieldError::BadArg { .. })
        ));
        assert!(matches!(
            resolve("k8s.pod.label", None),
            Err(FieldError::MissingArg { .. })
        ));
        assert_eq!(
            resolve("evt.arg.a.b", None).unwrap_err().field(),
            "evt.arg.a.b"
        );
    }
}
