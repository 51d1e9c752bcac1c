//! The read path: pooled read-only connections and the SQL behind
//! `/v1/alerts` and the gate. Every value is bound as a parameter; the SQL
//! text is assembled only from fixed fragments chosen by which filters exist.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::schema::open_reader;
use crate::alert::{AlertRecord, Priority, StoredAlert};
use crate::error::StoreError;
use crate::query::{Cursor, GateRequest, Query};

/// Idle connections kept; more are opened under load and closed after.
const POOL_IDLE_MAX: usize = 8;

pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(crate) fn new(path: PathBuf) -> ReaderPool {
        ReaderPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Opens `n` connections ahead of need, so the first queries after
    /// start do not pay for opening one (and reading the schema).
    pub(crate) fn warm(&self, n: usize) {
        let opened: Vec<Connection> = (0..n.min(POOL_IDLE_MAX))
            .filter_map(|_| open_reader(&self.path).ok())
            .collect();
        if let Ok(mut v) = self.idle.lock() {
            v.extend(opened);
        }
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match pooled {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let out = f(&conn);
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < POOL_IDLE_MAX {
                v.push(conn);
            }
        }
        Ok(out?)
    }
}

const COLUMNS: &str =
    "id, time_ns, priority, rule, source, hostname, namespace, pod, container_id, json";

fn record(r: &Row<'_>) -> rusqlite::Result<AlertRecord> {
    let p: i64 = r.get(2)?;
    Ok(AlertRecord {
        id: r.get(0)?,
        alert: StoredAlert {
            time_ns: r.get(1)?,
            // Only the writer fills this column, always from a Priority; an
            // out-of-range value would mean outside tampering, shown as Debug.
            priority: u8::try_from(p)
                .ok()
                .and_then(Priority::from_u8)
                .unwrap_or(Priority::Debug),
            rule: r.get(3)?,
            source: r.get(4)?,
            hostname: r.get(5)?,
            namespace: r.get(6)?,
            pod: r.get(7)?,
            container_id: r.get(8)?,
            json: r.get(9)?,
        },
    })
}

/// One page of `/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPage {
    /// Newest first.
    pub alerts: Vec<AlertRecord>,
    /// Present when more alerts match; pass it back as `cursor`.
    pub next_cursor: Option<String>,
}

/// SQL for `q`, newest first, fetching `limit + 1` rows to know whether a
/// next page exists.
/// `via_dims`: drive the scan from the dims index (few matches) rather than
/// walking the time index newest-first with dims as a filter (many
/// matches); `query` picks by probing, see `DENSE_PROBE`.
pub(crate) fn build_query(q: &Query, via_dims: bool) -> (String, Vec<Value>) {
    let (filter, mut args) = build_filter(q, via_dims);
    args.push(Value::Integer(i64::from(q.limit) + 1));
    let lim = args.len();
    let sql = if via_dims {
        // Pick the page from the index alone (dim, time_ns, id are all in
        // it), then read only those rows: the matches of several dims
        // have to be sorted, and sorting full rows would read every match.
        format!(
            "SELECT {COLUMNS} FROM alerts WHERE id IN (SELECT id FROM alerts WHERE {filter} \
             ORDER BY time_ns DESC, id DESC LIMIT ?{lim}) ORDER BY time_ns DESC, id DESC"
        )
    } else {
        format!("SELECT {COLUMNS} FROM alerts WHERE {filter} ORDER BY time_ns DESC, id DESC LIMIT ?{lim}")
    };
    (sql, args)
}

