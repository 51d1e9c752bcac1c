//! Arbitrary bytes as a condition: parse, compile, and as a rule's condition.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saker_rules::{load_str, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let cond = String::from_utf8_lossy(data);
    if let Ok(e) = saker_filter::parser::parse(&cond) {
        let _ = saker_filter::compile(&e, &saker_filter::Env::new());
    }
    // Through the loader too, as a literal block so any text is valid YAML.
    let body: String = cond.lines().map(|l| format!("    {l}\n")).collect();
    let rules = format!(
        "- macro: m\n  condition: evt.type = execve\n- rule: r\n  desc: d\n  condition: |-\n{body}  output: o\n  priority: INFO\n"
    );
    let _ = load_str("fuzz.yaml", &rules, &LoadOptions::default());
});
