//! The loading sequence, in Falco's order: main file, `config_files`
//! overrides, includes, the other overrides, then typing and checks.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::de::{self, Ctx, DeError};
use crate::include;
use crate::model::Config;
use crate::overrides::{self, Override, Seg};
use crate::validate::validate;
use crate::yaml::{self, Kind, Node};
use crate::{env, ConfigError, Loaded};

/// Config files are a few KiB; a larger one is a mistake or an attack.
const MAX_FILE_BYTES: u64 = 16 << 20;

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

struct State {
    sources: Vec<String>,
    files: Vec<PathBuf>,
    warnings: Vec<String>,
}

impl State {
    fn src(&mut self, name: String) -> u16 {
        self.sources.push(name);
        // Beyond u16::MAX sources, positions stop being exact; nothing fails.
        u16::try_from(self.sources.len() - 1).unwrap_or(u16::MAX)
    }
}

pub fn load(
    path: Option<&Path>,
    overrides: &[String],
    lookup: Lookup,
) -> Result<Loaded, ConfigError> {
    let mut st = State {
        sources: Vec::new(),
        files: Vec::new(),
        warnings: Vec::new(),
    };
    let root = match path {
        Some(p) => read_file(&mut st, p, lookup)?,
        None => Node::null(st.src("defaults".into())),
    };
    finish(st, root, overrides, lookup)
}

pub fn load_text(
    name: &str,
    text: &str,
    overrides: &[String],
    lookup: Lookup,
) -> Result<Loaded, ConfigError> {
    let mut st = State {
        sources: Vec::new(),
        files: Vec::new(),
        warnings: Vec::new(),
    };
    let src = st.src(name.to_string());
    let root = parse_text(name, text, src, lookup)?;
    finish(st, root, overrides, lookup)
}

fn read_file(st: &mut State, path: &Path, lookup: Lookup) -> Result<Node, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
            message: "is a directory, expected a YAML file".into(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
            message: format!(
                "{} bytes, more than the {MAX_FILE_BYTES} allowed",
                meta.len()
            ),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let name = path.display().to_string();
    let src = st.src(name.clone());
    st.files.push(path.to_path_buf());
    parse_text(&name, &text, src, lookup)
}

fn parse_text(name: &str, text: &str, src: u16, lookup: Lookup) -> Result<Node, ConfigError> {
    let mut root = yaml::parse(text, src).map_err(|e| ConfigError::Yaml {
        file: name.to_string(),
        line: e.line,
        message: e.message,
    })?;
    match root.kind {
        Kind::Map(_) | Kind::Null => {}
        _ => {
            return Err(ConfigError::Invalid {
                location: format!("{name}:{}", root.line),
                key: "(top level)".into(),
                message: format!("expected a mapping of config keys, got {}", root.describe()),
            })
        }
    }
    env::expand_tree(&mut root, lookup);
    Ok(root)
}

fn finish(
    mut st: State,
    mut root: Node,
    specs: &[String],
    lookup: Lookup,
) -> Result<Loaded, ConfigError> {
    // Every -o is parsed before anything is applied, so a bad one fails first.
    let mut parsed: Vec<(String, Override)> = Vec::with_capacity(specs.len());
    for spec in specs {
        let src = st.src(format!("-o {spec}"));
        let o = overrides::parse(spec, src).map_err(|message| ConfigError::Override {
            option: spec.clone(),
            message,
        })?;
        parsed.push((spec.clone(), o));
    }
    let is_include =
        |o: &Override| matches!(o.path.first(), Some(Seg::Key(k)) if k == "config_files");
    let (includes_o, others): (Vec<_>, Vec<_>) =
        parsed.into_iter().partition(|(_, o)| is_include(o));
    for (spec, o) in includes_o {
        apply(&mut root, spec, o)?;
    }
    merge_includes(&mut st, &mut root, lookup)?;
    for (spec, o) in others {
        apply(&mut root, spec, o)?;
    }
    rules_file_alias(&mut st, &mut root);

    let ctx = Ctx {
        sources: std::mem::take(&mut st.sources),
        warnings: RefCell::new(std::mem::take(&mut st.warnings)),
    };
    let mut config: Config = de::from_node(&root, &ctx).map_err(|e| invalid(&ctx, e))?;
    validate(&mut config).map_err(|(key, message)| {
        let (src, line) = find(&root, key).unwrap_or((0, 0));
        ConfigError::Invalid {
            location: ctx.location(src, line),
            key: key.to_string(),
            message,
        }
    })?;
    Ok(Loaded {
        config,
        warnings: ctx.warnings.into_inner(),
        files: st.files,
    })
}

