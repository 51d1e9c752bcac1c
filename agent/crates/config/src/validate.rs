//! Checks that serde's types cannot express: ranges, combinations, and
//! values an enabled sink needs. Each failure names its key.

use crate::model::Config;
use crate::sections::CaptureScope;
use crate::types::DropAction;

/// A failed check: the key path and what is wrong.
pub type Failure = (&'static str, String);

/// Checks `c`, and resolves what one setting implies for another.
pub fn validate(c: &mut Config) -> Result<(), Failure> {
    let d = &c.syscall_event_drops;
    if !(0.0..=1.0).contains(&d.threshold) {
        return Err((
            "syscall_event_drops.threshold",
            format!("expected a number from 0 to 1, got {}", d.threshold),
        ));
    }
    if !(d.rate.is_finite() && d.rate > 0.0) {
        return Err((
            "syscall_event_drops.rate",
            format!("expected a positive number, got {}", d.rate),
        ));
    }
    if d.actions.contains(&DropAction::Ignore) && d.actions.len() > 1 {
        return Err((
            "syscall_event_drops.actions",
            "ignore cannot be combined with other actions".into(),
        ));
    }
    if c.metrics.enabled && c.metrics.interval.0.as_millis() < 100 {
        return Err((
            "metrics.interval",
            format!("must be at least 100ms, got {}", c.metrics.interval),
        ));
    }
    if !c.webserver.k8s_healthz_endpoint.starts_with('/') {
        return Err((
            "webserver.k8s_healthz_endpoint",
            format!(
                "expected a path starting with '/', got {:?}",
                c.webserver.k8s_healthz_endpoint
            ),
        ));
    }
    if c.file_output.enabled && c.file_output.filename.is_empty() {
        return Err((
            "file_output.filename",
            "required when file_output is enabled".into(),
        ));
    }
    if c.http_output.enabled && c.http_output.url.is_empty() {
        return Err((
            "http_output.url",
            "required when http_output is enabled".into(),
        ));
    }
    if c.program_output.enabled && c.program_output.program.trim().is_empty() {
        return Err((
            "program_output.program",
            "required when program_output is enabled".into(),
        ));
    }

    let cap = &mut c.capture;
    let ring = cap.ring_bytes.0;
    if !ring.is_power_of_two() || !(4096..=1 << 31).contains(&ring) {
        return Err((
            "capture.ring_bytes",
            format!("expected a power of two from 4096 to 2GiB, got {ring}"),
        ));
    }
    if cap.target_pid.is_some() && cap.target_pidns.is_some() {
        return Err((
            "capture.target_pid",
            "set target_pid or target_pidns, not both".into(),
        ));
    }
    let targeted = cap.target_pid.is_some() || cap.target_pidns.is_some();
    match cap.scope {
        CaptureScope::Containers if targeted => {
            return Err((
                "capture.scope",
                "containers cannot be combined with target_pid/target_pidns".into(),
            ))
        }
        CaptureScope::TargetPidns if !targeted => {
            return Err((
                "capture.scope",
                "target_pidns needs capture.target_pid or capture.target_pidns".into(),
            ))
        }
        CaptureScope::Host if targeted => cap.scope = CaptureScope::TargetPidns,
        _ => {}
    }

    let tls = &c.api.tls;
    if tls.cert.is_some() != tls.key.is_some() {
        return Err(("api.tls", "cert and key must be set together".into()));
    }
    if tls.client_ca.is_some() && tls.cert.is_none() {
        return Err((
            "api.tls.client_ca",
            "needs api.tls.cert and api.tls.key".into(),
        ));
    }
    if c.store.enabled && c.store.queue_capacity == 0 {
        return Err(("store.queue_capacity", "must be at least 1".into()));
    }
    Ok(())
}
