//! http_output: one POST per alert, body = the Falco JSON object (what Falcosidekick reads).
//!
//! Client: ureq 3 (blocking, rustls + ring). Each sink already owns a worker thread, so a
//! blocking client with a per-call timeout is the simplest correct fit; hyper would add an
//! async runtime and a connection task for no gain at one request in flight. ureq is small,
//! maintained, pools connections per agent and takes custom roots and client certs.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use super::Sink;
use crate::config::{default_user_agent, HttpOutput};
use crate::error::{io_message, DeliverError, OutputError};
use crate::worker::{past, Deadline};
use crate::OutputAlert;

/// A server's answer is read (so the connection can be reused) up to this size.
const MAX_ANSWER: u64 = 1 << 20;

pub(crate) struct HttpSink {
    agent: ureq::Agent,
    url: String,
    compress: bool,
    echo: bool,
    max_consecutive_timeouts: u8,
    deadline: Deadline,
}

fn cfg_err(key: &'static str, message: impl Into<String>) -> OutputError {
    OutputError::Config {
        key,
        message: message.into(),
    }
}

/// Falco strips quotes around the URL before handing it to libcurl; so do we.
fn unquote(url: &str) -> &str {
    let t = url.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return &t[1..t.len() - 1];
        }
    }
    t
}

fn read_pem(key: &'static str, path: &str) -> Result<Vec<u8>, OutputError> {
    std::fs::read(path).map_err(|source| OutputError::Open {
        key,
        path: path.to_string(),
        source,
    })
}

fn certs_in(
    key: &'static str,
    path: &str,
    pem: &[u8],
) -> Result<Vec<Certificate<'static>>, OutputError> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => out.push(c),
            Ok(_) => {}
            Err(e) => return Err(cfg_err(key, format!("{path}: bad PEM: {e}"))),
        }
    }
    if out.is_empty() {
        return Err(cfg_err(key, format!("{path}: no PEM certificate found")));
    }
    Ok(out)
}

