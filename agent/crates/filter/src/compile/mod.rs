//! Compiling a parsed condition into a [`Filter`]: macros and lists are
//! expanded, fields resolved to [`FieldRef`]s, right-hand sides parsed to the
//! field's type and turned into matchers (hash sets, case-insensitive
//! searchers, globs, regexes, prefix sets, Aho-Corasick automata).

mod build;
mod eval;
mod evttype;
mod matchers;
mod node;
mod program;
mod transform;

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::ast::Expr;
use crate::fields::{FieldRef, FieldSource};

pub use eval::{Memo, MEMO_CHECKS, MEMO_SLOTS};
pub use evttype::EvtTypes;
pub use matchers::{parse_bool, parse_i64, parse_int, parse_u64, ByteSet, Glob, IpNet, PrefixSet};

/// Maximum nesting while expanding macros and compiling (and so while
/// evaluating): deep enough for any real rule set (upstream rules nest a few
/// tens of levels), shallow enough for a 2 MiB thread stack in debug builds.
pub const MAX_COMPILE_DEPTH: usize = 256;

/// Maximum number of nodes after macro expansion: macros that each use the
/// previous one twice would otherwise expand exponentially.
pub const MAX_COMPILE_NODES: usize = 1_000_000;

/// What a condition can refer to: macros (already parsed) and lists.
///
/// The caller decides visibility and order (Falco resolves a macro to the
/// definition visible where the rule is defined); this type only looks
/// names up.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub macros: HashMap<String, Expr>,
    /// List items as written in the rules file; an item naming another list
    /// is expanded recursively.
    pub lists: HashMap<String, Vec<String>>,
}

impl Env {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_macro(mut self, name: &str, body: Expr) -> Self {
        self.macros.insert(name.to_string(), body);
        self
    }

    pub fn with_list(mut self, name: &str, items: &[&str]) -> Self {
        self.lists.insert(
            name.to_string(),
            items.iter().map(|s| s.to_string()).collect(),
        );
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileErrorKind {
    /// A field the catalogue does not know (the rules crate skips rules
    /// marked `skip-if-unknown-filter` on this).
    UnknownField(String),
    /// A known field with a missing or invalid argument.
    BadFieldArg,
    UndefinedMacro(String),
    UndefinedList(String),
    MacroCycle(String),
    /// A value that does not parse for the field's type, or a bad regex.
    BadValue,
    /// An operator the field's type does not support.
    BadOperator,
    TooDeep,
    /// More than [`MAX_COMPILE_NODES`] nodes after macro expansion.
    TooLarge,
}

/// A compile error: what, and where.
///
/// `offset` is a byte offset in the text the failing node came from: the
/// condition itself, or the body of macro `in_macro` when the error is
/// inside an expanded macro. `origin_offset` is always in the condition:
/// where the outermost macro reference (or the failing node) sits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub kind: CompileErrorKind,
    pub message: String,
    pub offset: usize,
    pub in_macro: Option<String>,
    pub origin_offset: usize,
}

impl CompileError {
    /// The unknown field's name, when that is the error.
    pub fn unknown_field(&self) -> Option<&str> {
        match &self.kind {
            CompileErrorKind::UnknownField(f) => Some(f),
            _ => None,
        }
    }
}

/// A compiled condition.
#[derive(Debug)]
pub struct Filter {
    root: node::Node,
    /// `root` as run.
    program: program::Program,
    evt_types: EvtTypes,
    fields: Vec<FieldRef>,
}

/// Numbers the fields and the repeated checks of several filters for a
/// shared per-event [`Memo`]: rules read the same fields, and macros copy
/// the same checks (`open_read`, `container`, `spawned_process`) into many
/// rules.
#[derive(Debug, Default)]
pub struct SlotTable {
    fields: FxHashMap<FieldRef, node::Slot>,
    /// Check key → how many times it appears (`None` once numbered).
    checks: FxHashMap<Box<str>, CheckSlot>,
    next_check: usize,
}

#[derive(Debug, Clone, Copy)]
enum CheckSlot {
    Seen(u32),
    Numbered(node::Slot),
}

impl SlotTable {
    /// A table for these filters: only checks that appear more than once
    /// among them get a memo slot (one that runs once per event gains
    /// nothing from it).
    pub fn new<'a>(filters: impl IntoIterator<Item = &'a Filter>) -> Self {
        fn walk(n: &node::Node, t: &mut SlotTable) {
            match n {
                node::Node::And(c) | node::Node::Or(c) => c.iter().for_each(|x| walk(x, t)),
                node::Node::Not(x) => walk(x, t),
                node::Node::Check(c) => {
                    let e = t.checks.entry(c.key.clone()).or_insert(CheckSlot::Seen(0));
                    if let CheckSlot::Seen(n) = e {
                        *n += 1;
                    }
                }
                node::Node::Const(_) => {}
            }
        }
        let mut t = SlotTable::default();
        for f in filters {
            walk(&f.root, &mut t);
        }
        t
    }

    /// The field's slot; fields past the memo's capacity get none (they
    /// are then extracted on each use, which is still correct).
    fn field(&mut self, f: &FieldRef) -> node::Slot {
        if let Some(s) = self.fields.get(f) {
            return *s;
        }
        if self.fields.len() >= MEMO_SLOTS {
            return node::NO_SLOT;
        }
        let s = self.fields.len() as node::Slot;
        self.fields.insert(f.clone(), s);
        s
    }

    fn check(&mut self, key: &str) -> node::Slot {
        match self.checks.get_mut(key) {
            Some(CheckSlot::Numbered(s)) => *s,
            Some(e @ CheckSlot::Seen(2..)) if self.next_check < MEMO_CHECKS => {
                let s = self.next_check as node::Slot;
                self.next_check += 1;
                *e = CheckSlot::Numbered(s);
                s
            }
            _ => node::NO_SLOT,
        }
    }

