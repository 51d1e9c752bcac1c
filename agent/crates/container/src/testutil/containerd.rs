//! A private containerd (its own root, state and socket) with the CRI
//! plugin, runc, the native snapshotter and the test image imported.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ensure_test_image, podman, run, tempdir, TEST_IMAGE};

pub struct Containerd {
    child: Option<Child>,
    pub socket: PathBuf,
    pub dir: PathBuf,
}

impl Containerd {
    /// Starts containerd and imports [`TEST_IMAGE`] into the `k8s.io`
    /// namespace, where the CRI plugin looks. The image is also the sandbox
    /// ("pause") image: no registry is reachable to pull the real one.
    pub fn start() -> Result<Self, String> {
        ensure_test_image()?;
        // Short paths: shim sockets live under state and must fit sun_path.
        let dir = tempdir("ctrd")?;
        let socket = dir.join("c.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{image}"
  # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj (the sandbox
  # asks for -998); clamp it to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
"#,
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            sock = socket.display(),
            image = TEST_IMAGE,
        );
        std::fs::write(dir.join("config.toml"), config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("containerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("containerd: {e}"))?;
        let me = Self {
            child: Some(child),
            socket,
            dir,
        };
        let t0 = Instant::now();
        while !me.socket.exists() {
            if t0.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "containerd did not start; see {}",
                    me.dir.join("containerd.log").display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let archive = me.dir.join("image.tar");
        podman(&[
            "save",
            "--format",
            "docker-archive",
            "-o",
            &archive.to_string_lossy(),
            TEST_IMAGE,
        ])?;
        let addr = me.socket.to_string_lossy().to_string();
        run(
            "ctr",
            &[
                "--address",
                &addr,
                "-n",
                "k8s.io",
                "images",
                "import",
                &archive.to_string_lossy(),
            ],
        )?;
        Ok(me)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// Kills containerd and the shims and containers it started.
    pub fn stop(&mut self) {
        let addr = self.socket.to_string_lossy().to_string();
        // Tasks outlive containerd (shims); kill them first.
        if let Ok(list) = run(
            "ctr",
            &["--address", &addr, "-n", "k8s.io", "tasks", "ls", "-q"],
        ) {
            for id in list.lines() {
                let _ = run(
                    "ctr",
                    &[
                        "--address",
                        &addr,
                        "-n",
                        "k8s.io",
                        "tasks",
                        "kill",
                        "-s",
                        "SIGKILL",
                        id,
                    ],
                );
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
        // Snapshots may still be mounted by a shim that is exiting; a
        // leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
