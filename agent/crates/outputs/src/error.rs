use std::io;

/// Why the outputs could not start. Each variant names the config key at fault.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{key}: {message}")]
    Config { key: &'static str, message: String },
    #[error("{key}: cannot open {path}: {}", io_message(.source))]
    Open {
        key: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the {sink} output worker: {}", io_message(.source))]
    Spawn {
        sink: &'static str,
        #[source]
        source: io::Error,
    },
}

/// "Permission denied (os error 13)" becomes "permission denied": the key and path already
/// say where, the errno number adds nothing for an operator.
pub(crate) fn io_message(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// A failed delivery of one alert, as a worker counts it.
#[derive(Debug)]
pub(crate) enum DeliverError {
    /// Counted as a timeout and a failure.
    Timeout(String),
    Failed(String),
}

impl DeliverError {
    pub(crate) fn message(&self) -> &str {
        match self {
            DeliverError::Timeout(m) | DeliverError::Failed(m) => m,
        }
    }
}
