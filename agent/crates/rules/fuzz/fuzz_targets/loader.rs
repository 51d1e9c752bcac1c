//! Arbitrary bytes as a rules file: the loader must return diagnostics,
//! never panic, hang or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saker_rules::{load_str, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(d) = load_str("fuzz.yaml", &text, &LoadOptions::default()) {
        // Every error is positioned and renders.
        assert!(d.errors().all(|e| e.pos.is_some()));
        let _ = d.render(false);
    }
});
