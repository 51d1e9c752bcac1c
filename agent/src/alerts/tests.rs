use super::*;
use saker_filter::SyntheticEvent;

const RULES: &str = r#"
- rule: Shadow read
  desc: test
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "Sensitive file opened (file=%fd.name pid=%proc.pid user=%user.name cid=%container.id)"
  priority: WARNING
  tags: [mitre_credential_access, filesystem, T1555]
"#;

fn loaded() -> saker_rules::Loaded {
    let loaded =
        saker_rules::load_str("test.yaml", RULES, &Default::default()).expect("rules load");
    assert_eq!(loaded.engine.rules().len(), 1);
    loaded
}

fn event() -> SyntheticEvent {
    SyntheticEvent::new("openat")
        .with("fd.name", "/etc/shadow")
        .with("proc.pid", "4242")
        .with("user.name", "root")
        .with("container.id", "host")
}

fn formatter() -> Formatter {
    Formatter::new(FormatOptions {
        hostname: "node-1".into(),
        ..FormatOptions::default()
    })
}

#[test]
fn json_has_falco_keys_in_order_and_typed_fields() {
    let f = formatter();
    let l = loaded();
    let rule = &l.engine.rules()[0];
    let prepared = f.prepare(rule).unwrap();
    let t = 1_700_000_000_123_456_789;
    let a = f.render(&prepared, rule, &event(), t);
    let v: serde_json::Value = serde_json::from_str(&a.json).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "hostname",
            "output",
            "output_fields",
            "priority",
            "rule",
            "source",
            "tags",
            "time"
        ]
    );
    // Key order in the text itself, not just in serde's map.
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| a.json.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", a.json);
    assert_eq!(v["hostname"], "node-1");
    assert_eq!(v["priority"], "Warning");
    assert_eq!(v["rule"], "Shadow read");
    assert_eq!(v["source"], "syscall");
    assert_eq!(v["time"], "2023-11-14T22:13:20.123456789Z");
    assert_eq!(
        v["tags"],
        serde_json::json!(["T1555", "filesystem", "mitre_credential_access"])
    );
    let of = &v["output_fields"];
    assert_eq!(of["fd.name"], "/etc/shadow");
    assert_eq!(of["proc.pid"], 4242, "numeric fields are numbers");
    assert_eq!(of["container.id"], "host");
    assert_eq!(
        of["evt.time"], 1_700_000_000_123_456_789i64,
        "evt.time always, as int ns"
    );
    // Order in the text (serde_json's map would sort on its own).
    let order: Vec<usize> = [
        "container.id",
        "evt.time",
        "fd.name",
        "k8s.ns.name",
        "proc.pid",
        "user.name",
    ]
    .iter()
    .map(|k| a.json.find(&format!("\"{k}\":")).unwrap())
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "output_fields keys sorted as Falco's map: {}",
        a.json
    );
    // suggested fields appended, missing ones are null
    assert!(of["k8s.ns.name"].is_null() && of.get("k8s.ns.name").is_some());
    assert!(of.get("container.image.repository").is_some());
    assert_eq!(
        a.text,
        "22:13:20.123456789: Warning Sensitive file opened (file=/etc/shadow pid=4242 user=root cid=host) container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>"
    );
    assert_eq!(v["output"], a.text);
}

#[test]
fn suggested_fields_are_not_repeated_and_flags_are_honoured() {
    let mut f = formatter();
    let l = loaded();
    let rule = &l.engine.rules()[0];
    let prepared = f.prepare(rule).unwrap();
    let n = prepared
        .format
        .fields()
        .iter()
        .filter(|x| x.name == "container.id")
        .count();
    assert_eq!(n, 1, "container.id was in the output already");

    f.opts.include_output = false;
    f.opts.include_tags = false;
    f.opts.include_output_fields = false;
    let a = f.render(&prepared, rule, &event(), 0);
    let v: serde_json::Value = serde_json::from_str(&a.json).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["hostname", "priority", "rule", "source", "time"]);
    assert_eq!(v["time"], "1970-01-01T00:00:00.000000000Z");
}

#[test]
fn invalid_utf8_becomes_replacement_character() {
    let f = formatter();
    let l = loaded();
    let rule = &l.engine.rules()[0];
    let prepared = f.prepare(rule).unwrap();
    let mut e = event();
    e.set_values(
        "fd.name",
        vec![saker_filter::fields::OwnedValue::Bytes(
            b"/tmp/\xff\xfe".to_vec(),
        )],
    );
    let a = f.render(&prepared, rule, &e, 0);
    let v: serde_json::Value = serde_json::from_str(&a.json).expect("valid JSON");
    assert_eq!(v["output_fields"]["fd.name"], "/tmp/\u{fffd}\u{fffd}");
}

#[test]
fn json_strings_are_escaped_exactly_as_serde_json_does() {
    let mut all_ascii = String::new();
    for b in 0u8..=0x7f {
        all_ascii.push(b as char);
    }
    for s in [
        all_ascii.as_str(),
        "",
        "plain",
        "quote \" backslash \\ slash / tab\t nl\n",
        "é ü \u{2028} \u{fffd} 日本 🦀",
        "\u{0}\u{1f}\u{7f}",
    ] {
        let mut got = String::from("prefix:");
        super::json_str(&mut got, s);
        assert_eq!(
            got,
            format!("prefix:{}", serde_json::to_string(s).unwrap()),
            "{s:?}"
        );
    }
}
