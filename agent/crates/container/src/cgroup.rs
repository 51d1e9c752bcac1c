//! Container id from a process's cgroup paths (/proc/PID/cgroup), the way
//! Falco's libsinsp finds it: a 64-hex component, bare or wrapped in a
//! runtime's systemd scope name.

use std::path::Path;

/// `container.id` of a process that is not in a container, as Falco prints it.
pub const HOST_ID: &str = "host";

/// Length of `container.id`: Falco truncates the runtime's 64-hex id to 12.
pub const SHORT_ID_LEN: usize = 12;

const FULL_ID_LEN: usize = 64;

/// Which runtime the cgroup path points at; decides which client to ask first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeHint {
    Docker,
    Containerd,
    CriO,
    Podman,
    /// A bare id under kubepods: some CRI runtime with the cgroupfs driver.
    Kubepods,
    /// A bare 64-hex component somewhere else.
    Unknown,
}

/// A container found in a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerMatch {
    /// All 64 hex characters, lower case (`container.full_id`).
    pub full_id: String,
    pub hint: RuntimeHint,
}

impl ContainerMatch {
    /// The 12-character `container.id`.
    pub fn short_id(&self) -> &str {
        &self.full_id[..SHORT_ID_LEN]
    }
}

/// One line of /proc/PID/cgroup: `hierarchy-ID:controller-list:path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLine<'a> {
    pub hierarchy: u32,
    /// Empty for the cgroup v2 (unified) line.
    pub controllers: &'a str,
    pub path: &'a str,
}

impl CgroupLine<'_> {
    /// The cgroup v2 line is `0::PATH`.
    pub fn is_unified(&self) -> bool {
        self.hierarchy == 0 && self.controllers.is_empty()
    }
}

/// Parses the lines of /proc/PID/cgroup, skipping malformed ones.
pub fn parse_proc_cgroup(content: &str) -> impl Iterator<Item = CgroupLine<'_>> {
    content.lines().filter_map(|line| {
        let mut it = line.splitn(3, ':');
        let hierarchy = it.next()?.trim().parse().ok()?;
        let controllers = it.next()?;
        // The path may itself contain ':', hence splitn(3).
        let path = it.next()?;
        if !path.starts_with('/') {
            return None;
        }
        Some(CgroupLine {
            hierarchy,
            controllers,
            path,
        })
    })
}

/// The unified (cgroup v2) path of a process, if its cgroup file has one.
pub fn unified_path(content: &str) -> Option<&str> {
    parse_proc_cgroup(content)
        .find(|l| l.is_unified())
        .map(|l| l.path)
}

/// Finds the container in the content of /proc/PID/cgroup; `None` is a host
/// process. The first line that names a container wins: on hybrid hosts some
/// controllers stay at the root while others are in the container's cgroup.
pub fn container_from_proc_cgroup(content: &str) -> Option<ContainerMatch> {
    parse_proc_cgroup(content).find_map(|l| container_from_cgroup_path(l.path))
}

/// Reads /proc/PID/cgroup under `proc_root` (normally `/proc`).
pub fn container_of_pid(proc_root: &Path, pid: u32) -> std::io::Result<Option<ContainerMatch>> {
    let content = std::fs::read_to_string(proc_root.join(pid.to_string()).join("cgroup"))?;
    Ok(container_from_proc_cgroup(&content))
}

/// Finds the container in one cgroup path. The deepest matching component
/// wins, because podman and systemd nest a plain `container` cgroup under
/// the scope that carries the id.
pub fn container_from_cgroup_path(path: &str) -> Option<ContainerMatch> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate().rev() {
        if let Some((id, hint)) = match_component(comp) {
            let hint = match hint {
                Some(h) => h,
                None => hint_from_parents(&comps[..i]),
            };
            return Some(ContainerMatch {
                full_id: id.to_ascii_lowercase(),
                hint,
            });
        }
    }
    None
}

/// Prefixes of systemd scope names (and cgroupfs names for libpod) that
/// carry a container id. Conmon scopes (`libpod-conmon-`, `crio-conmon-`)
/// do not match because `conmon-...` is not hex.
const PREFIXES: &[(&str, RuntimeHint)] = &[
    ("docker-", RuntimeHint::Docker),
    ("cri-containerd-", RuntimeHint::Containerd),
    ("crio-", RuntimeHint::CriO),
    ("libpod-", RuntimeHint::Podman),
];

fn match_component(comp: &str) -> Option<(&str, Option<RuntimeHint>)> {
    if is_full_id(comp) {
        return Some((comp, None));
    }
    let base = comp.strip_suffix(".scope").unwrap_or(comp);
    PREFIXES.iter().find_map(|(prefix, hint)| {
        let id = base.strip_prefix(prefix)?;
        is_full_id(id).then_some((id, Some(*hint)))
    })
}

fn hint_from_parents(parents: &[&str]) -> RuntimeHint {
    // The closest telling parent decides: /kubepods/.../docker/<id> is docker.
    for p in parents.iter().rev() {
        match *p {
            "docker" => return RuntimeHint::Docker,
            "libpod_parent" => return RuntimeHint::Podman,
            "crio" => return RuntimeHint::CriO,
            _ if p.starts_with("kubepods") => return RuntimeHint::Kubepods,
            _ => {}
        }
    }
    RuntimeHint::Unknown
}

