//! The runtime gate verdict, in exactly the shape the seed verifier's
//! `check_falco_alerts` returns, and the merge of several agents' verdicts.
//!
//! Field choices where the seed's meaning came from `kubectl logs`:
//! - `alerts`: every alert of the namespace in the window (newest first, at
//!   most `MAX_GATE_ALERTS`, those at or above the threshold kept first), as
//!   the Falco JSON objects. Below-threshold alerts are listed but pass.
//! - `alert_count`: alerts at or above the threshold, as the seed counted its
//!   filtered list; `alert_count > 0` is exactly `passed == false`.
//! - `summary`: all alerts in the window by bucket (so `other` means something
//!   under a WARNING threshold); sums to `raw_lines_count`.
//! - `raw_lines_count`: alerts of the namespace scanned in the window.
//! - `falco_namespace`: the agent's own namespace (POD_NAMESPACE) or null.
//! - `label_selector`: null (no pods are selected; the agent answers itself).
//! - `stderr`: "" unless there is a diagnostic (e.g. the alert list was capped).
//! - `since_minutes`: the window's length rounded up, at least 1.
//! - `reason`: null on a clean pass, else why it failed or was skipped.
//!
//! Invariant: `skipped` implies `passed`. A verifier that checks `skipped`
//! first (fail-open) must never skip past a real alert, so alerts at or above
//! the threshold fail the gate even when coverage is incomplete.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::alert::Priority;
use crate::query::GateRequest;
use crate::store::GateWindow;
use crate::timefmt::{format_falco, format_python_iso, NS_PER_SEC};

/// Most alerts one verdict lists; counts still cover the whole window.
pub const MAX_GATE_ALERTS: usize = 1000;

/// When capture was attached: [start_ns, end_ns); `end_ns: None` = still attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachInterval {
    pub start_ns: i64,
    pub end_ns: Option<i64>,
}

/// Events lost at `time_ns` (kernel ring full, read fault, store queue full...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropReport {
    /// The latest loss this report stands for.
    pub time_ns: i64,
    pub count: u64,
    pub category: String,
    /// The earliest loss merged into it (same category and minute); `None`
    /// when not known, taken as the start of `time_ns`'s minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ns: Option<i64>,
}

/// Where an earlier agent run's coverage ended (read back from the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStop {
    /// End of that run's attach interval: its last durable heartbeat.
    pub at_ns: i64,
    /// It detached in an orderly way (else it was killed or crashed).
    pub clean: bool,
}

/// What the agent can vouch for. The pipeline fills `attached` and `drops`;
/// the store adds its own drops and its retention floor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub attached: Vec<AttachInterval>,
    pub drops: Vec<DropReport>,
    /// History (alerts, drop records) at or before this time was deleted
    /// by retention, so windows reaching back to it cannot be vouched for.
    pub deleted_upto_ns: Option<i64>,
    /// Ends of earlier runs' intervals, only to explain a gap after a restart.
    #[serde(default)]
    pub stops: Vec<AgentStop>,
}

/// Facts about the answering agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateContext {
    /// The agent's own Kubernetes namespace, reported as `falco_namespace`.
    pub agent_namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub critical: u64,
    pub error: u64,
    pub warning: u64,
    pub other: u64,
}

impl Summary {
    fn add(&mut self, p: Priority, n: u64) {
        match p {
            Priority::Emergency | Priority::Alert | Priority::Critical => self.critical += n,
            Priority::Error => self.error += n,
            Priority::Warning => self.warning += n,
            _ => self.other += n,
        }
    }
}

/// The `/v1/gate/runtime` object. Field order is the wire order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeVerdict {
    pub tool: String,
    pub passed: bool,
    pub skipped: bool,
    pub reason: Option<String>,
    pub namespace_filter: String,
    pub falco_namespace: Option<String>,
    pub label_selector: Option<String>,
    pub since_timestamp: String,
    pub since_minutes: i64,
    pub severity_threshold: String,
    pub alert_count: u64,
    pub summary: Summary,
    pub alerts: Vec<Box<RawValue>>,
    pub raw_lines_count: u64,
    pub stderr: String,
}

impl RuntimeVerdict {
    /// A passing, empty verdict for `req`; the starting point of the others.
    pub fn empty(req: &GateRequest, ctx: &GateContext, now_ns: i64) -> RuntimeVerdict {
        // Saturating: `since` may be any RFC3339 time back to 1677.
        let span = window_end(req, now_ns).saturating_sub(req.since_ns).max(0);
        let minutes = (span as u64).div_ceil(60 * NS_PER_SEC as u64) as i64;
        RuntimeVerdict {
            tool: "falco".into(),
            passed: true,
            skipped: false,
            reason: None,
            namespace_filter: req.namespace.clone(),
            falco_namespace: ctx.agent_namespace.clone(),
            label_selector: None,
            since_timestamp: format_python_iso(req.since_ns),
            since_minutes: minutes.max(1),
            severity_threshold: req.threshold.upper_name().into(),
            alert_count: 0,
            summary: Summary::default(),
            alerts: Vec::new(),
            raw_lines_count: 0,
            stderr: String::new(),
        }
    }
}

