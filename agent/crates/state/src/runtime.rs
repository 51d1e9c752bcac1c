//! [`ContainerLookup`] backed by saker-container: container id from
//! /proc/PID/cgroup, metadata from the runtime cache, names from the
//! container's own /etc/passwd and /etc/group. Every call is cache-only or a
//! cheap procfs read; nothing here waits on a runtime.

use crate::lookup::{ContainerField, ContainerLookup, MetaValue};
use saker_container::users::UserDb;
use saker_container::{cgroup, CgroupIdMap, ContainerCache, ContainerInfo, UsersCache, HOST_ID};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Metadata converted once per cached `ContainerInfo` (values shared, so a
/// rule reading `container.image.repository` on every event allocates nothing).
struct Converted {
    /// The `ContainerInfo` these came from; a refresh replaces the Arc.
    from: Arc<ContainerInfo>,
    fields: [Option<MetaValue>; 13],
}

pub struct RuntimeLookup {
    cache: ContainerCache,
    users: UsersCache,
    proc_root: PathBuf,
    converted: Mutex<HashMap<Arc<str>, Converted>>,
    /// cgroup v2 id → container, for processes gone before /proc is read.
    cgroups: Option<CgroupIdMap>,
    /// Whose root holds the host's /etc: init's when we may read it (a
    /// hostPID DaemonSet), else our own (we run on the host).
    host_users_pid: u32,
    /// A process last seen alive in each container: a short-lived process
    /// may be gone before its event is evaluated, and its container's
    /// users are then read through a sibling's root.
    live_pids: Mutex<HashMap<Arc<str>, u32>>,
}

/// Bound on `live_pids`; cleared when reached (entries refill on sight).
const MAX_LIVE_PIDS: usize = 65_536;

impl RuntimeLookup {
    pub fn new(cache: ContainerCache, users: UsersCache, proc_root: impl Into<PathBuf>) -> Self {
        let proc_root = proc_root.into();
        let host_users_pid = if proc_root.join("1/root/etc/passwd").metadata().is_ok() {
            1
        } else {
            std::process::id()
        };
        RuntimeLookup {
            cache,
            users,
            proc_root,
            converted: Mutex::new(HashMap::new()),
            cgroups: CgroupIdMap::detect(),
            host_users_pid,
            live_pids: Mutex::new(HashMap::new()),
        }
    }

    /// The users key and the pid whose root to read: the container's own
    /// process, or for the host a root that outlives short-lived processes.
    fn users_key<'a>(&self, container: Option<&'a str>, pid: u32) -> (&'a str, u32) {
        match container {
            Some(c) => (c, pid),
            None => (HOST_ID, self.host_users_pid),
        }
    }

    /// The user database for `container`, read through `pid`'s root, or
    /// through a sibling's when `pid` is gone.
    fn users_db(&self, container: Option<&str>, pid: u32) -> Option<Arc<UserDb>> {
        let (key, pid) = self.users_key(container, pid);
        if let Some(db) = self.users.db(key, pid) {
            return Some(db);
        }
        let sibling = *self.live_pids.lock().ok()?.get(key)?;
        if sibling == pid {
            return None;
        }
        // The pid may have been reused by another container's process since.
        let still_ours = cgroup::container_of_pid(&self.proc_root, sibling)
            .ok()
            .flatten()
            .is_some_and(|m| m.full_id == key);
        let db = if still_ours {
            self.users.db(key, sibling)
        } else {
            None
        };
        if db.is_none() {
            // Gone too: the next process seen in the container takes over.
            if let Ok(mut m) = self.live_pids.lock() {
                m.remove(key);
            }
        }
        db
    }

    /// Keeps the oldest live process seen per container (usually its init,
    /// which outlives the short processes that come and go), replacing it
    /// once it is gone.
    fn note_live(&self, container: &Arc<str>, pid: u32) {
        let Ok(mut m) = self.live_pids.lock() else {
            return;
        };
        if let Some(&old) = m.get(container) {
            if old == pid || self.proc_root.join(old.to_string()).exists() {
                return;
            }
        } else if m.len() >= MAX_LIVE_PIDS {
            m.clear();
        }
        m.insert(container.clone(), pid);
    }

    pub fn cache(&self) -> &ContainerCache {
        &self.cache
    }
}

