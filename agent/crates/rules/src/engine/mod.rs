//! The compiled rule set and its evaluation.
//!
//! Rules are kept in definition order. Each event type maps to the active
//! rules that can match it (rules without an evt.type restriction are merged
//! into every entry), each with its condition specialised to that type: the
//! `evt.type` checks the index already made are folded away. Evaluating an
//! event is one hash lookup and a walk over a slice, with the event's field
//! values shared between rules through a stack [`Memo`]: no allocation, no
//! field looked up by name.

mod build;
mod refs;
mod select;

use rustc_hash::FxHashMap;
use saker_filter::fields::FieldId;
use saker_filter::output::OutputFormat;
use saker_filter::{EvtTypes, FieldRef, FieldSource, Filter, Memo, SlotTable};

use crate::model::{Pos, Priority};

pub use build::compile;
pub use select::Selection;

/// Falco's `rule_matching`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    /// Stop at the first matching rule, in definition order (Falco's default).
    #[default]
    First,
    /// Report every matching rule.
    All,
}

impl RuleMatching {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "first" => Some(RuleMatching::First),
            "all" => Some(RuleMatching::All),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub rule_matching: RuleMatching,
    /// Rules less severe than this are dropped at load time (Falco's `priority`).
    pub min_priority: Priority,
    /// Falco's `rules:` enable/disable selections, applied in order.
    pub selections: Vec<Selection>,
    /// Falco's `append_output` entries, applied in order at compile time.
    pub append_output: Vec<AppendOutput>,
}

/// One `append_output` entry. `match` conditions left empty match every
/// rule; several must all hold (tags: the rule has all of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutput {
    pub rule: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    /// Appended to the output text after a space.
    pub extra_output: Option<String>,
    /// `(key, format)` added to the output fields only; a bare field name is
    /// given as `("evt.hostname", "%evt.hostname")`.
    pub extra_fields: Vec<(String, String)>,
}

impl AppendOutput {
    pub fn applies(&self, name: &str, source: &str, tags: &[String]) -> bool {
        self.rule.as_deref().is_none_or(|r| r == name)
            && self.source.as_deref().is_none_or(|s| s == source)
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            rule_matching: RuleMatching::First,
            min_priority: Priority::Debug,
            selections: Vec::new(),
            append_output: Vec::new(),
        }
    }
}

/// One compiled rule.
#[derive(Debug)]
pub struct CompiledRule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub tags: Vec<String>,
    /// After the file's `enabled` and the engine's selections.
    pub enabled: bool,
    /// Event types the rule can match (from the compiled condition).
    pub evt_types: EvtTypes,
    pub capture: bool,
    pub capture_duration: Option<u64>,
    pub filter: Filter,
    pub output: OutputFormat,
    /// The output format text (with `append_output` applied).
    pub output_text: String,
    /// `append_output` extra fields: key and compiled format.
    pub extra_fields: Vec<(String, OutputFormat)>,
    pub pos: Pos,
}

#[derive(Debug, Default)]
pub struct Engine {
    rules: Vec<CompiledRule>,
    /// Ids of the rules that run: enabled, syscall source, severe enough.
    active: Vec<u32>,
    /// evt.type → the active rules that can match it, in definition order,
    /// each with its condition specialised to that type.
    /// (FxHash: the key is a short event type name hashed on every event.)
    index: FxHashMap<String, Box<[(u32, Filter)]>>,
    /// Active rules with no evt.type restriction (for types not in `index`).
    unrestricted: Box<[u32]>,
    rule_matching: RuleMatching,
}

