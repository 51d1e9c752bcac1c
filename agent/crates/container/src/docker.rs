//! Docker-compatible API client (Docker, Podman's `system service`):
//! `GET /containers/{id}/json` mapped to [`ContainerInfo`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http;
use crate::info::{pod_labels_from, ContainerInfo, K8sInfo, Mount, RuntimeKind};
use crate::rfc3339;

/// Label the kubelet (dockershim) puts on app containers to name the pod's
/// sandbox container, which carries the pod labels.
const LABEL_SANDBOX_ID: &str = "io.kubernetes.sandbox.id";

#[derive(Debug, Clone)]
pub struct DockerClient {
    socket: PathBuf,
    timeout: Duration,
}

impl DockerClient {
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            socket: socket.into(),
            timeout,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Inspects one container (full or unique short id).
    pub async fn inspect(&self, id: &str) -> Result<ContainerInfo> {
        let v = self.inspect_raw(id).await?;
        let mut info = info_from_inspect(&v)?;
        if let Some(sandbox) = info.labels.get(LABEL_SANDBOX_ID).cloned() {
            // Pod labels live on the sandbox; failing to read them still
            // leaves the container's own facts.
            if sandbox != info.full_id {
                if let Ok(sb) = self.inspect_raw(&sandbox).await {
                    info.k8s.pod_labels = pod_labels_from(&labels_of(&sb));
                }
            }
        }
        Ok(info)
    }

    async fn inspect_raw(&self, id: &str) -> Result<Value> {
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            // Never put untrusted bytes on the request line.
            return Err(Error::NotFound);
        }
        let resp = http::get(
            &self.socket,
            &format!("/containers/{id}/json"),
            self.timeout,
        )
        .await?;
        match resp.status {
            200 => Ok(serde_json::from_slice(&resp.body)?),
            404 => Err(Error::NotFound),
            status => Err(Error::Status { status }),
        }
    }

    /// `GET /_ping`: is something Docker-like serving on the socket?
    pub async fn ping(&self) -> Result<()> {
        let resp = http::get(&self.socket, "/_ping", self.timeout).await?;
        match resp.status {
            200 => Ok(()),
            status => Err(Error::Status { status }),
        }
    }
}

