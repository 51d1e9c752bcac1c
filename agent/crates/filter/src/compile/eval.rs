//! Evaluating the compiled tree against a [`FieldSource`].
//!
//! Falco semantics: a missing field makes a comparison false (so `not` of
//! it is true); a list-valued left side matches when any value matches,
//! except `in`, which needs every value in the set.

use std::cmp::Ordering;

use memchr::memmem;

use super::node::*;
use super::transform;
use crate::ast::{Modifier, Op};
use crate::fields::{FieldSource, Value, Values};

pub fn eval<S: FieldSource + ?Sized>(n: &Node, src: &S) -> bool {
    match n {
        Node::And(c) => c.iter().all(|x| eval(x, src)),
        Node::Or(c) => c.iter().any(|x| eval(x, src)),
        Node::Not(x) => !eval(x, src),
        Node::Check(c) => check(c, src),
    }
}

fn check<S: FieldSource + ?Sized>(c: &Check, src: &S) -> bool {
    match &c.test {
        Test::Exists => with_values(&c.lhs, src, |_| true).is_some(),
        Test::Dyn(op, rhs) => with_values(&c.lhs, src, |l| {
            with_values(rhs, src, |r| dyn_values(*op, l, r)).unwrap_or(false)
        })
        .unwrap_or(false),
        t => with_values(&c.lhs, src, |vals| test_values(t, vals)).unwrap_or(false),
    }
}

/// Run `f` on the operand's values; `None` when there are none (missing).
pub(super) fn with_values<S: FieldSource + ?Sized, R>(
    lhs: &Lhs,
    src: &S,
    f: impl FnOnce(&[Value<'_>]) -> R,
) -> Option<R> {
    match lhs {
        Lhs::Field(field) => {
            let mut vals = Values::new();
            if !src.extract(field, &mut vals) || vals.is_empty() {
                return None;
            }
            Some(f(&vals))
        }
        Lhs::Transform(t) => {
            let owned = transform::apply(t, src)?;
            let vals: Values<'_> = owned.iter().map(|o| o.as_value()).collect();
            if vals.is_empty() {
                return None;
            }
            Some(f(&vals))
        }
    }
}

fn test_values(t: &Test, vals: &[Value<'_>]) -> bool {
    match t {
        Test::In(set) => vals.iter().all(|v| set_contains(set, v)),
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
        _ => vals.iter().any(|v| test_one(t, v)),
    }
}

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

fn cmp_const(op: CmpOp, v: &Value<'_>, c: &Const) -> bool {
    match c {
        Const::Bytes(b) => v.as_bytes().is_some_and(|x| ordering_ok(op, x.cmp(b))),
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
