//! Real containers: podman (runc) with its Docker-compatible API. Needs root,
//! podman, runc, busybox-static; skips otherwise (fails when CI=true).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use saker_container::cache::LookupState;
use saker_container::cgroup::{self, RuntimeHint};
use saker_container::docker::DockerClient;
use saker_container::testutil::{self, PodmanContainer, PodmanService, TEST_UID, TEST_USER};
use saker_container::{CgroupIdMap, ContainerCache, RuntimeConfig, UsersCache};

const NS: &str = "shadow-test";
const POD: &str = "web-0";

fn labels() -> Vec<(&'static str, &'static str)> {
    vec![
        ("io.kubernetes.pod.namespace", NS),
        ("io.kubernetes.pod.name", POD),
        (
            "io.kubernetes.pod.uid",
            "0f0e0d0c-1111-2222-3333-444455556666",
        ),
        ("app", "web"),
    ]
}

fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn podman_container_id_metadata_k8s_and_user() {
    if !testutil::require(
        "podman_container_id_metadata_k8s_and_user",
        &["podman", "runc", "busybox"],
    ) {
        return;
    }
    let svc = PodmanService::start().expect("podman service");
    let name = format!("saker-ct-{}", std::process::id());
    let user = format!("{TEST_UID}:{TEST_UID}");
    let ctr = PodmanContainer::run(&name, &labels(), &["--user", &user], &["sleep", "60"])
        .expect("container");
    assert_eq!(ctr.id.len(), 64);

    // Container id from the process's cgroup file, v1 and v2 lines.
    let content = std::fs::read_to_string(format!("/proc/{}/cgroup", ctr.pid)).unwrap();
    let m = cgroup::container_from_proc_cgroup(&content)
        .unwrap_or_else(|| panic!("no id in:\n{content}"));
    assert_eq!(m.full_id, ctr.id, "full_id matches podman inspect");
    assert_eq!(m.short_id(), &ctr.id[..12], "container.id is 12 hex");
    assert_eq!(m.hint, RuntimeHint::Podman);
    // Host processes are `host`.
    assert!(
        cgroup::container_of_pid(Path::new("/proc"), std::process::id())
            .unwrap()
            .is_none()
    );

    // cgroup v2 id (inode of the unified directory) back to the container.
    if let Some(map) = CgroupIdMap::detect() {
        let upath = cgroup::unified_path(&content).expect("a 0:: line with a cgroup2 mount");
        assert_ne!(
            upath, "/",
            "runc puts the container in the unified hierarchy too"
        );
        let dir = map.root().join(upath.trim_start_matches('/'));
        let ino = std::fs::metadata(&dir).unwrap().ino();
        assert_eq!(
            map.container_of(ino).map(|m| m.full_id),
            Some(ctr.id.clone()),
            "via {}",
            dir.display()
        );
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // The Docker-API client directly.
        let client = DockerClient::new(&svc.socket, Duration::from_secs(5));
        let info = client.inspect(&ctr.id).await.expect("inspect");
        assert_eq!(info.full_id, ctr.id);
        assert_eq!(info.id, &ctr.id[..12]);
        assert_eq!(info.name.as_deref(), Some(name.as_str()));
        assert_eq!(info.image.as_deref(), Some(testutil::TEST_IMAGE));
        assert_eq!(
            info.image_repository.as_deref(),
            Some("localhost/saker-test")
        );
        assert_eq!(info.image_tag.as_deref(), Some("1"));
        assert_eq!(info.privileged, Some(false));
        assert!(info.start_ts.unwrap() > 1_600_000_000_000_000_000);
        assert_eq!(info.k8s.ns_name.as_deref(), Some(NS));
        assert_eq!(info.k8s.pod_name.as_deref(), Some(POD));
        assert_eq!(
            info.k8s.pod_uid.as_deref(),
            Some("0f0e0d0c-1111-2222-3333-444455556666")
        );
        assert_eq!(
            info.k8s.pod_labels.get("app").map(String::as_str),
            Some("web")
        );
        assert!(matches!(
            client.inspect(&"0".repeat(64)).await,
            Err(saker_container::Error::NotFound)
        ));

        // Through the cache: first get misses without waiting, then fills.
        let cfg = RuntimeConfig::with_sockets(vec![svc.socket.clone()], vec![]);
        let cache = ContainerCache::start(cfg, &tokio::runtime::Handle::current());
        let t0 = std::time::Instant::now();
        assert!(cache.get_match(&m).is_none());
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "get never waits on I/O"
        );
        let st = cache
            .fetch(&m.full_id, Some(m.hint), Duration::from_secs(10))
            .await;
        let LookupState::Found(info) = st else {
            panic!("{st:?}")
        };
        assert_eq!(info.k8s.ns_name.as_deref(), Some(NS));
        assert_eq!(
            cache.get(&m.full_id).unwrap().name.as_deref(),
            Some(name.as_str())
        );
    });

    // user.name from the container's own /etc/passwd.
    let users = UsersCache::default();
    let uid = uid_of(ctr.pid);
    assert_eq!(uid, TEST_UID);
    assert_eq!(
        users.user_name(&m.full_id, ctr.pid, uid).as_deref(),
        Some(TEST_USER)
    );
    assert_eq!(
        users.group_name(&m.full_id, ctr.pid, TEST_UID).as_deref(),
        Some(testutil::TEST_GROUP)
    );
    assert_eq!(
        users.user_name(&m.full_id, ctr.pid, 0).as_deref(),
        Some("root")
    );
    // The host's table does not know the container's user.
    let host = users.user_name("host", 1, TEST_UID);
    assert_ne!(host.as_deref(), Some(TEST_USER));
}

