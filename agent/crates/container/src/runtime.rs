//! Which runtime sockets to ask, in which order, and what their answers mean
//! together.

use std::path::PathBuf;
use std::time::Duration;

use crate::cgroup::RuntimeHint;
use crate::cri::CriClient;
use crate::docker::DockerClient;
use crate::error::Error;
use crate::info::ContainerInfo;

/// Socket paths and cache timings. `Default` auto-detects: every well-known
/// socket is listed, and only those that exist when a lookup runs are asked,
/// so a runtime started after the agent is picked up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Docker-compatible API sockets (Docker, Podman).
    pub docker_sockets: Vec<PathBuf>,
    /// CRI gRPC sockets (containerd, CRI-O).
    pub cri_sockets: Vec<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Found entries older than this are fetched again (served meanwhile).
    pub refresh_interval: Duration,
    /// A "no such container" answer is kept this long.
    pub negative_ttl: Duration,
    /// After a runtime error, the next try waits this long.
    pub retry_interval: Duration,
    /// Lookups in flight at once.
    pub max_concurrent: usize,
    /// Lookups waiting; more are dropped and counted.
    pub queue_len: usize,
    /// Cap on cached containers.
    pub max_entries: usize,
}

pub const DEFAULT_DOCKER_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/podman/podman.sock"];
pub const DEFAULT_CRI_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/run/k3s/containerd/containerd.sock",
];

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            docker_sockets: DEFAULT_DOCKER_SOCKETS.iter().map(PathBuf::from).collect(),
            cri_sockets: DEFAULT_CRI_SOCKETS.iter().map(PathBuf::from).collect(),
            timeout: Duration::from_secs(2),
            refresh_interval: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(30),
            retry_interval: Duration::from_secs(5),
            max_concurrent: 8,
            queue_len: 4096,
            max_entries: 16384,
        }
    }
}

impl RuntimeConfig {
    /// Only the given sockets (configured explicitly).
    pub fn with_sockets(docker: Vec<PathBuf>, cri: Vec<PathBuf>) -> Self {
        Self {
            docker_sockets: docker,
            cri_sockets: cri,
            ..Self::default()
        }
    }
}

/// What the runtimes said, together.
#[derive(Debug)]
pub enum Outcome {
    Found(Box<ContainerInfo>),
    /// Every runtime that answered says there is no such container.
    NotFound,
    /// Some runtime could not be asked (socket gone, refused, timeout...);
    /// one `(socket, error)` per failure. An empty socket path means no
    /// socket was present at all.
    Unavailable(Vec<(PathBuf, Error)>),
}

/// The runtime clients.
#[derive(Debug)]
pub struct Runtimes {
    docker: Vec<DockerClient>,
    cri: Vec<CriClient>,
}

enum Client<'a> {
    Docker(&'a DockerClient),
    Cri(&'a CriClient),
}

impl Client<'_> {
    fn socket(&self) -> &std::path::Path {
        match self {
            Client::Docker(c) => c.socket(),
            Client::Cri(c) => c.socket(),
        }
    }
}

impl Runtimes {
    pub fn new(cfg: &RuntimeConfig) -> Self {
        Self {
            docker: cfg
                .docker_sockets
                .iter()
                .map(|s| DockerClient::new(s, cfg.timeout))
                .collect(),
            cri: cfg
                .cri_sockets
                .iter()
                .map(|s| CriClient::new(s, cfg.timeout))
                .collect(),
        }
    }

    /// Asks the runtimes, the hinted kind first, until one knows the id.
    /// Returns the outcome and the sockets that answered (for recovery logs).
    pub async fn lookup(
        &self,
        full_id: &str,
        hint: Option<RuntimeHint>,
    ) -> (Outcome, Vec<PathBuf>) {
        let docker = self.docker.iter().map(Client::Docker);
        let cri = self.cri.iter().map(Client::Cri);
        let cri_first = matches!(
            hint,
            Some(RuntimeHint::Containerd | RuntimeHint::CriO | RuntimeHint::Kubepods)
        );
        let order: Vec<Client<'_>> = if cri_first {
            cri.chain(docker).collect()
        } else {
            docker.chain(cri).collect()
        };
        let mut failures = Vec::new();
        let mut answered = Vec::new();
        for c in order {
            // Auto-detection: a socket that is not there is not asked.
            if !c.socket().exists() {
                continue;
            }
            let r = match &c {
                Client::Docker(d) => d.inspect(full_id).await,
                Client::Cri(k) => k.inspect(full_id).await,
            };
            match r {
                Ok(info) => {
                    answered.push(c.socket().to_path_buf());
                    return (Outcome::Found(Box::new(info)), answered);
                }
                Err(Error::NotFound) => answered.push(c.socket().to_path_buf()),
                Err(e) => failures.push((c.socket().to_path_buf(), e)),
            }
        }
        let outcome = if !failures.is_empty() {
            Outcome::Unavailable(failures)
        } else if answered.is_empty() {
            Outcome::Unavailable(vec![(PathBuf::new(), Error::NoRuntime)])
        } else {
            Outcome::NotFound
        };
        (outcome, answered)
    }
}
