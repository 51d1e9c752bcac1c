//! Falco's `config_files`: more config files (or directories of them)
//! merged into the main one, after it, with a strategy per entry.

use std::path::{Path, PathBuf};

use crate::yaml::{Kind, Node};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Lists are appended to, other keys replaced (Falco's default).
    Append,
    /// Keys are replaced.
    Override,
    /// Only keys not already set are added.
    AddOnly,
}

/// The entries of a `config_files` node: `- path` or `- {path, strategy}`.
pub fn entries(node: &Node) -> Result<Vec<(PathBuf, Strategy)>, (u32, String)> {
    let items: Vec<&Node> = match &node.kind {
        Kind::Null => return Ok(Vec::new()),
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for item in items {
        match &item.kind {
            Kind::Scalar(p, _) => out.push((PathBuf::from(p), Strategy::Append)),
            Kind::Map(_) => {
                let Some(Kind::Scalar(p, _)) = item.get("path").map(|n| &n.kind) else {
                    return Err((item.line, "expected a path: key".into()));
                };
                let strategy = match item.get("strategy").map(|n| &n.kind) {
                    None | Some(Kind::Null) => Strategy::Append,
                    Some(Kind::Scalar(s, _)) => match s.as_str() {
                        "append" => Strategy::Append,
                        "override" => Strategy::Override,
                        "add-only" => Strategy::AddOnly,
                        _ => {
                            return Err((
                                item.line,
                                format!(
                                "strategy: expected one of append, override, add-only, got {s:?}"
                            ),
                            ))
                        }
                    },
                    Some(_) => return Err((item.line, "strategy: expected a string".into())),
                };
                out.push((PathBuf::from(p), strategy));
            }
            _ => {
                return Err((
                    item.line,
                    format!("expected a path, got {}", item.describe()),
                ))
            }
        }
    }
    Ok(out)
}

/// The files an entry stands for: itself, or a directory's `*.yaml`/`*.yml`
/// in name order. A missing directory (any missing path not named `.yaml` or
/// `.yml`) is no files, since drop-in directories are optional; a missing
/// YAML file is reported by the caller when it reads it.
pub fn expand(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        let yaml_name = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        return Ok(if path.exists() || yaml_name {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    Ok(files)
}

/// Merges the top-level keys of `inc` into `root`, as Falco does.
pub fn merge(root: &mut Node, inc: Node, strategy: Strategy) {
    let Kind::Map(inc_entries) = inc.kind else {
        return;
    };
    if matches!(root.kind, Kind::Null) {
        root.kind = Kind::Map(Vec::new());
    }
    let Kind::Map(entries) = &mut root.kind else {
        return;
    };
    for (k, v) in inc_entries {
        let existing = entries.iter().rposition(|(ek, _)| *ek == k);
        match (existing, strategy) {
            (None, _) => entries.push((k, v)),
            (Some(_), Strategy::AddOnly) => {}
            (Some(i), Strategy::Append) => match (&mut entries[i].1.kind, v.kind) {
                (Kind::Seq(old), Kind::Seq(new)) => old.extend(new),
                (_, kind) => {
                    entries[i].1 = Node {
                        kind,
                        line: v.line,
                        src: v.src,
                    }
                }
            },
            (Some(i), Strategy::Override) => entries[i].1 = v,
        }
    }
}
