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

use super::node::{Check, CmpOp, Const, ConstSet, Lhs, Node, Test};
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
/// understands become constants, then `and`/`or`/`not` fold, and a
/// conjunction of checks that exclude each other becomes `false` (see
/// [`contradictory`]). The result is exactly the original filter restricted
/// to that type.
pub fn specialize(n: &Node, t: &str) -> Node {
    fold_checks(n, &|c| {
        evt_type_set(&c.lhs, &c.test).map(|(set, negated)| set.contains(t) != negated)
    })
}

/// `n` for events on which the boolean field `id` is false or missing:
/// checks that are then certainly false (`= true`, `!= false`, `in (true)`)
/// become `false`, then the tree folds. A check whose outcome still depends
/// on which of the two it is (`= false` is false on a missing field) stays.
pub fn assume_false(n: &Node, id: FieldId) -> Node {
    fold_checks(n, &|c| {
        let Lhs::Field(f, _) = &c.lhs else {
            return None;
        };
        if f.id != id {
            return None;
        }
        let only_true = |s: &ConstSet| match s {
            ConstSet::Other(v) => v.iter().all(|c| *c == Const::Bool(true)),
            _ => false,
        };
        match &c.test {
            Test::Cmp(CmpOp::Eq, Const::Bool(true)) | Test::Cmp(CmpOp::Ne, Const::Bool(false)) => {
                Some(false)
            }
            Test::In(s) | Test::Intersects(s) if only_true(s) => Some(false),
            _ => None,
        }
    })
}

/// `n` with every check `decide` settles replaced by its constant, and
/// `and`/`or`/`not` folded around them.
fn fold_checks(n: &Node, decide: &dyn Fn(&Check) -> Option<bool>) -> Node {
    match n {
        Node::Check(c) => match decide(c) {
            Some(b) => Node::Const(b),
            None => n.clone(),
        },
        Node::Not(x) => match fold_checks(x, decide) {
            Node::Const(b) => Node::Const(!b),
            other => Node::Not(Box::new(other)),
        },
        Node::And(c) => fold(c, decide, true),
        Node::Or(c) => fold(c, decide, false),
        Node::Const(b) => Node::Const(*b),
    }
}

/// `and` (`is_and`) or `or` of the folded children: the neutral constant
/// drops out, the absorbing one decides, nested nodes of the same kind are
/// flattened.
fn fold(children: &[Node], decide: &dyn Fn(&Check) -> Option<bool>, is_and: bool) -> Node {
    let mut out = Vec::with_capacity(children.len());
    for c in children {
        match fold_checks(c, decide) {
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
    if is_and && contradictory(&out) {
        return Node::Const(false);
    }
    if is_and {
        Node::And(out.into())
    } else {
        Node::Or(out.into())
    }
}

/// True when two checks of one conjunction cannot both hold: a single-valued
/// field equal to two different constants, or equal to one and also not
/// equal to it (`fd.l4proto = tcp and fd.l4proto != tcp`, which is what the
/// upstream `outbound` macro's sendto branch meets in an SSH rule that also
/// asks for TCP). A plain check is false on a missing field but a negated
/// one is true, so a pair only contradicts when one of them is plain.
fn contradictory(conj: &[Node]) -> bool {
    struct Fact<'a> {
        field: &'a crate::fields::FieldRef,
        value: &'a Const,
        /// Holds only when the field equals `value` (else: only when not).
        equal: bool,
        /// False on a missing field.
        needs_field: bool,
    }
    let mut facts: Vec<Fact<'_>> = Vec::new();
    for n in conj {
        let (c, negated) = match n {
            Node::Check(c) => (c, false),
            Node::Not(x) => match &**x {
                Node::Check(c) => (c, true),
                _ => continue,
            },
            _ => continue,
        };
        let Lhs::Field(field, _) = &c.lhs else {
            continue;
        };
        if !single_valued(field) {
            continue;
        }
        let (value, equal) = match &c.test {
            Test::Cmp(CmpOp::Eq, v) => (v, !negated),
            Test::Cmp(CmpOp::Ne, v) => (v, negated),
            _ => continue,
        };
        let fact = Fact {
            field,
            value,
            equal,
            needs_field: !negated,
        };
        let excludes = |o: &Fact<'_>| {
            o.field == fact.field
                && (o.needs_field || fact.needs_field)
                && if o.equal && fact.equal {
                    o.value != fact.value
                } else {
                    o.equal != fact.equal && o.value == fact.value
                }
        };
        if facts.iter().any(excludes) {
            return true;
        }
        facts.push(fact);
    }
    false
}

/// Fields that yield at most one value, so `f = a` and `f = b` exclude
/// each other. Fields that match on any of several values (`fd.ip`,
/// `proc.aname` without an index, label lists) are left out; so is
/// `fd.proto`, a string that holds the client's and the server's protocol.
fn single_valued(f: &crate::fields::FieldRef) -> bool {
    use crate::fields::{ArgKind, FieldId, FieldType};
    let info = f.id.info();
    info.ty == FieldType::Str
        && info.arg == ArgKind::None
        && f.arg == FieldArg::None
        && f.id != FieldId::FdProto
}
