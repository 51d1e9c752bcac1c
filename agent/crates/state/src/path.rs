//! Path resolution as Falco does it: a relative path is joined to the cwd (or
//! the dirfd's path) and the result is normalised lexically (`.`, `..`, `//`),
//! without touching the filesystem (symlinks are not followed).

/// Resolves `path` against `base` (an absolute directory) into `out`.
/// `out` is cleared first; it is a reusable buffer so the hot path does not
/// allocate once it has grown.
pub fn resolve_into(out: &mut String, base: &str, path: &str) {
    out.clear();
    if path.starts_with('/') {
        push_normalised(out, path);
    } else {
        push_normalised(out, base);
        if path.is_empty() {
            return;
        }
        push_normalised_rel(out, path);
    }
}

/// Resolves and returns a new string.
pub fn resolve(base: &str, path: &str) -> String {
    let mut s = String::with_capacity(base.len() + path.len() + 1);
    resolve_into(&mut s, base, path);
    s
}

fn push_normalised(out: &mut String, abs: &str) {
    out.push('/');
    push_normalised_rel(out, abs);
}

/// Appends the components of `rel` to `out`, which holds a normalised
/// absolute path (starting with `/`).
fn push_normalised_rel(out: &mut String, rel: &str) {
    for comp in rel.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                // Drop the last component, never the root.
                let cut = out.trim_end_matches('/').rfind('/').unwrap_or(0);
                out.truncate(cut.max(1));
                if out.is_empty() {
                    out.push('/');
                }
            }
            c => {
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
}

/// `fd.directory`: everything before the last `/` (`/` for a top-level file).
pub fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => "",
    }
}

/// `fd.filename`: the last component.
pub fn basename(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_falco() {
        assert_eq!(resolve("/home/u", "a.txt"), "/home/u/a.txt");
        assert_eq!(resolve("/home/u/", "./a/../b"), "/home/u/b");
        assert_eq!(resolve("/home/u", "../../../etc/passwd"), "/etc/passwd");
        assert_eq!(resolve("/", ".."), "/");
        assert_eq!(resolve("/x", "/etc//shadow"), "/etc/shadow");
        assert_eq!(resolve("/x", "/etc/./ssh/../passwd"), "/etc/passwd");
        assert_eq!(resolve("/tmp", ""), "/tmp");
        assert_eq!(resolve("/tmp", "dir/"), "/tmp/dir");
        assert_eq!(resolve("/", "etc"), "/etc");
    }

    #[test]
    fn dir_and_base() {
        assert_eq!(dirname("/etc/passwd"), "/etc");
        assert_eq!(dirname("/passwd"), "/");
        assert_eq!(basename("/etc/passwd"), "passwd");
        assert_eq!(basename("x"), "x");
    }
}
