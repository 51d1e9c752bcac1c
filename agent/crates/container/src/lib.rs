//! saker-container: which container a process is in, and what its runtime
//! says about it.
//!
//! - [`cgroup`]: container id from /proc/PID/cgroup (docker, containerd/CRI,
//!   CRI-O, podman), `host` otherwise; [`cgroup_id`]: cgroup v2 id → path.
//! - [`docker`], [`cri`]: asynchronous runtime clients.
//! - [`cache`]: the non-blocking metadata cache the hot path reads.
//! - [`users`]: user and group names from the container's own files.
//!
//! How the state tables use it:
//!
//! ```no_run
//! use std::{path::Path, sync::Arc};
//! use saker_container::*;
//!
//! # fn demo(handle: &tokio::runtime::Handle, pid: u32, uid: u32, cgid: u64) {
//! // Once, at start (inside or with a tokio runtime). Default() lists the
//! // well-known sockets; RuntimeConfig::with_sockets(docker, cri) pins them.
//! let cache = ContainerCache::start(RuntimeConfig::default(), handle);
//! let users = UsersCache::default();
//! let cgids = CgroupIdMap::detect().map(Arc::new);
//!
//! // At exec / /proc scan: which container (cheap procfs read).
//! let m = cgroup::container_of_pid(Path::new("/proc"), pid).ok().flatten();
//! let id = m.as_ref().map_or(HOST_ID, |m| m.short_id()); // container.id
//! // A record with only a cgroup id: cache only, rescans in the background.
//! let _path = cgids.as_ref().and_then(|c| c.lookup_or_schedule(cgid, handle));
//!
//! // Per event: never waits; None until the runtime has answered.
//! let info = m.as_ref().and_then(|m| cache.get_match(m));
//! let _ns = info.as_ref().and_then(|i| i.k8s.ns_name.clone());
//! let key = m.as_ref().map_or(HOST_ID, |m| m.full_id.as_str());
//! let _name = users.user_name(key, pid, uid); // loads once per container
//! # let _ = id;
//! # }
//! ```

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
