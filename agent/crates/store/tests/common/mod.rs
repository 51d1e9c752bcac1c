//! Synthetic Falco alerts for tests.
#![allow(dead_code)]

use saker_store::{timefmt, Priority, StoredAlert};
use std::time::Duration;

pub const T0: i64 = 1_790_000_000_000_000_000; // 2026-09-21, fixed for reproducible tests

pub fn alert(
    seq: u64,
    time_ns: i64,
    ns: Option<&str>,
    pod: Option<&str>,
    p: Priority,
) -> StoredAlert {
    let cid = format!("{:012x}", seq % 7 + 0xabc000);
    let rule = if seq.is_multiple_of(2) {
        "Read sensitive file untrusted"
    } else {
        "Terminal shell in container"
    };
    let fields = serde_json::json!({
        "container.id": cid,
        "container.name": pod.map(|p| format!("{p}-c")),
        "evt.time": time_ns,
        "fd.name": "/etc/shadow",
        "k8s.ns.name": ns,
        "k8s.pod.name": pod,
        "proc.cmdline": format!("cat /etc/shadow seq={seq}"),
        "user.name": "root",
    });
    let v = serde_json::json!({
        "hostname": "node-1",
        "output": format!("{} Sensitive file opened for reading (seq={seq})", timefmt::format_falco(time_ns)),
        "output_fields": fields,
        "priority": p.as_str(),
        "rule": rule,
        "source": "syscall",
        "tags": ["T1555", "container", "filesystem", "mitre_credential_access"],
        "time": timefmt::format_falco(time_ns),
    });
    StoredAlert {
        time_ns,
        rule: rule.into(),
        priority: p,
        source: "syscall".into(),
        hostname: "node-1".into(),
        namespace: ns.map(str::to_owned),
        pod: pod.map(str::to_owned),
        container_id: Some(cid),
        json: v.to_string(),
    }
}

pub fn cfg(dir: &std::path::Path) -> saker_store::StoreConfig {
    let mut c = saker_store::StoreConfig::new(dir);
    c.max_age = None;
    c.max_bytes = None;
    c.retention_interval = Duration::from_secs(3600);
    c
}

/// Sends and waits until committed; panics (test only) if dropped.
pub fn put_all(store: &saker_store::Store, alerts: impl IntoIterator<Item = StoredAlert>) {
    let w = store.writer();
    for a in alerts {
        loop {
            match w.try_send(a.clone()) {
                Ok(()) => break,
                Err(saker_store::Dropped::QueueFull) => store.flush().unwrap(),
                Err(e) => panic!("{e}"),
            }
        }
    }
    store.flush().unwrap();
}