/// Every PEM certificate in the files of `dir` (like libcurl's CAPATH). Unreadable or non-PEM
/// files are skipped: /etc/ssl/certs holds other things too.
fn certs_in_dir(dir: &str) -> Vec<Certificate<'static>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(pem) = std::fs::read(e.path()) else {
            continue;
        };
        for c in ureq::tls::parse_pem(&pem).flatten() {
            if let PemItem::Certificate(c) = c {
                if seen.insert(c.der().to_vec()) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Roots chosen the way Falco's curl setup does: ca_cert, else ca_bundle, else ca_path; we
/// fall back to the bundled Mozilla roots when ca_path holds none.
fn roots(cfg: &HttpOutput) -> Result<RootCerts, OutputError> {
    if !cfg.ca_cert.is_empty() {
        let pem = read_pem("http_output.ca_cert", &cfg.ca_cert)?;
        return Ok(RootCerts::new_with_certs(&certs_in(
            "http_output.ca_cert",
            &cfg.ca_cert,
            &pem,
        )?));
    }
    if !cfg.ca_bundle.is_empty() {
        let pem = read_pem("http_output.ca_bundle", &cfg.ca_bundle)?;
        return Ok(RootCerts::new_with_certs(&certs_in(
            "http_output.ca_bundle",
            &cfg.ca_bundle,
            &pem,
        )?));
    }
    let certs = certs_in_dir(&cfg.ca_path);
    if certs.is_empty() {
        tracing::info!(
            ca_path = %cfg.ca_path,
            "http_output.ca_path holds no PEM certificates; using the bundled Mozilla roots"
        );
        return Ok(RootCerts::WebPki);
    }
    Ok(RootCerts::new_with_certs(&certs))
}

fn client_cert(cfg: &HttpOutput) -> Result<ClientCert, OutputError> {
    let pem = read_pem("http_output.client_cert", &cfg.client_cert)?;
    let chain = certs_in("http_output.client_cert", &cfg.client_cert, &pem)?;
    let pem = read_pem("http_output.client_key", &cfg.client_key)?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| {
        cfg_err(
            "http_output.client_key",
            format!("{}: no usable PEM private key: {e}", cfg.client_key),
        )
    })?;
    Ok(ClientCert::new_with_certs(&chain, key))
}

impl HttpSink {
    pub(crate) fn new(
        cfg: &HttpOutput,
        timeout: Duration,
        deadline: Deadline,
    ) -> Result<Self, OutputError> {
        let url = unquote(&cfg.url).to_string();
        if url.is_empty() {
            return Err(cfg_err(
                "http_output.url",
                "must be set when http_output is enabled",
            ));
        }
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        if !https && !lower.starts_with("http://") {
            return Err(cfg_err(
                "http_output.url",
                format!("{url}: expected an http:// or https:// URL"),
            ));
        }
        let mut tls = TlsConfig::builder();
        // TLS material is only read for https, so an http URL does not fail on the
        // /etc/ssl/certs/client.* defaults.
        if https {
            // insecure verifies nothing, so the CA store is not even read.
            tls = if cfg.insecure {
                tls.disable_verification(true)
            } else {
                tls.root_certs(roots(cfg)?)
            };
            if cfg.mtls {
                tls = tls.client_cert(Some(client_cert(cfg)?));
            }
        }
        let user_agent = if cfg.user_agent.is_empty() {
            default_user_agent()
        } else {
            cfg.user_agent.clone()
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(timeout))
            // A 4xx/5xx is a failed delivery, counted by us, not an Err to unwrap.
            .http_status_as_error(false)
            .user_agent(user_agent)
            .max_redirects(0)
            .build()
            .into();
        // Fail at start on a URL ureq cannot use, naming the key.
        ureq::http::Uri::try_from(url.as_str())
            .map_err(|e| cfg_err("http_output.url", format!("{url}: {e}")))?;
        Ok(Self {
            agent,
            url,
            compress: cfg.compress_uploads,
            echo: cfg.echo,
            max_consecutive_timeouts: cfg.max_consecutive_timeouts,
            deadline,
        })
    }

    fn post(&self, body: &[u8]) -> Result<(), DeliverError> {
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if self.compress {
            req = req.header("Content-Encoding", "gzip");
        }
        let mut resp = req.send(body).map_err(classify)?;
        let status = resp.status();
        // Read the answer so that the connection goes back to the pool.
        let answer = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .unwrap_or_default();
        if self.echo && !answer.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&answer);
            let _ = out.write_all(b"\n");
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliverError::Failed(format!("{}: HTTP {status}", self.url)))
        }
    }
}

fn classify(e: ureq::Error) -> DeliverError {
    match &e {
        ureq::Error::Timeout(_) => DeliverError::Timeout(format!("http: {e}")),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            DeliverError::Timeout(format!("http: {}", io_message(io)))
        }
        _ => DeliverError::Failed(format!("http: {e}")),
    }
}

impl Sink for HttpSink {
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError> {
        let gz;
        let body = if self.compress {
            let mut enc = GzEncoder::new(
                Vec::with_capacity(alert.json.len() / 2),
                Compression::fast(),
            );
            gz = enc
                .write_all(alert.json.as_bytes())
                .and_then(|()| enc.finish())
                .map_err(|e| DeliverError::Failed(format!("gzip: {}", io_message(&e))))?;
            &gz[..]
        } else {
            alert.json.as_bytes()
        };
        // Falco's loop: a timed-out call is retried up to max_consecutive_timeouts times.
        let mut calls = 0u16;
        loop {
            match self.post(body) {
                Err(DeliverError::Timeout(m))
                    if calls < u16::from(self.max_consecutive_timeouts)
                        && !past(&self.deadline) =>
                {
                    calls += 1;
                    tracing::debug!("http_output: retrying after timeout: {m}");
                }
                other => return other,
            }
        }
    }
}
