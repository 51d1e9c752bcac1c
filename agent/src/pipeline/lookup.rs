//! The state tables' view of containers, answered by saker-container's caches.
//!
//! Per-event calls (`field`, the `_cached` user lookups) only read caches; a
//! miss schedules the runtime query in the background and answers `None`, so
//! the event is never delayed. The one exception is the first user-name
//! lookup of a container, which reads its /etc/passwd once.

use std::path::PathBuf;
use std::sync::Arc;

use saker_container::{cgroup, CgroupIdMap, ContainerCache, ContainerInfo, UsersCache};
use saker_state::{ContainerField, ContainerLookup, MetaValue};
use tokio::runtime::Handle;

pub struct RuntimeLookup {
    cache: ContainerCache,
    cgroups: Option<Arc<CgroupIdMap>>,
    users: UsersCache,
    proc_root: PathBuf,
    handle: Handle,
    /// Whose root holds the host's /etc: init's, when we may read it
    /// (a hostPID DaemonSet), else our own (we run on the host).
    host_users_pid: u32,
}

impl RuntimeLookup {
    pub fn new(cache: ContainerCache, handle: Handle) -> Self {
        RuntimeLookup {
            cache,
            cgroups: CgroupIdMap::detect().map(Arc::new),
            users: UsersCache::default(),
            proc_root: PathBuf::from("/proc"),
            handle,
            host_users_pid: host_users_pid(),
        }
    }

    fn info(&self, full_id: &str) -> Option<Arc<ContainerInfo>> {
        self.cache.get(full_id)
    }
}

fn s(v: &Option<String>) -> Option<MetaValue> {
    v.as_deref().map(|x| MetaValue::Str(Arc::from(x)))
}

/// Falco's `container.mount.*[PATTERN]` arguments are globs with `*`.
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.len() >= head.len()
                && text.starts_with(head)
                && (0..=text.len() - head.len())
                    .filter(|&i| text.is_char_boundary(head.len() + i))
                    .any(|i| glob_match(tail, &text[head.len() + i..]))
        }
    }
}

fn host_users_pid() -> u32 {
    if std::fs::metadata("/proc/1/root/etc/passwd").is_ok() {
        1
    } else {
        std::process::id()
    }
}

/// Whose files name users: the container's (through the process's root), or
/// the host's through a root that outlives any short-lived process.
fn users_key(container: Option<&str>, pid: u32, host_pid: u32) -> (&str, u32) {
    match container {
        Some(c) => (c, pid),
        None => (saker_container::HOST_ID, host_pid),
    }
}

impl ContainerLookup for RuntimeLookup {
    fn container_id(&self, pid: u32, cgroup_id: u64) -> Option<Arc<str>> {
        // /proc first: exact for live processes. The cgroup id catches
        // processes that are already gone by the time we look.
        if let Ok(found) = cgroup::container_of_pid(&self.proc_root, pid) {
            let m = found?;
            let id: Arc<str> = Arc::from(m.full_id.as_str());
            // Warm the metadata cache now, off the event path.
            let _ = self.cache.get_match(&m);
            return Some(id);
        }
        // The map gives the cgroup's path; the path names the container.
        let map = self.cgroups.as_ref()?;
        let path = map.lookup_or_schedule(cgroup_id, &self.handle)?;
        let m = cgroup::container_from_cgroup_path(&path)?;
        let _ = self.cache.get_match(&m);
        Some(Arc::from(m.full_id.as_str()))
    }

    fn user_name(&self, container: Option<&str>, pid: u32, uid: u32) -> Option<Arc<str>> {
        let (key, pid) = users_key(container, pid, self.host_users_pid);
        self.users
            .user_name_cached(key, uid)
            .or_else(|| self.users.user_name(key, pid, uid))
    }

    fn group_name(&self, container: Option<&str>, pid: u32, gid: u32) -> Option<Arc<str>> {
        let (key, pid) = users_key(container, pid, self.host_users_pid);
        self.users
            .group_name_cached(key, gid)
            .or_else(|| self.users.group_name(key, pid, gid))
    }

    fn field(
        &self,
        container: &str,
        field: ContainerField,
        arg: Option<&str>,
    ) -> Option<MetaValue> {
        let info = self.info(container)?;
        match field {
            ContainerField::Name => s(&info.name),
            ContainerField::Image => s(&info.image),
            ContainerField::ImageRepository => s(&info.image_repository),
            ContainerField::ImageTag => s(&info.image_tag),
            ContainerField::Privileged => info.privileged.map(MetaValue::Bool),
            ContainerField::StartTs => info.start_ts.map(|t| MetaValue::Int(t as i64)),
            ContainerField::Mounts => Some(MetaValue::Str(Arc::from(info.mounts_field()))),
            ContainerField::MountDest => {
                let pattern = arg?;
                info.mounts
                    .iter()
                    .find(|m| glob_match(pattern, &m.source))
                    .map(|m| MetaValue::Str(Arc::from(m.dest.as_str())))
            }
            ContainerField::K8sNsName => s(&info.k8s.ns_name),
            ContainerField::K8sPodName => s(&info.k8s.pod_name),
            ContainerField::K8sPodUid => s(&info.k8s.pod_uid),
            ContainerField::K8sPodLabels => {
                let joined: Vec<String> = info
                    .k8s
                    .pod_labels
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                Some(MetaValue::Str(Arc::from(joined.join(", "))))
            }
            ContainerField::K8sPodLabel => {
                let key = arg?;
                info.k8s
                    .pod_labels
                    .get(key)
                    .map(|v| MetaValue::Str(Arc::from(v.as_str())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn mount_globs() {
        assert!(glob_match("/var/run/docker.sock", "/var/run/docker.sock"));
        assert!(!glob_match("/var/run/docker.sock", "/var/run/docker.sock2"));
        assert!(glob_match("/proc*", "/proc"));
        assert!(glob_match("/proc*", "/proc/1/root"));
        assert!(glob_match("/root*", "/root/.ssh"));
        assert!(!glob_match("/root*", "/home/root"));
        assert!(glob_match("*", ""));
        assert!(glob_match("/a*c", "/abbbc"));
        assert!(!glob_match("/a*c", "/abbb"));
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    #[test]
    fn host_user_names_come_from_the_hosts_passwd_even_for_gone_processes() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cache = ContainerCache::start(
            saker_container::RuntimeConfig::with_sockets(vec![], vec![]),
            rt.handle(),
        );
        let l = RuntimeLookup::new(cache, rt.handle().clone());
        // A pid that does not exist: the name must still come from the host.
        assert_eq!(l.user_name(None, 999_999_999, 0).as_deref(), Some("root"));
        assert_eq!(l.group_name(None, 999_999_999, 0).as_deref(), Some("root"));
    }
}
