//! CRI client tests against recorded protobuf responses: bytes captured
//! from Debian's containerd 1.6 (tests/containerd.rs with
//! SAKER_RECORD_CRI=DIR) and hand-checked wire vectors.

use prost::Message;

use super::*;

const CONTAINER_STATUS: &[u8] = include_bytes!("../../tests/fixtures/cri/container-status.bin");
const SANDBOX_STATUS: &[u8] = include_bytes!("../../tests/fixtures/cri/pod-sandbox-status.bin");

#[test]
fn recorded_containerd_responses_map_to_container_info() {
    let resp = ContainerStatusResponse::decode(CONTAINER_STATUS).unwrap();
    let mut info = info_from_status(&resp).unwrap();
    assert_eq!(info.full_id.len(), 64);
    assert_eq!(info.id, &info.full_id[..12]);
    assert_eq!(info.name.as_deref(), Some("app"));
    assert_eq!(
        info.image_repository.as_deref(),
        Some("localhost/saker-test")
    );
    assert_eq!(info.image_tag.as_deref(), Some("1"));
    assert!(
        info.image_id
            .as_deref()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{info:?}"
    );
    assert_eq!(info.privileged, Some(false));
    assert!(info.start_ts.unwrap() > 1_600_000_000_000_000_000);
    assert_eq!(info.k8s.ns_name.as_deref(), Some("shadow-test"));
    assert_eq!(info.k8s.pod_name.as_deref(), Some("web-0"));
    let sandbox = sandbox_id_from_info(&resp.info).expect("sandboxID in verbose info");

    let sb = PodSandboxStatusResponse::decode(SANDBOX_STATUS).unwrap();
    assert_eq!(sb.status.as_ref().unwrap().id, sandbox);
    apply_sandbox(&mut info, &sb);
    assert!(info
        .k8s
        .pod_uid
        .as_deref()
        .unwrap()
        .starts_with("5a6b7c8d-"));
    assert_eq!(
        info.k8s.pod_labels.get("app").map(String::as_str),
        Some("web")
    );
    assert!(info
        .k8s
        .pod_labels
        .keys()
        .all(|k| !k.starts_with("io.kubernetes.")));
}

#[test]
fn request_wire_format_is_hand_checked() {
    let req = ContainerStatusRequest {
        container_id: "abc".into(),
        verbose: true,
    };
    assert_eq!(req.encode_to_vec(), [0x0a, 3, b'a', b'b', b'c', 0x10, 1]);
    let req = PodSandboxStatusRequest {
        pod_sandbox_id: "p".into(),
        verbose: false,
    };
    assert_eq!(req.encode_to_vec(), [0x0a, 1, b'p']);
}

#[test]
fn hand_built_response_decodes() {
    let id = "ab".repeat(32);
    // ContainerStatus: 1 id, 2 metadata{1 name}, 3 state, 5 started_at,
    // 12 labels (map entry {1 key, 2 value}), 14 mounts{1,2,3 readonly}.
    let mut st = vec![0x0a, 64];
    st.extend_from_slice(id.as_bytes());
    st.extend_from_slice(&[0x12, 5, 0x0a, 3, b'w', b'e', b'b']);
    st.extend_from_slice(&[0x18, 1]);
    st.extend_from_slice(&[0x28, 0x05]);
    let (k, v) = (b"io.kubernetes.pod.name", b"p0");
    let mut entry = vec![0x0a, k.len() as u8];
    entry.extend_from_slice(k);
    entry.extend_from_slice(&[0x12, v.len() as u8]);
    entry.extend_from_slice(v);
    st.push(0x62); // field 12, length-delimited
    st.push(entry.len() as u8);
    st.extend_from_slice(&entry);
    st.extend_from_slice(&[0x72, 8, 0x0a, 2, b'/', b'd', 0x12, 0, 0x18, 1]);
    // An unknown field (99, varint) a newer runtime might send.
    st.extend_from_slice(&[0x98, 0x06, 7]);
    let mut resp = vec![0x0a, st.len() as u8];
    resp.extend_from_slice(&st);

    let r = ContainerStatusResponse::decode(resp.as_slice()).unwrap();
    let st = r.status.as_ref().unwrap();
    assert_eq!((st.state, st.started_at), (1, 5));
    let info = info_from_status(&r).unwrap();
    assert_eq!(info.full_id, id);
    assert_eq!(info.name.as_deref(), Some("web"));
    assert_eq!(info.k8s.pod_name.as_deref(), Some("p0"));
    assert_eq!(info.start_ts, Some(5));
    assert_eq!(info.mounts.len(), 1);
    assert!(!info.mounts[0].rw);
    assert_eq!(info.privileged, None, "no verbose info, unknown");
}

#[test]
fn hostile_bytes_are_errors_not_panics() {
    for n in [1, 10, 100, CONTAINER_STATUS.len() - 1] {
        // Truncated: an error (or, if cut at a field boundary, a message).
        let _ = ContainerStatusResponse::decode(&CONTAINER_STATUS[..n]);
    }
    let garbage: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = ContainerStatusResponse::decode(garbage.as_slice());
    let _ = PodSandboxStatusResponse::decode(garbage.as_slice());
    // A status without a usable id is refused, not half-mapped.
    let r = ContainerStatusResponse {
        status: Some(ContainerStatus {
            id: "x".into(),
            ..Default::default()
        }),
        info: Default::default(),
    };
    assert!(info_from_status(&r).is_err());
    assert!(info_from_status(&ContainerStatusResponse::default()).is_err());
    // Verbose info that is not JSON reads as absent.
    let info = std::collections::HashMap::from([("info".to_string(), "{not json".to_string())]);
    assert_eq!(privileged_from_info(&info), None);
    assert_eq!(sandbox_id_from_info(&info), None);
}

#[test]
fn privileged_from_both_runtimes_info_shapes() {
    let m = |j: &str| std::collections::HashMap::from([("info".to_string(), j.to_string())]);
    assert_eq!(
        privileged_from_info(&m(r#"{"privileged":true}"#)),
        Some(true)
    );
    assert_eq!(
        privileged_from_info(&m(
            r#"{"config":{"linux":{"security_context":{"privileged":true}}}}"#
        )),
        Some(true)
    );
    assert_eq!(
        privileged_from_info(&m(r#"{"config":{"linux":{"security_context":{}}}}"#)),
        Some(false)
    );
    assert_eq!(privileged_from_info(&m(r#"{"pid":1}"#)), None);
}

#[tokio::test]
async fn absent_socket_is_a_connect_error() {
    let c = CriClient::new("/nonexistent/saker/cri.sock", Duration::from_millis(200));
    assert!(matches!(
        c.inspect(&"a".repeat(64)).await,
        Err(Error::Connect { .. })
    ));
}
