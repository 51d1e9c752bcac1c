//! Any input: parse must return (never panic, never overflow the stack);
//! whatever parses is compiled (with a small env) and evaluated, and the
//! input is also tried as an output format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saker_filter::{compile, compile_format, parse, Env, SyntheticEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = parse(text) {
        let env = Env::new()
            .with_macro("m", parse("proc.name = bash").expect("static"))
            .with_list("l", &["a", "\"b c\"", "l2"])
            .with_list("l2", &["d"]);
        if let Ok(filter) = compile(&expr, &env) {
            let ev = SyntheticEvent::new("execve")
                .with("proc.name", "bash")
                .with("proc.cmdline", "bash -c id")
                .with("proc.pid", "7")
                .with("fd.sip", "10.0.0.1")
                .ancestors(&["sshd", "init"]);
            let _ = filter.matches(&ev);
            let _ = filter.evt_types();
        }
    }
    if let Ok(fmt) = compile_format(text) {
        let mut s = String::new();
        fmt.render_text(&SyntheticEvent::new("open"), &mut s);
    }
});