impl Engine {
    fn from_rules(mut rules: Vec<CompiledRule>, opts: &EngineOptions) -> Engine {
        let active: Vec<u32> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled && r.source == "syscall" && r.priority <= opts.min_priority)
            .map(|(i, _)| i as u32)
            .collect();
        // One numbering for every active rule's fields, so that rules share
        // what they extract from an event.
        let mut slots = SlotTable::new(active.iter().map(|&i| &rules[i as usize].filter));
        for &i in &active {
            rules[i as usize].filter.assign_slots(&mut slots);
        }
        let unrestricted: Vec<u32> = active
            .iter()
            .copied()
            .filter(|&i| rules[i as usize].evt_types.is_unbounded())
            .collect();
        // Every type any rule names (in `Only` or `AllExcept`) gets an entry
        // holding exactly the active rules that may match it.
        let mut names: Vec<&String> = Vec::new();
        for &i in &active {
            match &rules[i as usize].evt_types {
                EvtTypes::Only(s) | EvtTypes::AllExcept(s) => names.extend(s.iter()),
                EvtTypes::All => {}
            }
        }
        let index = names
            .into_iter()
            .map(|t| {
                let plans: Vec<(u32, Filter)> = active
                    .iter()
                    .copied()
                    .filter(|&i| rules[i as usize].evt_types.contains(t))
                    .map(|i| (i, rules[i as usize].filter.specialize(t)))
                    .filter(|(_, f)| !f.is_never())
                    .collect();
                (t.clone(), plans.into_boxed_slice())
            })
            .collect();
        Engine {
            rules,
            active,
            index,
            unrestricted: unrestricted.into_boxed_slice(),
            rule_matching: opts.rule_matching,
        }
    }

    /// Every compiled rule (active or not), in definition order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The rules that run against events.
    pub fn active_rules(&self) -> impl Iterator<Item = &CompiledRule> {
        self.active.iter().map(|&i| &self.rules[i as usize])
    }

    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    pub fn rule_matching(&self) -> RuleMatching {
        self.rule_matching
    }

    /// The event types some active rule needs, or `None` when some active
    /// rule is unrestricted (it needs every event). A type a rule names but
    /// cannot match once specialised to it (`evt.type = sendto and
    /// fd.l4proto = tcp and fd.l4proto != tcp`) is not needed.
    pub fn evt_types(&self) -> Option<Vec<&str>> {
        if !self.unrestricted.is_empty() {
            return None;
        }
        let mut v: Vec<&str> = self
            .index
            .iter()
            .filter(|(_, plans)| !plans.is_empty())
            .map(|(t, _)| t.as_str())
            .collect();
        v.sort_unstable();
        Some(v)
    }

    /// Whether some active rule may match an event of type `evt_type` on
    /// which the boolean field `id` is false or missing. When none may, the
    /// capture can leave such events out (see the pipeline's interest).
    pub fn may_match_when_false(&self, evt_type: &str, id: FieldId) -> bool {
        match self.index.get(evt_type) {
            Some(plans) => plans.iter().any(|(_, f)| f.may_match_when_false(id)),
            None => self.unrestricted.iter().any(|&i| {
                self.rules[i as usize]
                    .filter
                    .specialize(evt_type)
                    .may_match_when_false(id)
            }),
        }
    }

    /// The fields the active rules' conditions read, deduplicated: what the
    /// state tables must be able to answer.
    pub fn fields_used(&self) -> Vec<FieldRef> {
        let mut out: Vec<FieldRef> = Vec::new();
        for r in self.active_rules() {
            for f in r.filter.fields_used() {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
        }
        out
    }

    /// Runs the rules that can match this event type, in definition order,
    /// calling `visit` for each match (only the first with `rule_matching:
    /// first`). Returns the number of matches.
    pub fn evaluate<S: FieldSource + ?Sized>(
        &self,
        src: &S,
        visit: impl FnMut(&CompiledRule),
    ) -> usize {
        let memo = Memo::new(src);
        match self.index.get(src.evt_type()) {
            Some(plans) => self.run(plans.iter().map(|(i, f)| (*i, f)), &memo, visit),
            None => self.run_ids(&self.unrestricted, &memo, visit),
        }
    }

    /// Like [`Engine::evaluate`] but tries every active rule: the baseline
    /// that shows what the evt.type index saves.
    pub fn evaluate_unindexed<S: FieldSource + ?Sized>(
        &self,
        src: &S,
        visit: impl FnMut(&CompiledRule),
    ) -> usize {
        self.run_ids(&self.active, &Memo::new(src), visit)
    }

    fn run_ids<S: FieldSource + ?Sized>(
        &self,
        ids: &[u32],
        memo: &Memo<'_, S>,
        visit: impl FnMut(&CompiledRule),
    ) -> usize {
        let rules = &self.rules;
        self.run(
            ids.iter().map(|&i| (i, &rules[i as usize].filter)),
            memo,
            visit,
        )
    }

    fn run<'f, S: FieldSource + ?Sized>(
        &self,
        plans: impl Iterator<Item = (u32, &'f Filter)>,
        memo: &Memo<'_, S>,
        mut visit: impl FnMut(&CompiledRule),
    ) -> usize {
        let mut n = 0;
        for (i, filter) in plans {
            let r = &self.rules[i as usize];
            if filter.matches_memo(memo) {
                visit(r);
                n += 1;
                if self.rule_matching == RuleMatching::First {
                    break;
                }
            }
        }
        n
    }
}
