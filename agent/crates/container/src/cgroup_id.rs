//! Maps a cgroup v2 id (what `bpf_get_current_cgroup_id` returns: the inode
//! number of the cgroup directory in the unified hierarchy) back to a cgroup
//! path, so a record that carries only the id still finds its container.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::cgroup::{container_from_cgroup_path, ContainerMatch};

/// Finds the cgroup2 mount point in the content of /proc/self/mountinfo.
/// On a hybrid host this is e.g. /sys/fs/cgroup/unified.
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // Fields: id parent maj:min root mountpoint opts [optional...] - fstype src superopts
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        let mountpoint = left.split_whitespace().nth(4)?;
        Some(PathBuf::from(unescape_mountinfo(mountpoint)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Cached cgroup-id → path map over one cgroup2 mount.
#[derive(Debug)]
pub struct CgroupIdMap {
    root: PathBuf,
    inner: RwLock<Inner>,
    /// A background rescan is queued or running.
    scanning: AtomicBool,
    /// Rescans on misses are rate limited: ids that belong to no directory
    /// (a cgroup already removed) would otherwise walk the tree per event.
    min_rescan: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<u64, Arc<str>>,
    last_scan: Option<Instant>,
}

impl CgroupIdMap {
    /// Uses the cgroup2 mount named in /proc/self/mountinfo; `None` if the
    /// host has no cgroup2 mount.
    pub fn detect() -> Option<Self> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        cgroup2_mount(&mi).map(Self::new)
    }

    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            inner: RwLock::new(Inner::default()),
            scanning: AtomicBool::new(false),
            min_rescan: Duration::from_secs(1),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Cache only; never touches the filesystem (hot path).
    pub fn lookup_cached(&self, id: u64) -> Option<Arc<str>> {
        self.inner.read().ok()?.by_id.get(&id).cloned()
    }

    /// Hot path: the cache, and on a miss one background rescan (rate
    /// limited, at most one at a time) on `handle`'s blocking pool. The
    /// caller gets `None` now and the path on a later event.
    pub fn lookup_or_schedule(
        self: &Arc<Self>,
        id: u64,
        handle: &tokio::runtime::Handle,
    ) -> Option<Arc<str>> {
        if let Some(p) = self.lookup_cached(id) {
            return Some(p);
        }
        if !self.scanning.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            handle.spawn_blocking(move || {
                me.resolve(id);
                me.scanning.store(false, Ordering::Release);
            });
        }
        None
    }

    /// Cache, then a rescan of the hierarchy on a miss (rate limited). Does
    /// blocking I/O: call it from a worker, not per event.
    pub fn resolve(&self, id: u64) -> Option<Arc<str>> {
        if let Some(p) = self.lookup_cached(id) {
            return Some(p);
        }
        let due = self
            .inner
            .read()
            .ok()
            .map(|i| i.last_scan.is_none_or(|t| t.elapsed() >= self.min_rescan))
            .unwrap_or(false);
        if due {
            self.rescan();
        }
        self.lookup_cached(id)
    }

    /// The container of a cgroup id, if its path names one.
    pub fn container_of(&self, id: u64) -> Option<ContainerMatch> {
        container_from_cgroup_path(&self.resolve(id)?)
    }

    /// Walks the whole hierarchy and replaces the map, so removed cgroups
    /// drop out. Returns the number of cgroups seen.
    pub fn rescan(&self) -> usize {
        let mut by_id = HashMap::new();
        walk(&self.root, &self.root, &mut by_id, 0);
        let n = by_id.len();
        if let Ok(mut inner) = self.inner.write() {
            inner.by_id = by_id;
            inner.last_scan = Some(Instant::now());
        }
        n
    }
}

/// Real hierarchies are shallow; the cap guards against a bind-mount loop.
const MAX_DEPTH: usize = 32;

fn walk(root: &Path, dir: &Path, out: &mut HashMap<u64, Arc<str>>, depth: usize) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    let rel = match dir.strip_prefix(root) {
        Ok(r) if r.as_os_str().is_empty() => "/".to_string(),
        Ok(r) => format!("/{}", r.to_string_lossy()),
        Err(_) => return,
    };
    out.insert(meta.ino(), Arc::from(rel));
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        // file_type() from the dirent avoids a stat per control file.
        if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(root, &ent.path(), out, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_mount_in_hybrid_mountinfo() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                  35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(mi),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let pure = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup2_mount(pure), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(cgroup2_mount("garbage\n1 2 3\n - \n"), None);
        let esc = "1 2 0:1 / /mnt/cg\\040two rw - cgroup2 none rw\n";
        assert_eq!(cgroup2_mount(esc), Some(PathBuf::from("/mnt/cg two")));
    }

    #[test]
    fn unescape_edge_cases() {
        assert_eq!(unescape_mountinfo("a\\"), "a\\");
        assert_eq!(unescape_mountinfo("a\\04"), "a\\04");
        assert_eq!(unescape_mountinfo("a\\999"), "a\\999");
        assert_eq!(unescape_mountinfo("\\134x"), "\\x");
    }

    #[test]
    fn maps_directory_inodes_to_paths() {
        let tmp = std::env::temp_dir().join(format!("saker-cgid-{}", std::process::id()));
        let id = "ab".repeat(32);
        let leaf = tmp.join("libpod_parent").join(format!("libpod-{id}"));
        std::fs::create_dir_all(&leaf).unwrap();
        let ino = std::fs::metadata(&leaf).unwrap().ino();
        let map = CgroupIdMap::new(tmp.clone());
        assert_eq!(map.lookup_cached(ino), None, "cache starts empty");
        assert_eq!(
            map.resolve(ino).as_deref(),
            Some(format!("/libpod_parent/libpod-{id}").as_str())
        );
        assert_eq!(map.container_of(ino).map(|m| m.full_id), Some(id));
        let root_ino = std::fs::metadata(&tmp).unwrap().ino();
        assert_eq!(map.lookup_cached(root_ino).as_deref(), Some("/"));
        // Unknown id: no panic, and the rate limit stops a second walk.
        assert_eq!(map.resolve(u64::MAX), None);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[tokio::test]
    async fn hot_path_lookup_schedules_a_rescan() {
        let tmp = std::env::temp_dir().join(format!("saker-cgid-bg-{}", std::process::id()));
        let leaf = tmp.join("kubepods").join("x");
        std::fs::create_dir_all(&leaf).unwrap();
        let ino = std::fs::metadata(&leaf).unwrap().ino();
        let map = Arc::new(CgroupIdMap::new(tmp.clone()));
        let h = tokio::runtime::Handle::current();
        assert_eq!(
            map.lookup_or_schedule(ino, &h),
            None,
            "miss answers at once"
        );
        let mut found = None;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            found = map.lookup_or_schedule(ino, &h);
            if found.is_some() {
                break;
            }
        }
        assert_eq!(found.as_deref(), Some("/kubepods/x"));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn live_cgroup2_root_is_found_when_present() {
        if let Some(map) = CgroupIdMap::detect() {
            assert!(map.rescan() >= 1);
            let ino = std::fs::metadata(map.root()).unwrap().ino();
            assert_eq!(map.lookup_cached(ino).as_deref(), Some("/"));
        }
    }
}
