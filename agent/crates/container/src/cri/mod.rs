//! CRI (`runtime.v1`) client over gRPC on a unix socket: containerd, CRI-O.

#[cfg(any(test, feature = "testutil"))]
pub mod lifecycle;
pub mod proto;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::error::{Error, Result};
use crate::info::{pod_labels_from, ContainerInfo, K8sInfo, Mount, RuntimeKind};
use proto::*;

const SERVICE: &str = "/runtime.v1.RuntimeService/";

#[derive(Debug)]
pub struct CriClient {
    socket: PathBuf,
    timeout: Duration,
    // Built on first use: a lazy channel needs a tokio context and
    // reconnects by itself when the runtime restarts.
    channel: Mutex<Option<Channel>>,
}

impl CriClient {
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            socket: socket.into(),
            timeout,
            channel: Mutex::new(None),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn channel(&self) -> Result<Channel> {
        let mut guard = self
            .channel
            .lock()
            .map_err(|_| Error::Grpc("channel lock poisoned".into()))?;
        if let Some(ch) = guard.as_ref() {
            return Ok(ch.clone());
        }
        let path = self.socket.clone();
        // The URI is a placeholder; the connector ignores it and dials the socket.
        let ch = Endpoint::from_static("http://[::1]:50051")
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let s = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                }
            }));
        *guard = Some(ch.clone());
        Ok(ch)
    }

    /// One unary call with the prost codec.
    pub async fn call<Req, Resp>(&self, method: &'static str, req: Req) -> Result<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        if !self.socket.exists() {
            return Err(Error::Connect {
                path: self.socket.clone(),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        let fut = async {
            let mut grpc = tonic::client::Grpc::new(self.channel()?);
            grpc.ready()
                .await
                .map_err(|e| Error::Grpc(format!("{}: {e}", self.socket.display())))?;
            let path = PathAndQuery::try_from(format!("{SERVICE}{method}"))
                .map_err(|_| Error::Grpc("bad method".into()))?;
            let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
            grpc.unary(tonic::Request::new(req), path, codec)
                .await
                .map(tonic::Response::into_inner)
                .map_err(status_error)
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| Error::Timeout)?
    }

    pub async fn version(&self) -> Result<VersionResponse> {
        self.call(
            "Version",
            VersionRequest {
                version: "v1".into(),
            },
        )
        .await
    }

    /// ContainerStatus (verbose) plus PodSandboxStatus for the pod facts.
    pub async fn inspect(&self, id: &str) -> Result<ContainerInfo> {
        let resp: ContainerStatusResponse = self
            .call(
                "ContainerStatus",
                ContainerStatusRequest {
                    container_id: id.to_string(),
                    verbose: true,
                },
            )
            .await?;
        let mut info = info_from_status(&resp)?;
        let sandbox_id = match sandbox_id_from_info(&resp.info) {
            Some(s) => Some(s),
            None => self.sandbox_of(&info.full_id).await,
        };
        if let Some(sb) = sandbox_id {
            // The container's own facts are worth keeping even if the pod's
            // status cannot be read.
            if let Ok(p) = self
                .call::<_, PodSandboxStatusResponse>(
                    "PodSandboxStatus",
                    PodSandboxStatusRequest {
                        pod_sandbox_id: sb,
                        verbose: false,
                    },
                )
                .await
            {
                apply_sandbox(&mut info, &p);
            }
        }
        Ok(info)
    }

    async fn sandbox_of(&self, id: &str) -> Option<String> {
        let req = ListContainersRequest {
            filter: Some(ContainerFilter {
                id: id.to_string(),
                ..Default::default()
            }),
        };
        let resp: ListContainersResponse = self.call("ListContainers", req).await.ok()?;
        resp.containers
            .into_iter()
            .map(|c| c.pod_sandbox_id)
            .find(|s| !s.is_empty())
    }
}

fn status_error(s: tonic::Status) -> Error {
    match s.code() {
        tonic::Code::NotFound => Error::NotFound,
        code => Error::Grpc(format!("{code:?}: {}", s.message())),
    }
}

/// Maps a ContainerStatus response. Labels give the pod facts until the
/// sandbox answers.
pub fn info_from_status(resp: &ContainerStatusResponse) -> Result<ContainerInfo> {
    let st = resp
        .status
        .as_ref()
        .ok_or(Error::Grpc("ContainerStatus without status".into()))?;
    if st.id.len() < 12 || !st.id.is_ascii() {
        return Err(Error::Grpc("ContainerStatus with a bad id".into()));
    }
    let mut info = ContainerInfo::new(&st.id);
    info.runtime = Some(RuntimeKind::Cri);
    info.name = st
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .filter(|n| !n.is_empty());
    let image = st.image.as_ref().map(|i| {
        if i.user_specified_image.is_empty() {
            i.image.as_str()
        } else {
            i.user_specified_image.as_str()
        }
    });
    match image.filter(|i| !i.is_empty()) {
        Some(img) if !img.starts_with("sha256:") => info.set_image(img),
        // Started by image id: the digested image_ref names the repository.
        other => match st.image_ref.split_once('@') {
            Some(_) => info.set_image(&st.image_ref),
            None => info.image = other.map(str::to_string),
        },
    }
    if let Some((_, d)) = st.image_ref.split_once('@') {
        info.image_digest = Some(d.to_string());
    }
    info.image_id = Some(if st.image_id.is_empty() {
        &st.image_ref
    } else {
        &st.image_id
    })
    .filter(|s| s.starts_with("sha256:"))
    .map(|s| s.to_string());
    info.start_ts = u64::try_from(st.started_at).ok().filter(|t| *t > 0);
    info.mounts = st
        .mounts
        .iter()
        .map(|m| Mount {
            source: m.host_path.clone(),
            dest: m.container_path.clone(),
            mode: String::new(),
            rw: !m.readonly,
            propagation: match m.propagation {
                1 => "rslave",
                2 => "rshared",
                _ => "rprivate",
            }
            .to_string(),
        })
        .collect();
    info.labels = st
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    info.k8s = K8sInfo::from_labels(&info.labels);
    info.privileged = privileged_from_info(&resp.info);
    Ok(info)
}

/// Pod name/ns/uid from the sandbox metadata (authoritative) and the pod
/// labels from the sandbox labels.
pub fn apply_sandbox(info: &mut ContainerInfo, resp: &PodSandboxStatusResponse) {
    let Some(st) = resp.status.as_ref() else {
        return;
    };
    if let Some(md) = st.metadata.as_ref() {
        let set = |dst: &mut Option<String>, v: &str| {
            if !v.is_empty() {
                *dst = Some(v.to_string());
            }
        };
        set(&mut info.k8s.pod_name, &md.name);
        set(&mut info.k8s.ns_name, &md.namespace);
        set(&mut info.k8s.pod_uid, &md.uid);
    }
    let labels: BTreeMap<String, String> = st
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    info.k8s.pod_labels = pod_labels_from(&labels);
}

fn info_json(info: &std::collections::HashMap<String, String>) -> Option<Value> {
    serde_json::from_str(info.get("info")?).ok()
}

/// containerd: `sandboxID`; CRI-O: `sandboxID` as well.
fn sandbox_id_from_info(info: &std::collections::HashMap<String, String>) -> Option<String> {
    let v = info_json(info)?;
    v.get("sandboxID")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// CRI-O puts `privileged` at the top; containerd inside the stored config.
fn privileged_from_info(info: &std::collections::HashMap<String, String>) -> Option<bool> {
    let v = info_json(info)?;
    v.get("privileged")
        .and_then(Value::as_bool)
        .or_else(|| {
            v.pointer("/config/linux/security_context/privileged")
                .and_then(Value::as_bool)
        })
        .or_else(|| {
            // Fields that are false are omitted from containerd's JSON.
            v.pointer("/config/linux/security_context").map(|_| false)
        })
}

#[cfg(test)]
mod tests;
