//! kill -9 durability: a child process (this test binary, re-executed) writes
//! an alert storm and prints every acknowledged id range; the parent kills it
//! with SIGKILL mid-storm, reopens the store and finds every acknowledged alert.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{alert, cfg, T0};
use saker_store::{Dropped, Priority, Store};

const ENV: &str = "SAKER_STORM_DIR";

/// Runs only in the child.
#[test]
fn storm_child() {
    let Some(dir) = std::env::var_os(ENV) else {
        return;
    };
    let mut c = cfg(std::path::Path::new(&dir));
    c.queue_capacity = 4096;
    let store = Store::open(c).unwrap();
    store.set_commit_hook(|c| println!("ACK {} {}", c.first_id, c.last_id));
    println!("READY");
    let w = store.writer();
    for seq in 0u64.. {
        let ns = format!("ns-{}", seq % 50);
        let a = alert(
            seq,
            T0 + seq as i64,
            Some(&ns),
            Some("pod"),
            Priority::Warning,
        );
        // Retry instead of dropping, so id == seq + 1 and the parent can check content.
        while let Err(Dropped::QueueFull) = w.try_send(a.clone()) {
            std::thread::yield_now();
        }
    }
}

#[test]
fn acknowledged_alerts_survive_kill_9() {
    if std::env::var_os(ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["storm_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let mut it = line.split_whitespace();
                if it.next() == Some("ACK") {
                    let a: i64 = it.next().unwrap().parse().unwrap();
                    let b: i64 = it.next().unwrap().parse().unwrap();
                    let _ = tx.send((a, b));
                }
            }
        });
        // Wait for the storm to be acknowledging (a loaded machine may be
        // slow to start the child), let it run, then kill it mid-write.
        let start = Instant::now();
        let mut acks = vec![rx
            .recv_timeout(Duration::from_secs(120))
            .expect("child acknowledged nothing")];
        std::thread::sleep(Duration::from_millis(700 + 500 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acks.extend(rx.try_iter());
        assert!(acks.len() > 1, "one commit only in {:?}", start.elapsed());
        let acked: i64 = acks.iter().map(|(a, b)| b - a + 1).sum();

        let store = Store::open(cfg(dir.path())).expect("store reopens after kill -9");
        let max_acked = acks.iter().map(|&(_, b)| b).max().unwrap();
        assert!(store.acks().last_id() >= max_acked);
        // Every acknowledged id is present with the alert that was sent as it.
        for &(a, b) in &acks {
            for id in [a, (a + b) / 2, b] {
                let rec = store
                    .get(id)
                    .unwrap()
                    .unwrap_or_else(|| panic!("acked id {id} missing"));
                let seq = (rec.alert.time_ns - T0) as u64;
                assert!(rec.alert.json.contains(&format!("seq={seq})")));
            }
        }
        let ranges_present: i64 = acks
            .iter()
            .map(|&(a, b)| {
                let q = saker_store::Query {
                    since_ns: Some(T0 + a - 1),
                    until_ns: Some(T0 + b),
                    limit: 1000,
                    ..Default::default()
                };
                let mut n = 0;
                let mut q = q;
                loop {
                    let page = store.query(&q).unwrap();
                    n += page.alerts.len() as i64;
                    match page.next_cursor {
                        Some(c) => q.cursor = saker_store::Cursor::decode(&c),
                        None => break n,
                    }
                }
            })
            .sum();
        // Only round 0's ids map to times T0+seq (round 1 restarts seq at 0).
        if round == 0 {
            assert_eq!(
                ranges_present, acked,
                "every acknowledged alert is queryable"
            );
        }
        eprintln!(
            "round {round}: {acked} acknowledged alerts in {} commits, all present",
            acks.len()
        );
    }
}
