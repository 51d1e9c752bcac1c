//! The sinks. Each runs on its own worker thread (see `worker`), so it may block.

pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod program;
pub(crate) mod syslog;
pub(crate) mod writer;

use crate::error::DeliverError;
use crate::OutputAlert;

pub(crate) trait Sink: Send + 'static {
    /// Writes one alert. Buffered data is pushed out by `flush`.
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError>;

    fn flush(&mut self) -> Result<(), DeliverError> {
        Ok(())
    }

    /// Files are reopened (logrotate), programs respawned, on the agent's request.
    fn reopen(&mut self) -> Result<(), DeliverError> {
        Ok(())
    }

    /// Called once when the worker stops, after the last flush.
    fn close(&mut self) {}
}

/// The line a non-HTTP sink writes: JSON when `json_output` is on, like Falco.
pub(crate) fn line(alert: &OutputAlert, json: bool) -> &str {
    if json {
        &alert.json
    } else {
        &alert.text
    }
}
