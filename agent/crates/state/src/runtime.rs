//! [`ContainerLookup`] backed by saker-container: container id from
//! /proc/PID/cgroup, metadata from the runtime cache, names from the
//! container's own /etc/passwd and /etc/group. Every call is cache-only or a
//! cheap procfs read; nothing here waits on a runtime.

use crate::lookup::{ContainerField, ContainerLookup, MetaValue};
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
}

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
        let m = match cgroup::container_of_pid(&self.proc_root, pid) {
            Ok(found) => found?,
            Err(_) => self.cgroups.as_ref()?.container_of(cgroup_id)?,
        };
        // Ask the runtime now so metadata is there by the time rules need it.
        let _ = self.cache.get_match(&m);
        Some(Arc::from(m.full_id))
    }

    fn user_name(&self, container: Option<&str>, pid: u32, uid: u32) -> Option<Arc<str>> {
        let (key, pid) = self.users_key(container, pid);
        self.users
            .user_name_cached(key, uid)
            .or_else(|| self.users.user_name(key, pid, uid))
    }

    fn group_name(&self, container: Option<&str>, pid: u32, gid: u32) -> Option<Arc<str>> {
        let (key, pid) = self.users_key(container, pid);
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
