//! `user.name`, `group.name` and `user.loginname` from the container's own
//! /etc/passwd and /etc/group, read through /proc/PID/root (the host's for
//! host processes), cached per container.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// The loginuid of a process that never logged in ((uid_t)-1).
pub const NO_LOGINUID: u32 = u32::MAX;

/// Files bigger than this are not user databases; reading them would let a
/// container make the agent allocate at will.
const MAX_FILE: u64 = 4 << 20;

/// uid → name and gid → name for one root filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDb {
    pub users: HashMap<u32, Arc<str>>,
    pub groups: HashMap<u32, Arc<str>>,
}

/// Parses passwd or group content: `name:x:ID:...`. Lines that are empty,
/// comments, NIS `+`/`-` entries, or lack a numeric id are skipped; the
/// first entry for an id wins, as getpwuid does.
pub fn parse_id_file(content: &str) -> HashMap<u32, Arc<str>> {
    let mut out = HashMap::new();
    for line in content.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with('+')
            || line.starts_with('-')
        {
            continue;
        }
        let mut f = line.split(':');
        let (Some(name), Some(_pw), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if name.is_empty() || name.len() > 256 {
            continue;
        }
        let Ok(id) = id.trim().parse::<u32>() else {
            continue;
        };
        out.entry(id).or_insert_with(|| Arc::from(name));
    }
    out
}

impl UserDb {
    /// Reads `etc/passwd` and `etc/group` under `root`. A missing file is an
    /// empty map (a distroless image has none); a root that is gone or a
    /// read that could not finish is an error, so it is never cached as
    /// "no users".
    pub fn load(root: &Path) -> std::io::Result<Self> {
        let read = |p: &str| -> std::io::Result<HashMap<u32, Arc<str>>> {
            Ok(crate::rootfs::read_file_in_root(root, p, MAX_FILE)?
                .map(|c| parse_id_file(&String::from_utf8_lossy(&c)))
                .unwrap_or_default())
        };
        Ok(Self {
            users: read("etc/passwd")?,
            groups: read("etc/group")?,
        })
    }
}

struct Slot {
    db: Arc<UserDb>,
    loaded: Instant,
    /// passwd and group mtimes at load; a change means reload.
    stamp: (Option<SystemTime>, Option<SystemTime>),
}

/// Per-container user databases, keyed by container id (`host` for host
/// processes).
pub struct UsersCache {
    proc_root: PathBuf,
    /// After this, a lookup re-checks the files' mtimes and reloads if they
    /// changed (useradd inside a running container).
    refresh: Duration,
    slots: RwLock<HashMap<Arc<str>, Slot>>,
}

impl std::fmt::Debug for UsersCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsersCache")
            .field("proc_root", &self.proc_root)
            .finish()
    }
}

impl Default for UsersCache {
    fn default() -> Self {
        Self::new("/proc", Duration::from_secs(30))
    }
}

impl UsersCache {
    pub fn new(proc_root: impl Into<PathBuf>, refresh: Duration) -> Self {
        Self {
            proc_root: proc_root.into(),
            refresh,
            slots: RwLock::new(HashMap::new()),
        }
    }

    /// The root to read for `pid`: its own root. For host processes, pid 1's
    /// root is the host's even when the agent itself runs in a container.
    fn root_of(&self, pid: u32) -> PathBuf {
        self.proc_root.join(pid.to_string()).join("root")
    }

    /// Hot path: the cached database for `key`, no I/O.
    pub fn cached(&self, key: &str) -> Option<Arc<UserDb>> {
        self.slots.read().ok()?.get(key).map(|s| s.db.clone())
    }

