//! The three upstream files collect with zero errors and the documented counts.

mod common;
use common::*;

use saker_rules::loader::collect;

fn counts(files: &[&str]) -> (usize, usize, usize, usize) {
    let (c, d) = collect(&upstream(files));
    assert!(!d.has_errors(), "{}", d.render(false));
    let c = c.expect("collected");
    let disabled = c.rules.iter().filter(|r| !r.enabled).count();
    println!(
        "{files:?}: {} rules ({disabled} disabled), {} macros, {} lists",
        c.rules.len(),
        c.macros.len(),
        c.lists.len()
    );
    (c.rules.len(), disabled, c.macros.len(), c.lists.len())
}

#[test]
fn stable_alone() {
    assert_eq!(counts(&[STABLE]), (25, 0, 87, 49));
}

#[test]
fn incubating_alone() {
    let (r, _, m, l) = counts(&[INCUBATING]);
    assert_eq!((r, m, l), (31, 82, 54));
}

#[test]
fn sandbox_alone() {
    assert_eq!(counts(&[SANDBOX]), (37, 12, 183, 60));
}
