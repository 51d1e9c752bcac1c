//! Real containers for the tests: a busybox image built locally (no registry
//! is reachable here) and podman with runc.

use std::process::Command;

pub const IMAGE: &str = "localhost/saker-e2e:1";

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman")
        .arg("--runtime")
        .arg("runc")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("podman {args:?}: {e} (is podman installed? `cargo xtask test` installs it)")
        })
}

fn ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds the busybox image once per machine: a static busybox, its applets,
/// and an /etc/passwd with a user of our own.
pub fn ensure_image() {
    if podman(&["image", "exists", IMAGE]).status.success() {
        return;
    }
    let dir = super::TempDir::new("rootfs");
    let root = dir.path().join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "home/saker"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("copy /bin/busybox (apt-get install busybox-static)");
    let applets = Command::new(root.join("bin/busybox"))
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nsakeruser:x:1234:1234:saker:/home/saker:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nsakergrp:x:1234:\n").unwrap();
    std::fs::write(root.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    let tar = dir.path().join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    ok(&["import", tar.to_str().unwrap(), IMAGE]);
}

/// A running container, removed on drop.
pub struct Container {
    pub name: String,
    pub id: String,
    pub pid: u32,
}

impl Container {
    /// Starts `sleep 300` in a new container with the given labels.
    pub fn start(tag: &str, labels: &[(&str, &str)]) -> Container {
        ensure_image();
        let name = format!("saker-e2e-{tag}-{}", std::process::id());
        let _ = podman(&["rm", "-f", &name]);
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.push(IMAGE.into());
        args.extend(["sleep".into(), "300".into()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = ok(&argv);
        let pid: u32 = ok(&["inspect", "-f", "{{.State.Pid}}", &name])
            .parse()
            .unwrap();
        Container { name, id, pid }
    }

    /// Runs a shell command inside the container and returns its stdout.
    pub fn exec(&self, script: &str) -> String {
        ok(&["exec", &self.name, "sh", "-c", script])
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.name]);
    }
}
