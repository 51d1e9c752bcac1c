//! saker's configuration: a falco.yaml-shaped file, `-o key.path=value`
//! overrides and `config_files` includes, read into typed sections.
//!
//! Falco keys that mean the same thing for saker are read with Falco's names
//! and defaults; Falco-only keys (plugins, engine, ...) warn as ignored;
//! unknown keys warn with their path; a wrong type fails with the file, line,
//! key path and expected type.
//!
//! ```no_run
//! let loaded = saker_config::Config::load(Some("saker.yaml".as_ref()), &[]).unwrap();
//! for w in &loaded.warnings { eprintln!("warning: {w}"); }
//! let port = loaded.config.webserver.listen_port;
//! ```

mod de;
mod env;
mod error;
mod ignored;
mod include;
mod load;
mod model;
pub mod outputs;
mod overrides;
pub mod sections;
pub mod types;
mod validate;
mod yaml;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use model::{BaseSyscalls, Config, LogLevel, Metrics, SyscallEventDrops, Webserver};
pub use types::{
    AppendMatch, AppendOutput, ByteSize, DropAction, ExtraField, Interval, Priority, RuleMatching,
    Selection,
};

/// A loaded config and what was noticed while loading it.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    /// Unknown keys, ignored Falco keys, deprecated spellings: one line each,
    /// prefixed with `file:line:`.
    pub warnings: Vec<String>,
    /// The config files read (the main one, then `config_files` includes),
    /// for `watch_config_files`.
    pub files: Vec<PathBuf>,
}

impl Config {
    /// Reads `path` (or starts from the defaults when `None`), merges its
    /// `config_files`, applies `overrides` (`-o` arguments) and checks the
    /// result. Environment variables are expanded as Falco does.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Loaded, ConfigError> {
        load::load(path, overrides, &|k| std::env::var(k).ok())
    }

    /// `load` from text (for tests and `saker` subcommands that embed a config).
    pub fn from_str_with(
        name: &str,
        text: &str,
        overrides: &[String],
    ) -> Result<Loaded, ConfigError> {
        load::load_text(name, text, overrides, &|k| std::env::var(k).ok())
    }
}