#[test]
fn runtime_gone_socket_absent_and_killed_mid_run() {
    if !testutil::require(
        "runtime_gone_socket_absent_and_killed_mid_run",
        &["podman", "runc", "busybox"],
    ) {
        return;
    }
    let mut svc = PodmanService::start().expect("podman service");
    let name = format!("saker-gone-{}", std::process::id());
    let ctr = PodmanContainer::run(&name, &labels(), &[], &["sleep", "60"]).expect("container");
    let name2 = format!("saker-gone2-{}", std::process::id());
    let ctr2 = PodmanContainer::run(&name2, &labels(), &[], &["sleep", "60"]).expect("container 2");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // 1. Socket absent: nothing found, one error logged, no hang.
        let absent = svc.socket.with_file_name("absent.sock");
        let mut cfg = RuntimeConfig::with_sockets(vec![absent], vec![]);
        cfg.retry_interval = Duration::from_millis(20);
        let cache = ContainerCache::start(cfg, &tokio::runtime::Handle::current());
        for _ in 0..10 {
            for _ in 0..1000 {
                assert!(cache.get(&ctr.id).is_none());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            cache.fetch(&ctr.id, None, Duration::from_secs(5)).await,
            LookupState::Failed
        );
        let s = cache.stats();
        assert!(s.failures >= 2, "{s:?}");
        assert_eq!(s.errors_logged, 1, "logged once, not per event: {s:?}");

        // 2. Killed mid-run: what was known stays, new ids stay empty.
        let mut cfg = RuntimeConfig::with_sockets(vec![svc.socket.clone()], vec![]);
        cfg.retry_interval = Duration::from_millis(20);
        cfg.refresh_interval = Duration::from_millis(50);
        let cache = ContainerCache::start(cfg, &tokio::runtime::Handle::current());
        assert!(matches!(
            cache.fetch(&ctr.id, None, Duration::from_secs(10)).await,
            LookupState::Found(_)
        ));
        svc.kill();
        for _ in 0..10 {
            for _ in 0..1000 {
                assert!(cache.get(&ctr2.id).is_none());
                assert!(
                    cache.get(&ctr.id).is_some(),
                    "known metadata survives the outage"
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            cache.fetch(&ctr2.id, None, Duration::from_secs(5)).await,
            LookupState::Failed
        );
        let s = cache.stats();
        assert!(s.failures >= 2, "{s:?}");
        assert_eq!(s.errors_logged, 1, "logged once, not per event: {s:?}");
    });
}
