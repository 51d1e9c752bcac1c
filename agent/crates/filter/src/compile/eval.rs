//! Evaluating the compiled tree against a [`FieldSource`].
//!
//! Falco semantics: a missing field makes a comparison false (so `not` of
//! it is true); a list-valued left side matches when any value matches,
//! except `in`, which needs every value in the set.
//!
//! Field values are fetched through [`Fetch`]: straight from the source, or
//! through a per-event [`Memo`] shared by all the filters an engine runs.

use std::cell::Cell;
use std::cmp::Ordering;

use memchr::memmem;

use super::node::*;
use super::transform;
use crate::ast::{Modifier, Op};
use crate::fields::{FieldRef, FieldSource, Value, Values};

/// How evaluation gets a field's values.
pub trait Fetch {
    type Src: FieldSource + ?Sized;
    fn src(&self) -> &Self::Src;
    /// Run `f` on the field's values; `None` when the field is missing.
    fn fetch<R>(
        &self,
        field: &FieldRef,
        slot: Slot,
        f: impl FnOnce(&[Value<'_>]) -> R,
    ) -> Option<R>;
    /// The result of the check numbered `slot`, computed by `f` the first
    /// time.
    fn cached(&self, slot: Slot, f: impl FnOnce() -> bool) -> bool;
}

/// No memo: every check asks the source.
pub struct Direct<'a, S: ?Sized>(pub &'a S);

fn direct<S: FieldSource + ?Sized, R>(
    src: &S,
    field: &FieldRef,
    f: impl FnOnce(&[Value<'_>]) -> R,
) -> Option<R> {
    let mut vals = Values::new();
    if !src.extract(field, &mut vals) || vals.is_empty() {
        return None;
    }
    Some(f(&vals))
}

impl<S: FieldSource + ?Sized> Fetch for Direct<'_, S> {
    type Src = S;
    fn src(&self) -> &S {
        self.0
    }
    #[inline]
    fn fetch<R>(&self, field: &FieldRef, _: Slot, f: impl FnOnce(&[Value<'_>]) -> R) -> Option<R> {
        direct(self.0, field, f)
    }
    #[inline]
    fn cached(&self, _: Slot, f: impl FnOnce() -> bool) -> bool {
        f()
    }
}

/// Memo capacity in fields; fields numbered beyond it are extracted directly.
pub const MEMO_SLOTS: usize = 256;
/// Memo capacity in shared checks (results are bits); checks beyond it are
/// evaluated each time.
pub const MEMO_CHECKS: usize = 512;
const CHECK_WORDS: usize = MEMO_CHECKS / 64;

#[derive(Clone, Copy)]
enum Entry<'s> {
    Missing,
    One(Value<'s>),
    /// Several values: asked again each time (ancestor chains and the
    /// like are rare in conditions), so the memo stays small and flat.
    Many,
}

/// Distinct fields one event can remember; later ones are extracted on
/// each use.
const MEMO_ENTRIES: usize = 32;

/// What one event's fields were, remembered while the rules run over it:
/// the same `proc.name` or `fd.name` is read by dozens of rules. Lives on
/// the stack for one event and never allocates.
pub struct Memo<'s, S: FieldSource + ?Sized> {
    src: &'s S,
    /// Slot → 1 + index in `entries`; 0 = not fetched yet.
    pos: [Cell<u8>; MEMO_SLOTS],
    entries: [Cell<Entry<'s>>; MEMO_ENTRIES],
    used: Cell<u8>,
    /// Shared checks: evaluated yet, and their results.
    known: [Cell<u64>; CHECK_WORDS],
    results: [Cell<u64>; CHECK_WORDS],
}

impl<'s, S: FieldSource + ?Sized> Memo<'s, S> {
    pub fn new(src: &'s S) -> Self {
        Memo {
            src,
            pos: [const { Cell::new(0) }; MEMO_SLOTS],
            entries: [const { Cell::new(Entry::Missing) }; MEMO_ENTRIES],
            used: Cell::new(0),
            known: [const { Cell::new(0) }; CHECK_WORDS],
            results: [const { Cell::new(0) }; CHECK_WORDS],
        }
    }

    pub fn source(&self) -> &'s S {
        self.src
    }
}

impl<'s, S: FieldSource + ?Sized> Fetch for Memo<'s, S> {
    type Src = S;
    fn src(&self) -> &S {
        self.src
    }

    #[inline]
    fn fetch<R>(
        &self,
        field: &FieldRef,
        slot: Slot,
        f: impl FnOnce(&[Value<'_>]) -> R,
    ) -> Option<R> {
        let Some(p) = self.pos.get(usize::from(slot)) else {
            return direct(self.src, field, f);
        };
        let e = match p.get() {
            0 => {
                let mut vals: Values<'s> = Values::new();
                let ok = self.src.extract(field, &mut vals) && !vals.is_empty();
                let e = match (ok, vals.len()) {
                    (false, _) => Entry::Missing,
                    (true, 1) => Entry::One(vals[0]),
                    _ => Entry::Many,
                };
                let used = self.used.get();
                if let Some(cell) = self.entries.get(usize::from(used)) {
                    cell.set(e);
                    self.used.set(used + 1);
                    p.set(used + 1);
                }
                if let Entry::Many = e {
                    return Some(f(&vals));
                }
                e
            }
            i => match self.entries.get(usize::from(i) - 1) {
                Some(e) => e.get(),
                None => return direct(self.src, field, f),
            },
        };
        match e {
            Entry::Missing => None,
            Entry::One(v) => Some(f(std::slice::from_ref(&v))),
            Entry::Many => direct(self.src, field, f),
        }
    }

    #[inline]
    fn cached(&self, slot: Slot, f: impl FnOnce() -> bool) -> bool {
        let (w, bit) = (usize::from(slot) / 64, 1u64 << (slot % 64));
        let (Some(known), Some(results)) = (self.known.get(w), self.results.get(w)) else {
            return f();
        };
        if known.get() & bit != 0 {
            return results.get() & bit != 0;
        }
        let r = f();
        known.set(known.get() | bit);
        if r {
            results.set(results.get() | bit);
        }
        r
    }
}

/// The tree walk, kept as the reference the compiled program is tested
/// against.
#[cfg(test)]
pub fn eval<F: Fetch>(n: &Node, fx: &F) -> bool {
    match n {
        Node::And(c) => c.iter().all(|x| eval(x, fx)),
        Node::Or(c) => c.iter().any(|x| eval(x, fx)),
        Node::Not(x) => !eval(x, fx),
        Node::Check(c) if c.memo == NO_SLOT => check(c, fx),
        Node::Check(c) => fx.cached(c.memo, || check(c, fx)),
        Node::Const(b) => *b,
    }
}

#[inline]
pub(super) fn check<F: Fetch>(c: &Check, fx: &F) -> bool {
    match &c.test {
        Test::Exists => with_values(&c.lhs, fx, |_| true).is_some(),
        Test::Dyn(op, rhs) => with_values(&c.lhs, fx, |l| {
            with_values(rhs, fx, |r| dyn_values(*op, l, r)).unwrap_or(false)
        })
        .unwrap_or(false),
        t => with_values(&c.lhs, fx, |vals| test_values(t, vals)).unwrap_or(false),
    }
}

/// Run `f` on the operand's values; `None` when there are none (missing).
pub(super) fn with_values<F: Fetch, R>(
    lhs: &Lhs,
    fx: &F,
    f: impl FnOnce(&[Value<'_>]) -> R,
) -> Option<R> {
    match lhs {
        Lhs::Field(field, slot) => fx.fetch(field, *slot, f),
        Lhs::Transform(t) => {
            let owned = transform::apply(t, fx.src())?;
            let vals: Values<'_> = owned.iter().map(|o| o.as_value()).collect();
            if vals.is_empty() {
                return None;
            }
            Some(f(&vals))
        }
    }
}

#[inline]
fn test_values(t: &Test, vals: &[Value<'_>]) -> bool {
    match t {
        Test::In(set) => vals.iter().all(|v| set_contains(set, v)),
        // An empty list never matches, whatever the modifier (libsinsp's
        // FILTERCHECK_MOD_empty_rhs tests: even `allof ()` is false).
        Test::Quant(_, tests) if tests.is_empty() => false,
        Test::Quant(m, tests) => {
            let hits = tests
                .iter()
                .filter(|t| vals.iter().any(|v| test_one(t, v)))
                .count();
            match m {
                Modifier::AnyOf => hits >= 1,
                Modifier::AllOf => hits == tests.len(),
                Modifier::OneOf => hits == 1,
            }
        }
        // Most fields have one value: no loop.
        _ => match vals {
            [v] => test_one(t, v),
            _ => vals.iter().any(|v| test_one(t, v)),
        },
    }
}

#[inline]
fn test_one(t: &Test, v: &Value<'_>) -> bool {
    match t {
        Test::Exists => true,
        Test::Cmp(op, c) => cmp_const(*op, v, c),
        Test::Contains(f) => v.as_bytes().is_some_and(|b| f.find(b).is_some()),
        Test::ContainsAny(ac) => v.as_bytes().is_some_and(|b| ac.is_match(b)),
        Test::StartsWith(p) => v.as_bytes().is_some_and(|b| b.starts_with(p)),
        Test::EndsWith(p) => v.as_bytes().is_some_and(|b| b.ends_with(p)),
        Test::Glob(g) => v.as_bytes().is_some_and(|b| g.matches(b)),
        Test::Regex(r) => v.as_bytes().is_some_and(|b| r.is_match(b)),
        Test::In(s) | Test::Intersects(s) => set_contains(s, v),
        Test::Pmatch(p) => v.as_bytes().is_some_and(|b| p.matches(b)),
        Test::Quant(..) => test_values(t, std::slice::from_ref(v)),
        // Handled by `check`, which extracts the right-hand values.
        Test::Dyn(..) => false,
    }
}

#[inline]
fn as_int(v: &Value<'_>) -> Option<i128> {
    match *v {
        Value::U64(n) => Some(i128::from(n)),
        Value::I64(n) => Some(i128::from(n)),
        Value::Bool(b) => Some(i128::from(b)),
        _ => None,
    }
}

fn int_from_text(v: &Value<'_>) -> Option<i128> {
    let b = v.as_bytes()?;
    super::parse_int(std::str::from_utf8(b).ok()?)
}

#[inline]
fn ordering_ok(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

#[inline]
fn cmp_const(op: CmpOp, v: &Value<'_>, c: &Const) -> bool {
    match c {
        Const::Bytes(b) => v.as_bytes().is_some_and(|x| match op {
            // Equality compares lengths first.
            CmpOp::Eq => x == &**b,
            CmpOp::Ne => x != &**b,
            _ => ordering_ok(op, x.cmp(b)),
        }),
        // Text values (`evt.arg.*`) compare numerically with a number.
        Const::Int(n) => as_int(v)
            .or_else(|| int_from_text(v))
            .is_some_and(|x| ordering_ok(op, x.cmp(n))),
        Const::Bool(b) => match *v {
            Value::Bool(x) => ordering_ok(op, x.cmp(b)),
            _ => as_int(v).is_some_and(|x| ordering_ok(op, x.cmp(&i128::from(*b)))),
        },
        Const::Net(net) => match (*v, op) {
            (Value::Ip(ip), CmpOp::Eq) => net.contains(ip),
            (Value::Ip(ip), CmpOp::Ne) => !net.contains(ip),
            _ => false,
        },
    }
}

#[inline]
fn set_contains(s: &ConstSet, v: &Value<'_>) -> bool {
    match s {
        ConstSet::Bytes(set) => v.as_bytes().is_some_and(|b| set.contains(b)),
        ConstSet::Int(set) => as_int(v).is_some_and(|n| set.contains(&n)),
        ConstSet::Other(items) => items.iter().any(|c| cmp_const(CmpOp::Eq, v, c)),
    }
}

/// Field-to-field comparison: any left value against any right value,
/// except `in` (every left value equals some right value).
fn dyn_values(op: Op, l: &[Value<'_>], r: &[Value<'_>]) -> bool {
    match op {
        Op::In => l.iter().all(|a| r.iter().any(|b| dyn_one(Op::Eq, a, b))),
        Op::Intersects => l.iter().any(|a| r.iter().any(|b| dyn_one(Op::Eq, a, b))),
        _ => l.iter().any(|a| r.iter().any(|b| dyn_one(op, a, b))),
    }
}

fn dyn_one(op: Op, a: &Value<'_>, b: &Value<'_>) -> bool {
    let cmp = |o: Ordering| -> bool {
        match op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            _ => false,
        }
    };
    if let (Some(x), Some(y)) = (a.as_bytes(), b.as_bytes()) {
        return match op {
            Op::Contains | Op::BContains => memmem::find(x, y).is_some(),
            Op::IContains => y.is_empty() || x.windows(y.len()).any(|w| w.eq_ignore_ascii_case(y)),
            Op::StartsWith | Op::BStartsWith => x.starts_with(y),
            Op::EndsWith => x.ends_with(y),
            _ => cmp(x.cmp(y)),
        };
    }
    if let (Some(x), Some(y)) = (as_int(a), as_int(b)) {
        return cmp(x.cmp(&y));
    }
    match (a, b) {
        (Value::Ip(x), Value::Ip(y)) => matches!(op, Op::Eq | Op::Ne) && cmp(x.cmp(y)),
        _ => false,
    }
}
