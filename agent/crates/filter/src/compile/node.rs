//! The compiled form: a tree of boolean nodes whose leaves are typed checks
//! with their matchers already built.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use rustc_hash::FxHashSet;

use super::matchers::{ByteSet, Glob, IpNet, PrefixSet};
use crate::ast::{Modifier, Op, Transformer};
use crate::fields::FieldRef;

/// Cloning shares the checks (their matchers can be large), so a filter
/// specialised per event type costs only its boolean skeleton.
#[derive(Debug, Clone)]
pub enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Check(Arc<Check>),
    /// Only after specialisation (a folded `evt.type` check).
    Const(bool),
}

#[derive(Debug)]
pub struct Check {
    pub lhs: Lhs,
    pub test: Test,
    /// What the check compares, spelled out (field, operator, modifier,
    /// right-hand side with lists expanded): equal keys mean the same check,
    /// wherever macros copied it.
    pub key: Box<str>,
    /// The check's result slot in the per-event memo ([`NO_SLOT`]: not
    /// shared, evaluated each time).
    pub memo: Slot,
}

/// A field's number in the per-event memo shared by an engine's filters;
/// [`NO_SLOT`] until the engine numbers them (then the field is extracted
/// directly).
pub type Slot = u16;
pub const NO_SLOT: Slot = Slot::MAX;