    /// Fields numbered so far.
    pub fn fields(&self) -> usize {
        self.fields.len()
    }

    /// Shared checks numbered so far.
    pub fn shared_checks(&self) -> usize {
        self.next_check
    }
}

impl Filter {
    /// Evaluate the condition against an event.
    pub fn matches<S: FieldSource + ?Sized>(&self, src: &S) -> bool {
        self.program.run(&eval::Direct(src))
    }

    /// Evaluate with field values shared through `memo` (one per event).
    /// Same result as [`Filter::matches`]; faster when several filters
    /// numbered by one [`SlotTable`] read the same fields. Every filter a
    /// memo sees must have been numbered by the same table (slots are
    /// table-wide), or left unnumbered.
    pub fn matches_memo<S: FieldSource + ?Sized>(&self, memo: &Memo<'_, S>) -> bool {
        self.program.run(memo)
    }

    /// Number this filter's fields and shared checks in `table` (built
    /// over this filter among others). Call before [`Filter::specialize`]:
    /// the specialised copies share the numbered checks.
    pub fn assign_slots(&mut self, table: &mut SlotTable) {
        fn lhs(l: &mut node::Lhs, table: &mut SlotTable) {
            if let node::Lhs::Field(f, slot) = l {
                *slot = table.field(f);
            }
        }
        fn walk(n: &mut node::Node, table: &mut SlotTable) {
            match n {
                node::Node::And(c) | node::Node::Or(c) => c.iter_mut().for_each(|x| walk(x, table)),
                node::Node::Not(x) => walk(x, table),
                // Shared checks (already specialised) keep direct extraction.
                node::Node::Check(c) => {
                    if let Some(c) = Arc::get_mut(c) {
                        c.memo = table.check(&c.key);
                        lhs(&mut c.lhs, table);
                        if let node::Test::Dyn(_, r) = &mut c.test {
                            lhs(r, table);
                        }
                    }
                }
                node::Node::Const(_) => {}
            }
        }
        // The program shares the checks: drop it while they are numbered.
        self.program = program::Program::empty();
        walk(&mut self.root, table);
        self.program = program::Program::new(&self.root);
    }

    /// This filter for events of type `evt_type` only: every `evt.type`
    /// check the type index understands is folded to a constant, the tree
    /// simplified, and cheap checks moved first. Evaluating the result on
    /// an event of that type gives the same answer as the whole filter,
    /// minus the type checks the index already made.
    pub fn specialize(&self, evt_type: &str) -> Filter {
        let root = node::reorder(evttype::specialize(&self.root, evt_type));
        Filter {
            program: program::Program::new(&root),
            root,
            evt_types: self.evt_types.clone(),
            fields: self.fields.clone(),
        }
    }

    /// Whether the filter can match an event on which the boolean field
    /// `id` is false or missing. Used to ask whether a rule needs events
    /// that cannot set the field (a datagram call without an address never
    /// sets `fd.name_changed`), so the kernel may leave them out.
    pub fn may_match_when_false(&self, id: crate::fields::FieldId) -> bool {
        !matches!(
            evttype::assume_false(&self.root, id),
            node::Node::Const(false)
        )
    }

    /// True when the filter can never match (e.g. specialised to a type
    /// its condition excludes).
    pub fn is_never(&self) -> bool {
        matches!(self.root, node::Node::Const(false))
    }

    /// True when the filter matches every event (e.g. `evt.type = x`
    /// specialised to `x`).
    pub fn is_always(&self) -> bool {
        matches!(self.root, node::Node::Const(true))
    }

    /// The event types the condition can possibly match.
    pub fn evt_types(&self) -> &EvtTypes {
        &self.evt_types
    }

    /// The fields the condition reads, in order of first use, deduplicated.
    pub fn fields_used(&self) -> &[FieldRef] {
        &self.fields
    }
}

/// Compile a parsed condition against the macros and lists of `env`.
pub fn compile(expr: &Expr, env: &Env) -> Result<Filter, CompileError> {
    let mut b = build::Builder::new(env);
    let root = b.expr(expr)?;
    let root = node::optimize(root);
    let evt_types = evttype::resolve(&root);
    let fields = b.into_fields();
    Ok(Filter {
        program: program::Program::new(&root),
        root,
        evt_types,
        fields,
    })
}

/// A field or transformer compiled on its own (for output formats).
#[derive(Debug)]
pub struct CompiledOperand(node::Lhs);

impl CompiledOperand {
    /// Run `f` on the values (`None` when missing).
    pub fn with_values<S: FieldSource + ?Sized, R>(
        &self,
        src: &S,
        f: impl FnOnce(Option<&[crate::fields::Value<'_>]>) -> R,
    ) -> R {
        // `f` is needed on both paths; route it through an Option.
        let mut f = Some(f);
        let ran = eval::with_values(&self.0, &eval::Direct(src), |vals| {
            f.take().map(|f| f(Some(vals)))
        });
        match (ran.flatten(), f) {
            (Some(r), _) => r,
            (None, Some(f)) => f(None),
            (None, None) => unreachable!("with_values ran the closure, so it returned Some"),
        }
    }
}

/// Compile a lone operand: its canonical spelling, type and evaluator.
pub fn compile_operand(
    o: &crate::ast::Operand,
) -> Result<(String, crate::fields::FieldType, CompiledOperand), CompileError> {
    let env = Env::default();
    let mut b = build::Builder::new(&env);
    let (lhs, ty, name) = b.lone_operand(o)?;
    Ok((name, ty, CompiledOperand(lhs)))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_env;
