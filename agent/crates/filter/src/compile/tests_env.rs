//! Macro and list expansion, and compile errors.

use super::*;
use crate::fields::SyntheticEvent;
use crate::parse;

fn env() -> Env {
    Env::new()
        .with_macro("spawned_process", parse("evt.type = execve").unwrap())
        .with_macro("shell", parse("proc.name in (shell_binaries)").unwrap())
        .with_macro("shell_spawn", parse("spawned_process and shell").unwrap())
        .with_list("shell_binaries", &["bash", "sh", "more_shells"])
        .with_list("more_shells", &["zsh", "\"fish shell\""])
}

fn compile_str(cond: &str, env: &Env) -> Result<Filter, CompileError> {
    compile(&parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}")), env)
}

fn err(cond: &str, env: &Env) -> CompileError {
    match compile_str(cond, env) {
        Ok(_) => panic!("{cond} compiled"),
        Err(e) => e,
    }
}

#[test]
fn macros_expand_recursively() {
    let f = compile_str("shell_spawn and not proc.pname = cron", &env()).unwrap();
    let e = SyntheticEvent::new("execve").with("proc.name", "zsh");
    assert!(f.matches(&e));
    assert!(!f.matches(&e.clone().with("proc.pname", "cron")));
    assert!(!f.matches(&SyntheticEvent::new("open").with("proc.name", "zsh")));
    assert!(!f.matches(&SyntheticEvent::new("execve").with("proc.name", "ls")));
    assert_eq!(
        f.evt_types(),
        &EvtTypes::Only(["execve".to_string()].into())
    );
}

#[test]
fn lists_expand_nested_and_unquote_items() {
    let f = compile_str("proc.name in (shell_binaries, ksh)", &env()).unwrap();
    for name in ["bash", "sh", "zsh", "fish shell", "ksh"] {
        let e = SyntheticEvent::new("execve").with("proc.name", name);
        assert!(f.matches(&e), "{name}");
    }
    let e = SyntheticEvent::new("execve").with("proc.name", "more_shells");
    assert!(!f.matches(&e));
    // A quoted item is a literal even when it names a list.
    let f = compile_str("proc.name in (\"shell_binaries\")", &env()).unwrap();
    assert!(f.matches(&SyntheticEvent::new("x").with("proc.name", "shell_binaries")));
    // A list name right after the operator.
    let f = compile_str("proc.name in shell_binaries", &env()).unwrap();
    assert!(f.matches(&SyntheticEvent::new("x").with("proc.name", "zsh")));
    let f = compile_str("fd.name pmatch (shell_binaries)", &env()).unwrap();
    assert!(f.matches(&SyntheticEvent::new("x").with("fd.name", "sh/x")));
}

#[test]
fn list_cycles_are_bounded() {
    let env = Env::new()
        .with_list("a", &["b", "x"])
        .with_list("b", &["a"]);
    assert_eq!(
        err("proc.name in (a)", &env).kind,
        CompileErrorKind::TooDeep
    );
    let env = Env::new().with_list("a", &["a", "x"]);
    let f = compile_str("proc.name in (a)", &env).unwrap();
    assert!(f.matches(&SyntheticEvent::new("x").with("proc.name", "x")));
}

#[test]
fn undefined_macro_and_list() {
    let e = err("evt.type = open and nope", &env());
    assert_eq!(e.kind, CompileErrorKind::UndefinedMacro("nope".into()));
    assert_eq!((e.offset, e.origin_offset, e.in_macro), (20, 20, None));
    let e = err("proc.name in nolist", &env());
    assert_eq!(e.kind, CompileErrorKind::UndefinedList("nolist".into()));
    assert_eq!(e.offset, 13);
}

#[test]
fn macro_cycles_are_errors() {
    let env = Env::new()
        .with_macro("a", parse("proc.name = x or b").unwrap())
        .with_macro("b", parse("a").unwrap());
    let e = err("a", &env);
    assert_eq!(e.kind, CompileErrorKind::MacroCycle("a".into()));
    assert_eq!(e.in_macro.as_deref(), Some("b"));
}

#[test]
fn deep_macro_chains_stop_at_the_limit() {
    let mut env = Env::new().with_macro("m0", parse("proc.name = x").unwrap());
    for i in 1..=MAX_COMPILE_DEPTH + 10 {
        env = env.with_macro(&format!("m{i}"), parse(&format!("(m{})", i - 1)).unwrap());
    }
    // Within a 2 MiB stack (Rust's default for spawned threads), even in
    // debug builds.
    let t = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let e = err(&format!("m{}", MAX_COMPILE_DEPTH + 10), &env);
            assert_eq!(e.kind, CompileErrorKind::TooDeep);
            compile_str(&format!("m{}", MAX_COMPILE_DEPTH - 2), &env).unwrap();
        })
        .unwrap();
    t.join().unwrap();
}

