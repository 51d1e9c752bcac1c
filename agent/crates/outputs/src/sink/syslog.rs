//! syslog_output: facility LOG_USER, severity = Falco priority (both run Emergency=0..Debug=7).
//! Local sockets get glibc syslog(3)'s RFC 3164 line; network targets get RFC 5424.

use std::io::{self, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{line, Sink};
use crate::error::{DeliverError, OutputError};
use crate::worker::io_failed;
use crate::OutputAlert;

const LOG_USER: u8 = 1 << 3;
const IDENT: &str = "saker";

#[derive(Debug, Clone)]
enum Target {
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
}

enum Conn {
    UnixDgram(UnixDatagram),
    /// glibc falls back to a stream socket when /dev/log is one (EPROTOTYPE); frames end in NUL.
    UnixStream(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

pub(crate) struct SyslogSink {
    target: Target,
    conn: Option<Conn>,
    json: bool,
    timeout: Duration,
    hostname: String,
    pid: u32,
    buf: Vec<u8>,
}

fn parse_target(address: &str) -> Result<Target, OutputError> {
    let bad = |m: &str| OutputError::Config {
        key: "syslog_output.address",
        message: format!("{address}: {m}"),
    };
    let a = address.trim();
    if let Some(p) = a.strip_prefix("unix://") {
        return Ok(Target::Unix(PathBuf::from(p)));
    }
    if let Some(hp) = a.strip_prefix("udp://") {
        return if hp.contains(':') {
            Ok(Target::Udp(hp.to_string()))
        } else {
            Err(bad("expected udp://host:port"))
        };
    }
    if let Some(hp) = a.strip_prefix("tcp://") {
        return if hp.contains(':') {
            Ok(Target::Tcp(hp.to_string()))
        } else {
            Err(bad("expected tcp://host:port"))
        };
    }
    if a.starts_with('/') {
        return Ok(Target::Unix(PathBuf::from(a)));
    }
    Err(bad(
        "expected /path, unix:///path, udp://host:port or tcp://host:port",
    ))
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success
    // (we also stop at the first NUL or the end).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "-".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let h = String::from_utf8_lossy(&buf[..end]).into_owned();
    if h.is_empty() {
        "-".into()
    } else {
        h
    }
}

/// Broken-down time; local for RFC 3164 (what syslog(3) writes), UTC for RFC 5424.
fn broken_down(secs: i64, local: bool) -> Option<libc::tm> {
    let t: libc::time_t = secs;
    // SAFETY: tm is plain old data, so zeroed is a valid value; the *_r variants are
    // thread-safe and write only into `tm`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let r = unsafe {
        if local {
            libc::localtime_r(&t, &mut tm)
        } else {
            libc::gmtime_r(&t, &mut tm)
        }
    };
    (!r.is_null()).then_some(tm)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl SyslogSink {
    pub(crate) fn new(address: &str, json: bool, timeout: Duration) -> Result<Self, OutputError> {
        let target = parse_target(address)?;
        let mut s = Self {
            target,
            conn: None,
            json,
            timeout,
            hostname: hostname(),
            pid: std::process::id(),
            buf: Vec::with_capacity(1024),
        };
        // Like openlog(LOG_NDELAY) failing: not fatal (containers often lack /dev/log), each
        // alert retries and failures are counted and logged.
        if let Err(e) = s.connect() {
            tracing::warn!(
                address,
                "syslog_output: cannot connect yet ({e}); will retry on each alert"
            );
        }
        Ok(s)
    }

    fn connect(&mut self) -> io::Result<()> {
        let conn = match &self.target {
            Target::Unix(p) => {
                let d = UnixDatagram::unbound()?;
                match d.connect(p) {
                    Ok(()) => Conn::UnixDgram(d),
                    Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                        let s = UnixStream::connect(p)?;
                        s.set_write_timeout(Some(self.timeout))?;
                        Conn::UnixStream(s)
                    }
                    Err(e) => return Err(e),
                }
            }
            Target::Udp(hp) => {
                let u = UdpSocket::bind(if hp.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                })?;
                u.connect(hp.as_str())?;
                Conn::Udp(u)
            }
            Target::Tcp(hp) => {
                let t = TcpStream::connect(hp.as_str())?;
                t.set_write_timeout(Some(self.timeout))?;
                Conn::Tcp(t)
            }
        };
        self.conn = Some(conn);
        Ok(())
    }

    /// Builds the frame for `msg` into `self.buf`.
    fn frame(&mut self, severity: u8, msg: &str) {
        let pri = LOG_USER | (severity & 7);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() as i64;
        self.buf.clear();
        let b = &mut self.buf;
        match self.target {
            Target::Unix(_) => {
                // glibc: "<PRI>Mmm dd HH:MM:SS ident[pid]: msg"
                let ts = broken_down(secs, true).map(|tm| {
                    format!(
                        "{} {:>2} {:02}:{:02}:{:02}",
                        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
                        tm.tm_mday,
                        tm.tm_hour,
                        tm.tm_min,
                        tm.tm_sec
                    )
                });
                let _ = write!(
                    b,
                    "<{pri}>{} {IDENT}[{}]: {msg}",
                    ts.unwrap_or_default(),
                    self.pid
                );
            }
            Target::Udp(_) | Target::Tcp(_) => {
                let ts = broken_down(secs, false).map(|tm| {
                    format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                        tm.tm_year + 1900,
                        tm.tm_mon + 1,
                        tm.tm_mday,
                        tm.tm_hour,
                        tm.tm_min,
                        tm.tm_sec,
                        now.subsec_micros()
                    )
                });
                let body = format!(
                    "<{pri}>1 {} {} {IDENT} {} - - {msg}",
                    ts.as_deref().unwrap_or("-"),
                    self.hostname,
                    self.pid
                );
                if matches!(self.target, Target::Tcp(_)) {
                    // RFC 6587 octet counting: no ambiguity with newlines in the message.
                    let _ = write!(b, "{} ", body.len());
                }
                b.extend_from_slice(body.as_bytes());
            }
        }
    }

    fn write_frame(&mut self) -> io::Result<()> {
        match self.conn.as_mut() {
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "not connected")),
            Some(Conn::UnixDgram(d)) => d.send(&self.buf).map(|_| ()),
            Some(Conn::UnixStream(s)) => s.write_all(&self.buf).and_then(|()| s.write_all(b"\0")),
            Some(Conn::Udp(u)) => u.send(&self.buf).map(|_| ()),
            Some(Conn::Tcp(t)) => t.write_all(&self.buf),
        }
    }
}

impl Sink for SyslogSink {
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError> {
        let msg = line(alert, self.json);
        self.frame(alert.priority, msg);
        if self.conn.is_some() && self.write_frame().is_ok() {
            return Ok(());
        }
        // The daemon may have restarted (new socket): reconnect once and retry.
        self.conn = None;
        self.connect()
            .and_then(|()| self.write_frame())
            .map_err(|e| {
                self.conn = None;
                io_failed("syslog", &e)
            })
    }
}
