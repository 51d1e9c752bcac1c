//! file_output: JSONL (or text lines) appended to `filename`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::{line, Sink};
use crate::error::{DeliverError, OutputError};
use crate::worker::io_failed;
use crate::OutputAlert;

pub(crate) struct FileSink {
    path: PathBuf,
    keep_alive: bool,
    json: bool,
    file: Option<BufWriter<File>>,
    /// keep_alive false: the line is built here so that one write(2) appends it whole.
    scratch: Vec<u8>,
}

fn open(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl FileSink {
    /// Opens the file once at start so that a bad path or permission fails the start, naming
    /// the key, instead of failing every alert later.
    pub(crate) fn new(filename: &str, keep_alive: bool, json: bool) -> Result<Self, OutputError> {
        if filename.is_empty() {
            return Err(OutputError::Config {
                key: "file_output.filename",
                message: "must not be empty".into(),
            });
        }
        let path = PathBuf::from(filename);
        let f = open(&path).map_err(|source| OutputError::Open {
            key: "file_output.filename",
            path: filename.to_string(),
            source,
        })?;
        Ok(Self {
            path,
            keep_alive,
            json,
            file: keep_alive.then(|| BufWriter::with_capacity(64 * 1024, f)),
            scratch: Vec::new(),
        })
    }

    fn what(&self) -> String {
        self.path.display().to_string()
    }
}

impl Sink for FileSink {
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError> {
        let l = line(alert, self.json).as_bytes();
        if !self.keep_alive {
            // Falco's keep_alive false: open, append, close for every alert.
            self.scratch.clear();
            self.scratch.extend_from_slice(l);
            self.scratch.push(b'\n');
            return open(&self.path)
                .and_then(|mut f| f.write_all(&self.scratch))
                .map_err(|e| io_failed(&self.what(), &e));
        }
        if self.file.is_none() {
            let f = open(&self.path).map_err(|e| io_failed(&self.what(), &e))?;
            self.file = Some(BufWriter::with_capacity(64 * 1024, f));
        }
        let res = match self.file.as_mut() {
            Some(f) => f.write_all(l).and_then(|()| f.write_all(b"\n")),
            None => Ok(()),
        };
        res.map_err(|e| {
            // Reopen on the next alert: the disk may have been fixed or the file replaced.
            self.file = None;
            io_failed(&self.what(), &e)
        })
    }

    fn flush(&mut self) -> Result<(), DeliverError> {
        let res = match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        };
        res.map_err(|e| {
            self.file = None;
            io_failed(&self.what(), &e)
        })
    }

    fn reopen(&mut self) -> Result<(), DeliverError> {
        let flushed = self.flush();
        self.file = None;
        if self.keep_alive {
            let f = open(&self.path).map_err(|e| io_failed(&self.what(), &e))?;
            self.file = Some(BufWriter::with_capacity(64 * 1024, f));
        }
        flushed
    }
}
