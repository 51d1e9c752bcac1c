//! Gate coverage read back at open: what earlier runs of the agent could
//! vouch for, so a window that was fully watched before a restart is still
//! vouched for after it (the writer keeps the tables; see `CovChange`).

use rusqlite::Connection;

use super::writer::STORE_DROP_CATEGORY;
use crate::gate::{AgentStop, AttachInterval, Coverage, DropReport};

/// Earlier runs' coverage, and the store's own drops as minute buckets.
pub(crate) struct Loaded {
    pub(crate) coverage: Coverage,
    pub(crate) store_drops: Vec<(i64, u64)>,
}

pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let mut coverage = Coverage::default();
    let mut stmt =
        conn.prepare("SELECT start_ns, end_ns, clean FROM coverage_attach ORDER BY start_ns, id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (start_ns, end_ns, clean) = row?;
        // Every interval on disk belongs to an earlier run: it ends where
        // that run last proved it was watching, whether or not it was
        // closed; an interval with nothing proved yet covers nothing.
        if end_ns > start_ns {
            coverage.attached.push(AttachInterval {
                start_ns,
                end_ns: Some(end_ns),
            });
        }
        coverage.stops.push(AgentStop {
            at_ns: end_ns.max(start_ns),
            clean: clean != 0,
        });
    }
    let mut store_drops = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT category, minute, time_ns, first_ns, count FROM coverage_drops ORDER BY time_ns",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (category, minute, time_ns, first_ns, count) = row?;
        let count = u64::try_from(count).unwrap_or(0).max(1);
        if category == STORE_DROP_CATEGORY {
            store_drops.push((minute, count));
        } else {
            coverage.drops.push(DropReport {
                time_ns,
                count,
                category,
                first_ns,
            });
        }
    }
    coverage.deleted_upto_ns = super::schema::meta_get(conn, "coverage_pruned_upto_ns")?;
    Ok(Loaded {
        coverage,
        store_drops,
    })
}
