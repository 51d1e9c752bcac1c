//! The writer's cache of `dims` ids: one row per distinct (namespace, pod,
//! container_id, rule), so alerts need one index for all three filters.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::alert::StoredAlert;

/// Cached combinations; past this the cache restarts (misses cost one
/// indexed SELECT each, so a churny cluster only slows the writer slightly).
const CACHE_MAX: usize = 100_000;

#[derive(Default)]
pub(crate) struct Dims {
    ids: HashMap<String, i64>,
    key: String,
}

impl Dims {
    /// Builds the lookup key in a reused buffer: no allocation per alert
    /// unless the combination is new.
    fn fill_key(&mut self, a: &StoredAlert) {
        use std::fmt::Write;
        self.key.clear();
        // Length-prefixed, so no field content can imitate a boundary; "-"
        // keeps None apart from Some("").
        for f in [&a.namespace, &a.pod, &a.container_id] {
            match f {
                None => self.key.push('-'),
                Some(s) => {
                    let _ = write!(self.key, "{}:{s}", s.len());
                }
            }
        }
        self.key.push_str(&a.rule);
    }

    /// The dims id for `a`, creating the row inside the caller's transaction.
    pub(crate) fn resolve(&mut self, conn: &Connection, a: &StoredAlert) -> rusqlite::Result<i64> {
        self.fill_key(a);
        if let Some(&id) = self.ids.get(self.key.as_str()) {
            return Ok(id);
        }
        let found: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM dims WHERE namespace IS ?1 AND pod IS ?2 AND container_id IS ?3 \
                 AND rule = ?4 LIMIT 1",
            )?
            .query_row(params![a.namespace, a.pod, a.container_id, a.rule], |r| {
                r.get(0)
            })
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached(
                    "INSERT INTO dims (namespace, pod, container_id, rule) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![a.namespace, a.pod, a.container_id, a.rule])?;
                conn.last_insert_rowid()
            }
        };
        if self.ids.len() >= CACHE_MAX {
            self.ids.clear();
        }
        self.ids.insert(self.key.clone(), id);
        Ok(id)
    }

    /// Forget everything: after a rolled-back transaction (ids may not
    /// exist) or a prune (ids may be gone).
    pub(crate) fn clear(&mut self) {
        self.ids.clear();
    }
}

/// Deletes dims rows no alert refers to any more (after retention).
pub(crate) fn prune(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM dims WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alerts.dim = dims.id)",
        [],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Priority;

    fn a(ns: Option<&str>, pod: Option<&str>, rule: &str) -> StoredAlert {
        StoredAlert {
            time_ns: 0,
            rule: rule.into(),
            priority: Priority::Notice,
            source: String::new(),
            hostname: String::new(),
            namespace: ns.map(Into::into),
            pod: pod.map(Into::into),
            container_id: None,
            json: "{}".into(),
        }
    }

    #[test]
    fn keys_do_not_collide() {
        let mut d = Dims::default();
        let mut keys = std::collections::HashSet::new();
        for x in [
            a(Some("a"), Some("b"), "r"),
            a(Some("a"), None, "r"),
            a(Some("a"), Some(""), "r"),
            a(None, Some("a"), "r"),
            a(Some("1:a"), None, "r"),
            a(Some(""), Some(""), "r"),
            a(Some("a"), Some("b"), "1:r"),
        ] {
            d.fill_key(&x);
            assert!(keys.insert(d.key.clone()), "{:?}", d.key);
        }
    }
}