/// The deepest tree the limit allows compiles, evaluates and drops within a
/// 1 MiB stack even in debug builds.
#[test]
fn deepest_allowed_tree_fits_the_stack() {
    let t = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let mut env = Env::new().with_macro("m0", parse("proc.name = x").unwrap());
            // Each level is a macro reference, a `not` and an `and`.
            let n = MAX_COMPILE_DEPTH / 3 - 1;
            for i in 1..=n {
                let body = format!("not (m{} and proc.pid = {i})", i - 1);
                env = env.with_macro(&format!("m{i}"), parse(&body).unwrap());
            }
            let f = compile_str(&format!("m{n}"), &env).unwrap();
            let e = SyntheticEvent::new("x")
                .with("proc.name", "x")
                .with("proc.pid", "1");
            let _ = f.matches(&e);
            assert!(f.evt_types().is_unbounded());
        })
        .unwrap();
    t.join().unwrap();
}

#[test]
fn exponential_macro_expansion_is_cut_off() {
    let mut env = Env::new().with_macro("m0", parse("proc.name = x").unwrap());
    for i in 1..=40 {
        let body = format!("m{p} or m{p}", p = i - 1);
        env = env.with_macro(&format!("m{i}"), parse(&body).unwrap());
    }
    assert_eq!(err("m40", &env).kind, CompileErrorKind::TooLarge);
    compile_str("m10", &env).unwrap();
}

#[test]
fn unknown_field_names_the_field_and_the_place() {
    let e = err("evt.type = open and proc.nope = 1", &env());
    assert_eq!(e.unknown_field(), Some("proc.nope"));
    assert_eq!(e.offset, 20);
    assert!(e.message.contains("proc.nope"));
    // Inside a macro: offset in the macro body, origin in the condition.
    let env = env().with_macro("bad", parse("proc.name = a and foo.bar exists").unwrap());
    let e = err("evt.type = open and bad", &env);
    assert_eq!(e.unknown_field(), Some("foo.bar"));
    assert_eq!((e.offset, e.origin_offset), (18, 20));
    assert_eq!(e.in_macro.as_deref(), Some("bad"));
}

#[test]
fn bad_field_arguments() {
    let e = err("proc.aname[x] = a", &env());
    assert_eq!(e.kind, CompileErrorKind::BadFieldArg);
    assert_eq!(
        err("proc.name[1] = a", &env()).kind,
        CompileErrorKind::BadFieldArg
    );
    assert_eq!(
        err("k8s.pod.label = a", &env()).kind,
        CompileErrorKind::BadFieldArg
    );
}

#[test]
fn bad_values_point_at_the_token() {
    let e = err("proc.name = a and proc.pid = abc", &env());
    assert_eq!((e.kind.clone(), e.offset), (CompileErrorKind::BadValue, 29));
    let e = err("proc.pid in (1, two)", &env());
    assert_eq!(e.offset, 16);
    let e = err("fd.sip = 10.0.0", &env());
    assert_eq!(e.kind, CompileErrorKind::BadValue);
    let e = err("container.privileged = maybe", &env());
    assert_eq!(e.kind, CompileErrorKind::BadValue);
    let e = err("proc.name regex 'a(b'", &env());
    assert_eq!((e.kind.clone(), e.offset), (CompileErrorKind::BadValue, 16));
    assert!(e.message.contains("regex"));
    let e = err("evt.buffer bcontains xyz", &env());
    assert_eq!(e.kind, CompileErrorKind::BadValue);
}

#[test]
fn operators_must_suit_the_type() {
    let e = err("proc.pid contains 1", &env());
    assert_eq!(
        (e.kind.clone(), e.offset),
        (CompileErrorKind::BadOperator, 9)
    );
    assert_eq!(
        err("fd.sip glob 1*", &env()).kind,
        CompileErrorKind::BadOperator
    );
    assert_eq!(
        err("container.privileged > true", &env()).kind,
        CompileErrorKind::BadOperator
    );
    assert_eq!(
        err("proc.name glob val(proc.pname)", &env()).kind,
        CompileErrorKind::BadOperator
    );
    assert_eq!(
        err("proc.pid pmatch (/a)", &env()).kind,
        CompileErrorKind::BadOperator
    );
    // len() is numeric: string operators do not apply, numbers do.
    assert_eq!(
        err("len(proc.name) contains 1", &env()).kind,
        CompileErrorKind::BadOperator
    );
    compile_str("len(proc.name) > 1", &env()).unwrap();
    assert_eq!(
        err("len(proc.name) > x", &env()).kind,
        CompileErrorKind::BadValue
    );
}
