use std::path::PathBuf;

/// Errors from the runtime clients. `NotFound` is an answer (cache it);
/// the others mean the runtime could not be asked (retry later).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("runtime socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response: {0}")]
    Http(&'static str),
    #[error("HTTP status {status}")]
    Status { status: u16 },
    #[error("container not found")]
    NotFound,
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("gRPC: {0}")]
    Grpc(String),
    #[error("timed out")]
    Timeout,
    #[error("no runtime socket found")]
    NoRuntime,
}

impl Error {
    /// True when the runtime answered that the container does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
