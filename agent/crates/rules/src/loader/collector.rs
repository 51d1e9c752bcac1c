//! The collector: applies definitions, appends, overrides and enable toggles
//! in load order, exactly as Falco's rule_loader::collector does.
//!
//! Redefinition keeps an item's original position (so rules run in the order
//! of their first definition) but moves its *visibility* to the current point
//! in load order: a redefined macro may use every macro defined before the
//! redefinition.

use std::collections::{BTreeSet, HashMap};

use crate::diag::{Code, Diagnostic, ItemKind};
use crate::model::{Pos, Priority, Source};

use super::text::{concat, synthetic};

/// An exception entry as written: absent, a scalar, or a list (possibly of lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Absent,
    Item(String),
    List(Vec<Entry>),
}

impl Entry {
    pub fn is_valid(&self) -> bool {
        !matches!(self, Entry::Absent)
    }
}

#[derive(Clone, Debug)]
pub struct ExceptionInfo {
    pub name: String,
    pub fields: Entry,
    pub comps: Entry,
    pub values: Vec<Entry>,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub struct ListInfo {
    pub name: String,
    pub items: Vec<String>,
    pub pos: Pos,
    pub index: usize,
    pub visibility: usize,
}

#[derive(Clone, Debug)]
pub struct MacroInfo {
    pub name: String,
    pub cond: Source,
    pub pos: Pos,
    pub index: usize,
    pub visibility: usize,
}

#[derive(Clone, Debug)]
pub struct RuleInfo {
    pub name: String,
    pub desc: String,
    pub cond: Source,
    pub output: String,
    pub output_pos: Pos,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExceptionInfo>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: Option<u64>,
    pub pos: Pos,
    pub index: usize,
    pub visibility: usize,
}

/// The keys of a rule that an append or a selective replace may carry.
#[derive(Clone, Debug, Default)]
pub struct RuleUpdate {
    pub cond: Option<Source>,
    pub output: Option<String>,
    pub desc: Option<String>,
    pub tags: Option<BTreeSet<String>>,
    pub exceptions: Option<Vec<ExceptionInfo>>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
    pub capture: Option<bool>,
    pub capture_duration: Option<u64>,
}

impl RuleUpdate {
    fn has_any_value(&self) -> bool {
        self.cond.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.enabled.is_some()
            || self.warn_evttypes.is_some()
            || self.skip_if_unknown_filter.is_some()
            || self.capture.is_some()
            || self.capture_duration.is_some()
    }
}

/// A vector addressable by name, keeping insertion order.
#[derive(Debug)]
pub struct Indexed<T> {
    pub items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

impl<T> Indexed<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }
    /// Replaces in place if `name` exists, appends otherwise.
    fn define(&mut self, name: &str, item: T) {
        match self.by_name.get(name) {
            Some(&i) => self.items[i] = item,
            None => {
                self.by_name.insert(name.to_string(), self.items.len());
                self.items.push(item);
            }
        }
    }
}

/// Semver triple of a `required_engine_version`.
pub type Version = (u64, u64, u64);

#[derive(Debug, Default)]
pub struct Collector {
    cur_index: usize,
    pub lists: Indexed<ListInfo>,
    pub macros: Indexed<MacroInfo>,
    pub rules: Indexed<RuleInfo>,
    pub required_engine_version: Option<Version>,
    /// Each requirement with its alternatives: (plugin name, version).
    pub required_plugin_versions: Vec<Vec<(String, String)>>,
}

type R = Result<(), Box<Diagnostic>>;

fn err(message: impl Into<String>, pos: &Pos, kind: ItemKind, name: &str) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(Code::Validate, message)
            .at(pos.clone())
            .item(kind, name),
    )
}

impl Collector {
    fn next_index(&mut self) -> usize {
        self.cur_index += 1;
        self.cur_index - 1
    }

    pub fn define_list(&mut self, name: &str, items: Vec<String>, pos: Pos) {
        let id = self.next_index();
        let index = self.lists.get(name).map_or(id, |p| p.index);
        self.lists.define(
            name,
            ListInfo {
                name: name.to_string(),
                items,
                pos,
                index,
                visibility: id,
            },
        );
    }

