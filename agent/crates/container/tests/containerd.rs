//! Real CRI: Debian's containerd (1.6) with its CRI plugin and runc, a pod
//! sandbox and a container created through CRI from a locally imported
//! image. Needs root, containerd, ctr, podman (to export the image), runc;
//! skips otherwise (fails when CI=true).

use std::collections::HashMap;
use std::time::Duration;

use saker_container::cache::LookupState;
use saker_container::cgroup::{self, RuntimeHint};
use saker_container::cri::lifecycle::PodSpec;
use saker_container::cri::proto::{
    ContainerStatusRequest, ContainerStatusResponse, PodSandboxStatusRequest,
    PodSandboxStatusResponse,
};
use saker_container::cri::CriClient;
use saker_container::testutil::{self, Containerd, TEST_GROUP, TEST_UID, TEST_USER};
use saker_container::{ContainerCache, RuntimeConfig, UsersCache};

#[test]
fn containerd_cri_pod_and_container() {
    if !testutil::require(
        "containerd_cri_pod_and_container",
        &["containerd", "ctr", "podman", "runc", "busybox"],
    ) {
        return;
    }
    let ctrd = Containerd::start().expect("containerd");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let uid = format!("5a6b7c8d-0000-4000-8000-{:012}", std::process::id());
    let pod = PodSpec {
        name: "web-0".into(),
        namespace: "shadow-test".into(),
        uid: uid.clone(),
        labels: HashMap::from([("app".to_string(), "web".to_string())]),
        cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
    };
    let record = |name: &str, msg: &dyn RecordMsg| {
        // SAKER_RECORD_CRI=DIR saves the runtime's answers as fixtures for
        // the recorded-response unit tests.
        if let Ok(dir) = std::env::var("SAKER_RECORD_CRI") {
            std::fs::write(std::path::Path::new(&dir).join(name), msg.bytes()).unwrap();
        }
    };
    let client = CriClient::new(&ctrd.socket, Duration::from_secs(30));
    let (sandbox, cid, pid) = rt.block_on(async {
        let v = client.version().await.expect("CRI Version");
        assert_eq!(v.runtime_name, "containerd");
        let sandbox = client
            .run_pod_sandbox(&pod)
            .await
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", ctrd.log()));
        let cid = client
            .start_container(
                &sandbox,
                &pod,
                "app",
                testutil::TEST_IMAGE,
                &["/bin/sleep", "60"],
                Some(i64::from(TEST_UID)),
            )
            .await
            .unwrap_or_else(|e| panic!("Create/StartContainer: {e}\n{}", ctrd.log()));
        let st: ContainerStatusResponse = client
            .call(
                "ContainerStatus",
                ContainerStatusRequest {
                    container_id: cid.clone(),
                    verbose: true,
                },
            )
            .await
            .unwrap();
        record("container-status.bin", &st);
        let info: serde_json::Value = serde_json::from_str(&st.info["info"]).unwrap();
        let pid = info["pid"].as_u64().expect("pid in verbose info") as u32;
        (sandbox, cid, pid)
    });
    assert_eq!(cid.len(), 64);

    // Container id from the cgroup file: cgroupfs driver under kubepods.
    let content = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let m = cgroup::container_from_proc_cgroup(&content)
        .unwrap_or_else(|| panic!("no id in:\n{content}"));
    assert_eq!(m.full_id, cid);
    assert_eq!(m.short_id(), &cid[..12]);
    assert_eq!(m.hint, RuntimeHint::Kubepods, "{content}");

    rt.block_on(async {
        let sb: PodSandboxStatusResponse = client
            .call(
                "PodSandboxStatus",
                PodSandboxStatusRequest {
                    pod_sandbox_id: sandbox.clone(),
                    verbose: false,
                },
            )
            .await
            .unwrap();
        record("pod-sandbox-status.bin", &sb);
        let info = client.inspect(&cid).await.expect("inspect");
        assert_eq!(info.full_id, cid);
        assert_eq!(info.name.as_deref(), Some("app"));
        assert_eq!(
            info.image_repository.as_deref(),
            Some("localhost/saker-test"),
            "{info:?}"
        );
        assert_eq!(info.image_tag.as_deref(), Some("1"));
        assert_eq!(info.privileged, Some(false));
        assert!(info.start_ts.unwrap() > 1_600_000_000_000_000_000);
        assert_eq!(info.k8s.ns_name.as_deref(), Some("shadow-test"));
        assert_eq!(info.k8s.pod_name.as_deref(), Some("web-0"));
        assert_eq!(info.k8s.pod_uid.as_deref(), Some(uid.as_str()));
        assert_eq!(
            info.k8s.pod_labels.get("app").map(String::as_str),
            Some("web"),
            "{:?}",
            info.k8s
        );
        assert!(client
            .inspect(&"0".repeat(64))
            .await
            .unwrap_err()
            .is_not_found());

        // Through the cache, with the hint choosing CRI first and a
        // Docker-API socket that does not exist.
        let cfg = RuntimeConfig::with_sockets(
            vec!["/nonexistent/docker.sock".into()],
            vec![ctrd.socket.clone()],
        );
        let cache = ContainerCache::start(cfg, &tokio::runtime::Handle::current());
        assert!(cache.get_match(&m).is_none());
        let st = cache
            .fetch(&cid, Some(m.hint), Duration::from_secs(20))
            .await;
        let LookupState::Found(i) = st else {
            panic!("{st:?}")
        };
        assert_eq!(i.k8s.pod_name.as_deref(), Some("web-0"));
        assert_eq!(cache.stats().errors_logged, 0);
    });

    let users = UsersCache::default();
    assert_eq!(
        users.user_name(&cid, pid, TEST_UID).as_deref(),
        Some(TEST_USER)
    );
    assert_eq!(
        users.group_name(&cid, pid, TEST_UID).as_deref(),
        Some(TEST_GROUP)
    );

    rt.block_on(async { client.remove_pod(&sandbox).await.expect("remove pod") });
    testutil::remove_cgroup(&pod.cgroup_parent);
}

trait RecordMsg {
    fn bytes(&self) -> Vec<u8>;
}

impl<M: prost::Message> RecordMsg for M {
    fn bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}
