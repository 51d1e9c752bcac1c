//! Helpers for tests with real containers (feature `testutil`): a local
//! busybox image, a podman API service, containers that clean up after
//! themselves. Blocking std::process calls: tests only.
//!
//! Needs root and the Debian packages `podman runc busybox-static` (and
//! `containerd` for the CRI test).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The local test image: busybox plus a distinctive user.
pub const TEST_IMAGE: &str = "localhost/saker-test:1";
pub const TEST_USER: &str = "sakeruser";
pub const TEST_UID: u32 = 1234;
pub const TEST_GROUP: &str = "sakergrp";

/// Whether a privileged test can run. Without root or a tool it prints why
/// and returns false (skip), unless CI=true: then a missing prerequisite is
/// a failure, not a silent pass.
pub fn require(test: &str, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        missing.push("root".to_string());
    }
    for t in tools {
        if which(t).is_none() {
            missing.push(format!("`{t}` in PATH"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: needs {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true: prerequisites must be installed)");
    }
    eprintln!("SKIPPED {msg}");
    false
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Runs a command, returning trimmed stdout or an error with stderr.
pub fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd} {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn podman(args: &[&str]) -> Result<String, String> {
    run("podman", args)
}

/// Podman here needs no rlimits set (no CAP_SYS_RESOURCE). Creates or
/// amends /etc/containers/containers.conf; safe to call repeatedly.
pub fn ensure_containers_conf() -> std::io::Result<()> {
    let path = Path::new("/etc/containers/containers.conf");
    let cur = std::fs::read_to_string(path).unwrap_or_default();
    if cur.contains("default_ulimits") {
        return Ok(());
    }
    let new = if let Some(i) = cur.find("[containers]") {
        let at = i + "[containers]".len();
        format!("{}\ndefault_ulimits = []{}", &cur[..at], &cur[at..])
    } else {
        format!("{cur}\n[containers]\ndefault_ulimits = []\n")
    };
    std::fs::create_dir_all("/etc/containers")?;
    std::fs::write(path, new)
}

static IMAGE_LOCK: Mutex<()> = Mutex::new(());

/// Builds [`TEST_IMAGE`] from /bin/busybox if podman does not have it.
pub fn ensure_test_image() -> Result<(), String> {
    let _g = IMAGE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_containers_conf().map_err(|e| format!("containers.conf: {e}"))?;
    if podman(&["image", "exists", TEST_IMAGE]).is_ok() {
        return Ok(());
    }
    let dir = tempdir("image")?;
    let rootfs = dir.join("rootfs");
    for d in ["bin", "etc", "home", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(|e| e.to_string())?;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .ok_or("busybox-static is not installed")?;
    std::fs::copy(busybox, rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
    for applet in ["sh", "sleep", "cat", "id", "ls", "echo", "true"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
            .map_err(|e| e.to_string())?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        format!(
            "root:x:0:0:root:/root:/bin/sh\n{TEST_USER}:x:{TEST_UID}:{TEST_UID}::/home:/bin/sh\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        rootfs.join("etc/group"),
        format!("root:x:0:\n{TEST_GROUP}:x:{TEST_UID}:\n"),
    )
    .map_err(|e| e.to_string())?;
    let tar = dir.join("rootfs.tar");
    run(
        "tar",
        &[
            "-C",
            &rootfs.to_string_lossy(),
            "-cf",
            &tar.to_string_lossy(),
            ".",
        ],
    )?;
    podman(&[
        "import",
        "--change",
        "CMD=[\"/bin/sleep\",\"3600\"]",
        &tar.to_string_lossy(),
        TEST_IMAGE,
    ])?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A fresh directory under the temp dir.
pub fn tempdir(tag: &str) -> Result<PathBuf, String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("saker-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    Ok(d)
}

/// `podman system service` on a socket of its own; killed on drop.
pub struct PodmanService {
    child: Option<Child>,
    pub socket: PathBuf,
    dir: PathBuf,
}

impl PodmanService {
    /// Starts the Docker-compatible API and waits until it answers.
    pub fn start() -> Result<Self, String> {
        let dir = tempdir("podman-svc")?;
        let socket = dir.join("podman.sock");
        let child = Command::new("podman")
            .args([
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", socket.display()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("podman system service: {e}"))?;
        let svc = Self {
            child: Some(child),
            socket,
            dir,
        };
        svc.wait_ready(Duration::from_secs(20))?;
        Ok(svc)
    }

    fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&self.socket) {
                let _ = s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut b = [0u8; 16];
                if std::io::Read::read(&mut s, &mut b)
                    .map(|n| b[..n].starts_with(b"HTTP/1.1 200"))
                    .unwrap_or(false)
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("podman system service did not come up".into())
    }

    /// Kills the service (SIGKILL: a crash, not a clean stop).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A detached podman container (runc), removed on drop.
pub struct PodmanContainer {
    pub name: String,
    /// 64 hex, from `podman inspect`.
    pub id: String,
    /// Host pid of the container's first process.
    pub pid: u32,
}

impl PodmanContainer {
    /// `podman --runtime runc run -d --name NAME [--label k=v]... [extra] IMAGE cmd...`
    pub fn run(
        name: &str,
        labels: &[(&str, &str)],
        extra: &[&str],
        cmd: &[&str],
    ) -> Result<Self, String> {
        ensure_test_image()?;
        let _ = podman(&["rm", "-f", "-t", "0", name]);
        let mut args: Vec<String> = vec![
            "--runtime".into(),
            "runc".into(),
            "run".into(),
            "-d".into(),
            "--name".into(),
            name.into(),
        ];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(TEST_IMAGE.into());
        args.extend(cmd.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        podman(&argv)?;
        let mut c = Self {
            name: name.to_string(),
            id: String::new(),
            pid: 0,
        };
        c.id = podman(&["inspect", "--format", "{{.Id}}", name])?;
        c.pid = podman(&["inspect", "--format", "{{.State.Pid}}", name])?
            .parse()
            .map_err(|e| format!("pid: {e}"))?;
        Ok(c)
    }
}

impl Drop for PodmanContainer {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.name]);
    }
}

mod containerd;
pub use containerd::Containerd;

/// Removes a cgroup directory (e.g. a pod's cgroup parent, which the
/// kubelet would own) from every mounted hierarchy. Errors are ignored:
/// a cgroup still in use is left behind.
pub fn remove_cgroup(rel: &str) {
    let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    for line in mi.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if !right.starts_with("cgroup") {
            continue;
        }
        if let Some(mp) = left.split_whitespace().nth(4) {
            let _ = std::fs::remove_dir(Path::new(mp).join(rel.trim_start_matches('/')));
        }
    }
}
