//! Config shaped like falco.yaml's output keys. Unknown keys are reported by the config crate,
//! so nothing here denies them; every field has Falco's default.

use serde::Deserialize;

/// `stdout_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StdoutOutput {
    pub enabled: bool,
}

impl Default for StdoutOutput {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `file_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct FileOutput {
    pub enabled: bool,
    /// true: open once and keep writing; false: open, append, close per alert (Falco's default).
    pub keep_alive: bool,
    pub filename: String,
}

impl Default for FileOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            keep_alive: false,
            filename: "./events.txt".into(),
        }
    }
}

/// `http_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HttpOutput {
    pub enabled: bool,
    pub url: String,
    /// Falco's default is `falcosecurity/falco`; ours is `saker/VERSION` (also used when empty).
    pub user_agent: String,
    pub insecure: bool,
    pub ca_cert: String,
    pub ca_bundle: String,
    pub ca_path: String,
    pub mtls: bool,
    pub client_cert: String,
    pub client_key: String,
    /// Print the server's answers to stdout.
    pub echo: bool,
    /// gzip the body and send `Content-Encoding: gzip`.
    pub compress_uploads: bool,
    /// Accepted for compatibility. Connections are always reused, as libcurl's single easy
    /// handle does in Falco whatever this key says.
    pub keep_alive: bool,
    /// A request that times out is retried up to this many times (Falco's libcurl loop).
    pub max_consecutive_timeouts: u8,
}

impl Default for HttpOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            url: String::new(),
            user_agent: default_user_agent(),
            insecure: false,
            ca_cert: String::new(),
            ca_bundle: String::new(),
            ca_path: "/etc/ssl/certs".into(),
            mtls: false,
            client_cert: "/etc/ssl/certs/client.crt".into(),
            client_key: "/etc/ssl/certs/client.key".into(),
            echo: false,
            compress_uploads: false,
            keep_alive: false,
            max_consecutive_timeouts: 5,
        }
    }
}

/// `saker/VERSION`, the counterpart of Falco's `falcosecurity/falco`.
pub fn default_user_agent() -> String {
    format!("saker/{}", env!("CARGO_PKG_VERSION"))
}

/// `syslog_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SyslogOutput {
    pub enabled: bool,
    /// Our extension. `/path` or `unix:///path` (datagram, like glibc's syslog(3), RFC 3164),
    /// `udp://host:port` or `tcp://host:port` (RFC 5424; TCP uses octet-counting framing).
    pub address: String,
}

impl Default for SyslogOutput {
    fn default() -> Self {
        Self {
            enabled: true,
            address: "/dev/log".into(),
        }
    }
}

/// `program_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ProgramOutput {
    pub enabled: bool,
    /// true: one long-lived process fed line by line; false: one process per alert.
    pub keep_alive: bool,
    /// Run with `sh -c`.
    pub program: String,
}

impl Default for ProgramOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            keep_alive: false,
            program:
                "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"
                    .into(),
        }
    }
}

/// `outputs_queue`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OutputsQueue {
    /// Per-sink queue bound. 0 is Falco's "unbounded"; we use [`UNBOUNDED_CAPACITY`] instead so
    /// that a dead sink costs bounded memory (Falco would grow until the OOM killer).
    pub capacity: usize,
}

/// What `outputs_queue.capacity: 0` means here: 262144 alerts per sink. The alerts are shared
/// between sinks (`Arc`), so this bounds memory at roughly 256 MiB for 1 KiB alerts.
pub const UNBOUNDED_CAPACITY: usize = 1 << 18;

impl OutputsQueue {
    /// The bound actually applied to each sink's queue.
    pub fn effective_capacity(&self) -> usize {
        if self.capacity == 0 {
            UNBOUNDED_CAPACITY
        } else {
            self.capacity
        }
    }
}

/// Every output key of falco.yaml that this crate honours. The config crate flattens it into
/// the top-level config; `Default` is Falco's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OutputsConfig {
    /// Sinks other than http write the JSON line when true, the text line when false.
    pub json_output: bool,
    /// false: flush after every alert. true: flush when the sink's queue runs empty.
    pub buffered_outputs: bool,
    /// Milliseconds. HTTP request timeout; any sink slower than this on one alert counts a
    /// timeout.
    pub output_timeout: u64,
    pub outputs_queue: OutputsQueue,
    pub stdout_output: StdoutOutput,
    pub file_output: FileOutput,
    pub http_output: HttpOutput,
    pub syslog_output: SyslogOutput,
    pub program_output: ProgramOutput,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        Self {
            json_output: false,
            buffered_outputs: false,
            output_timeout: 2000,
            outputs_queue: OutputsQueue::default(),
            stdout_output: StdoutOutput::default(),
            file_output: FileOutput::default(),
            http_output: HttpOutput::default(),
            syslog_output: SyslogOutput::default(),
            program_output: ProgramOutput::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys and values of falco.yaml's output sections, as the config crate hands them over.
    #[test]
    fn falco_yaml_keys_deserialize() {
        let v = serde_json::json!({
            "json_output": true,
            "buffered_outputs": true,
            "output_timeout": 500,
            "outputs_queue": {"capacity": 10},
            "stdout_output": {"enabled": false},
            "syslog_output": {"enabled": true},
            "file_output": {"enabled": true, "keep_alive": true, "filename": "/var/log/x.json"},
            "http_output": {
                "enabled": true, "url": "https://sidekick:2801/", "user_agent": "falcosecurity/falco",
                "insecure": true, "ca_cert": "/ca.pem", "ca_bundle": "", "ca_path": "/etc/ssl/certs",
                "mtls": true, "client_cert": "/c.crt", "client_key": "/c.key", "echo": true,
                "compress_uploads": true, "keep_alive": true, "max_consecutive_timeouts": 7
            },
            "program_output": {"enabled": true, "keep_alive": true, "program": "cat"}
        });
        let c: OutputsConfig = serde_json::from_value(v).unwrap();
        assert!(c.json_output && c.buffered_outputs);
        assert_eq!(c.output_timeout, 500);
        assert_eq!(c.outputs_queue.effective_capacity(), 10);
        assert!(!c.stdout_output.enabled);
        assert_eq!(c.file_output.filename, "/var/log/x.json");
        assert_eq!(c.http_output.max_consecutive_timeouts, 7);
        assert!(c.http_output.mtls && c.http_output.compress_uploads);
        assert_eq!(c.program_output.program, "cat");
        assert_eq!(c.syslog_output.address, "/dev/log");
    }

    #[test]
    fn defaults_are_falcos() {
        let c: OutputsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, OutputsConfig::default());
        assert!(!c.json_output && !c.buffered_outputs);
        assert_eq!(c.output_timeout, 2000);
        assert_eq!(c.outputs_queue.capacity, 0);
        assert_eq!(c.outputs_queue.effective_capacity(), UNBOUNDED_CAPACITY);
        assert!(c.stdout_output.enabled && c.syslog_output.enabled);
        assert!(!c.file_output.enabled && !c.file_output.keep_alive);
        assert_eq!(c.file_output.filename, "./events.txt");
        assert!(!c.http_output.enabled && !c.program_output.enabled);
        assert_eq!(c.http_output.ca_path, "/etc/ssl/certs");
        assert_eq!(c.http_output.max_consecutive_timeouts, 5);
        assert_eq!(
            c.http_output.user_agent,
            format!("saker/{}", env!("CARGO_PKG_VERSION"))
        );
        // A partial section keeps the other defaults.
        let f: FileOutput = serde_json::from_str(r#"{"enabled": true}"#).unwrap();
        assert_eq!(f.filename, "./events.txt");
    }
}
