//! The container and pod metadata the rules see, as one runtime reports it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cgroup::SHORT_ID_LEN;

/// Which runtime answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Any Docker-compatible API (Docker, Podman's `system service`).
    Docker,
    /// CRI over gRPC (containerd, CRI-O).
    Cri,
}

/// One mount of a container (`container.mounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub source: String,
    pub dest: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

/// Kubernetes pod facts, from the labels the kubelet puts on containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct K8sInfo {
    pub ns_name: Option<String>,
    pub pod_name: Option<String>,
    pub pod_uid: Option<String>,
    pub pod_labels: BTreeMap<String, String>,
}

pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";

impl K8sInfo {
    /// Reads ns/pod/uid from container labels. Missing keys stay `None`.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| labels.get(k).filter(|v| !v.is_empty()).cloned();
        Self {
            ns_name: get(LABEL_POD_NAMESPACE),
            pod_name: get(LABEL_POD_NAME),
            pod_uid: get(LABEL_POD_UID),
            pod_labels: BTreeMap::new(),
        }
    }

    pub fn is_pod(&self) -> bool {
        self.pod_name.is_some() || self.ns_name.is_some()
    }
}

/// Everything the runtime told us about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// 12 hex characters (`container.id`).
    pub id: String,
    /// 64 hex characters (`container.full_id`).
    pub full_id: String,
    pub runtime: Option<RuntimeKind>,
    pub name: Option<String>,
    /// The reference the container was started from, e.g. `quay.io:443/a/b:1`.
    pub image: Option<String>,
    pub image_repository: Option<String>,
    pub image_tag: Option<String>,
    /// `sha256:...` from the reference or the runtime's image ref.
    pub image_digest: Option<String>,
    /// The runtime's local image id.
    pub image_id: Option<String>,
    pub privileged: Option<bool>,
    /// Start time in ns since the epoch (`container.start_ts`).
    pub start_ts: Option<u64>,
    pub mounts: Vec<Mount>,
    pub labels: BTreeMap<String, String>,
    pub k8s: K8sInfo,
}

impl ContainerInfo {
    /// A record with only the ids filled; `full_id` must be ASCII.
    pub fn new(full_id: &str) -> Self {
        let full_id = full_id.to_ascii_lowercase();
        Self {
            id: full_id.chars().take(SHORT_ID_LEN).collect(),
            full_id,
            ..Self::default()
        }
    }

    /// Sets `image` and its repository/tag/digest split.
    pub fn set_image(&mut self, image: &str) {
        if image.is_empty() {
            return;
        }
        let r = crate::image::ImageRef::parse(image);
        self.image = Some(image.to_string());
        self.image_repository = Some(r.repository).filter(|s| !s.is_empty());
        self.image_tag = r.tag;
        if r.digest.is_some() {
            self.image_digest = r.digest;
        }
    }

    /// `container.mounts` as Falco renders it:
    /// `source:dest:mode:rdrw:propagation`, comma separated.
    pub fn mounts_field(&self) -> String {
        self.mounts
            .iter()
            .map(|m| {
                format!(
                    "{}:{}:{}:{}:{}",
                    m.source, m.dest, m.mode, m.rw, m.propagation
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Pod labels are the user's labels, not the kubelet's bookkeeping.
pub(crate) fn pod_labels_from(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("io.kubernetes.")
                && !k.starts_with("annotation.")
                && !k.starts_with("io.podman.")
                && !k.starts_with("io.containers.")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