/// Where `req`'s window ends: `until`, but never past now (nothing after
/// now can be vouched for).
pub fn window_end(req: &GateRequest, now_ns: i64) -> i64 {
    req.until_ns.map_or(now_ns, |u| u.min(now_ns))
}

/// Drop reports are coalesced per category and minute (of event time).
const DROP_MINUTE_NS: i64 = 60 * NS_PER_SEC;

/// Whether a drop report may hold a loss inside [since, end): its losses
/// lie in [first, time].
pub(crate) fn drop_in_window(d: &DropReport, since_ns: i64, end_ns: i64) -> bool {
    let first = d
        .first_ns
        .unwrap_or(d.time_ns.div_euclid(DROP_MINUTE_NS) * DROP_MINUTE_NS);
    d.time_ns >= since_ns && first < end_ns
}

/// Why the agent cannot vouch for [since, now), if it cannot (`now_ns` is
/// the window's end: now, or an earlier `until`).
pub fn coverage_gaps(cov: &Coverage, since_ns: i64, now_ns: i64) -> Vec<String> {
    let mut gaps = Vec::new();
    if let Some(floor) = cov.deleted_upto_ns {
        if floor >= since_ns {
            gaps.push(format!(
                "history up to {} is no longer kept (retention), and the window starts before it",
                format_falco(floor)
            ));
        }
    }
    if since_ns < now_ns {
        if cov.attached.is_empty() {
            gaps.push("capture was never attached: the agent has no data source".into());
        } else if let Some((missing, first)) = uncovered(&cov.attached, since_ns, now_ns) {
            let mut gap = format!(
                "capture was not attached for {:.1}s of the window (first gap {} to {})",
                missing as f64 / NS_PER_SEC as f64,
                format_falco(first.0),
                format_falco(first.1)
            );
            if let Some(stop) = restart_before(cov, first.1) {
                gap.push_str(&format!(
                    " because the agent restarted: the previous run's coverage ends at {} ({})",
                    format_falco(stop.at_ns),
                    if stop.clean {
                        "it stopped cleanly"
                    } else {
                        "its last durable heartbeat; it did not stop cleanly"
                    }
                ));
            }
            gaps.push(gap);
        }
    }
    let in_window = cov
        .drops
        .iter()
        .filter(|d| d.count > 0 && drop_in_window(d, since_ns, now_ns));
    let (mut n, mut last, mut cats) = (0u64, i64::MIN, Vec::<&str>::new());
    for d in in_window {
        n = n.saturating_add(d.count);
        last = last.max(d.time_ns);
        if !cats.contains(&d.category.as_str()) {
            cats.push(&d.category);
        }
    }
    if n > 0 {
        gaps.push(format!(
            "{n} event(s) dropped in the window ({}; the last at {})",
            cats.join(", "),
            format_falco(last)
        ));
    }
    gaps
}

/// The earlier run whose end opens the gap ending at `gap_end`: the last
/// interval ending at or before the gap, if a recorded stop is its end.
fn restart_before(cov: &Coverage, gap_end: i64) -> Option<AgentStop> {
    let last_end = cov
        .attached
        .iter()
        .filter_map(|a| a.end_ns)
        .filter(|&e| e <= gap_end)
        .max()?;
    cov.stops.iter().copied().find(|s| s.at_ns == last_end)
}

/// Total uncovered ns of [since, now) and the first gap, if any.
fn uncovered(attached: &[AttachInterval], since: i64, now: i64) -> Option<(i64, (i64, i64))> {
    let mut iv: Vec<(i64, i64)> = attached
        .iter()
        .map(|a| (a.start_ns.max(since), a.end_ns.unwrap_or(now).min(now)))
        .filter(|(s, e)| s < e)
        .collect();
    iv.sort_unstable();
    let (mut cursor, mut missing, mut first) = (since, 0i64, None);
    for (s, e) in iv.into_iter().chain(std::iter::once((now, now))) {
        if s > cursor {
            missing = missing.saturating_add(s.saturating_sub(cursor));
            first.get_or_insert((cursor, s));
        }
        cursor = cursor.max(e);
    }
    first.map(|f| (missing, f))
}

/// Stored JSON as a raw value; a line that is somehow not JSON is listed as
/// a JSON string rather than dropped.
pub(crate) fn raw_json(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).unwrap_or_else(|_| {
        let quoted = serde_json::to_string(s).unwrap_or_else(|_| "null".into());
        RawValue::from_string(quoted).unwrap_or_else(|_| Box::<RawValue>::default())
    })
}

