//! Reads a small file inside another root filesystem (a container's, via
//! /proc/PID/root) without trusting it: symlinks resolve inside that root,
//! not the host's, and a FIFO or device planted at the path cannot block
//! or flood the agent.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2 fails with EAGAIN when a rename or mount anywhere on the system
/// raced the lookup (podman and runc mount constantly); a few retries get
/// through, and giving up is reported, never taken for "file absent".
const EAGAIN_RETRIES: usize = 16;

/// Reads `rel` (e.g. `etc/passwd`) under `root`, at most `cap` bytes.
/// `Ok(None)` when the root is there and the file conclusively is not a
/// readable regular file (missing, a FIFO or device planted in its place);
/// `Err` when it could not be told: the root is gone (the process exited),
/// the lookup kept racing, or permission was refused.
pub fn read_file_in_root(root: &Path, rel: &str, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let Some(file) = open_in_root(root, rel)? else {
        return Ok(None);
    };
    // A regular file only: reading a FIFO or a tty would block.
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    let mut buf = Vec::new();
    file.take(cap).read_to_end(&mut buf)?;
    Ok(Some(buf))
}

/// Errors that mean "the file is not there" inside a root that is.
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
    )
}

fn open_in_root(root: &Path, rel: &str) -> io::Result<Option<File>> {
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
    // The root itself missing is not "file absent": its process is gone.
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_PATH | libc::O_CLOEXEC)
        .open(root)?;
    let rel_c = std::ffi::CString::new(Path::new(rel).as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    use std::os::fd::AsRawFd;
    let mut last = io::Error::from_raw_os_error(libc::EAGAIN);
    for _ in 0..EAGAIN_RETRIES {
        // SAFETY: openat2 reads `how` (size passed) and the NUL-terminated
        // path; both outlive the call. A non-negative return is a new fd we own.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                rel_c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            let fd = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
            // SAFETY: fd was just returned by openat2 and is owned by no one else.
            return Ok(Some(File::from(unsafe { OwnedFd::from_raw_fd(fd) })));
        }
        last = io::Error::last_os_error();
        match last.raw_os_error() {
            Some(libc::EAGAIN) => continue,
            Some(libc::ENOSYS) => break,
            _ if is_absent(&last) => return Ok(None),
            _ => return Err(last),
        }
    }
    if last.raw_os_error() != Some(libc::ENOSYS) {
        return Err(last);
    }
    // Kernels before 5.6: plain open, still non-blocking and no final symlink.
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(root.join(rel))
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("saker-rootfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        d
    }

    #[test]
    fn reads_regular_files_with_a_cap() {
        let r = tmp("cap");
        std::fs::write(r.join("etc/passwd"), "a:x:1:1::/:\n").unwrap();
        assert_eq!(
            read_file_in_root(&r, "etc/passwd", 1 << 20)
                .unwrap()
                .unwrap(),
            b"a:x:1:1::/:\n"
        );
        assert_eq!(
            read_file_in_root(&r, "etc/passwd", 3).unwrap().unwrap(),
            b"a:x"
        );
        assert_eq!(read_file_in_root(&r, "etc/missing", 10).unwrap(), None);
        assert!(
            read_file_in_root(&r.join("gone"), "etc/passwd", 10).is_err(),
            "a missing root is not a missing file"
        );
        let _ = std::fs::remove_dir_all(&r);
    }

    #[test]
    fn fifo_does_not_block() {
        let r = tmp("fifo");
        let p = std::ffi::CString::new(r.join("etc/passwd").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
        assert_eq!(read_file_in_root(&r, "etc/passwd", 1 << 20).unwrap(), None);
        let _ = std::fs::remove_dir_all(&r);
    }

    #[test]
    fn absolute_symlinks_resolve_inside_the_root() {
        let r = tmp("link");
        std::fs::create_dir_all(r.join("real")).unwrap();
        std::fs::write(r.join("real/passwd"), "inside:x:5:5::/:\n").unwrap();
        // Absolute target: on the host it would name the host's file.
        std::os::unix::fs::symlink("/real/passwd", r.join("etc/passwd")).unwrap();
        assert_eq!(
            read_file_in_root(&r, "etc/passwd", 1 << 20)
                .unwrap()
                .unwrap(),
            b"inside:x:5:5::/:\n"
        );
        // Escapes with .. stay in the root too.
        std::os::unix::fs::symlink("../../../../../../etc/hostname", r.join("etc/group")).unwrap();
        assert_eq!(read_file_in_root(&r, "etc/group", 1 << 20).unwrap(), None);
        let _ = std::fs::remove_dir_all(&r);
    }
}
