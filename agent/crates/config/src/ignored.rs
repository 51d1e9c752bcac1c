//! Falco keys that saker accepts but does not use.
//!
//! They get a one-line "ignored: not applicable to saker" warning instead of
//! "unknown key", so that an unmodified falco.yaml loads and the user can
//! tell a typo from a Falco-only feature.

/// Key paths, with list indexes written `[]`.
const IGNORED: &[&str] = &[
    // saker has its own eBPF capture and no kernel module, plugins or libs.
    "engine",
    "load_plugins",
    "plugins",
    "plugins_hostinfo",
    "falco_libs",
    "libs_logger",
    "syscall_event_timeouts",
    "static_fields",
    "buffer_format_base64",
    // Falco's scap capture files; saker's `capture` section means the probe.
    "capture.enabled",
    "capture.path_prefix",
    "capture.mode",
    "capture.default_duration",
    "capture.max_file_size_mb",
    "webserver.threadiness",
    "metrics.plugins_metrics_enabled",
    "metrics.kernel_iter_event_counters_enabled",
    "metrics.jemalloc_stats_enabled",
    // Plugin-suggested fields; saker appends container/k8s fields itself.
    "append_output[].suggested_output",
    // Keys of older falco.yaml versions.
    "grpc",
    "grpc_output",
    "syscall_buf_size_preset",
    "syscall_drop_failed_exit",
    "modern_bpf",
    "metadata_download",
];

/// Whether `path` (like `append_output[0].suggested_output`) is on the list.
pub fn is_ignored(path: &str) -> bool {
    let mut norm = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                norm.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => norm.push(c),
        }
    }
    IGNORED.contains(&norm.as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalizes_indexes() {
        assert!(super::is_ignored("append_output[12].suggested_output"));
        assert!(super::is_ignored("engine"));
        assert!(!super::is_ignored("engine.kind"));
        assert!(!super::is_ignored("http_output.urll"));
    }
}
