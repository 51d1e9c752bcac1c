//! A deterministic stand-in for the fuzzers (fuzz/): a few thousand mutated
//! rules files and conditions go through the loader and the condition
//! parser. Nothing may panic, and every failure must come back as a
//! positioned diagnostic.

mod common;

use saker_rules::{load_str, LoadOptions};

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that matter to YAML, the rules schema or the condition grammar.
const DICT: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "\\",
    ":",
    ",",
    "-",
    "\n",
    "  ",
    "\n- ",
    "#",
    "&a",
    "*a",
    " and ",
    " or ",
    " not ",
    "=",
    "!=",
    "<=",
    " in ",
    " contains ",
    " glob ",
    " regex ",
    " pmatch ",
    " exists",
    " intersects ",
    " anyof ",
    "val(",
    "tolower(",
    "concat(",
    "proc.name",
    "proc.aname[",
    "evt.type",
    "fd.name",
    "- rule: ",
    "- macro: ",
    "- list: ",
    "  condition: ",
    "  items: ",
    "  override:\n    condition: append\n",
    "  append: true\n",
    "  enabled: false\n",
    "  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[x]]\n",
    "  priority: ",
    "- required_engine_version: ",
    "0.57.0",
    "99",
    "|\n",
    ">\n",
    "%proc.name",
    "\u{0}",
    "é",
    "\t",
];

const SEEDS: &[&str] = &[
    "- macro: m\n  condition: evt.type = execve\n- list: l\n  items: [a, b]\n- rule: r\n  desc: d\n  condition: m and proc.name in (l)\n  output: \"x %proc.name\"\n  priority: WARNING\n",
    "- rule: r\n  desc: d\n  condition: >\n    evt.type = openat and fd.name startswith /etc\n    and not proc.name in (cat, less)\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=, pmatch]\n      values: [[cat, [/etc]]]\n",
    "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n- rule: r\n  condition: and proc.pname = x\n  override:\n    condition: append\n- rule: r\n  enabled: false\n",
    "- required_engine_version: 0.50.0\n- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n",
];

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut b: Vec<u8> = src.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(5) {
            0 => {
                let tok = DICT[rng.below(DICT.len())].as_bytes();
                b.splice(at..at, tok.iter().copied());
            }
            1 if !b.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                b.drain(at.min(end)..end);
            }
            2 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] = rng.next() as u8;
            }
            3 if !b.is_empty() => {
                let end = (at + rng.below(64)).min(b.len());
                let chunk: Vec<u8> = b[at.min(end)..end].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, chunk);
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn check(text: &str) {
    if let Err(d) = load_str("fuzz.yaml", text, &LoadOptions::default()) {
        let e = d.errors().next().expect("Err carries an error");
        assert!(
            e.pos.is_some(),
            "error without position: {e}\n--- input:\n{text}"
        );
        let _ = d.render(false);
    }
}

#[test]
fn mutated_rules_files_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for i in 0..3000 {
        let seed = SEEDS[i % SEEDS.len()];
        let mut text = mutate(&mut rng, seed);
        if i % 7 == 0 {
            text = mutate(&mut rng, &text);
        }
        check(&text);
    }
}

#[test]
fn deep_yaml_is_refused_not_overflowed() {
    let block_seq = "- ".repeat(100_000) + "x";
    let block_map: String = (0..20_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    for text in [
        "[".repeat(300_000),
        "{a: ".repeat(100_000),
        block_seq,
        block_map,
    ] {
        check(&text);
    }
}

#[test]
fn mutated_upstream_never_panics() {
    let path = common::upstream(&[common::STABLE]).remove(0);
    let Ok(stable) = std::fs::read_to_string(&path) else {
        panic!("{} not found: set SAKER_FALCO_UPSTREAM", path.display());
    };
    let mut rng = Rng(0x5eed_0000_0000_0002);
    for _ in 0..150 {
        check(&mutate(&mut rng, &stable));
    }
}

#[test]
fn mutated_conditions_never_panic() {
    let mut rng = Rng(0x5eed_0000_0000_0003);
    let base = "evt.type in (open, openat) and (proc.name = \"a b\" or not fd.name pmatch (/etc)) and tolower(proc.aname[2]) startswith anyof (x, y) and proc.name = val(proc.pname)";
    for _ in 0..3000 {
        let c = mutate(&mut rng, base);
        if let Ok(e) = saker_filter::parser::parse(&c) {
            let _ = saker_filter::compile(&e, &saker_filter::Env::new());
        }
    }
    // Depth: deep nesting is refused, not a stack overflow.
    for deep in [
        "(".repeat(100_000),
        "not ".repeat(100_000),
        "a and ".repeat(50_000) + "a",
    ] {
        let _ = saker_filter::parser::parse(&deep);
        check(&format!(
            "- rule: r\n  desc: d\n  condition: {deep}\n  output: o\n  priority: INFO\n"
        ));
    }
}