fn s(v: &Option<String>) -> Option<MetaValue> {
    v.as_deref().map(|v| MetaValue::Str(Arc::from(v)))
}

fn convert(info: &ContainerInfo) -> [Option<MetaValue>; 13] {
    use ContainerField as F;
    let mut out: [Option<MetaValue>; 13] = Default::default();
    out[F::Name as usize] = s(&info.name);
    out[F::Image as usize] = s(&info.image);
    out[F::ImageRepository as usize] = s(&info.image_repository);
    out[F::ImageTag as usize] = s(&info.image_tag);
    out[F::Privileged as usize] = info.privileged.map(MetaValue::Bool);
    out[F::StartTs as usize] = info.start_ts.map(|t| MetaValue::Int(t as i64));
    out[F::Mounts as usize] = Some(MetaValue::Str(Arc::from(info.mounts_field())));
    out[F::K8sNsName as usize] = s(&info.k8s.ns_name);
    out[F::K8sPodName as usize] = s(&info.k8s.pod_name);
    out[F::K8sPodUid as usize] = s(&info.k8s.pod_uid);
    if info.k8s.is_pod() {
        let labels: Vec<String> = info
            .k8s
            .pod_labels
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        out[F::K8sPodLabels as usize] = Some(MetaValue::Str(Arc::from(labels.join(", "))));
    }
    out
}

/// Falco's mount-source match: exact, or a trailing-`*` prefix glob.
fn source_matches(pattern: &str, source: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => source.starts_with(prefix),
        None => pattern == source,
    }
}

impl ContainerLookup for RuntimeLookup {
    fn container_id(&self, pid: u32, cgroup_id: u64) -> Option<Arc<str>> {
        // /proc first: exact for live processes. The cgroup id (a directory
        // inode in the unified hierarchy) catches processes already gone.
        let (m, alive) = match cgroup::container_of_pid(&self.proc_root, pid) {
            Ok(found) => (found?, true),
            Err(_) => (self.cgroups.as_ref()?.container_of(cgroup_id)?, false),
        };
        // Ask the runtime now so metadata is there by the time rules need it.
        let _ = self.cache.get_match(&m);
        let id: Arc<str> = Arc::from(m.full_id);
        if alive {
            self.note_live(&id, pid);
            // Users too, while this process's root can still be read.
            let _ = self.users.db(&id, pid);
        }
        Some(id)
    }

    fn user_name(&self, container: Option<&str>, pid: u32, uid: u32) -> Option<Arc<str>> {
        let (key, _) = self.users_key(container, pid);
        self.users
            .user_name_cached(key, uid)
            .or_else(|| self.users_db(container, pid)?.users.get(&uid).cloned())
    }

    fn group_name(&self, container: Option<&str>, pid: u32, gid: u32) -> Option<Arc<str>> {
        let (key, _) = self.users_key(container, pid);
        self.users
            .group_name_cached(key, gid)
            .or_else(|| self.users_db(container, pid)?.groups.get(&gid).cloned())
    }

