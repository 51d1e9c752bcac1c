use super::*;

fn p(s: &str) -> Expr {
    parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn perr(s: &str) -> ParseError {
    match parse(s) {
        Ok(e) => panic!("{s:?} parsed: {e:?}"),
        Err(e) => e,
    }
}

fn check(e: &Expr) -> &Check {
    match e {
        Expr::Check(c) => c,
        other => panic!("not a check: {other:?}"),
    }
}

fn field(c: &Check) -> &Field {
    match &c.lhs {
        Operand::Field(f) => f,
        other => panic!("not a field: {other:?}"),
    }
}

fn value(c: &Check) -> &str {
    match &c.rhs {
        Rhs::Value { text, .. } => text,
        other => panic!("not a value: {other:?}"),
    }
}

fn list(c: &Check) -> Vec<(&str, bool)> {
    match &c.rhs {
        Rhs::List(items, _) => items.iter().map(|i| (i.value.as_str(), i.bare)).collect(),
        other => panic!("not a list: {other:?}"),
    }
}

#[test]
fn precedence_not_over_and_over_or() {
    let e = p("a.b = 1 or c.d = 2 and not e.f = 3");
    let Expr::Or(children, _) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(children.len(), 2);
    assert_eq!(field(check(&children[0])).name, "a.b");
    let Expr::And(and, _) = &children[1] else {
        panic!("{e:?}")
    };
    assert_eq!(field(check(&and[0])).name, "c.d");
    let Expr::Not(inner, _) = &and[1] else {
        panic!("{e:?}")
    };
    assert_eq!(field(check(inner)).name, "e.f");
}

#[test]
fn parentheses_override_precedence() {
    let e = p("(a.b = 1 or c.d = 2) and e.f = 3");
    let Expr::And(children, _) = &e else {
        panic!("{e:?}")
    };
    assert!(matches!(children[0], Expr::Or(..)));
}

#[test]
fn chains_flatten_and_not_toggles() {
    let Expr::And(c, _) = p("a.b=1 and c.d=2 and e.f=3") else {
        panic!()
    };
    assert_eq!(c.len(), 3);
    assert!(matches!(p("not not a.b = 1"), Expr::Check(_)));
    assert!(matches!(p("not not not a.b = 1"), Expr::Not(..)));
    assert!(matches!(p("not(a.b = 1)"), Expr::Not(..)));
    assert!(matches!(p("a.b=1 and(c.d=2 or e.f=3)"), Expr::And(..)));
    assert!(matches!(p("a.b=1 or(c.d=2)"), Expr::Or(..)));
}

#[test]
fn macros_are_identifiers_and_keywords_need_word_boundaries() {
    assert_eq!(
        p("spawned_process"),
        Expr::Macro("spawned_process".into(), Span::new(0, 15))
    );
    let Expr::And(c, _) = p("not_a_macro and or_macro") else {
        panic!()
    };
    assert_eq!(c[0], Expr::Macro("not_a_macro".into(), Span::new(0, 11)));
    assert_eq!(c[1], Expr::Macro("or_macro".into(), Span::new(16, 24)));
    let Expr::Not(inner, _) = p("not andx") else {
        panic!()
    };
    assert!(matches!(*inner, Expr::Macro(ref n, _) if n == "andx"));
}

#[test]
fn every_operator_parses() {
    for (text, op) in [
        ("=", Op::Eq),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        ("<=", Op::Le),
        (">", Op::Gt),
        (">=", Op::Ge),
        ("contains", Op::Contains),
        ("icontains", Op::IContains),
        ("bcontains", Op::BContains),
        ("startswith", Op::StartsWith),
        ("bstartswith", Op::BStartsWith),
        ("endswith", Op::EndsWith),
        ("glob", Op::Glob),
        ("iglob", Op::IGlob),
        ("regex", Op::Regex),
    ] {
        let c = p(&format!("proc.name {text} x"));
        assert_eq!(check(&c).op, op, "{text}");
        assert_eq!(value(check(&c)), "x");
    }
    for (text, op) in [
        ("in", Op::In),
        ("intersects", Op::Intersects),
        ("pmatch", Op::Pmatch),
    ] {
        let e = p(&format!("fd.name {text} (a, b)"));
        assert_eq!(check(&e).op, op);
        assert_eq!(list(check(&e)), vec![("a", true), ("b", true)]);
    }
    let e = p("proc.name exists");
    assert_eq!(check(&e).op, Op::Exists);
    assert_eq!(check(&e).rhs, Rhs::None);
}

#[test]
fn operators_without_blanks() {
    let e = p("evt.type=open");
    assert_eq!(value(check(&e)), "open");
    let e = p("evt.type in(open,openat)");
    assert_eq!(list(check(&e)), vec![("open", true), ("openat", true)]);
    let e = p("fd.num>=0");
    assert_eq!(check(&e).op, Op::Ge);
    assert_eq!(value(check(&e)), "0");
}

#[test]
fn quoted_strings_and_escapes() {
    assert_eq!(value(check(&p(r#"proc.name = "a b""#))), "a b");
    assert_eq!(value(check(&p(r#"proc.name = 'a b'"#))), "a b");
    assert_eq!(value(check(&p(r#"proc.name = "a\"b""#))), "a\"b");
    assert_eq!(value(check(&p(r"proc.name = 'it\'s'"))), "it's");
    assert_eq!(value(check(&p(r#"proc.name = "a\\b""#))), "a\\b");
    assert_eq!(value(check(&p(r#"proc.name = "tab\there""#))), "tab\there");
    // Unknown escapes stay, so regexes keep their backslashes.
    assert_eq!(value(check(&p(r#"proc.name regex "a\.b""#))), "a\\.b");
    assert_eq!(value(check(&p(r#"proc.name = "it's""#))), "it's");
    assert_eq!(value(check(&p("proc.name = 'ünï'"))), "ünï");
    let c = p(r#"proc.name = "x""#);
    assert!(matches!(check(&c).rhs, Rhs::Value { quoted: true, .. }));
}

#[test]
fn bare_strings_stop_at_delimiters() {
    assert_eq!(value(check(&p("fd.name = /etc/passwd"))), "/etc/passwd");
    let Expr::And(c, _) = p("(fd.name = /etc/x) and proc.name=ls") else {
        panic!()
    };
    assert_eq!(value(check(&c[0])), "/etc/x");
    assert_eq!(value(check(&p("proc.cmdline contains -c"))), "-c");
    assert_eq!(value(check(&p("fd.sport = 0x1F"))), "0x1F");
}

#[test]
fn lists_with_quotes_and_empty() {
    let e = p(r#"proc.name in (bash, "a b", 'c,d', sh)"#);
    assert_eq!(
        list(check(&e)),
        vec![("bash", true), ("a b", false), ("c,d", false), ("sh", true)]
    );
    assert_eq!(list(check(&p("proc.name in ()"))), vec![]);
    assert_eq!(list(check(&p("proc.name in ( a )"))), vec![("a", true)]);
    let e = p("proc.name in shell_binaries");
    assert!(matches!(&check(&e).rhs, Rhs::ListRef(n, _) if n == "shell_binaries"));
}

#[test]
fn field_arguments() {
    for (text, name, arg) in [
        ("proc.aname[2] = x", "proc.aname", Some("2")),
        ("proc.env[HOME] = x", "proc.env", Some("HOME")),
        ("evt.arg[0] = x", "evt.arg", Some("0")),
        ("evt.arg.flags contains O_TRUNC", "evt.arg.flags", None),
        (
            "container.mount.dest[/var/run/docker.sock] = x",
            "container.mount.dest",
            Some("/var/run/docker.sock"),
        ),
        (
            "container.mount.dest[/root*] = x",
            "container.mount.dest",
            Some("/root*"),
        ),
        ("k8s.pod.label[app] = x", "k8s.pod.label", Some("app")),
        (r#"proc.env["A B"] = x"#, "proc.env", Some("A B")),
    ] {
        let e = p(text);
        let f = field(check(&e));
        assert_eq!((f.name.as_str(), f.arg.as_deref()), (name, arg), "{text}");
    }
    let e = p("proc.aname[2] = x");
    assert_eq!(field(check(&e)).span, Span::new(0, 13));
}

#[test]
fn transformers_and_val() {
    let e = p("tolower(proc.name) = bash");
    let Operand::Transform { func, args, .. } = &check(&e).lhs else {
        panic!()
    };
    assert_eq!(*func, Transformer::ToLower);
    assert!(matches!(&args[0], Operand::Field(f) if f.name == "proc.name"));
    let e = p("toupper( tolower(proc.aname[1]) ) = BASH");
    let Operand::Transform { args, .. } = &check(&e).lhs else {
        panic!()
    };
    assert!(matches!(
        &args[0],
        Operand::Transform {
            func: Transformer::ToLower,
            ..
        }
    ));
    for t in ["b64", "basename", "len"] {
        p(&format!("{t}(proc.name) exists"));
    }
    let e = p(r#"concat(proc.name, "-", proc.pname) = "a-b""#);
    let Operand::Transform { args, .. } = &check(&e).lhs else {
        panic!()
    };
    assert_eq!(args.len(), 3);
    p(r#"join(",", proc.aname) = "a,b""#);
    p(r#"concat("a", 1, 0x1f) = x"#);
    let e = p(r#"getopt(("-n", proc.name, -3), "n:")[n] = x"#);
    let Operand::Transform { args, arg, .. } = &check(&e).lhs else {
        panic!()
    };
    assert_eq!(arg.as_deref(), Some("n"));
    assert!(matches!(&args[0], Operand::List(items, _) if items.len() == 3));
    p(r#"getopt((), "n") intersects (n)"#);
    // libsinsp's arguments are fields, transformers, quoted strings,
    // numbers and lists: no bare words.
    assert!(perr("getopt(proc.args, -c) = x").message.contains("getopt"));
    assert!(perr(r#"join(",", proc.aname)[x] = x"#)
        .message
        .contains("expected"));
    assert!(perr(r#"getopt(("-n"), "n")[nt] = x"#)
        .message
        .contains("single option"));
    let e = p("proc.name = val(proc.pname)");
    assert!(matches!(&check(&e).rhs, Rhs::Operand(Operand::Field(f)) if f.name == "proc.pname"));
    let e = p("proc.name in tolower(proc.pname)");
    assert!(matches!(
        &check(&e).rhs,
        Rhs::Operand(Operand::Transform { .. })
    ));
    // Without a parenthesis these are plain words.
    assert_eq!(value(check(&p("proc.name = tolower"))), "tolower");
}

#[test]
fn transformer_arity_errors() {
    assert!(perr("tolower(proc.name, proc.pname) = x")
        .message
        .contains("exactly one"));
    assert!(perr("join(proc.aname) = x").message.contains("join"));
    assert!(perr(r#"concat("a") = x"#).message.contains("concat"));
    assert!(perr(r#"concat(proc.name) = x"#).message.contains("concat"));
    assert!(perr(r#"getopt(("a")) = x"#).message.contains("getopt"));
    assert!(perr(r#"getopt(("a"), "n", "x") = x"#)
        .message
        .contains("getopt"));
    assert!(perr(r#"tolower("a") = x"#).message.contains("tolower"));
    assert_eq!(perr("tolower(\"x\") = x").offset, 8);
}

#[test]
fn modifiers() {
    let e = p("proc.name startswith anyof (ba, zs)");
    let c = check(&e);
    assert_eq!((c.op, c.modifier), (Op::StartsWith, Some(Modifier::AnyOf)));
    assert_eq!(list(c), vec![("ba", true), ("zs", true)]);
    assert_eq!(
        check(&p("proc.name = allof (a)")).modifier,
        Some(Modifier::AllOf)
    );
    assert_eq!(
        check(&p("proc.name contains oneof(a, b)")).modifier,
        Some(Modifier::OneOf)
    );
    // Not followed by a list: just a value.
    let e = p("proc.name = anyof and proc.pid = 1");
    let Expr::And(c, _) = &e else { panic!() };
    assert_eq!(value(check(&c[0])), "anyof");
}

#[test]
fn multiline_conditions() {
    let e = p("evt.type = execve\n  and proc.name in (a,\n b)\r\n  and not\tproc.pname = x");
    let Expr::And(c, _) = &e else { panic!() };
    assert_eq!(c.len(), 3);
}

#[test]
fn spans_point_at_source() {
    let text = "evt.type = open and proc.name = \"x y\"";
    let Expr::And(c, _) = p(text) else { panic!() };
    let second = check(&c[1]);
    assert_eq!(
        &text[second.span.start..second.span.end],
        "proc.name = \"x y\""
    );
    assert_eq!(&text[second.op_span.start..second.op_span.end], "=");
    let Rhs::Value { span, .. } = &second.rhs else {
        panic!()
    };
    assert_eq!(&text[span.start..span.end], "\"x y\"");
}

#[test]
fn errors_carry_offsets_and_expectations() {
    let e = perr("");
    assert_eq!(e.offset, 0);
    let e = perr("proc.name =");
    assert_eq!(e.offset, 11);
    assert!(e.message.contains("expected a value"), "{e}");
    let e = perr("proc.name \"x\"");
    assert_eq!(e.offset, 10);
    assert!(e.message.contains("expected an operator"), "{e}");
    let e = perr("proc.name = \"abc");
    assert_eq!(
        (e.offset, e.message.as_str()),
        (12, "unterminated quoted string")
    );
    let e = perr("(proc.name = a");
    assert_eq!(e.offset, 14);
    assert!(e.message.contains("')'"), "{e}");
    let e = perr("proc.name = a and");
    assert!(e.message.contains("after 'and'"), "{e}");
    let e = perr("proc.name = a b");
    assert_eq!(e.offset, 14);
    let e = perr("proc.name in (a b)");
    assert_eq!(e.offset, 16);
    let e = perr("proc.aname[2 = x");
    assert!(e.message.contains("']'"), "{e}");
    let e = perr("proc.name containsx");
    assert!(e.message.contains("operator"), "{e}");
    let e = perr("proc.name contains\"x\"");
    assert!(e.message.contains("blank"), "{e}");
    let e = perr("and");
    assert_eq!(e.offset, 0);
    let e = perr("foo(proc.name) = 1");
    assert_eq!(e.offset, 3);
    let e = perr("proc.name = val(x)");
    assert!(e.message.contains("val("), "{e}");
    assert!(perr(")").message.contains("expected"));
}

#[test]
fn depth_limit_is_an_error_not_a_crash() {
    let ok = format!(
        "{}proc.name = x{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    p(&ok);
    let deep = format!(
        "{}proc.name = x{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(perr(&deep).message.contains("depth"));
    let huge = "(".repeat(1_000_000);
    assert!(perr(&huge).message.contains("depth"));
    let nots = format!("{}proc.name = x", "not (".repeat(100_000));
    assert!(perr(&nots).message.contains("depth"));
    let tr = format!(
        "{}proc.name{} = x",
        "tolower(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(perr(&tr).message.contains("depth"));
    // Long flat chains are not nesting.
    let flat = vec!["proc.name = x"; 20_000].join(" or ");
    assert!(matches!(p(&flat), Expr::Or(c, _) if c.len() == 20_000));
    let many_nots = format!("{}proc.name = x", "not ".repeat(100_001));
    assert!(matches!(p(&many_nots), Expr::Not(..)));
}

/// Deterministic garbage: nothing may panic, and errors stay in bounds.
#[test]
fn garbage_never_panics() {
    let alphabet: Vec<&str> = vec![
        "(",
        ")",
        "[",
        "]",
        "\"",
        "'",
        "\\",
        ",",
        "=",
        "!",
        "<",
        ">",
        " ",
        "\n",
        "and",
        "or",
        "not",
        "in",
        "proc.name",
        "evt.arg.x",
        "x",
        "0x",
        "-1",
        "tolower(",
        "val(",
        "anyof",
        "exists",
        "contains",
        "é",
        "\u{0}",
        "glob",
        "pmatch",
        "concat(",
        "join(",
        ".",
        "a.",
        "%",
        "%5",
        "*",
        "regex",
        "'.*'",
        "getopt(",
        "b64(",
        "len(",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 12) as usize;
        let mut s = String::new();
        let mut x = seed;
        for _ in 0..len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push_str(alphabet[(x >> 33) as usize % alphabet.len()]);
        }
        if let Err(e) = parse(&s) {
            assert!(e.offset <= s.len(), "{s:?}: {e}");
        }
        let _ = parse_operand(&s);
        let _ = unquote(&s);
        if let Ok(f) = crate::output::compile_format(&s) {
            let mut out = String::new();
            f.render_text(&crate::fields::SyntheticEvent::new("x"), &mut out);
        }
        if let Ok(e) = parse(&s) {
            let env = crate::Env::new().with_list("x", &["a", "x"]);
            if let Ok(f) = crate::compile(&e, &env) {
                let ev = crate::fields::SyntheticEvent::new("x").with("proc.name", "x");
                let _ = f.matches(&ev);
            }
        }
    }
}
