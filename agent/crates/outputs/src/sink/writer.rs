//! stdout, or any writer the embedder hands in (tests capture it).

use std::io::{BufWriter, Write};

use super::{line, Sink};
use crate::error::DeliverError;
use crate::worker::io_failed;
use crate::OutputAlert;

pub(crate) struct WriterSink {
    out: BufWriter<Box<dyn Write + Send>>,
    json: bool,
}

impl WriterSink {
    pub(crate) fn new(out: Box<dyn Write + Send>, json: bool) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            json,
        }
    }
}

impl Sink for WriterSink {
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError> {
        let l = line(alert, self.json);
        self.out
            .write_all(l.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| io_failed("write", &e))
    }

    fn flush(&mut self) -> Result<(), DeliverError> {
        self.out.flush().map_err(|e| io_failed("flush", &e))
    }
}