    /// The database for `key`, loading it through /proc/`pid`/root on a miss
    /// or when the refresh interval passed and the files changed. `None`
    /// when it cannot be read now (the process is gone, or a container
    /// process is still at the host's root before runc moves it); nothing
    /// is cached then, so a later lookup tries again. Blocking file I/O:
    /// call at exec / proc-scan time or from a worker.
    pub fn db(&self, key: &str, pid: u32) -> Option<Arc<UserDb>> {
        let root = self.root_of(pid);
        if let Ok(slots) = self.slots.read() {
            if let Some(s) = slots.get(key) {
                if s.loaded.elapsed() < self.refresh {
                    return Some(s.db.clone());
                }
                if stamp(&root) == s.stamp {
                    let db = s.db.clone();
                    drop(slots);
                    if let Ok(mut w) = self.slots.write() {
                        if let Some(s) = w.get_mut(key) {
                            s.loaded = Instant::now();
                        }
                    }
                    return Some(db);
                }
            }
        }
        if key != crate::HOST_ID && self.is_host_root(&root) {
            return None;
        }
        self.load(key, &root)
    }

    /// Whether `root` is the host's own root directory: what a container's
    /// process sees between runc's fork and its pivot_root or setns.
    fn is_host_root(&self, root: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(m) = std::fs::metadata(root) else {
            return false;
        };
        let host =
            std::fs::metadata(self.proc_root.join("1/root")).or_else(|_| std::fs::metadata("/"));
        host.is_ok_and(|h| h.dev() == m.dev() && h.ino() == m.ino())
    }

    /// Loads from an explicit root (tests, or a rootfs path already known).
    /// `None`, and nothing cached, when the root cannot be read.
    pub fn load(&self, key: &str, root: &Path) -> Option<Arc<UserDb>> {
        let db = Arc::new(UserDb::load(root).ok()?);
        let slot = Slot {
            db: db.clone(),
            loaded: Instant::now(),
            stamp: stamp(root),
        };
        if let Ok(mut w) = self.slots.write() {
            w.insert(Arc::from(key), slot);
        }
        Some(db)
    }

    /// `user.name` for `uid` in container `key` (process `pid`).
    pub fn user_name(&self, key: &str, pid: u32, uid: u32) -> Option<Arc<str>> {
        self.db(key, pid)?.users.get(&uid).cloned()
    }

    /// `group.name` for `gid`.
    pub fn group_name(&self, key: &str, pid: u32, gid: u32) -> Option<Arc<str>> {
        self.db(key, pid)?.groups.get(&gid).cloned()
    }

    /// `user.loginname`: the loginuid's name; none for processes that never
    /// logged in.
    pub fn login_name(&self, key: &str, pid: u32, loginuid: u32) -> Option<Arc<str>> {
        if loginuid == NO_LOGINUID {
            return None;
        }
        self.user_name(key, pid, loginuid)
    }

    /// Hot-path variants: cache only, never touch the filesystem. `None`
    /// until [`UsersCache::db`] has loaded the container once.
    pub fn user_name_cached(&self, key: &str, uid: u32) -> Option<Arc<str>> {
        self.cached(key)?.users.get(&uid).cloned()
    }

    pub fn group_name_cached(&self, key: &str, gid: u32) -> Option<Arc<str>> {
        self.cached(key)?.groups.get(&gid).cloned()
    }

    /// Forgets a container (it exited).
    pub fn remove(&self, key: &str) {
        if let Ok(mut w) = self.slots.write() {
            w.remove(key);
        }
    }
}

