use std::path::PathBuf;

/// Why a config could not be loaded. Each names the file (and line when
/// known) or the `-o` option, and the key path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    TooLarge { path: PathBuf, message: String },
    #[error("{file}:{line}: invalid YAML: {message}")]
    Yaml {
        file: String,
        line: u32,
        message: String,
    },
    #[error("bad -o {option:?}: {message}")]
    Override { option: String, message: String },
    /// A wrong type or a bad value. `location` is `file:line` or `-o KEY=VALUE`.
    #[error("{location}: {key}: {message}")]
    Invalid {
        location: String,
        key: String,
        message: String,
    },
}
