//! Several files in order, and directories (their files sorted by name).

use std::path::PathBuf;

use saker_rules::{load, validate, LoadOptions};

const DEFINE: &str =
    "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n";
const APPEND: &str =
    "- rule: r\n  condition: and proc.name = bash\n  override:\n    condition: append\n";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("saker-rules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn files_load_in_the_order_given() {
    let d = temp_dir("order");
    std::fs::write(d.join("define.yaml"), DEFINE).unwrap();
    std::fs::write(d.join("append.yaml"), APPEND).unwrap();
    let ok = load(
        &[d.join("define.yaml"), d.join("append.yaml")],
        &LoadOptions::default(),
    );
    assert!(ok.is_ok());
    let err = load(
        &[d.join("append.yaml"), d.join("define.yaml")],
        &LoadOptions::default(),
    )
    .unwrap_err();
    let e = err.errors().next().unwrap();
    assert!(e.pos.as_ref().unwrap().file.ends_with("append.yaml"), "{e}");
}

#[test]
fn directory_files_are_sorted() {
    let d = temp_dir("dir");
    std::fs::write(d.join("10-define.yaml"), DEFINE).unwrap();
    std::fs::write(d.join("20-append.yaml"), APPEND).unwrap();
    let l = load(std::slice::from_ref(&d), &LoadOptions::default())
        .expect("sorted: define then append");
    assert_eq!(l.counts.rules, 1);
    std::fs::rename(d.join("10-define.yaml"), d.join("30-define.yaml")).unwrap();
    assert!(!validate(std::slice::from_ref(&d)).ok());
}

#[test]
fn missing_file_is_an_error_with_its_path() {
    let r = validate(&[PathBuf::from("/nonexistent/rules.yaml")]);
    assert!(!r.ok());
    assert!(r.render(false).contains("/nonexistent/rules.yaml"));
}
