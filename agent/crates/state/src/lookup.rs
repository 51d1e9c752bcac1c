//! The boundary to container and user metadata (the `saker-container`
//! crate implements it). Kept as a trait so this crate builds and tests
//! without it, and so the hot path only ever asks a cache, never does I/O.

use std::sync::Arc;

/// The container and Kubernetes fields state hands through to the lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerField {
    Name,
    Image,
    ImageRepository,
    ImageTag,
    Privileged,
    StartTs,
    Mounts,
    /// `container.mount.dest[PATH]`: the bracket argument is passed along.
    MountDest,
    K8sNsName,
    K8sPodName,
    K8sPodUid,
    K8sPodLabels,
    /// `k8s.pod.label[KEY]`.
    K8sPodLabel,
}

/// A metadata value. Owned because it comes out of a shared cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaValue {
    Str(Arc<str>),
    Bool(bool),
    Int(i64),
}

/// Container and user metadata, answered from caches (never blocking).
pub trait ContainerLookup: Send {
    /// The full (64 hex) container id of `pid`, `None` for a host process.
    /// Called when a process is first seen and when its cgroup changes.
    fn container_id(&self, pid: u32, cgroup_id: u64) -> Option<Arc<str>>;

    /// `user.name` of `uid` as the container (or host) sees it.
    fn user_name(&self, _container: Option<&str>, _pid: u32, _uid: u32) -> Option<Arc<str>> {
        None
    }

    /// `group.name` of `gid`.
    fn group_name(&self, _container: Option<&str>, _pid: u32, _gid: u32) -> Option<Arc<str>> {
        None
    }

    /// A container or pod field; `None` until the runtime answered.
    fn field(
        &self,
        _container: &str,
        _field: ContainerField,
        _arg: Option<&str>,
    ) -> Option<MetaValue> {
        None
    }
}

/// No container runtime: every process is on the host, names from the host's
/// /etc/passwd and /etc/group (read once).
#[derive(Debug, Default)]
pub struct HostOnly {
    users: Vec<(u32, Arc<str>)>,
    groups: Vec<(u32, Arc<str>)>,
}

impl HostOnly {
    /// Reads the host's files through init's root (right even when the
    /// agent runs in a container with hostPID), else our own /etc.
    pub fn new() -> Self {
        let pick = |name: &str| {
            let host = read_id_file(&format!("/proc/1/root/etc/{name}"));
            if host.is_empty() {
                read_id_file(&format!("/etc/{name}"))
            } else {
                host
            }
        };
        HostOnly {
            users: pick("passwd"),
            groups: pick("group"),
        }
    }
}

/// `name:x:id:...` lines (passwd and group share the first three fields).
pub fn parse_id_file(text: &str) -> Vec<(u32, Arc<str>)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, Arc::from(name)))
        })
        .collect()
}

fn read_id_file(path: &str) -> Vec<(u32, Arc<str>)> {
    std::fs::read_to_string(path)
        .map(|t| parse_id_file(&t))
        .unwrap_or_default()
}

impl ContainerLookup for HostOnly {
    fn container_id(&self, _pid: u32, _cgroup_id: u64) -> Option<Arc<str>> {
        None
    }
    fn user_name(&self, _c: Option<&str>, _pid: u32, uid: u32) -> Option<Arc<str>> {
        self.users
            .iter()
            .find(|(id, _)| *id == uid)
            .map(|(_, n)| n.clone())
    }
    fn group_name(&self, _c: Option<&str>, _pid: u32, gid: u32) -> Option<Arc<str>> {
        self.groups
            .iter()
            .find(|(id, _)| *id == gid)
            .map(|(_, n)| n.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_files() {
        let v =
            parse_id_file("root:x:0:0:root:/root:/bin/sh\n# c\nbad\nnobody:x:65534:65534::/:/x\n");
        assert_eq!(v.len(), 2);
        assert_eq!(&*v[1].1, "nobody");
        let h = HostOnly::new();
        assert_eq!(h.user_name(None, 1, 0).as_deref(), Some("root"));
    }
}