fn stamp(root: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let m = |p: &str| {
        std::fs::metadata(root.join(p))
            .and_then(|m| m.modified())
            .ok()
    };
    (m("etc/passwd"), m("etc/group"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_vanished_root_is_not_cached() {
        let cache = UsersCache::new("/proc", std::time::Duration::from_secs(30));
        let db = cache.load("c1", std::path::Path::new("/nonexistent/proc/999999/root"));
        assert!(db.is_none());
        assert!(
            cache.cached("c1").is_none(),
            "an exited process's empty view must not stick"
        );
    }

    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("saker-users-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        d
    }

    #[test]
    fn parses_and_skips_bad_lines() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      # comment\n\
                      \n\
                      broken line without colons\n\
                      nouid:x::1:\n\
                      neg:x:-1:1::/:\n\
                      big:x:99999999999:1::/:\n\
                      +nisuser::0:0:::\n\
                      :x:5:5::/:\n\
                      sakeruser:x:1234:1234::/home:/bin/sh\r\n\
                      dup:x:1234:1::/:\n\
                      short:x:7\n\
                      \u{fffd}weird\u{0}:x:8:8::/:\n";
        let m = parse_id_file(passwd);
        assert_eq!(m.get(&0).map(|s| &**s), Some("root"));
        assert_eq!(
            m.get(&1234).map(|s| &**s),
            Some("sakeruser"),
            "first entry wins"
        );
        assert_eq!(m.get(&7).map(|s| &**s), Some("short"));
        assert_eq!(m.len(), 4, "{m:?}");
        let group = parse_id_file("root:x:0:\nsakers:x:1234:sakeruser\nbad\n");
        assert_eq!(group.get(&1234).map(|s| &**s), Some("sakers"));
    }

    #[test]
    fn container_root_overrides_host_and_is_cached_per_key() {
        let a = tmp("a");
        std::fs::write(
            a.join("etc/passwd"),
            "sakeruser:x:1234:1234::/home:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(a.join("etc/group"), "sakers:x:1234:\n").unwrap();
        let b = tmp("b");
        std::fs::write(b.join("etc/passwd"), "other:x:1234:1234::/:\n").unwrap();
        let c = UsersCache::new("/proc", Duration::from_secs(3600));
        assert!(c.cached("aaa").is_none());
        c.load("aaa", &a);
        c.load("bbb", &b);
        assert_eq!(
            c.cached("aaa").unwrap().users.get(&1234).map(|s| &**s),
            Some("sakeruser")
        );
        assert_eq!(
            c.cached("aaa").unwrap().groups.get(&1234).map(|s| &**s),
            Some("sakers")
        );
        assert_eq!(
            c.cached("bbb").unwrap().users.get(&1234).map(|s| &**s),
            Some("other")
        );
        assert!(
            c.cached("bbb").unwrap().groups.is_empty(),
            "missing group file is empty, not an error"
        );
        c.remove("aaa");
        assert!(c.cached("aaa").is_none());
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }

    #[test]
    fn reloads_after_refresh_when_files_change() {
        // A fake /proc with pid 42 whose root is a temp dir.
        let procdir = tmp("proc");
        let rootfs = tmp("rootfs");
        std::fs::create_dir_all(procdir.join("42")).unwrap();
        std::os::unix::fs::symlink(&rootfs, procdir.join("42/root")).unwrap();
        std::fs::write(rootfs.join("etc/passwd"), "old:x:1000:1000::/:\n").unwrap();
        let c = UsersCache::new(&procdir, Duration::from_millis(0));
        assert_eq!(c.user_name("ctr", 42, 1000).as_deref(), Some("old"));
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(rootfs.join("etc/passwd"), "new:x:1000:1000::/:\n").unwrap();
        assert_eq!(c.user_name("ctr", 42, 1000).as_deref(), Some("new"));
        assert_eq!(c.login_name("ctr", 42, 1000).as_deref(), Some("new"));
        assert_eq!(c.login_name("ctr", 42, NO_LOGINUID), None);
        assert_eq!(c.group_name("ctr", 42, 1000), None);
        // A pid that does not exist: empty names, no error.
        assert_eq!(c.user_name("gone", 999_999_999, 0), None);
        let _ = std::fs::remove_dir_all(&procdir);
        let _ = std::fs::remove_dir_all(&rootfs);
    }

    #[test]
    fn a_container_key_at_the_host_root_is_not_cached() {
        // Our own root is the host's: for a container key that is runc's
        // window before pivot_root, and the host's names would be wrong.
        let c = UsersCache::default();
        assert!(c.db("0123abcd", std::process::id()).is_none());
        assert!(c.cached("0123abcd").is_none());
        assert!(c.db(crate::HOST_ID, std::process::id()).is_some());
    }

    #[test]
    fn host_root_of_self_resolves_root() {
        let c = UsersCache::default();
        // Every Debian host has uid 0 named root.
        assert_eq!(
            c.user_name("host", std::process::id(), 0).as_deref(),
            Some("root")
        );
    }
}
