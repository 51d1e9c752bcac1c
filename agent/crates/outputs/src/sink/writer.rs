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

impl WriterSink {
    /// After a failed write, what the buffer still holds is given up, as the
    /// file and program sinks give it up when they close: the worker counts
    /// every unflushed alert as failed then, and a later flush must not
    /// deliver the ones it counted.
    fn discard_buffered(&mut self) {
        let out = std::mem::replace(&mut self.out, BufWriter::new(Box::new(std::io::sink())));
        let (inner, _given_up) = out.into_parts();
        self.out = BufWriter::with_capacity(64 * 1024, inner);
    }
}

impl Sink for WriterSink {
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError> {
        let l = line(alert, self.json);
        self.out
            .write_all(l.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| {
                self.discard_buffered();
                io_failed("write", &e)
            })
    }

    fn flush(&mut self) -> Result<(), DeliverError> {
        self.out.flush().map_err(|e| {
            self.discard_buffered();
            io_failed("flush", &e)
        })
    }
}
