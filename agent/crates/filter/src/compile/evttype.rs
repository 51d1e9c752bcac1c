//! Which event types can a filter match? Derived from the compiled tree like
//! libsinsp's evttype resolution, so rules can be indexed by `evt.type`.
//!
//! For each node we track two sets: the types for which it *may be true*
//! and those for which it *may be false*. `evt.type = x` is true only for
//! `x` and false for the others; any other check may be either for every
//! type. `and`/`or` combine them, and `not` swaps them, which keeps the
//! result sound under negation (`not (evt.type = x and proc.name = y)` still
//! may match `x`).

use std::collections::BTreeSet;

use super::node::{CmpOp, Const, ConstSet, Lhs, Node, Test};
use crate::fields::{FieldArg, FieldId};

/// A set of event type names, possibly given by complement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvtTypes {
    /// Every type (no constraint could be derived).
    All,
    Only(BTreeSet<String>),
    /// Every type except these.
    AllExcept(BTreeSet<String>),
}

impl EvtTypes {
    pub fn contains(&self, t: &str) -> bool {
        match self {
            EvtTypes::All => true,
            EvtTypes::Only(s) => s.contains(t),
            EvtTypes::AllExcept(s) => !s.contains(t),
        }
    }

    /// True when the filter is not restricted to a finite set of types.
    pub fn is_unbounded(&self) -> bool {
        !matches!(self, EvtTypes::Only(_))
    }

    /// The concrete set within a universe of known type names.
    pub fn resolve<'a>(&self, universe: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        universe
            .into_iter()
            .filter(|t| self.contains(t))
            .map(str::to_string)
            .collect()
    }

    fn normalize(self) -> Self {
        match self {
            EvtTypes::AllExcept(s) if s.is_empty() => EvtTypes::All,
            other => other,
        }
    }

    fn and(self, o: Self) -> Self {
        use EvtTypes::*;
        match (self, o) {
            (All, x) | (x, All) => x,
            (Only(a), Only(b)) => Only(a.intersection(&b).cloned().collect()),
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => {
                Only(a.difference(&b).cloned().collect())
            }
            (AllExcept(a), AllExcept(b)) => AllExcept(a.union(&b).cloned().collect()),
        }
    }

    fn or(self, o: Self) -> Self {
        use EvtTypes::*;
        match (self, o) {
            (All, _) | (_, All) => All,
            (Only(a), Only(b)) => Only(a.union(&b).cloned().collect()),
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => {
                AllExcept(b.difference(&a).cloned().collect()).normalize()
            }
            (AllExcept(a), AllExcept(b)) => {
                AllExcept(a.intersection(&b).cloned().collect()).normalize()
            }
        }
    }

    fn complement(self) -> Self {
        match self {
            EvtTypes::All => EvtTypes::Only(BTreeSet::new()),
            EvtTypes::Only(s) => EvtTypes::AllExcept(s).normalize(),
            EvtTypes::AllExcept(s) => EvtTypes::Only(s),
        }
    }
}

/// (may be true, may be false)
fn sets(n: &Node) -> (EvtTypes, EvtTypes) {
    match n {
        Node::Not(x) => {
            let (t, f) = sets(x);
            (f, t)
        }
        Node::And(c) => c.iter().map(sets).fold(
            (EvtTypes::All, EvtTypes::Only(BTreeSet::new())),
            |(t, f), (ct, cf)| (t.and(ct), f.or(cf)),
        ),
        Node::Or(c) => c.iter().map(sets).fold(
            (EvtTypes::Only(BTreeSet::new()), EvtTypes::All),
            |(t, f), (ct, cf)| (t.or(ct), f.and(cf)),
        ),
        Node::Const(true) => (EvtTypes::All, EvtTypes::Only(BTreeSet::new())),
        Node::Const(false) => (EvtTypes::Only(BTreeSet::new()), EvtTypes::All),
        Node::Check(c) => match evt_type_set(&c.lhs, &c.test) {
            Some((only, negated)) => {
                let t = EvtTypes::Only(only);
                if negated {
                    (t.clone().complement(), t)
                } else {
                    (t.clone(), t.complement())
                }
            }
            None => (EvtTypes::All, EvtTypes::All),
        },
    }
}

/// The set of types named by an `evt.type` check we understand (`=`, `!=`,
/// `in`, `intersects`), and whether the check is true outside it (`!=`).
fn evt_type_set(lhs: &Lhs, test: &Test) -> Option<(BTreeSet<String>, bool)> {
    let Lhs::Field(f, _) = lhs else { return None };
    if f.id != FieldId::EvtType || f.arg != FieldArg::None {
        return None;
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match test {
        Test::Cmp(CmpOp::Eq, Const::Bytes(b)) => Some(([text(b)].into(), false)),
        Test::Cmp(CmpOp::Ne, Const::Bytes(b)) => Some(([text(b)].into(), true)),
        Test::In(ConstSet::Bytes(s)) | Test::Intersects(ConstSet::Bytes(s)) => {
            Some((s.iter().map(text).collect(), false))
        }
        _ => None,
    }
}

pub fn resolve(root: &Node) -> EvtTypes {
    sets(root).0.normalize()
}

/// `n` for events of type `t`: the `evt.type` checks [`evt_type_set`]
/// understands become constants, then `and`/`or`/`not` fold. Only pure
/// boolean identities are used, so the result is exactly the original
/// filter restricted to that type.
pub fn specialize(n: &Node, t: &str) -> Node {
    match n {
        Node::Check(c) => match evt_type_set(&c.lhs, &c.test) {
            Some((set, negated)) => Node::Const(set.contains(t) != negated),
            None => n.clone(),
        },
        Node::Not(x) => match specialize(x, t) {
            Node::Const(b) => Node::Const(!b),
            other => Node::Not(Box::new(other)),
        },
        Node::And(c) => fold(c, t, true),
        Node::Or(c) => fold(c, t, false),
        Node::Const(b) => Node::Const(*b),
    }
}

/// `and` (`is_and`) or `or` of the specialised children: the neutral
/// constant drops out, the absorbing one decides, nested nodes of the same
/// kind are flattened.
fn fold(children: &[Node], t: &str, is_and: bool) -> Node {
    let mut out = Vec::with_capacity(children.len());
    for c in children {
        match specialize(c, t) {
            Node::Const(b) if b == is_and => {}
            Node::Const(b) => return Node::Const(b),
            Node::And(inner) if is_and => out.extend(inner.into_vec()),
            Node::Or(inner) if !is_and => out.extend(inner.into_vec()),
            other => out.push(other),
        }
    }
    if out.len() <= 1 {
        return out.pop().unwrap_or(Node::Const(is_and));
    }
    if is_and {
        Node::And(out.into())
    } else {
        Node::Or(out.into())
    }
}
