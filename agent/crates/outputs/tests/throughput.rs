//! Alerts per second the file sink sustains (issue 5's goal: 50k/s without loss).
//! `cargo test --release -p saker-outputs --test throughput -- --ignored --nocapture`

mod common;

use std::time::{Duration, Instant};

use common::{alert, quiet_config};
use saker_outputs::Outputs;

#[test]
#[ignore = "measurement; run in release"]
fn file_sink_alerts_per_second() {
    const N: u64 = 200_000;
    let alerts: Vec<_> = (0..N).map(|i| alert(i, 4)).collect();
    for (keep_alive, buffered) in [(false, false), (true, false), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = quiet_config();
        cfg.json_output = true;
        cfg.buffered_outputs = buffered;
        cfg.file_output.enabled = true;
        cfg.file_output.keep_alive = keep_alive;
        cfg.file_output.filename = dir.path().join("e.json").display().to_string();
        let out = Outputs::start(&cfg).unwrap();
        let t0 = Instant::now();
        for a in &alerts {
            out.send(a.clone());
        }
        let sent_in = t0.elapsed();
        let r = out.shutdown(Duration::from_secs(120));
        let took = t0.elapsed();
        assert_eq!((r.delivered, r.undelivered()), (N, 0));
        assert_eq!(out.stats()[0].dropped_queue_full, 0);
        println!(
            "file keep_alive={keep_alive} buffered={buffered}: {:.0} alerts/s delivered \
             (send loop {:.0} ns/alert)",
            N as f64 / took.as_secs_f64(),
            sent_in.as_nanos() as f64 / N as f64
        );
    }
}