fn apply(root: &mut Node, spec: String, o: Override) -> Result<(), ConfigError> {
    overrides::apply(root, o).map_err(|message| ConfigError::Override {
        option: spec,
        message,
    })
}

fn invalid(ctx: &Ctx, e: DeError) -> ConfigError {
    let key = match e.path {
        Some(p) if !p.is_empty() => p,
        _ => "(top level)".into(),
    };
    ConfigError::Invalid {
        location: ctx.location(e.src, e.line),
        key,
        message: e.message,
    }
}

/// Reads and merges `config_files`, then drops the key (it is not config).
fn merge_includes(st: &mut State, root: &mut Node, lookup: Lookup) -> Result<(), ConfigError> {
    let Some(node) = take_key(root, "config_files") else {
        return Ok(());
    };
    let location = |st: &State, line| {
        let name = st
            .sources
            .get(node.src as usize)
            .cloned()
            .unwrap_or_default();
        if line == 0 {
            name
        } else {
            format!("{name}:{line}")
        }
    };
    let entries = include::entries(&node).map_err(|(line, message)| ConfigError::Invalid {
        location: location(st, line),
        key: "config_files".into(),
        message,
    })?;
    for (path, strategy) in entries {
        let files = include::expand(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        for file in files {
            let inc = read_file(st, &file, lookup)?;
            if let Some(n) = inc.get("config_files") {
                return Err(ConfigError::Invalid {
                    location: format!("{}:{}", file.display(), n.line),
                    key: "config_files".into(),
                    message: "not allowed in an included config file".into(),
                });
            }
            include::merge(root, inc, strategy);
        }
    }
    Ok(())
}

/// Falco before 0.38 spelled `rules_files` as `rules_file`.
fn rules_file_alias(st: &mut State, root: &mut Node) {
    let Some(old) = take_key(root, "rules_file") else {
        return;
    };
    let loc = {
        let name = st
            .sources
            .get(old.src as usize)
            .cloned()
            .unwrap_or_default();
        if old.line == 0 {
            name
        } else {
            format!("{name}:{}", old.line)
        }
    };
    if root.get("rules_files").is_some() {
        st.warnings
            .push(format!("{loc}: rules_file: ignored, rules_files is set"));
    } else {
        st.warnings
            .push(format!("{loc}: rules_file is deprecated, use rules_files"));
        if let Kind::Map(entries) = &mut root.kind {
            entries.push(("rules_files".into(), old));
        }
    }
}

/// Removes every `key` entry from a mapping and returns the last one.
fn take_key(root: &mut Node, key: &str) -> Option<Node> {
    let Kind::Map(entries) = &mut root.kind else {
        return None;
    };
    let mut last = None;
    entries.retain_mut(|(k, v)| {
        if k == key {
            last = Some(std::mem::replace(v, Node::null(0)));
            false
        } else {
            true
        }
    });
    last
}

/// Position of a dotted key (or of its nearest parent that is set), for
/// checks made after typing.
fn find(root: &Node, key: &str) -> Option<(u16, u32)> {
    let mut cur = root;
    let mut found = None;
    for part in key.split('.') {
        match cur.get(part) {
            Some(n) => {
                cur = n;
                found = Some((n.src, n.line));
            }
            None => break,
        }
    }
    found
}
