use super::*;
use crate::fields::{OwnedValue, SyntheticEvent};

fn ev() -> SyntheticEvent {
    SyntheticEvent::new("openat")
        .with("proc.name", "Cat")
        .with("user.name", "root")
        .with("evt.arg.flags", "O_RDONLY")
        .with("proc.pid", "42")
        .with("evt.time", "1700000000123456789")
        .ancestors(&["bash", "sshd"])
}

fn text(fmt: &str, e: &SyntheticEvent) -> String {
    let f = compile_format(fmt).unwrap_or_else(|e| panic!("{fmt}: {e}"));
    let mut s = String::new();
    f.render_text(e, &mut s);
    s
}

#[test]
fn renders_fields_and_missing_values() {
    let e = ev();
    assert_eq!(
        text(
            "File opened by user=%user.name command=%proc.name flags=%evt.arg.flags",
            &e
        ),
        "File opened by user=root command=Cat flags=O_RDONLY"
    );
    assert_eq!(text("tty=%proc.tty pid=%proc.pid", &e), "tty=<NA> pid=42");
    assert_eq!(text("%proc.aname[2] %proc.aname", &e), "sshd bash,sshd");
    assert_eq!(text("100%% sure %proc.name", &e), "100% sure Cat");
    assert_eq!(text("no fields", &e), "no fields");
    assert_eq!(text("", &e), "");
}

#[test]
fn time_renders_as_clock() {
    assert_eq!(text("%evt.time", &ev()), "22:13:20.123456789");
}

#[test]
fn widths_transformers_and_delimited_fields() {
    let e = ev();
    assert_eq!(text("[%6proc.name]", &e), "[Cat   ]");
    assert_eq!(text("[%2proc.name]", &e), "[Ca]");
    assert_eq!(text("[%5proc.tty]", &e), "[<NA> ]");
    assert_eq!(text("*%proc.name", &e), "Cat");
    assert_eq!(text("%tolower(proc.name)!", &e), "cat!");
    assert_eq!(text("%(proc.name)x", &e), "Catx");
}

#[test]
fn fields_are_listed_once_in_order() {
    let f =
        compile_format("%proc.name %user.name %proc.name %proc.aname[2] %evt.arg.flags").unwrap();
    let names: Vec<&str> = f.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["proc.name", "user.name", "proc.aname[2]", "evt.arg.flags"]
    );
}

#[test]
fn render_fields_gives_typed_values_or_none() {
    let f = compile_format("%proc.pid %proc.tty %proc.name %evt.time").unwrap();
    let mut seen = Vec::new();
    f.render_fields(&ev(), |field, vals| {
        let v = vals.and_then(|v| v.first()).map(|v| match v {
            Value::U64(n) => OwnedValue::U64(*n),
            Value::Str(s) => OwnedValue::Str(s.to_string()),
            other => panic!("{other:?}"),
        });
        seen.push((field.name.clone(), field.ty, v));
    });
    assert_eq!(
        seen,
        vec![
            ("proc.pid".into(), FieldType::U64, Some(OwnedValue::U64(42))),
            ("proc.tty".into(), FieldType::U64, None),
            (
                "proc.name".into(),
                FieldType::Str,
                Some(OwnedValue::Str("Cat".into()))
            ),
            (
                "evt.time".into(),
                FieldType::AbsTime,
                Some(OwnedValue::U64(1_700_000_000_123_456_789))
            ),
        ]
    );
}

#[test]
fn keys_are_the_spelling_in_the_format() {
    let f = compile_format("%evt.arg[0] %(proc.name) %tolower( proc.name )").unwrap();
    let names: Vec<&str> = f.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["evt.arg[0]", "proc.name", "tolower( proc.name )"]);
}

#[test]
fn append_adds_text_and_fields() {
    let mut f = compile_format("cmd=%proc.name").unwrap();
    f.append(" container_id=%container.id k8s_ns=%k8s.ns.name")
        .unwrap();
    let mut s = String::new();
    f.render_text(&ev().with("container.id", "host"), &mut s);
    assert_eq!(s, "cmd=Cat container_id=host k8s_ns=<NA>");
    assert_eq!(f.fields().len(), 3);
}

#[test]
fn errors() {
    assert!(matches!(
        compile_format("x %"),
        Err(OutputError::Syntax { offset: 2, .. })
    ));
    assert!(matches!(
        compile_format("%12"),
        Err(OutputError::Syntax { .. })
    ));
    assert!(matches!(
        compile_format("%(proc.name"),
        Err(OutputError::Syntax { .. })
    ));
    let e = compile_format("a %proc.nope b").unwrap_err();
    assert!(e.to_string().contains("proc.nope"), "{e}");
}
