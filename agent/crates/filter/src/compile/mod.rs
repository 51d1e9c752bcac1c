//! Compiling a parsed condition into a [`Filter`]: macros and lists are
//! expanded, fields resolved to [`FieldRef`]s, right-hand sides parsed to the
//! field's type and turned into matchers (hash sets, case-insensitive
//! searchers, globs, regexes, prefix sets, Aho-Corasick automata).

mod build;
mod eval;
mod evttype;
mod matchers;
mod node;
mod transform;

use std::collections::HashMap;

use crate::ast::Expr;
use crate::fields::{FieldRef, FieldSource};

pub use evttype::EvtTypes;
pub use matchers::{parse_bool, parse_i64, parse_int, parse_u64, Glob, IpNet, PrefixSet};

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
    evt_types: EvtTypes,
    fields: Vec<FieldRef>,
}

impl Filter {
    /// Evaluate the condition against an event.
    pub fn matches<S: FieldSource + ?Sized>(&self, src: &S) -> bool {
        eval::eval(&self.root, src)
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
        let ran = eval::with_values(&self.0, src, |vals| f.take().map(|f| f(Some(vals))));
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
