//! saker-container: which container a process is in, and what its runtime
//! says about it.
//!
//! - [`cgroup`]: container id from /proc/PID/cgroup (docker, containerd/CRI,
//!   CRI-O, podman), `host` otherwise; [`cgroup_id`]: cgroup v2 id → path.
//! - [`docker`], [`cri`]: asynchronous runtime clients.
//! - [`cache`]: the non-blocking metadata cache the hot path reads.
//! - [`users`]: user and group names from the container's own files.

pub mod cache;
pub mod cgroup;
pub mod cgroup_id;
pub mod cri;
pub mod docker;
mod error;
pub mod http;
pub mod image;
mod info;
pub mod rfc3339;
pub mod rootfs;
pub mod runtime;
pub mod users;

#[cfg(feature = "testutil")]
pub mod testutil;

pub use cache::{CacheStats, ContainerCache};
pub use cgroup::{ContainerMatch, RuntimeHint, HOST_ID};
pub use cgroup_id::CgroupIdMap;
pub use error::{Error, Result};
pub use info::{ContainerInfo, K8sInfo, Mount, RuntimeKind};
pub use runtime::{RuntimeConfig, Runtimes};
pub use users::UsersCache;