/// Maps a `/containers/{id}/json` document. Every field is optional and a
/// wrong type reads as absent: a runtime's odd JSON must not lose the rest.
pub fn info_from_inspect(v: &Value) -> Result<ContainerInfo> {
    let full_id = str_at(v, &["Id"])
        .filter(|s| s.len() >= 12 && s.is_ascii())
        .ok_or(Error::Http("inspect without Id"))?;
    let mut info = ContainerInfo::new(full_id);
    info.runtime = Some(RuntimeKind::Docker);
    info.name = str_at(v, &["Name"])
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty());
    // Config.Image is what the user asked for; podman also has ImageName.
    // The top-level Image is the local image id.
    let image = str_at(v, &["Config", "Image"])
        .or_else(|| str_at(v, &["ImageName"]))
        .filter(|s| !s.is_empty());
    let image_id = str_at(v, &["Image"]).filter(|s| !s.is_empty());
    match image {
        Some(img) if !is_bare_id(img, image_id) => info.set_image(img),
        _ => info.image = image.map(str::to_string),
    }
    info.image_id = image_id.map(str::to_string);
    if let Some(digest) = str_at(v, &["ImageDigest"]).filter(|d| d.starts_with("sha256:")) {
        info.image_digest.get_or_insert_with(|| digest.to_string());
    }
    info.privileged = v.pointer("/HostConfig/Privileged").and_then(Value::as_bool);
    info.start_ts = str_at(v, &["State", "StartedAt"]).and_then(rfc3339::parse_ns);
    if let Some(mounts) = v.get("Mounts").and_then(Value::as_array) {
        info.mounts = mounts
            .iter()
            .filter_map(|m| {
                Some(Mount {
                    dest: str_at(m, &["Destination"])?.to_string(),
                    source: str_at(m, &["Source"]).unwrap_or_default().to_string(),
                    mode: str_at(m, &["Mode"]).unwrap_or_default().to_string(),
                    rw: m.get("RW").and_then(Value::as_bool).unwrap_or(false),
                    propagation: str_at(m, &["Propagation"]).unwrap_or_default().to_string(),
                })
            })
            .collect();
    }
    info.labels = labels_of(v);
    info.k8s = K8sInfo::from_labels(&info.labels);
    if info.k8s.is_pod() && !info.labels.contains_key(LABEL_SANDBOX_ID) {
        // No sandbox to ask (e.g. podman with kube labels): the container's
        // own non-kubelet labels are the best pod labels there are.
        info.k8s.pod_labels = pod_labels_from(&info.labels);
    }
    Ok(info)
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/Config/Labels")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A container started from an image id has `Config.Image` == that id
/// (`sha256:...` or bare hex); it is no repository.
fn is_bare_id(image: &str, image_id: Option<&str>) -> bool {
    let hex = image.strip_prefix("sha256:").unwrap_or(image);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        || image_id
            .is_some_and(|id| id.trim_start_matches("sha256:").starts_with(hex) && hex.len() >= 12)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "9f2c4c3d1e5b6a7980a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b";

    #[test]
    fn maps_a_podman_inspect_document() {
        let v = json!({
            "Id": ID,
            "Name": "/web-0-app",
            "Image": "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2",
            "ImageName": "localhost/saker-test:1",
            "State": {"Running": true, "StartedAt": "2026-11-22T02:30:00.5Z"},
            "HostConfig": {"Privileged": true},
            "Mounts": [
                {"Type": "bind", "Source": "/var/run", "Destination": "/host/run", "Mode": "", "RW": false, "Propagation": "rprivate"},
                {"Source": "/data", "Destination": "/data", "RW": true},
                {"Source": "/nodest"}
            ],
            "Config": {
                "Image": "localhost:5000/team/saker-test:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "Labels": {
                    "io.kubernetes.pod.namespace": "shadow-test",
                    "io.kubernetes.pod.name": "web-0",
                    "io.kubernetes.pod.uid": "uid-1",
                    "app": "web",
                    "weird": 5
                }
            }
        });
        let i = info_from_inspect(&v).unwrap();
        assert_eq!(i.id, &ID[..12]);
        assert_eq!(i.full_id, ID);
        assert_eq!(i.name.as_deref(), Some("web-0-app"));
        assert_eq!(
            i.image_repository.as_deref(),
            Some("localhost:5000/team/saker-test")
        );
        assert_eq!(i.image_tag.as_deref(), Some("1"));
        assert!(i
            .image_digest
            .as_deref()
            .unwrap()
            .starts_with("sha256:0123"));
        assert_eq!(i.privileged, Some(true));
        assert_eq!(i.start_ts, Some(1_795_314_600_500_000_000));
        assert_eq!(i.mounts.len(), 2);
        assert_eq!(
            i.mounts_field(),
            "/var/run:/host/run::false:rprivate,/data:/data::true:"
        );
        assert_eq!(i.k8s.ns_name.as_deref(), Some("shadow-test"));
        assert_eq!(i.k8s.pod_name.as_deref(), Some("web-0"));
        assert_eq!(i.k8s.pod_uid.as_deref(), Some("uid-1"));
        assert_eq!(i.k8s.pod_labels.get("app").map(String::as_str), Some("web"));
        assert!(!i.labels.contains_key("weird"));
    }

    #[test]
    fn image_by_id_is_not_split() {
        let img = "sha256:b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2";
        let v = json!({"Id": ID, "Image": img, "Config": {"Image": img}});
        let i = info_from_inspect(&v).unwrap();
        assert_eq!(i.image.as_deref(), Some(img));
        assert_eq!(i.image_repository, None);
        assert_eq!(i.k8s, K8sInfo::default());
    }

    #[test]
    fn hostile_json_does_not_panic() {
        for v in [
            json!(null),
            json!([]),
            json!({"Id": 5}),
            json!({"Id": "short"}),
            json!({"Id": "é".repeat(40)}),
            json!({"Id": ID, "Name": [], "Config": "x", "HostConfig": {"Privileged": "yes"}, "State": {"StartedAt": 7}, "Mounts": {"a": 1}}),
            json!({"Id": ID, "Mounts": [1, null, {"Destination": 3}], "Config": {"Labels": [], "Image": ""}}),
        ] {
            if let Ok(i) = info_from_inspect(&v) {
                assert_eq!(i.privileged, None);
                assert!(i.mounts.is_empty());
                assert!(i.name.is_none());
            }
        }
    }
}
