//! `watch_config_files`: reload when a rules or config file changes. Polling
//! modification times every two seconds is enough for config files and works
//! on every filesystem (configmaps are symlink swaps, which inotify on the
//! file itself misses).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Aborts the watcher when dropped.
pub struct Watcher(Option<tokio::task::JoinHandle<()>>);

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

fn stamp(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// Calls `on_change` (from a blocking-friendly task) whenever the files'
/// modification times change. An empty list watches nothing.
pub fn watch(files: Vec<PathBuf>, on_change: impl Fn() + Send + Sync + 'static) -> Watcher {
    if files.is_empty() {
        return Watcher(None);
    }
    let on_change = std::sync::Arc::new(on_change);
    Watcher(Some(tokio::spawn(async move {
        let mut last = stamp(&files);
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let now = stamp(&files);
            if now != last {
                last = now;
                let f = on_change.clone();
                let _ = tokio::task::spawn_blocking(move || f()).await;
            }
        }
    })))
}