/// The WHERE clause of `build_query` and its arguments.
fn build_filter(q: &Query, via_dims: bool) -> (String, Vec<Value>) {
    let mut sql = String::from("1");
    let mut args: Vec<Value> = Vec::new();
    // Namespace, pod, container and rule go through dims (one index for all).
    let dim_filters = [
        ("namespace", &q.namespace),
        ("pod", &q.pod),
        ("container_id", &q.container),
        ("rule", &q.rule),
    ];
    if dim_filters.iter().any(|(_, v)| v.is_some()) {
        sql.push_str(if via_dims {
            " AND dim IN (SELECT id FROM dims WHERE 1"
        } else {
            " AND +dim IN (SELECT id FROM dims WHERE 1"
        });
        for (col, v) in dim_filters {
            if let Some(v) = v {
                args.push(Value::Text(v.clone()));
                sql.push_str(&format!(" AND {col} = ?{}", args.len()));
            }
        }
        sql.push(')');
    }
    if let Some(p) = q.min_priority {
        // Unary + keeps the planner on a time-ordered index: a priority
        // range cannot give newest-first order without sorting every match.
        args.push(Value::Integer(i64::from(p.as_u8())));
        sql.push_str(&format!(" AND +priority <= ?{}", args.len()));
    }
    if let Some(s) = q.since_ns {
        args.push(Value::Integer(s));
        sql.push_str(&format!(" AND time_ns >= ?{}", args.len()));
    }
    if let Some(u) = q.until_ns {
        args.push(Value::Integer(u));
        sql.push_str(&format!(" AND time_ns < ?{}", args.len()));
    }
    if let Some(Cursor { time_ns, id }) = q.cursor {
        // Written as a range on time_ns plus a residual test, which SQLite can
        // drive from an index (it cannot for the plain OR form).
        args.push(Value::Integer(time_ns));
        let t = args.len();
        args.push(Value::Integer(id));
        let i = args.len();
        sql.push_str(&format!(
            " AND time_ns <= ?{t} AND (time_ns < ?{t} OR id < ?{i})"
        ));
    }
    (sql, args)
}

/// SQL for a live tail: alerts with id > `after_id` matching `q`'s filters,
/// oldest first. The unary `+` keeps every filter off its index so SQLite
/// walks the rowid range, which holds only the alerts committed since the
/// last poll.
pub(crate) fn build_tail(q: &Query, after_id: i64, max: u32) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {COLUMNS} FROM alerts WHERE id > ?1");
    let mut args: Vec<Value> = vec![Value::Integer(after_id)];
    let mut push = |frag: &str, v: Value, sql: &mut String| {
        args.push(v);
        sql.push_str(&format!(" AND {frag} ?{}", args.len()));
    };
    let text = |v: &String| Value::Text(v.clone());
    if let Some(v) = &q.namespace {
        push("+namespace =", text(v), &mut sql);
    }
    if let Some(v) = &q.pod {
        push("+pod =", text(v), &mut sql);
    }
    if let Some(v) = &q.container {
        push("+container_id =", text(v), &mut sql);
    }
    if let Some(v) = &q.rule {
        push("+rule =", text(v), &mut sql);
    }
    if let Some(p) = q.min_priority {
        push(
            "+priority <=",
            Value::Integer(i64::from(p.as_u8())),
            &mut sql,
        );
    }
    if let Some(t) = q.since_ns {
        push("+time_ns >=", Value::Integer(t), &mut sql);
    }
    if let Some(t) = q.until_ns {
        push("+time_ns <", Value::Integer(t), &mut sql);
    }
    args.push(Value::Integer(i64::from(max)));
    sql.push_str(&format!(" ORDER BY id LIMIT ?{}", args.len()));
    (sql, args)
}

pub(crate) fn tail(
    conn: &Connection,
    q: &Query,
    after_id: i64,
    max: u32,
) -> rusqlite::Result<Vec<AlertRecord>> {
    let (sql, args) = build_tail(q, after_id, max);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), record)?;
    rows.collect()
}

/// Matches at or above which a dims filter counts as dense: walking a
/// time-ordered index finds a page quickly, whereas the dims index would
/// have to read and sort every match.
const DENSE_PROBE: i64 = 5_000;

/// Whether `q`'s namespace/pod/container/rule filter matches few enough
/// alerts (in its time range) to drive the scan from the dims index.
/// Index-only, bounded.
fn sparse_dims(conn: &Connection, q: &Query) -> rusqlite::Result<bool> {
    if q.namespace.is_none() && q.pod.is_none() && q.container.is_none() && q.rule.is_none() {
        return Ok(false);
    }
    let probe = Query {
        min_priority: None,
        cursor: None,
        ..q.clone()
    };
    let (filter, mut args) = build_filter(&probe, true);
    // Count index entries only (covered by alerts_dim_time), capped.
    args.push(Value::Integer(DENSE_PROBE));
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM alerts WHERE {filter} LIMIT ?{})",
        args.len()
    );
    let n: i64 = conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
    Ok(n < DENSE_PROBE)
}