/// Where a check's left-hand values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lhs {
    Field(FieldRef, Slot),
    Transform(Box<Transform>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub func: Transformer,
    pub args: Vec<TArg>,
    /// `len` of a list-valued operand counts its values.
    pub list_input: bool,
    /// `getopt(...)[c]`: the option selected.
    pub select: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TArg {
    Lhs(Lhs),
    Lit(Box<[u8]>),
    /// `(a, "b", field)`: the values of each item, in order.
    List(Vec<TArg>),
}

/// A right-hand constant, already in the field's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Const {
    Bytes(Box<[u8]>),
    /// Wide enough for every u64 and i64.
    Int(i128),
    Bool(bool),
    Net(IpNet),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
pub enum ConstSet {
    Bytes(ByteSet),
    Int(FxHashSet<i128>),
    /// Small sets of booleans or networks: scanned linearly.
    Other(Vec<Const>),
}

#[derive(Debug)]
pub enum Test {
    Exists,
    Cmp(CmpOp, Const),
    Contains(Box<Finder<'static>>),
    /// Any of several needles (merged `contains`, `contains anyof`,
    /// `icontains` with ASCII case folding).
    ContainsAny(Box<AhoCorasick>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Glob(Glob),
    Regex(Box<regex::bytes::Regex>),
    /// Every left value in the set.
    In(ConstSet),
    /// Some left value in the set.
    Intersects(ConstSet),
    Pmatch(PrefixSet),
    /// `op anyof/allof/oneof (...)`: one test per right-hand item.
    Quant(Modifier, Box<[Test]>),
    /// Compared with values extracted at run time (`val(field)`, a
    /// transformer on the right).
    Dyn(Op, Lhs),
}

/// Flatten nested `and`/`or`, drop double negations, and merge three or
/// more `contains` checks on the same field under one `or` into a single
/// Aho-Corasick search.
pub fn optimize(n: Node) -> Node {
    match n {
        Node::And(children) => {
            let mut out = Vec::with_capacity(children.len());
            for c in children.into_vec() {
                match optimize(c) {
                    Node::And(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            Node::And(out.into())
        }
        Node::Or(children) => {
            let mut out = Vec::with_capacity(children.len());
            for c in children.into_vec() {
                match optimize(c) {
                    Node::Or(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            Node::Or(merge_contains(out).into())
        }
        Node::Not(inner) => match optimize(*inner) {
            Node::Not(x) => *x,
            other => Node::Not(Box::new(other)),
        },
        other => other,
    }
}

fn merge_contains(children: Vec<Node>) -> Vec<Node> {
    const MIN_MERGE: usize = 3;
    let mut groups: Vec<(FieldRef, Vec<Vec<u8>>)> = Vec::new();
    for c in &children {
        if let Node::Check(ch) = c {
            if let (Lhs::Field(f, _), Test::Contains(fnd)) = (&ch.lhs, &ch.test) {
                match groups.iter_mut().find(|(g, _)| g == f) {
                    Some((_, needles)) => needles.push(fnd.needle().to_vec()),
                    None => groups.push((f.clone(), vec![fnd.needle().to_vec()])),
                }
            }
        }
    }
    groups.retain(|(_, n)| n.len() >= MIN_MERGE);
    if groups.is_empty() {
        return children;
    }
    let mut out: Vec<Node> = children
        .into_iter()
        .filter(|c| match c {
            Node::Check(ch) => match (&ch.lhs, &ch.test) {
                (Lhs::Field(f, _), Test::Contains(_)) => !groups.iter().any(|(g, _)| g == f),
                _ => true,
            },
            _ => true,
        })
        .collect();
    for (field, needles) in groups {
        match AhoCorasick::new(&needles) {
            Ok(ac) => out.push(Node::Check(Arc::new(Check {
                key: format!("{field}\0contains-any\0{needles:?}").into(),
                lhs: Lhs::Field(field, NO_SLOT),
                test: Test::ContainsAny(Box::new(ac)),
                memo: NO_SLOT,
            }))),
            // Building can only fail on size limits; fall back to one
            // check per needle.
            Err(_) => out.extend(needles.into_iter().map(|n| {
                Node::Check(Arc::new(Check {
                    key: format!("{field}\0contains\0{n:?}").into(),
                    lhs: Lhs::Field(field.clone(), NO_SLOT),
                    test: Test::Contains(Box::new(Finder::new(&n).into_owned())),
                    memo: NO_SLOT,
                }))
            })),
        }
    }
    out
}

/// A rough cost of evaluating `n`, in cheap-check units: checks the memo
/// shares between rules are nearly free after their first use;
/// transformers allocate.
fn cost(n: &Node) -> u32 {
    match n {
        Node::Const(_) => 0,
        Node::Not(x) => cost(x),
        Node::And(c) | Node::Or(c) => c.iter().map(cost).fold(0, u32::saturating_add),
        Node::Check(c) if c.memo != NO_SLOT => 1,
        Node::Check(c) => {
            let t = match &c.test {
                Test::Exists | Test::Cmp(..) | Test::StartsWith(_) | Test::EndsWith(_) => 2,
                Test::In(_) | Test::Intersects(_) | Test::Contains(_) | Test::Pmatch(_) => 3,
                Test::ContainsAny(_) | Test::Glob(_) | Test::Dyn(..) => 4,
                Test::Regex(_) => 8,
                Test::Quant(_, tests) => 2u32.saturating_add(tests.len() as u32),
            };
            match c.lhs {
                Lhs::Transform(_) => t + 20,
                Lhs::Field(..) => t,
            }
        }
    }
}

/// Reorder `and`/`or` children so cheap ones run first, which is safe
/// because checks are pure (no side effects, a missing field is just
/// false): the result is the same, only the short-circuit point moves.
/// Negated children of an `and` stay last, in their order: they are the
/// rules' exclusions, usually true, so running them early rarely ends the
/// evaluation.
pub fn reorder(n: Node) -> Node {
    match n {
        Node::And(c) => {
            let mut v: Vec<Node> = c.into_vec().into_iter().map(reorder).collect();
            v.sort_by_cached_key(|x| (matches!(x, Node::Not(_)), cost(x)));
            Node::And(v.into())
        }
        Node::Or(c) => {
            let mut v: Vec<Node> = c.into_vec().into_iter().map(reorder).collect();
            v.sort_by_cached_key(cost);
            Node::Or(v.into())
        }
        Node::Not(x) => Node::Not(Box::new(reorder(*x))),
        other => other,
    }
}
