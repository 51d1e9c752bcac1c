//! The detection pipeline: each record updates the state tables, meets the
//! rules that can match its event type, and every match becomes an alert that
//! goes to the sinks (outputs, store, metrics, live stream).

pub mod interest;

use std::sync::Arc;

use saker_abi::{kind, Record};
use saker_filter::{FieldRef, FieldSource, Value, Values};
use saker_rules::{Engine, Priority};
use saker_state::State;

use crate::alerts::{Alert, Formatter, PreparedRule};

/// A loaded rule set with each rule's output prepared.
pub struct RuleSet {
    pub engine: Engine,
    /// By rule index in `engine.rules()`; `None` for rules that do not run.
    prepared: Vec<Option<PreparedRule>>,
}

impl RuleSet {
    /// Prepares every active rule's output. A rule whose output cannot be
    /// compiled with the appended fields is an error naming it.
    pub fn new(engine: Engine, formatter: &Formatter) -> Result<Self, String> {
        let active: Vec<*const saker_rules::CompiledRule> =
            engine.active_rules().map(|r| r as *const _).collect();
        let mut prepared = Vec::with_capacity(engine.rules().len());
        for r in engine.rules() {
            if active.contains(&(r as *const _)) {
                let p = formatter
                    .prepare(r)
                    .map_err(|e| format!("rule `{}`: output: {e}", r.name))?;
                prepared.push(Some(p));
            } else {
                prepared.push(None);
            }
        }
        Ok(RuleSet { engine, prepared })
    }

    fn index_of(&self, rule: &saker_rules::CompiledRule) -> Option<usize> {
        let rules = self.engine.rules();
        let base = rules.as_ptr() as usize;
        let at = rule as *const _ as usize;
        let size = std::mem::size_of::<saker_rules::CompiledRule>();
        (at >= base && at < base + std::mem::size_of_val(rules)).then(|| (at - base) / size)
    }
}

/// What the store and the metrics need besides the rendered alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertMeta {
    pub rule: Arc<str>,
    pub rule_index: usize,
    pub priority: Priority,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container_id: Option<String>,
}

/// Where alerts go. Implementations must not block: they enqueue.
pub trait AlertSink {
    fn deliver(&mut self, alert: Alert, meta: AlertMeta);
}

impl AlertSink for Vec<(Alert, AlertMeta)> {
    fn deliver(&mut self, alert: Alert, meta: AlertMeta) {
        self.push((alert, meta));
    }
}

/// The fields every stored alert is indexed by, resolved once.
struct IndexFields {
    namespace: FieldRef,
    pod: FieldRef,
    container_id: FieldRef,
}

impl IndexFields {
    fn new() -> Self {
        let f = |n| {
            saker_filter::fields::resolve(n, None).expect("catalogue has the k8s/container fields")
        };
        IndexFields {
            namespace: f("k8s.ns.name"),
            pod: f("k8s.pod.name"),
            container_id: f("container.id"),
        }
    }
}

fn first_string<S: FieldSource + ?Sized>(src: &S, field: &FieldRef) -> Option<String> {
    let mut vals: Values<'_> = Values::new();
    if !src.extract(field, &mut vals) {
        return None;
    }
    match vals.first()? {
        Value::Str(s) => Some((*s).to_string()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectorStats {
    pub records: u64,
    pub evaluated: u64,
    pub alerts: u64,
}

/// Record in, alerts out.
pub struct Detector {
    pub state: State,
    rules: Arc<RuleSet>,
    formatter: Arc<Formatter>,
    index_fields: IndexFields,
    /// Matches per rule (by rule index), for the metrics.
    pub matches: Vec<u64>,
    pub stats: DetectorStats,
}

impl Detector {
    pub fn new(state: State, rules: Arc<RuleSet>, formatter: Arc<Formatter>) -> Self {
        let n = rules.engine.rules().len();
        Detector {
            state,
            rules,
            formatter,
            index_fields: IndexFields::new(),
            matches: vec![0; n],
            stats: DetectorStats::default(),
        }
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Swaps in a new rule set (hot reload) between two records.
    pub fn set_rules(&mut self, rules: Arc<RuleSet>) {
        self.matches = vec![0; rules.engine.rules().len()];
        self.rules = rules;
    }

    pub fn on_record(&mut self, rec: &Record<'_>, sink: &mut dyn AlertSink) {
        self.stats.records += 1;
        self.state.apply(rec);
        // The enter half of execve only primes the state; rules see the
        // whole syscall when its exit half arrives.
        if rec.header.kind == kind::SYSCALL_ENTER {
            return;
        }
        self.stats.evaluated += 1;
        let view = self.state.view(rec);
        let time_ns = self.state.clock().realtime(rec.header.ts_ns) as i64;
        let rules = &self.rules;
        let formatter = &self.formatter;
        let index_fields = &self.index_fields;
        let matches = &mut self.matches;
        let stats = &mut self.stats;
        rules.engine.evaluate(&view, |rule| {
            let Some(idx) = rules.index_of(rule) else {
                return;
            };
            let Some(prepared) = rules.prepared[idx].as_ref() else {
                return;
            };
            matches[idx] += 1;
            stats.alerts += 1;
            let alert = formatter.render(prepared, rule, &view, time_ns);
            let meta = AlertMeta {
                rule: Arc::from(rule.name.as_str()),
                rule_index: idx,
                priority: rule.priority,
                namespace: first_string(&view, &index_fields.namespace),
                pod: first_string(&view, &index_fields.pod),
                container_id: first_string(&view, &index_fields.container_id),
            };
            sink.deliver(alert, meta);
        });
    }
}

/// The state tables' container lookup, answered by saker-container's caches.
pub fn runtime_lookup(
    runtime: saker_container::RuntimeConfig,
    handle: &tokio::runtime::Handle,
) -> saker_state::runtime::RuntimeLookup {
    let cache = saker_container::ContainerCache::start(runtime, handle);
    saker_state::runtime::RuntimeLookup::new(cache, saker_container::UsersCache::default(), "/proc")
}

#[cfg(test)]
mod tests {
    use saker_state::ContainerLookup;

    #[test]
    fn host_user_names_come_from_the_hosts_passwd_even_for_gone_processes() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let l = super::runtime_lookup(
            saker_container::RuntimeConfig::with_sockets(vec![], vec![]),
            rt.handle(),
        );
        // A pid that does not exist: the name must still come from the host.
        assert_eq!(l.user_name(None, 999_999_999, 0).as_deref(), Some("root"));
        assert_eq!(l.group_name(None, 999_999_999, 0).as_deref(), Some("root"));
    }
}