pub(crate) fn query(conn: &Connection, q: &Query) -> rusqlite::Result<QueryPage> {
    let via_dims = sparse_dims(conn, q)?;
    let (sql, args) = build_query(q, via_dims);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut alerts: Vec<AlertRecord> = stmt
        .query_map(rusqlite::params_from_iter(args), record)?
        .collect::<rusqlite::Result<_>>()?;
    let next_cursor = if alerts.len() > q.limit as usize {
        alerts.truncate(q.limit as usize);
        alerts.last().map(|a| {
            Cursor {
                time_ns: a.alert.time_ns,
                id: a.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(QueryPage {
        alerts,
        next_cursor,
    })
}

pub(crate) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<AlertRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM alerts WHERE id = ?1"))?
        .query_row(params![id], record)
        .optional()
}

/// One alert as the gate lists it: only what the verdict needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateAlert {
    pub id: i64,
    pub time_ns: i64,
    pub priority: Priority,
    /// The Falco JSON line.
    pub json: String,
}

/// What the store holds for one gate window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateWindow {
    /// Alerts in the window by priority (index = Priority as u8).
    pub counts: [u64; 8],
    /// Newest first; those at or above the threshold take precedence when
    /// the window holds more than the cap.
    pub alerts: Vec<GateAlert>,
}

impl GateWindow {
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

fn gate_alert(r: &Row<'_>) -> rusqlite::Result<GateAlert> {
    let p: i64 = r.get(2)?;
    Ok(GateAlert {
        id: r.get(0)?,
        time_ns: r.get(1)?,
        priority: u8::try_from(p)
            .ok()
            .and_then(Priority::from_u8)
            .unwrap_or(Priority::Debug),
        json: r.get(3)?,
    })
}

/// The namespace's alerts, all through the (dim, time_ns, priority) index:
/// one range per dims row of the namespace.
const GATE_FROM: &str = "FROM alerts WHERE dim IN (SELECT id FROM dims WHERE namespace = ?1) \
                         AND time_ns >= ?2 AND time_ns < ?3";

pub(crate) fn gate_window(
    conn: &Connection,
    req: &GateRequest,
    max_alerts: usize,
) -> rusqlite::Result<GateWindow> {
    // One read snapshot, so the counts and the list agree exactly.
    let tx = conn.unchecked_transaction()?;
    let mut w = GateWindow::default();
    // The window's end is applied by the caller (`gate_runtime` caps it at
    // now); here only `until` bounds the scan.
    let until = req.until_ns.unwrap_or(i64::MAX);
    let fetch = |filter: &str, thr: Option<i64>, limit: usize| {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Ids picked from the index alone, rows read only for the page.
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT id, time_ns, priority, json FROM alerts WHERE id IN \
             (SELECT id {GATE_FROM} {filter} ORDER BY time_ns DESC, id DESC LIMIT ?4) \
             ORDER BY time_ns DESC, id DESC"
        ))?;
        let lim = limit as i64;
        match thr {
            Some(t) => stmt
                .query_map(
                    params![req.namespace, req.since_ns, until, lim, t],
                    gate_alert,
                )?
                .collect::<rusqlite::Result<Vec<_>>>(),
            None => stmt
                .query_map(params![req.namespace, req.since_ns, until, lim], gate_alert)?
                .collect(),
        }
    };
    // The usual case: the window fits the cap, and one query gives both the
    // list and the counts. One row over the cap means counting separately.
    let alerts = fetch("", None, max_alerts.saturating_add(1))?;
    if alerts.len() <= max_alerts {
        for a in &alerts {
            w.counts[usize::from(a.priority.as_u8())] += 1;
        }
        w.alerts = alerts;
        return Ok(w);
    }
    drop(alerts);
    // Counted from the (dim, time_ns, priority) index alone.
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT priority, count(*) {GATE_FROM} GROUP BY priority"
    ))?;
    let rows = stmt.query_map(params![req.namespace, req.since_ns, until], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (p, n) = row?;
        let slot = usize::try_from(p).unwrap_or(7).min(7);
        w.counts[slot] += n.max(0) as u64;
    }
    drop(stmt);
    let thr = i64::from(req.threshold.as_u8());
    let mut alerts = fetch("AND priority <= ?5", Some(thr), max_alerts)?;
    let below = fetch("AND priority > ?5", Some(thr), max_alerts - alerts.len())?;
    alerts.extend(below);
    alerts.sort_by_key(|a| std::cmp::Reverse((a.time_ns, a.id)));
    w.alerts = alerts;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{open_writer, StartupCheck, SyncMode};

    fn plan(conn: &Connection, sql: &str, args: Vec<Value>) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    #[test]
    fn gate_and_query_plans_use_the_intended_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(
            &dir.path().join("a.db"),
            SyncMode::Normal,
            StartupCheck::Quick,
        )
        .unwrap();
        let gate_args = || {
            vec![
                Value::Text("ns".into()),
                Value::Integer(0),
                Value::Integer(i64::MAX),
            ]
        };
        let p = plan(
            &conn,
            &format!("SELECT priority, count(*) {GATE_FROM} GROUP BY priority"),
            gate_args(),
        );
        assert!(
            p.contains("COVERING INDEX alerts_dim_time") && p.contains("dims_key"),
            "{p}"
        );
        let mut args = gate_args();
        args.push(Value::Integer(1001));
        let p = plan(
            &conn,
            &format!(
                "SELECT id, time_ns, priority, json FROM alerts WHERE id IN \
                 (SELECT id {GATE_FROM} ORDER BY time_ns DESC, id DESC LIMIT ?4) \
                 ORDER BY time_ns DESC, id DESC"
            ),
            args,
        );
        assert!(
            p.contains("COVERING INDEX alerts_dim_time") && p.contains("dims_key"),
            "{p}"
        );
        let q = Query {
            namespace: Some("ns".into()),
            since_ns: Some(0),
            min_priority: Some(Priority::Warning),
            cursor: Some(Cursor { time_ns: 5, id: 5 }),
            ..Query::default()
        };
        let (sql, args) = build_query(&q, true);
        let p = plan(&conn, &sql, args);
        assert!(
            p.contains("COVERING INDEX alerts_dim_time") && p.contains("dims_key"),
            "{p}"
        );
        let (sql, args) = build_query(
            &Query {
                min_priority: Some(Priority::Error),
                ..Query::default()
            },
            false,
        );
        let p = plan(&conn, &sql, args);
        assert!(
            p.contains("INDEX alerts_time") && !p.contains("TEMP B-TREE"),
            "{p}"
        );
        let (sql, args) = build_tail(
            &Query {
                namespace: Some("ns".into()),
                min_priority: Some(Priority::Error),
                ..Query::default()
            },
            7,
            100,
        );
        let p = plan(&conn, &sql, args);
        assert!(p.contains("INTEGER PRIMARY KEY (rowid>?)"), "{p}");
        for (dims_idx, q) in [
            (
                "dims_pod",
                Query {
                    pod: Some("p".into()),
                    ..Query::default()
                },
            ),
            (
                "dims_rule",
                Query {
                    rule: Some("r".into()),
                    ..Query::default()
                },
            ),
            (
                "dims_container",
                Query {
                    container: Some("c".into()),
                    ..Query::default()
                },
            ),
        ] {
            let (sql, args) = build_query(&q, true);
            let p = plan(&conn, &sql, args);
            assert!(p.contains("alerts_dim_time") && p.contains(dims_idx), "{p}");
            // Dense matches walk the time index newest-first instead.
            let (sql, args) = build_query(&q, false);
            let p = plan(&conn, &sql, args);
            assert!(
                p.contains("INDEX alerts_time") && !p.contains("TEMP B-TREE"),
                "{p}"
            );
        }
        // The probe runs on the covering dims index.
        assert!(!sparse_dims(&conn, &Query::default()).unwrap());
        assert!(sparse_dims(
            &conn,
            &Query {
                namespace: Some("ns".into()),
                ..Query::default()
            }
        )
        .unwrap());
        assert!(sparse_dims(
            &conn,
            &Query {
                pod: Some("p".into()),
                ..Query::default()
            }
        )
        .unwrap());
    }
}