    fn field(
        &self,
        container: &str,
        field: ContainerField,
        arg: Option<&str>,
    ) -> Option<MetaValue> {
        let info = self.cache.get(container)?;
        match (field, arg) {
            (ContainerField::MountDest, Some(src)) => {
                return info
                    .mounts
                    .iter()
                    .find(|m| source_matches(src, &m.source))
                    .map(|m| MetaValue::Str(Arc::from(m.dest.as_str())));
            }
            (ContainerField::K8sPodLabel, Some(k)) => {
                return info
                    .k8s
                    .pod_labels
                    .get(k)
                    .map(|v| MetaValue::Str(Arc::from(v.as_str())));
            }
            _ => {}
        }
        let mut map = self.converted.lock().ok()?;
        let entry = map
            .entry(Arc::from(container))
            .or_insert_with(|| Converted {
                from: info.clone(),
                fields: convert(&info),
            });
        if !Arc::ptr_eq(&entry.from, &info) {
            entry.fields = convert(&info);
            entry.from = info;
        }
        if map.len() > 65_536 {
            map.clear();
            return None;
        }
        map.get(container)?.fields.get(field as usize)?.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A fake /proc entry: a docker cgroup line and a root with a passwd.
    fn fake_proc(proc_root: &Path, pid: u32, rootfs: &Path) {
        let dir = proc_root.join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup"), format!("0::/docker/{CID}\n")).unwrap();
        std::os::unix::fs::symlink(rootfs, dir.join("root")).unwrap();
    }

    fn lookup(proc_root: &Path) -> (tokio::runtime::Runtime, RuntimeLookup) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cfg = saker_container::RuntimeConfig {
            docker_sockets: vec![],
            cri_sockets: vec![],
            ..Default::default()
        };
        let cache = ContainerCache::start(cfg, rt.handle());
        let users = UsersCache::new(proc_root, Duration::from_secs(3600));
        let l = RuntimeLookup::new(cache, users, proc_root);
        (rt, l)
    }

    #[test]
    fn users_of_a_gone_process_come_from_its_container() {
        let base = std::env::temp_dir().join(format!("saker-rtl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (proc_root, rootfs) = (base.join("proc"), base.join("rootfs"));
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/passwd"), "app:x:4321:4321::/:\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "apps:x:4321:\n").unwrap();
        fake_proc(&proc_root, 100, &rootfs);
        fake_proc(&proc_root, 101, &rootfs);
        let (_rt, l) = lookup(&proc_root);

        // Seeing a process warms its container's users while it is alive.
        assert_eq!(l.container_id(101, 0).as_deref(), Some(CID));
        std::fs::remove_dir_all(proc_root.join("101")).unwrap();
        assert_eq!(l.user_name(Some(CID), 101, 4321).as_deref(), Some("app"));

        // Not cached (forgotten), the event's process gone: read through
        // the first process seen in the container, which is still alive.
        l.users.remove(CID);
        assert_eq!(l.container_id(100, 0).as_deref(), Some(CID));
        l.users.remove(CID);
        assert_eq!(l.user_name(Some(CID), 555, 4321).as_deref(), Some("app"));
        l.users.remove(CID);
        assert_eq!(l.group_name(Some(CID), 555, 4321).as_deref(), Some("apps"));

        // The sibling's pid now belongs to another container: not read.
        std::fs::write(
            proc_root.join("100/cgroup"),
            format!("0::/docker/{}\n", "f".repeat(64)),
        )
        .unwrap();
        l.users.remove(CID);
        assert_eq!(l.user_name(Some(CID), 555, 4321), None);
        assert!(l.users.cached(CID).is_none());

        // Every process gone: no name, and nothing wrong cached.
        std::fs::remove_dir_all(proc_root.join("100")).unwrap();
        l.users.remove(CID);
        assert_eq!(l.user_name(Some(CID), 555, 4321), None);
        assert!(l.users.cached(CID).is_none());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn converts_fields_and_globs() {
        let mut info = ContainerInfo::new(&"ab".repeat(32));
        info.name = Some("web".into());
        info.set_image("localhost/busy:1.2");
        info.k8s.ns_name = Some("shadow-test".into());
        let f = convert(&info);
        assert_eq!(
            f[ContainerField::Name as usize],
            Some(MetaValue::Str(Arc::from("web")))
        );
        assert_eq!(
            f[ContainerField::ImageTag as usize],
            Some(MetaValue::Str(Arc::from("1.2")))
        );
        assert_eq!(
            f[ContainerField::K8sNsName as usize],
            Some(MetaValue::Str(Arc::from("shadow-test")))
        );
        assert!(source_matches("/proc*", "/proc/sys"));
        assert!(!source_matches(
            "/var/run/docker.sock",
            "/var/run/docker.sock2"
        ));
    }
}
