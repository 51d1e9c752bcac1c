//! The Falco rules language: files in, a compiled evaluator out.
//!
//! The pipeline mirrors Falco's engine:
//!
//! ```text
//! loader (reader: YAML → items with positions; collector: override/append,
//!         enabled, exceptions, list inlining)  ──► model::Collected
//! engine (macro visibility, saker_filter compile per rule, output formats,
//!         evt.type index, rule_matching, priority threshold)  ──► engine::Engine
//! ```
//!
//! Field values come from saker_filter's `FieldSource` trait, implemented by
//! the agent's state tables for live events and by synthetic events in tests.
//! The facade below is what the `saker` binary calls.

pub mod diag;
pub mod engine;
pub mod loader;
pub mod model;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Diagnostics};
pub use engine::{AppendOutput, CompiledRule, Engine, EngineOptions, RuleMatching, Selection};
pub use model::{Collected, Priority};

use saker_filter::EvtTypes;

/// The Falco engine version whose rules language we implement. Rules files
/// requiring a newer minor (or another major) are refused.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 57, 0);

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub engine: EngineOptions,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// All rules defined (any source, enabled or not).
    pub rules: usize,
    /// Rules enabled after the files' `enabled` and the selections.
    pub enabled_rules: usize,
    /// Rules that run: enabled, syscall source, severe enough.
    pub active_rules: usize,
    pub macros: usize,
    pub lists: usize,
}

/// A loaded rule set: the engine, what was collected, and the warnings.
#[derive(Debug)]
pub struct Loaded {
    pub engine: Engine,
    pub collected: Collected,
    pub counts: Counts,
    /// Warnings only (a load with errors returns `Err`).
    pub diagnostics: Diagnostics,
}

/// Loads rules files (and directories: their files, sorted) in order and
/// compiles them. `Err` carries every diagnostic, at least one an error.
pub fn load(paths: &[PathBuf], opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let mut l = loader::Loader::new();
    for p in paths {
        l.add_path(p);
    }
    finish(l, opts)
}

/// Loads rules content from memory (`name` is what diagnostics call it).
pub fn load_str(name: &str, content: &str, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let mut l = loader::Loader::new();
    l.add_str(Path::new(name), content);
    finish(l, opts)
}

/// Compiles whatever a [`loader::Loader`] has read.
pub fn finish(l: loader::Loader, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let (collected, mut diags) = l.finish();
    let Some(collected) = collected else {
        return Err(diags);
    };
    let Some(engine) = engine::compile(&collected, &opts.engine, &mut diags) else {
        return Err(diags);
    };
    let counts = Counts {
        rules: collected.rules.len(),
        enabled_rules: engine.rules().iter().filter(|r| r.enabled).count(),
        active_rules: engine.active_count(),
        macros: collected.macros.len(),
        lists: collected.lists.len(),
    };
    Ok(Loaded {
        engine,
        collected,
        counts,
        diagnostics: diags,
    })
}

/// What `saker rules validate` prints and decides its exit code from.
#[derive(Debug)]
pub struct Report {
    pub diagnostics: Diagnostics,
    /// Present when the files loaded without error.
    pub counts: Option<Counts>,
}

impl Report {
    /// Exit code 0 when true, 1 otherwise.
    pub fn ok(&self) -> bool {
        !self.diagnostics.has_errors()
    }

    /// Diagnostics with snippets, then a summary line.
    pub fn render(&self, color: bool) -> String {
        let mut out = self.diagnostics.render(color);
        match &self.counts {
            Some(c) => out.push_str(&format!(
                "ok: {} rules ({} enabled), {} macros, {} lists; {} warning(s)\n",
                c.rules,
                c.enabled_rules,
                c.macros,
                c.lists,
                self.diagnostics.warning_count()
            )),
            None => out.push_str(&format!(
                "invalid: {} error(s), {} warning(s)\n",
                self.diagnostics.error_count(),
                self.diagnostics.warning_count()
            )),
        }
        out
    }
}

/// Loads and compiles `paths`, reporting every diagnostic.
pub fn validate(paths: &[PathBuf]) -> Report {
    match load(paths, &LoadOptions::default()) {
        Ok(l) => Report {
            diagnostics: l.diagnostics,
            counts: Some(l.counts),
        },
        Err(d) => Report {
            diagnostics: d,
            counts: None,
        },
    }
}

/// One line of `saker rules list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRow {
    pub name: String,
    pub priority: Priority,
    pub source: String,
    /// `open,openat` / `*` (every type) / `* except x,y` / `-` (not compiled).
    pub evt_types: String,
    pub enabled: bool,
    pub tags: Vec<String>,
}

/// Every rule of `paths` in definition order, with its event types.
pub fn list(paths: &[PathBuf], opts: &LoadOptions) -> Result<Vec<RuleRow>, Diagnostics> {
    let l = load(paths, opts)?;
    Ok(rows(&l))
}

/// The `saker rules list` rows of a loaded rule set.
pub fn rows(l: &Loaded) -> Vec<RuleRow> {
    l.collected
        .rules
        .iter()
        .map(|r| {
            let compiled = l.engine.rules().iter().find(|c| c.name == r.name);
            RuleRow {
                name: r.name.clone(),
                priority: r.priority,
                source: r.source.clone(),
                evt_types: compiled.map_or_else(|| "-".into(), |c| evt_types_text(&c.evt_types)),
                enabled: compiled.map_or(r.enabled, |c| c.enabled),
                tags: r.tags.clone(),
            }
        })
        .collect()
}

pub fn evt_types_text(t: &EvtTypes) -> String {
    let join = |s: &std::collections::BTreeSet<String>| {
        s.iter().map(String::as_str).collect::<Vec<_>>().join(",")
    };
    match t {
        EvtTypes::All => "*".into(),
        EvtTypes::Only(s) => join(s),
        EvtTypes::AllExcept(s) => format!("* except {}", join(s)),
    }
}
