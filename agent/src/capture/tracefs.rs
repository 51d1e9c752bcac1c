//! tracefs: where the syscall tracepoints live, and the layout of their
//! records (read from each `format` file rather than assumed).

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TracefsError {
    #[error("tracefs is not mounted and mounting it at {path} failed: {source} (mount it with `mount -t tracefs tracefs /sys/kernel/tracing`)")]
    Mount {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: field `{field}` not found in the tracepoint format")]
    Field { path: String, field: String },
}

/// The tracefs mount, mounting it when the directory is there but empty.
pub fn root() -> Result<PathBuf, TracefsError> {
    for candidate in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let p = Path::new(candidate);
        if p.join("events").is_dir() {
            return Ok(p.to_path_buf());
        }
    }
    let path = "/sys/kernel/tracing";
    let src = c"tracefs";
    let target = c"/sys/kernel/tracing";
    // SAFETY: plain mount(2) with static NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(TracefsError::Mount {
            path: path.into(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(PathBuf::from(path))
}

/// Byte offset of `field` in a tracepoint's record, from its `format` file.
pub fn field_offset(
    root: &Path,
    category: &str,
    event: &str,
    field: &str,
) -> Result<u32, TracefsError> {
    let path = root
        .join("events")
        .join(category)
        .join(event)
        .join("format");
    let text = std::fs::read_to_string(&path).map_err(|source| TracefsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_offset(&text, field).ok_or_else(|| TracefsError::Field {
        path: path.display().to_string(),
        field: field.into(),
    })
}

/// Finds `offset:N` on the line declaring `field` (`field:<type> <field>;`).
fn parse_offset(format: &str, field: &str) -> Option<u32> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?;
        let (decl, rest) = decl.split_once(';')?;
        let name = decl.rsplit([' ', '*']).next()?;
        if name != field {
            return None;
        }
        let off = rest
            .split(';')
            .find_map(|p| p.trim().strip_prefix("offset:"))?;
        off.trim().parse().ok()
    })
}

/// Whether the kernel has `syscalls/sys_enter_<name>` (it lacks some, e.g.
/// when a syscall is compiled out).
pub fn has_syscall_tracepoint(root: &Path, name: &str) -> bool {
    root.join("events/syscalls")
        .join(format!("sys_enter_{name}"))
        .is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str = "name: sys_enter_openat
ID: 782
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
";

    #[test]
    fn finds_offsets_by_field_name() {
        assert_eq!(parse_offset(OPENAT, "__syscall_nr"), Some(8));
        assert_eq!(parse_offset(OPENAT, "dfd"), Some(16));
        assert_eq!(parse_offset(OPENAT, "filename"), Some(24));
        assert_eq!(parse_offset(OPENAT, "ret"), None);
        assert_eq!(parse_offset("garbage;;offset:", "x"), None);
    }
}