fn is_full_id(s: &str) -> bool {
    s.len() == FULL_ID_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4b8c9e1d2a7b6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";

    #[test]
    fn cgroup_paths_table() {
        use RuntimeHint::*;
        let cases: &[(String, Option<RuntimeHint>)] = &[
            // docker, cgroupfs driver (v1 and v2)
            (format!("/docker/{ID}"), Some(Docker)),
            // docker, systemd driver
            (format!("/system.slice/docker-{ID}.scope"), Some(Docker)),
            // containerd CRI, systemd driver, burstable and besteffort pods
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-{ID}.scope"),
                Some(Containerd),
            ),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/cri-containerd-{ID}.scope"),
                Some(Containerd),
            ),
            // guaranteed pod, systemd
            (
                format!("/kubepods.slice/kubepods-pod123.slice/cri-containerd-{ID}.scope"),
                Some(Containerd),
            ),
            // CRI, cgroupfs driver: bare id under kubepods
            (
                format!("/kubepods/burstable/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/{ID}"),
                Some(Kubepods),
            ),
            (format!("/kubepods/besteffort/podxyz/{ID}"), Some(Kubepods)),
            (format!("/kubepods/podxyz/{ID}"), Some(Kubepods)),
            // dockershim node: kubepods then docker
            (
                format!("/kubepods/burstable/podxyz/docker/{ID}"),
                Some(Docker),
            ),
            // CRI-O, systemd and cgroupfs
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podx.slice/crio-{ID}.scope"),
                Some(CriO),
            ),
            (format!("/crio-{ID}"), Some(CriO)),
            (format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/crio-conmon-{ID}.scope"), None),
            // podman / libpod
            (format!("/libpod_parent/libpod-{ID}"), Some(Podman)),
            (format!("/machine.slice/libpod-{ID}.scope"), Some(Podman)),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Some(Podman)),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
                Some(Podman),
            ),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None),
            ("/libpod_parent/conmon".to_string(), None),
            // bare id elsewhere (containerd cgroupfs, `ctr run`)
            (format!("/default/{ID}"), Some(Unknown)),
            // upper case hex is accepted and lowered
            (format!("/docker/{}", ID.to_uppercase()), Some(Docker)),
            // host processes and near misses
            ("/".to_string(), None),
            ("/user.slice/user-0.slice/session-1.scope".to_string(), None),
            ("/system.slice/docker.service".to_string(), None),
            (format!("/docker/{}", &ID[..63]), None),
            (format!("/docker/{ID}0"), None),
            (format!("/docker/{}g", &ID[..63]), None),
            (format!("/system.slice/docker-{ID}.scopex"), None),
            (format!("/system.slice/podman-{ID}.scope"), None),
        ];
        for (path, want) in cases {
            let got = container_from_cgroup_path(path);
            match want {
                None => assert!(got.is_none(), "{path}: expected host, got {got:?}"),
                Some(h) => {
                    let got = got.unwrap_or_else(|| panic!("{path}: no container found"));
                    assert_eq!(got.full_id, ID, "{path}");
                    assert_eq!(got.short_id(), &ID[..12], "{path}");
                    assert_eq!(got.hint, *h, "{path}");
                }
            }
        }
    }

    #[test]
    fn proc_cgroup_hybrid_v1_and_v2() {
        // This machine's shape: v1 controllers plus a unified line.
        let content = format!(
            "12:pids:/libpod_parent/libpod-{ID}\n\
             4:memory:/libpod_parent/libpod-{ID}\n\
             1:name=systemd:/libpod_parent/libpod-{ID}\n\
             0::/libpod_parent/libpod-{ID}\n"
        );
        let m = container_from_proc_cgroup(&content).expect("container");
        assert_eq!(m.full_id, ID);
        assert_eq!(m.hint, RuntimeHint::Podman);
        assert_eq!(
            unified_path(&content),
            Some(format!("/libpod_parent/libpod-{ID}").as_str())
        );
    }

    #[test]
    fn proc_cgroup_v2_only_and_host() {
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(
            container_from_proc_cgroup(&v2).map(|m| m.hint),
            Some(RuntimeHint::Docker)
        );
        let host =
            "9:name=systemd:/\n4:memory:/process_api/0fc5fd0c123de7bc507a7d67d8469daf\n0::/\n";
        assert_eq!(container_from_proc_cgroup(host), None);
        assert_eq!(unified_path(host), Some("/"));
    }

    #[test]
    fn first_container_line_wins_when_some_controllers_are_at_root() {
        let content = format!("5:cpu:/\n4:memory:/docker/{ID}\n0::/\n");
        assert_eq!(
            container_from_proc_cgroup(&content).map(|m| m.full_id),
            Some(ID.to_string())
        );
    }

    #[test]
    fn malformed_lines_are_skipped_not_fatal() {
        let content = format!(
            "garbage\n\n:::\nx:cpu:/docker/{ID}\n4:memory\n7:cpu:relative/{ID}\n\u{0}\u{ff}\n3:blkio:/docker/{ID}:extra\n"
        );
        // Only the last line is well formed; its path has a ':' so no match.
        assert_eq!(parse_proc_cgroup(&content).count(), 1);
        assert_eq!(container_from_proc_cgroup(&content), None);
        let ok = format!("garbage\n2:cpuacct:/docker/{ID}\n");
        assert!(container_from_proc_cgroup(&ok).is_some());
    }

    #[test]
    fn own_process_reads_without_error() {
        let r = container_of_pid(Path::new("/proc"), std::process::id());
        assert!(r.is_ok());
    }
}
