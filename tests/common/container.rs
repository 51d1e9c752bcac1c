//! Real containers for the tests, on saker-container's podman helpers (a
//! busybox image built locally, podman with runc), plus `exec`.

use saker_container::testutil::{self, PodmanContainer};
#[allow(unused_imports)]
pub use saker_container::testutil::{PodmanService, TEST_IMAGE as IMAGE};

/// A running container, removed on drop.
pub struct Container {
    inner: PodmanContainer,
    pub name: String,
    pub id: String,
    pub pid: u32,
}

impl Container {
    /// Starts `sleep 300` in a new container with the given labels.
    pub fn start(tag: &str, labels: &[(&str, &str)]) -> Container {
        let name = format!("saker-e2e-{tag}-{}", std::process::id());
        let inner =
            PodmanContainer::run(&name, labels, &[], &["sleep", "300"]).unwrap_or_else(|e| {
                panic!("podman run {name}: {e} (`cargo xtask test` installs podman)")
            });
        Container {
            name: inner.name.clone(),
            id: inner.id.clone(),
            pid: inner.pid,
            inner,
        }
    }

    /// Runs a shell command inside the container and returns its stdout.
    pub fn exec(&self, script: &str) -> String {
        testutil::podman(&["exec", &self.inner.name, "sh", "-c", script])
            .unwrap_or_else(|e| panic!("podman exec {}: {e}", self.name))
    }
}