/// The verdict for one agent: pure, so every rule above is tested without a store.
pub fn runtime_verdict(
    req: &GateRequest,
    ctx: &GateContext,
    window: &GateWindow,
    coverage: &Coverage,
    now_ns: i64,
) -> RuntimeVerdict {
    let mut v = RuntimeVerdict::empty(req, ctx, now_ns);
    for p in Priority::ALL {
        let n = window.counts[usize::from(p.as_u8())];
        v.summary.add(p, n);
        if p.at_least(req.threshold) {
            v.alert_count += n;
        }
    }
    v.raw_lines_count = window.total();
    v.alerts = window.alerts.iter().map(|a| raw_json(&a.json)).collect();
    if (v.alerts.len() as u64) < v.raw_lines_count {
        v.stderr = format!(
            "alert list capped at {} of {} alerts in the window (counts are complete)",
            v.alerts.len(),
            v.raw_lines_count
        );
    }
    let gaps = coverage_gaps(coverage, req.since_ns, window_end(req, now_ns));
    if v.alert_count > 0 {
        v.passed = false;
        let mut reason = format!(
            "Found {} Falco alert(s) at or above {} in namespace {}",
            v.alert_count, v.severity_threshold, req.namespace
        );
        if !gaps.is_empty() {
            reason.push_str("; coverage is also incomplete: ");
            reason.push_str(&gaps.join("; "));
        }
        v.reason = Some(reason);
    } else if !gaps.is_empty() {
        v.skipped = true;
        v.reason = Some(format!(
            "agent cannot vouch for the window: {}",
            gaps.join("; ")
        ));
    }
    v
}

/// One agent's answer in a fan-out: its verdict, or why it could not be had.
#[derive(Debug, Clone)]
pub struct AgentAnswer {
    pub agent: String,
    pub result: Result<RuntimeVerdict, String>,
}

#[derive(Deserialize)]
struct TimeOnly<'a> {
    #[serde(borrow)]
    time: Option<&'a str>,
}

fn alert_time(raw: &RawValue) -> String {
    serde_json::from_str::<TimeOnly<'_>>(raw.get())
        .ok()
        .and_then(|t| t.time.map(str::to_owned))
        .unwrap_or_default()
}

/// Cluster fan-out: any failure fails; otherwise any skip, and any agent
/// that did not answer (it cannot vouch for its node), marks the result
/// skipped. Counts are summed; alerts concatenated, newest first.
pub fn merge_verdicts(
    req: &GateRequest,
    ctx: &GateContext,
    now_ns: i64,
    answers: Vec<AgentAnswer>,
) -> RuntimeVerdict {
    let mut m = RuntimeVerdict::empty(req, ctx, now_ns);
    let (mut fail_reasons, mut skip_reasons, mut stderr) = (Vec::new(), Vec::new(), Vec::new());
    if answers.is_empty() {
        skip_reasons.push("no agent answered".to_owned());
    }
    for AgentAnswer { agent, result } in answers {
        let v = match result {
            Ok(v) => v,
            Err(e) => {
                skip_reasons.push(format!("{agent}: unreachable ({e})"));
                continue;
            }
        };
        if m.falco_namespace.is_none() {
            m.falco_namespace = v.falco_namespace;
        }
        m.alert_count += v.alert_count;
        m.raw_lines_count += v.raw_lines_count;
        m.summary.critical += v.summary.critical;
        m.summary.error += v.summary.error;
        m.summary.warning += v.summary.warning;
        m.summary.other += v.summary.other;
        m.alerts.extend(v.alerts);
        let why = v.reason.unwrap_or_default();
        if !v.passed {
            fail_reasons.push(format!("{agent}: {why}"));
        } else if v.skipped {
            skip_reasons.push(format!("{agent}: {why}"));
        }
        if !v.stderr.is_empty() {
            stderr.push(format!("{agent}: {}", v.stderr));
        }
    }
    let mut keyed: Vec<(String, Box<RawValue>)> = std::mem::take(&mut m.alerts)
        .into_iter()
        .map(|a| (alert_time(&a), a))
        .collect();
    // Falco's times are fixed-width UTC, so text order is time order.
    keyed.sort_by(|a, b| b.0.cmp(&a.0));
    m.alerts = keyed.into_iter().map(|(_, a)| a).collect();
    m.stderr = stderr.join("\n");
    if !fail_reasons.is_empty() {
        m.passed = false;
        let mut all = fail_reasons;
        all.extend(skip_reasons);
        m.reason = Some(all.join("; "));
    } else if !skip_reasons.is_empty() {
        m.skipped = true;
        m.reason = Some(skip_reasons.join("; "));
    }
    m
}
