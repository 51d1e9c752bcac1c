//! saker's own sections: capture scope, container runtimes, the alert store,
//! the HTTP API and the deployment gate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::types::{ByteSize, Interval};

/// Which processes the kernel probe reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureScope {
    /// The whole node.
    #[default]
    Host,
    /// Only processes outside the host's PID namespace.
    Containers,
    /// One PID namespace (sidecar mode): `target_pid`'s or `target_pidns`.
    TargetPidns,
}

/// `capture`. (Falco's `capture` keys, about scap files, are accepted and
/// ignored.)
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Capture {
    /// Setting `target_pid` or `target_pidns` implies `target_pidns`.
    pub scope: CaptureScope,
    /// Trace this process's PID namespace.
    pub target_pid: Option<u32>,
    /// Trace this PID namespace, as a path like `/proc/PID/ns/pid`.
    pub target_pidns: Option<PathBuf>,
    /// Ring buffer size: a power of two, at least 4096 bytes.
    pub ring_bytes: ByteSize,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            scope: CaptureScope::Host,
            target_pid: None,
            target_pidns: None,
            ring_bytes: ByteSize(8 << 20),
        }
    }
}

/// Docker-compatible API sockets probed by default (Docker, Podman).
pub const DEFAULT_DOCKER_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/podman/podman.sock"];
/// CRI sockets probed by default (containerd, CRI-O, k3s).
pub const DEFAULT_CRI_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/run/k3s/containerd/containerd.sock",
];

/// `container`: where container and pod metadata come from. Sockets that do
/// not exist are skipped at lookup time, so the defaults cover common hosts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Container {
    pub docker_sockets: Vec<PathBuf>,
    pub cri_sockets: Vec<PathBuf>,
    /// Cached metadata older than this is fetched again.
    pub refresh_interval: Interval,
    /// Per-request timeout against a runtime.
    pub timeout: Interval,
}

impl Default for Container {
    fn default() -> Self {
        Container {
            docker_sockets: DEFAULT_DOCKER_SOCKETS.iter().map(PathBuf::from).collect(),
            cri_sockets: DEFAULT_CRI_SOCKETS.iter().map(PathBuf::from).collect(),
            refresh_interval: Interval(Duration::from_secs(60)),
            timeout: Interval(Duration::from_secs(2)),
        }
    }
}

/// `store`: the embedded durable alert store.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Store {
    pub enabled: bool,
    /// Directory holding the database files.
    pub path: PathBuf,
    /// Delete alerts older than this; `0s` keeps them until the size cap.
    pub max_age: Interval,
    /// Cap on the database files; `0` for none.
    pub max_bytes: ByteSize,
    /// Alerts waiting for the writer; more are dropped and counted.
    pub queue_capacity: usize,
}

impl Store {
    pub fn max_age(&self) -> Option<Duration> {
        Some(self.max_age.0).filter(|d| !d.is_zero())
    }

    pub fn max_bytes(&self) -> Option<u64> {
        Some(self.max_bytes.0).filter(|b| *b != 0)
    }
}

impl Default for Store {
    fn default() -> Self {
        Store {
            enabled: true,
            path: "/var/lib/saker".into(),
            max_age: Interval(Duration::from_secs(7 * 86_400)),
            max_bytes: ByteSize(1 << 30),
            queue_capacity: 65_536,
        }
    }
}

/// `api`: saker's HTTP API (`/v1/...`), served with the webserver endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Api {
    /// Overrides `webserver.listen_address`/`listen_port` (default
    /// 127.0.0.1:8765). See `Config::http_listen`.
    pub listen: Option<SocketAddr>,
    pub auth: ApiAuth,
    pub tls: ApiTls,
    pub rate_limit: RateLimit,
}

/// When a token is configured, every endpoint but `/healthz` requires
/// `Authorization: Bearer TOKEN`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ApiAuth {
    /// File holding the token (trailing whitespace is not part of it).
    pub token_file: Option<PathBuf>,
}

/// TLS for the API; `client_ca` turns on client certificate checks (mTLS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ApiTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

impl ApiTls {
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }
}

/// Per-client request budget for the `/v1` endpoints (a token bucket).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    /// Requests per second; 0 for no limit.
    pub per_second: u32,
    /// Requests allowed at once above the rate; 0 means `per_second`.
    pub burst: u32,
}

/// `gate`: the external scanners behind `/v1/gate` and `saker gate`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Gate {
    pub trivy: Scanner,
    pub kubesec: Scanner,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            trivy: Scanner {
                binary: "trivy".into(),
                timeout: Interval(Duration::from_secs(300)),
                args: Vec::new(),
            },
            kubesec: Scanner {
                binary: "kubesec".into(),
                timeout: Interval(Duration::from_secs(60)),
                args: Vec::new(),
            },
        }
    }
}

/// One external scanner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Scanner {
    /// Path, or a name looked up in `PATH`.
    pub binary: PathBuf,
    /// A scan running longer is killed and counts as failed.
    pub timeout: Interval,
    /// Extra arguments passed before the target.
    pub args: Vec<String>,
}
