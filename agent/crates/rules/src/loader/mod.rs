//! Rules files in, `model::Collected` out.
//!
//! `yaml` turns text into positioned nodes, `reader` walks a file's items,
//! `collector` applies definitions, appends and overrides in load order, and
//! `exceptions` folds exceptions into conditions when the load is finished.

pub mod collector;
mod decode;
pub mod exceptions;
mod reader;
pub mod text;
mod versions;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Code, Diagnostic, Diagnostics, ItemKind};
use crate::model::{Collected, ListDef, MacroDef, Pos, RuleDef};

use collector::{Collector, ListInfo};
use text::FileText;

pub use versions::parse_semver;

/// Loads rules files in order, accumulating definitions and diagnostics.
#[derive(Default)]
pub struct Loader {
    col: Collector,
    diags: Diagnostics,
    failed: bool,
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    /// A file, or a directory whose regular files are loaded sorted by name
    /// (as Falco does with a directory in `rules_files`).
    pub fn add_path(&mut self, path: &Path) {
        if self.failed {
            return;
        }
        if path.is_dir() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(rd) => rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect(),
                Err(e) => return self.io_error(path, &e),
            };
            files.sort();
            for f in files {
                self.add_path(&f);
            }
            return;
        }
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.add_str(path, &text);
            }
            Err(e) => self.io_error(path, &e),
        }
    }

    fn io_error(&mut self, path: &Path, e: &std::io::Error) {
        self.failed = true;
        self.diags.push(
            Diagnostic::error(Code::Io, format!("Could not read {}: {e}", path.display())).at(
                Pos {
                    file: Arc::new(path.to_path_buf()),
                    line: 1,
                    col: 1,
                },
            ),
        );
    }

    /// Rules content with a name to report it under.
    pub fn add_str(&mut self, name: impl AsRef<Path>, content: &str) {
        if self.failed {
            return;
        }
        let path = Arc::new(name.as_ref().to_path_buf());
        let text: Arc<str> = Arc::from(content);
        self.diags.add_file(path.clone(), text.clone());
        let ft = FileText::new(path, text);
        let docs = match yaml::parse(content) {
            Ok(d) => d,
            Err(e) => {
                self.failed = true;
                let mut d = Diagnostic::error(Code::YamlParse, e.message)
                    .at(ft.pos(e.line, e.col))
                    .expected("valid YAML");
                if let Some((kind, name)) = enclosing_item(content, e.line) {
                    d = d.item(kind, &name);
                }
                self.diags.push(d);
                return;
            }
        };
        if !reader::read(&ft, &docs, &mut self.col, &mut self.diags) {
            self.failed = true;
        }
    }

    /// Everything collected, or the diagnostics (with errors) if any file failed.
    pub fn finish(self) -> (Option<Collected>, Diagnostics) {
        let mut diags = self.diags;
        if self.failed {
            return (None, diags);
        }
        let col = self.col;
        let lists = inline_lists(&col.lists.items);
        let macros = col
            .macros
            .items
            .iter()
            .map(|m| MacroDef {
                name: m.name.clone(),
                condition: m.cond.clone(),
                pos: m.pos.clone(),
                index: m.index,
                visibility: m.visibility,
            })
            .collect();
        let mut rules = Vec::with_capacity(col.rules.items.len());
        for r in &col.rules.items {
            let condition = match exceptions::fold(&r.cond, &r.exceptions, &r.name) {
                Ok(c) => c,
                Err(d) => {
                    diags.push(*d);
                    continue;
                }
            };
            rules.push(RuleDef {
                name: r.name.clone(),
                desc: r.desc.clone(),
                condition,
                output: r.output.clone(),
                output_pos: r.output_pos.clone(),
                priority: r.priority,
                source: r.source.clone(),
                enabled: r.enabled,
                tags: r.tags.iter().cloned().collect(),
                warn_evttypes: r.warn_evttypes,
                skip_if_unknown_filter: r.skip_if_unknown_filter,
                capture: r.capture,
                capture_duration: r.capture_duration,
                pos: r.pos.clone(),
            });
        }
        if diags.has_errors() {
            return (None, diags);
        }
        let collected = Collected {
            lists,
            macros,
            rules,
            required_engine_version: col
                .required_engine_version
                .map(|(a, b, c)| format!("{a}.{b}.{c}")),
            required_plugin_versions: col.required_plugin_versions,
        };
        (Some(collected), diags)
    }
}

/// The item a YAML syntax error most likely sits in: the last `- rule: X`
/// (or macro, list) line at or before `line`. Only a hint for the message.
fn enclosing_item(text: &str, line: u32) -> Option<(ItemKind, String)> {
    let lines: Vec<&str> = text.lines().take(line as usize).collect();
    lines.iter().rev().find_map(|l| {
        let rest = l.strip_prefix("- ")?;
        let (key, name) = rest.split_once(':')?;
        let kind = match key.trim() {
            "rule" => ItemKind::Rule,
            "macro" => ItemKind::Macro,
            "list" => ItemKind::List,
            _ => return None,
        };
        let name = name.trim().trim_matches(['"', '\'']);
        (!name.is_empty()).then(|| (kind, name.to_string()))
    })
}

/// Splices the items of earlier lists named in a list (Falco inlines a
/// referenced list only when it was defined before the referencing one).
fn inline_lists(infos: &[ListInfo]) -> Vec<ListDef> {
    let by_name: std::collections::HashMap<&str, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    let mut out: Vec<ListDef> = Vec::with_capacity(infos.len());
    for (i, l) in infos.iter().enumerate() {
        let mut items = Vec::with_capacity(l.items.len());
        let mut uses = Vec::new();
        for item in &l.items {
            match by_name.get(item.as_str()).copied() {
                Some(j) if infos[j].index < l.visibility && j != i => {
                    // Use the already-inlined form when it has been built.
                    let src = if j < i {
                        &out[j].items
                    } else {
                        &infos[j].items
                    };
                    items.extend(src.iter().cloned());
                    uses.push(item.clone());
                }
                _ => items.push(item.clone()),
            }
        }
        out.push(ListDef {
            name: l.name.clone(),
            items,
            pos: l.pos.clone(),
            uses,
        });
    }
    out
}

/// Convenience for callers and tests: load `paths` in order.
pub fn collect(paths: &[PathBuf]) -> (Option<Collected>, Diagnostics) {
    let mut l = Loader::new();
    for p in paths {
        l.add_path(p);
    }
    l.finish()
}
