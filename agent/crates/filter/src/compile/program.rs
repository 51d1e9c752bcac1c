//! A filter flattened into a branching program: each step runs one check
//! and jumps to the next step on true or on false, `and`/`or`/`not` having
//! become jump targets. Evaluation is a loop over a small array instead of
//! a recursive walk; the short-circuit order is the tree's, left to right.

use std::sync::Arc;

use super::eval::{self, Fetch};
use super::node::{Check, Node, NO_SLOT};

/// A step index, or one of the two outcomes.
type Target = u32;
const TRUE: Target = u32::MAX;
const FALSE: Target = u32::MAX - 1;

#[derive(Debug, Clone)]
struct Step {
    check: Arc<Check>,
    on_true: Target,
    on_false: Target,
}

#[derive(Debug, Clone)]
pub struct Program {
    steps: Box<[Step]>,
    entry: Target,
}

impl Program {
    pub fn new(root: &Node) -> Program {
        let mut steps = Vec::new();
        let entry = emit(root, TRUE, FALSE, &mut steps);
        Program {
            steps: steps.into(),
            entry,
        }
    }

    /// A program that holds no checks (so that they can be renumbered).
    pub fn empty() -> Program {
        Program {
            steps: Box::new([]),
            entry: FALSE,
        }
    }

    pub fn run<F: Fetch>(&self, fx: &F) -> bool {
        let mut pc = self.entry;
        loop {
            let Some(s) = self.steps.get(pc as usize) else {
                return pc == TRUE;
            };
            let c = &*s.check;
            let r = if c.memo == NO_SLOT {
                eval::check(c, fx)
            } else {
                fx.cached(c.memo, || eval::check(c, fx))
            };
            pc = if r { s.on_true } else { s.on_false };
        }
    }
}

/// The entry of `n`'s code, which continues at `t` when `n` is true and at
/// `f` when false. Children are emitted last to first so each knows where
/// to go next.
fn emit(n: &Node, t: Target, f: Target, steps: &mut Vec<Step>) -> Target {
    match n {
        Node::Const(true) => t,
        Node::Const(false) => f,
        Node::Not(x) => emit(x, f, t, steps),
        Node::And(c) => c.iter().rev().fold(t, |next, x| emit(x, next, f, steps)),
        Node::Or(c) => c.iter().rev().fold(f, |next, x| emit(x, t, next, steps)),
        Node::Check(c) => {
            steps.push(Step {
                check: Arc::clone(c),
                on_true: t,
                on_false: f,
            });
            (steps.len() - 1) as Target
        }
    }
}
