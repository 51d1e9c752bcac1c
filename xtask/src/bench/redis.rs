//! Debian's redis-server on a loopback port, and redis-benchmark against it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Redis {
    child: Child,
    pub port: u16,
}

/// A loopback port nothing listens on right now (the kernel picks it).
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    Ok(l.local_addr().context("reading the bound port")?.port())
}

impl Redis {
    /// Starts a throwaway server (no persistence) and waits until it answers.
    pub fn start(dir: &Path) -> Result<Redis> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--dir", &dir.display().to_string(), "--logfile", ""])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (Debian package redis-server)")?;
        let mut redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = redis.child.try_wait() {
                bail!("redis-server on port {port} exited at start ({status})");
            }
            let pong = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "ping"])
                .stderr(Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
                .unwrap_or(false);
            if pong {
                return Ok(redis);
            }
            if Instant::now() > deadline {
                bail!("redis-server on port {port} did not answer PING within 20s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One `redis-benchmark -c 50 -t get,set` run: (GET rps, SET rps).
    pub fn bench(&self, requests: u32) -> Result<(f64, f64)> {
        let out = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-q",
                "-c",
                "50",
                "-n",
                &requests.to_string(),
                "-t",
                "get,set",
                "--csv",
            ])
            .stdin(Stdio::null())
            .output()
            .context("cannot run redis-benchmark (Debian package redis-tools)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "redis-benchmark failed ({}): {}{}",
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (get, set) = (parse_csv_rps(&text, "GET"), parse_csv_rps(&text, "SET"));
        match (get, set) {
            (Some(g), Some(s)) => Ok((g, s)),
            _ => bail!("redis-benchmark --csv: no GET and SET rows with a number in:\n{text}"),
        }
    }
}

/// The rps column of the `"TEST","RPS",...` row of `redis-benchmark --csv`.
fn parse_csv_rps(text: &str, test: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let mut cols = line.split(',').map(|c| c.trim().trim_matches('"'));
        if cols.next()? != test {
            return None;
        }
        cols.next()?.parse().ok()
    })
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\"\n\"SET\",\"78125.00\",\"0.33\"\n\"GET\",\"80000.50\",\"0.3\"\n";
        assert_eq!(super::parse_csv_rps(text, "GET"), Some(80000.5));
        assert_eq!(super::parse_csv_rps(text, "SET"), Some(78125.0));
        assert_eq!(super::parse_csv_rps(text, "PING"), None);
    }
}
