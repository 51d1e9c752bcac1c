//! `saker run`'s `/metrics`, fetched over plain HTTP and summed by name.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The Prometheus text of `http://127.0.0.1:PORT/metrics`.
pub fn metrics(port: u16) -> Result<Metrics> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .context("sending GET /metrics")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body).context("reading /metrics")?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("GET /metrics: no HTTP header in {text:?}");
    };
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET /metrics: {}", head.lines().next().unwrap_or(""));
    }
    // The agent answers small scrapes without chunking; a chunked body would
    // carry size lines, which the parser below skips as non-samples anyway.
    Ok(Metrics(body.to_string()))
}

pub struct Metrics(String);

impl Metrics {
    /// Sum of the samples of `name` whose labels contain every `labels`
    /// pair (`key="value"`).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut total = 0.0;
        for line in self.0.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let (metric, label_text) = match series.split_once('{') {
                Some((m, l)) => (m, l),
                None => (series, ""),
            };
            if metric != name {
                continue;
            }
            if labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
            {
                total += value.parse::<f64>().unwrap_or(0.0);
            }
        }
        total
    }

    /// Whether the scrape has a sample of `name` at all.
    pub fn has(&self, name: &str) -> bool {
        self.0
            .lines()
            .any(|l| !l.starts_with('#') && l.split(['{', ' ']).next() == Some(name))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_by_name_and_labels() {
        let m = super::Metrics(
            "# HELP x\nfalcosecurity_scap_n_evts_total 12\nsaker_output_alerts_total{sink=\"file\",result=\"sent\"} 5\nsaker_output_alerts_total{sink=\"stdout\",result=\"sent\"} 7\nsaker_output_alerts_total{sink=\"file\",result=\"failed\"} 1\n"
                .into(),
        );
        assert_eq!(m.sum("falcosecurity_scap_n_evts_total", &[]), 12.0);
        assert_eq!(
            m.sum("saker_output_alerts_total", &[("result", "sent")]),
            12.0
        );
        assert_eq!(
            m.sum(
                "saker_output_alerts_total",
                &[("sink", "file"), ("result", "sent")]
            ),
            5.0
        );
        assert!(m.has("falcosecurity_scap_n_evts_total"));
        assert!(!m.has("falcosecurity_scap_n_evts"));
    }
}