    pub fn append_list(&mut self, name: &str, items: Vec<String>, pos: &Pos) -> R {
        let id = self.next_index();
        let Some(prev) = self.lists.get_mut(name) else {
            return Err(err(
                "List has 'append' key or an append override but no list by that name already exists",
                pos,
                ItemKind::List,
                name,
            ));
        };
        prev.items.extend(items);
        prev.visibility = id;
        Ok(())
    }

    pub fn define_macro(&mut self, name: &str, cond: Source, pos: Pos) {
        let id = self.next_index();
        let index = self.macros.get(name).map_or(id, |p| p.index);
        self.macros.define(
            name,
            MacroInfo {
                name: name.to_string(),
                cond,
                pos,
                index,
                visibility: id,
            },
        );
    }

    pub fn append_macro(&mut self, name: &str, cond: Source, pos: &Pos) -> R {
        let id = self.next_index();
        let Some(prev) = self.macros.get_mut(name) else {
            return Err(err(
                "Macro has 'append' key or an append override but no macro by that name already exists",
                pos,
                ItemKind::Macro,
                name,
            ));
        };
        append_source(&mut prev.cond, cond, pos);
        prev.visibility = id;
        Ok(())
    }

    pub fn define_rule(&mut self, mut info: RuleInfo) -> R {
        if let Some(prev) = self.rules.get(&info.name) {
            if prev.source != info.source {
                return Err(err(
                    "Rule has been re-defined with a different source",
                    &info.pos,
                    ItemKind::Rule,
                    &info.name,
                ));
            }
        }
        for ex in &mut info.exceptions {
            if !ex.fields.is_valid() {
                return Err(err(
                    "Rule exception item must have fields property with a list of fields",
                    &ex.pos,
                    ItemKind::Rule,
                    &info.name,
                ));
            }
            validate_exception(ex, &info.name)?;
        }
        let id = self.next_index();
        info.index = self.rules.get(&info.name).map_or(id, |p| p.index);
        info.visibility = id;
        let name = info.name.clone();
        self.rules.define(&name, info);
        Ok(())
    }

    pub fn append_rule(&mut self, name: &str, upd: RuleUpdate, pos: &Pos) -> R {
        let id = self.next_index();
        let Some(prev) = self.rules.get_mut(name) else {
            return Err(err(
                "Rule has 'append' key or an append override but no rule by that name already exists",
                pos,
                ItemKind::Rule,
                name,
            )
            .expected_boxed("a rule with this name defined earlier in load order"));
        };
        if !upd.has_any_value() {
            return Err(err(
                "Appended rule must have exceptions or condition property",
                pos,
                ItemKind::Rule,
                name,
            ));
        }
        if let Some(c) = upd.cond.filter(|c| !c.text.is_empty()) {
            append_source(&mut prev.cond, c, pos);
        }
        if let Some(o) = upd.output.filter(|o| !o.is_empty()) {
            prev.output = format!("{} {}", prev.output, o);
        }
        if let Some(d) = upd.desc.filter(|d| !d.is_empty()) {
            prev.desc = format!("{} {}", prev.desc, d);
        }
        if let Some(tags) = upd.tags {
            prev.tags.extend(tags);
        }
        for mut ex in upd.exceptions.unwrap_or_default() {
            match prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                None => {
                    if !ex.fields.is_valid() {
                        return Err(err(
                            "Rule exception must have fields property with a list of fields",
                            &ex.pos,
                            ItemKind::Rule,
                            name,
                        ));
                    }
                    if ex.values.is_empty() {
                        return Err(err(
                            "Rule exception must have values property with a list of values",
                            &ex.pos,
                            ItemKind::Rule,
                            name,
                        ));
                    }
                    validate_exception(&mut ex, name)?;
                    prev.exceptions.push(ex);
                }
                Some(p) => {
                    if ex.fields.is_valid() {
                        return Err(err(
                            "Can not append exception fields to existing exception, only values",
                            &ex.pos,
                            ItemKind::Rule,
                            name,
                        ));
                    }
                    if ex.comps.is_valid() {
                        return Err(err(
                            "Can not append exception comps to existing exception, only values",
                            &ex.pos,
                            ItemKind::Rule,
                            name,
                        ));
                    }
                    p.values.extend(ex.values);
                }
            }
        }
        prev.visibility = id;
        Ok(())
    }

    pub fn replace_rule(&mut self, name: &str, upd: RuleUpdate, pos: &Pos) -> R {
        let id = self.next_index();
        let Some(prev) = self.rules.get_mut(name) else {
            return Err(err(
                "An replace override is defined but no rule by that name already exists",
                pos,
                ItemKind::Rule,
                name,
            )
            .expected_boxed("a rule with this name defined earlier in load order"));
        };
        if !upd.has_any_value() {
            return Err(err(
                "The rule must have at least one field that can be replaced",
                pos,
                ItemKind::Rule,
                name,
            ));
        }
        if let Some(mut exs) = upd.exceptions {
            for ex in &mut exs {
                if !ex.fields.is_valid() {
                    return Err(err(
                        "Rule exception item must have fields property with a list of fields",
                        &ex.pos,
                        ItemKind::Rule,
                        name,
                    ));
                }
                validate_exception(ex, name)?;
            }
            prev.exceptions = exs;
        }
        set(&mut prev.cond, upd.cond);
        set(&mut prev.output, upd.output);
        set(&mut prev.desc, upd.desc);
        set(&mut prev.tags, upd.tags);
        set(&mut prev.priority, upd.priority);
        set(&mut prev.enabled, upd.enabled);
        set(&mut prev.warn_evttypes, upd.warn_evttypes);
        set(&mut prev.skip_if_unknown_filter, upd.skip_if_unknown_filter);
        set(&mut prev.capture, upd.capture);
        if upd.capture_duration.is_some() {
            prev.capture_duration = upd.capture_duration;
        }
        prev.visibility = id;
        Ok(())
    }

    /// The legacy `- rule: X` + `enabled: B` toggle.
    pub fn enable_rule(&mut self, name: &str, enabled: bool, pos: &Pos) -> R {
        let Some(prev) = self.rules.get_mut(name) else {
            return Err(err(
                "Rule has 'enabled' key but no rule by that name already exists",
                pos,
                ItemKind::Rule,
                name,
            ));
        };
        prev.enabled = enabled;
        Ok(())
    }
}

