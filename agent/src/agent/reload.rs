//! `watch_config_files`: reload when a rules or config file changes. Polling
//! every two seconds is enough for config files and works on every
//! filesystem (configmaps are symlink swaps, which inotify on the file itself
//! misses).
//!
//! A change is seen by content, not modification time: an editor or `echo >`
//! truncates then writes, often within one tick of the filesystem's coarse
//! clock, so the half-written file and the finished one can carry the same
//! mtime. The reload waits until the content has settled, so it never
//! loads the half-written file and then misses the finished one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(2);
/// A change is acted on once two looks this far apart agree.
const SETTLE: Duration = Duration::from_millis(250);
/// A file rewritten without pause is reloaded after this many looks anyway.
const MAX_SETTLE_LOOKS: usize = 20;
/// Files bigger than this are fingerprinted by size and mtime only.
const MAX_HASHED: u64 = 32 << 20;

/// Aborts the watcher when dropped.
pub struct Watcher(Option<tokio::task::JoinHandle<()>>);

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// What a watched path holds now: for a file its content hash, for a
/// directory every file in it (the rules loader reads them all), for a
/// missing path nothing.
fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut h = DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        if f.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(f)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.retain(|p| p.is_file());
            entries.sort();
            for e in &entries {
                e.hash(&mut h);
                file_hash(e, &mut h);
            }
        } else {
            file_hash(f, &mut h);
        }
    }
    h.finish()
}

fn file_hash(path: &Path, h: &mut DefaultHasher) {
    let Ok(meta) = std::fs::metadata(path) else {
        0u8.hash(h);
        return;
    };
    meta.len().hash(h);
    if meta.len() > MAX_HASHED {
        meta.modified().ok().hash(h);
        return;
    }
    match std::fs::read(path) {
        Ok(bytes) => bytes.hash(h),
        Err(_) => 1u8.hash(h),
    }
}

/// [`fingerprint`] on a blocking thread: it reads every watched file.
async fn look(files: &Arc<Vec<PathBuf>>) -> u64 {
    let files = files.clone();
    tokio::task::spawn_blocking(move || fingerprint(&files))
        .await
        .unwrap_or(0)
}

/// The fingerprint once two looks `SETTLE` apart agree (or after
/// `MAX_SETTLE_LOOKS`).
async fn settled(files: &Arc<Vec<PathBuf>>) -> u64 {
    let mut prev = look(files).await;
    for _ in 0..MAX_SETTLE_LOOKS {
        tokio::time::sleep(SETTLE).await;
        let now = look(files).await;
        if now == prev {
            return now;
        }
        prev = now;
    }
    prev
}

/// Calls `on_change` (from a blocking-friendly task) whenever the watched
/// files' content changes. An empty list watches nothing.
pub fn watch(files: Vec<PathBuf>, on_change: impl Fn() + Send + Sync + 'static) -> Watcher {
    if files.is_empty() {
        return Watcher(None);
    }
    let on_change = Arc::new(on_change);
    let files = Arc::new(files);
    Watcher(Some(tokio::spawn(async move {
        let mut last = look(&files).await;
        loop {
            tokio::time::sleep(POLL).await;
            if look(&files).await == last {
                continue;
            }
            // Taken before the reload reads the files: a write that lands
            // during the reload differs from it and is picked up next poll.
            last = settled(&files).await;
            let f = on_change.clone();
            let _ = tokio::task::spawn_blocking(move || f()).await;
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_same_mtime_rewrites_are_seen_and_dirs_are_expanded() {
        let dir = std::env::temp_dir().join(format!("saker-reload-fp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.yaml");
        std::fs::write(&file, "- rule: a\n").unwrap();
        let files = vec![dir.clone()];
        let before = fingerprint(&files);
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        // Same length, and the old mtime put back: only content tells.
        std::fs::write(&file, "- rule: b\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let after = fingerprint(&files);
        assert_ne!(before, after);
        // A file added to a watched directory is a change.
        std::fs::write(dir.join("more.yaml"), "x").unwrap();
        assert_ne!(fingerprint(&files), after);
        // A missing path is a state too: creating it is a change.
        let missing = vec![dir.join("later.yaml")];
        let gone = fingerprint(&missing);
        std::fs::write(dir.join("later.yaml"), "").unwrap();
        assert_ne!(fingerprint(&missing), gone);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
