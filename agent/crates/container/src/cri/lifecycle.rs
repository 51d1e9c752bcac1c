//! CRI calls that create and remove pods and containers, as the kubelet
//! does. Only tests need them (feature `testutil`), to drive a real
//! containerd without a kubelet.

use std::collections::HashMap;

use super::proto::{ContainerMetadata, ImageSpec, PodSandboxMetadata};
use super::CriClient;
use crate::error::Result;

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceOption {
    /// NamespaceMode: 0 POD, 1 CONTAINER, 2 NODE.
    #[prost(int32, tag = "1")]
    pub network: i32,
    #[prost(int32, tag = "2")]
    pub pid: i32,
    #[prost(int32, tag = "3")]
    pub ipc: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxSandboxSecurityContext {
    #[prost(message, optional, tag = "1")]
    pub namespace_options: Option<NamespaceOption>,
    #[prost(bool, tag = "6")]
    pub privileged: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxPodSandboxConfig {
    #[prost(string, tag = "1")]
    pub cgroup_parent: String,
    #[prost(message, optional, tag = "2")]
    pub security_context: Option<LinuxSandboxSecurityContext>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxConfig {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<PodSandboxMetadata>,
    #[prost(string, tag = "2")]
    pub hostname: String,
    #[prost(string, tag = "3")]
    pub log_directory: String,
    #[prost(map = "string, string", tag = "6")]
    pub labels: HashMap<String, String>,
    #[prost(map = "string, string", tag = "7")]
    pub annotations: HashMap<String, String>,
    #[prost(message, optional, tag = "8")]
    pub linux: Option<LinuxPodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RunPodSandboxRequest {
    #[prost(message, optional, tag = "1")]
    pub config: Option<PodSandboxConfig>,
    #[prost(string, tag = "2")]
    pub runtime_handler: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RunPodSandboxResponse {
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxIdRequest {
    /// Stop/RemovePodSandboxRequest share this shape.
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Int64Value {
    #[prost(int64, tag = "1")]
    pub value: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxContainerSecurityContext {
    #[prost(bool, tag = "2")]
    pub privileged: bool,
    #[prost(message, optional, tag = "3")]
    pub namespace_options: Option<NamespaceOption>,
    #[prost(message, optional, tag = "5")]
    pub run_as_user: Option<Int64Value>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxContainerConfig {
    #[prost(message, optional, tag = "2")]
    pub security_context: Option<LinuxContainerSecurityContext>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerConfig {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ContainerMetadata>,
    #[prost(message, optional, tag = "2")]
    pub image: Option<ImageSpec>,
    #[prost(string, repeated, tag = "3")]
    pub command: Vec<String>,
    #[prost(string, repeated, tag = "4")]
    pub args: Vec<String>,
    #[prost(map = "string, string", tag = "9")]
    pub labels: HashMap<String, String>,
    #[prost(map = "string, string", tag = "10")]
    pub annotations: HashMap<String, String>,
    #[prost(string, tag = "11")]
    pub log_path: String,
    #[prost(message, optional, tag = "15")]
    pub linux: Option<LinuxContainerConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerRequest {
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
    #[prost(message, optional, tag = "2")]
    pub config: Option<ContainerConfig>,
    #[prost(message, optional, tag = "3")]
    pub sandbox_config: Option<PodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerIdMessage {
    /// CreateContainerResponse, StartContainerRequest and
    /// RemoveContainerRequest all have this one field.
    #[prost(string, tag = "1")]
    pub container_id: String,
}

/// What a test pod looks like.
#[derive(Debug, Clone)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: HashMap<String, String>,
    /// cgroupfs parent, e.g. `/kubepods/besteffort/pod<uid>`.
    pub cgroup_parent: String,
}

impl PodSpec {
    /// The sandbox config the kubelet would send: host network, so no CNI
    /// plugin is needed.
    pub fn sandbox_config(&self) -> PodSandboxConfig {
        let host_net = NamespaceOption {
            network: 2,
            pid: 1,
            ipc: 0,
        };
        let mut labels = self.labels.clone();
        labels.insert(crate::info::LABEL_POD_NAME.into(), self.name.clone());
        labels.insert(
            crate::info::LABEL_POD_NAMESPACE.into(),
            self.namespace.clone(),
        );
        labels.insert(crate::info::LABEL_POD_UID.into(), self.uid.clone());
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: self.name.clone(),
                uid: self.uid.clone(),
                namespace: self.namespace.clone(),
                attempt: 0,
            }),
            // Host network shares the host UTS namespace: no hostname.
            hostname: String::new(),
            log_directory: String::new(),
            labels,
            annotations: HashMap::new(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: self.cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(host_net),
                    privileged: false,
                }),
            }),
        }
    }

    /// The labels the kubelet puts on every container of the pod.
    pub fn container_labels(&self, container: &str) -> HashMap<String, String> {
        HashMap::from([
            (crate::info::LABEL_POD_NAME.to_string(), self.name.clone()),
            (
                crate::info::LABEL_POD_NAMESPACE.to_string(),
                self.namespace.clone(),
            ),
            (crate::info::LABEL_POD_UID.to_string(), self.uid.clone()),
            (
                "io.kubernetes.container.name".to_string(),
                container.to_string(),
            ),
        ])
    }
}

impl CriClient {
    pub async fn run_pod_sandbox(&self, pod: &PodSpec) -> Result<String> {
        let req = RunPodSandboxRequest {
            config: Some(pod.sandbox_config()),
            runtime_handler: String::new(),
        };
        let r: RunPodSandboxResponse = self.call("RunPodSandbox", req).await?;
        Ok(r.pod_sandbox_id)
    }

    /// Creates and starts `command` from `image` in the pod; returns its id.
    pub async fn start_container(
        &self,
        sandbox_id: &str,
        pod: &PodSpec,
        name: &str,
        image: &str,
        command: &[&str],
        run_as_user: Option<i64>,
    ) -> Result<String> {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            labels: pod.container_labels(name),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    privileged: false,
                    namespace_options: Some(NamespaceOption {
                        network: 2,
                        pid: 1,
                        ipc: 0,
                    }),
                    run_as_user: run_as_user.map(|value| Int64Value { value }),
                }),
            }),
            ..Default::default()
        };
        let req = CreateContainerRequest {
            pod_sandbox_id: sandbox_id.into(),
            config: Some(config),
            sandbox_config: Some(pod.sandbox_config()),
        };
        let r: ContainerIdMessage = self.call("CreateContainer", req).await?;
        let id = r.container_id;
        let _: Empty = self
            .call(
                "StartContainer",
                ContainerIdMessage {
                    container_id: id.clone(),
                },
            )
            .await?;
        Ok(id)
    }

    /// Stops and removes the pod and everything in it.
    pub async fn remove_pod(&self, sandbox_id: &str) -> Result<()> {
        let _: Empty = self
            .call(
                "StopPodSandbox",
                PodSandboxIdRequest {
                    pod_sandbox_id: sandbox_id.into(),
                },
            )
            .await?;
        let _: Empty = self
            .call(
                "RemovePodSandbox",
                PodSandboxIdRequest {
                    pod_sandbox_id: sandbox_id.into(),
                },
            )
            .await?;
        Ok(())
    }
}