fn set<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

/// Falco joins appended conditions with a single space.
fn append_source(dst: &mut Source, add: Source, pos: &Pos) {
    let old = std::mem::replace(dst, synthetic(String::new(), pos.clone()));
    *dst = concat(vec![old, synthetic(" ".into(), pos.clone()), add]);
}

/// Operators an exception may use (libsinsp's supported operators).
const OPERATORS: &[&str] = &[
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "in",
    "intersects",
    "pmatch",
    "exists",
];

/// Fills in default comparison operators and checks shapes (Falco's
/// validate_exception_info): tuple form defaults to `=`, scalar form to `in`.
fn validate_exception(ex: &mut ExceptionInfo, rule: &str) -> R {
    let e = |m: &str| err(m, &ex.pos, ItemKind::Rule, rule);
    match &ex.fields {
        Entry::List(fields) => {
            if !ex.comps.is_valid() {
                ex.comps = Entry::List(vec![Entry::Item("=".into()); fields.len()]);
            }
            let Entry::List(comps) = &ex.comps else {
                return Err(e("Fields and comps lists must have equal length"));
            };
            if comps.len() != fields.len() {
                return Err(e("Fields and comps lists must have equal length"));
            }
            for c in comps {
                match c {
                    Entry::Item(op) if OPERATORS.contains(&op.as_str()) => {}
                    Entry::Item(op) => {
                        return Err(e(&format!("'{op}' is not a supported comparison operator")))
                    }
                    _ => return Err(e("Exception comps must be strings")),
                }
            }
        }
        Entry::Item(_) => {
            if !ex.comps.is_valid() {
                ex.comps = Entry::Item("in".into());
            }
            match &ex.comps {
                Entry::Item(c) if matches!(c.as_str(), "in" | "pmatch" | "intersects") => {}
                Entry::Item(_) => return Err(e(
                    "When fields is a single value, comps must be one of (in, pmatch, intersects)",
                )),
                _ => return Err(e("Fields and comps must both be strings")),
            }
        }
        Entry::Absent => {}
    }
    Ok(())
}

trait Expected {
    fn expected_boxed(self, what: &str) -> Self;
}

impl Expected for Box<Diagnostic> {
    fn expected_boxed(self, what: &str) -> Self {
        Box::new(self.expected(what))
    }
}
