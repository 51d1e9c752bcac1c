//! Hostile input: every case returns (an error or a config) quickly, never
//! panics, hangs or exhausts memory.

use std::time::{Duration, Instant};

use saker_config::{Config, ConfigError, Loaded};

fn load(text: &str, o: &[String]) -> Result<Loaded, ConfigError> {
    let t = Instant::now();
    let r = Config::from_str_with("evil.yaml", text, o);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    r
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let e = load(&text, &[]).unwrap_err().to_string();
    assert!(e.contains("alias"), "{e}");
    // Modest alias use is fine.
    let l = load("x: &p /a.yaml\nrules_files: [*p, *p]\n", &[]).unwrap();
    assert_eq!(l.config.rules_files.len(), 2);
}

#[test]
fn deep_nesting_is_refused() {
    for text in ["[".repeat(200_000), "{a: ".repeat(100_000), {
        let mut s = String::new();
        for i in 0..5000 {
            s.push_str(&" ".repeat(i));
            s.push_str("a:\n");
        }
        s
    }] {
        let e = load(&text, &[]).unwrap_err().to_string();
        assert!(e.contains("evil.yaml"), "{e}");
    }
    let deep_key = format!("{}=1", vec!["a"; 100_000].join("."));
    assert!(matches!(
        load("", &[deep_key]),
        Err(ConfigError::Override { .. })
    ));
    let deep_value = format!("webserver={}1{}", "{a: ".repeat(10_000), "}".repeat(10_000));
    assert!(matches!(
        load("", &[deep_value]),
        Err(ConfigError::Override { .. })
    ));
}

#[test]
fn huge_and_odd_numbers_are_type_errors() {
    for text in [
        "webserver: {listen_port: 99999999999999999999999999999999999999999999}\n",
        "webserver: {listen_port: -1}\n",
        "webserver: {listen_port: 1.5}\n",
        "output_timeout: 1e400\n",
        "outputs_queue: {capacity: 0x1ffffffffffffffffffffffffffffffff}\n",
        "capture: {ring_bytes: 99999999999999999999999999GiB}\n",
        "capture: {ring_bytes: 17179869184TiB}\n",
        "metrics: {interval: 999999999999999999999999y}\n",
        "syscall_event_drops: {threshold: 1e400}\n",
        "syscall_event_drops: {threshold: .nan}\n",
        "syscall_event_drops: {rate: -.inf}\n",
        "syscall_event_drops: {max_burst: -0x8000000000000000000}\n",
    ] {
        let e = load(text, &[]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{text}: {e:?}");
    }
    // Large but valid values load.
    let l = load(
        "metrics: {interval: 100y}\noutputs_queue: {capacity: 0xff}\n",
        &[],
    )
    .unwrap();
    assert_eq!(l.config.outputs_queue.capacity, 255);
}

#[test]
fn odd_documents() {
    // Empty, comments only, a scalar root, several documents, tags, merge keys.
    assert!(load("", &[]).unwrap().warnings.is_empty());
    assert!(load("# nothing\n", &[]).is_ok());
    assert!(load("just a string\n", &[]).is_err());
    // Falco reads the first document only; what follows it is not parsed.
    let l = load("json_output: true\n---\njson_output: [\n", &[]).unwrap();
    assert!(l.config.json_output);
    let l = load("json_output: !!str true\n", &[]).unwrap();
    assert!(l.config.json_output);
    let l = load("base: &b {listen_port: 1}\nwebserver:\n  <<: *b\n", &[]).unwrap();
    assert_eq!(l.warnings.len(), 2);
    // Binary junk and odd keys.
    let junk: String = (0u8..=255).map(|b| b as char).collect();
    let _ = load(&junk, &[]);
    let _ = load("\u{feff}json_output: true\n", &[]);
    let _ = load("? |\n  multi\n  line\n: 1\n", &[]);
    let _ = load(&format!("{}: 1\n", "k".repeat(1 << 20)), &[]);
    let _ = load("\t json_output: true\n", &[]);
    let _ = load("a: \"\\uD800\"\n", &[]);
    let _ = load(&"- ".repeat(100_000), &[]);
}

#[test]
fn many_keys_are_bounded() {
    let mut text = String::new();
    for i in 0..150_000 {
        text.push_str(&format!("k{i}: {i}\n"));
    }
    let e = load(&text, &[]).unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("json_output: {}\n", i % 2 == 0));
    }
    let l = load(&text, &[]).unwrap();
    assert_eq!(l.warnings.len(), 19_999);
}
