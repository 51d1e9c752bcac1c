//! HTTP sink: the Falcosidekick shape, gzip, TLS with a test CA, mTLS, config errors.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{alert, quiet_config, wait_until, Mode, Receiver, Request, PRIORITIES};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use saker_outputs::{Outputs, OutputsConfig};

const WAIT: Duration = Duration::from_secs(10);

fn http_config(url: String) -> OutputsConfig {
    let mut cfg = quiet_config();
    cfg.json_output = true;
    cfg.http_output.enabled = true;
    cfg.http_output.url = url;
    cfg
}

/// What Falcosidekick needs from each POST.
fn assert_sidekick_shape(r: &Request, body: &[u8]) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(body).expect("body is JSON");
    assert!(v["rule"].as_str().is_some_and(|s| !s.is_empty()));
    let p = v["priority"].as_str().expect("priority");
    assert!(PRIORITIES.contains(&p), "priority {p}");
    let t = v["time"].as_str().expect("time");
    assert!(
        t.len() >= 20 && t.as_bytes()[10] == b'T' && t.ends_with('Z'),
        "{t}"
    );
    let f = v["output_fields"].as_object().expect("output_fields");
    assert!(!f.is_empty());
    assert!(v["output"].as_str().is_some());
}

#[test]
fn falcosidekick_shape() {
    let rx = Receiver::start(Mode::Answer, None);
    let out = Outputs::start(&http_config(rx.url("http"))).unwrap();
    for i in 0..40 {
        out.send(alert(i, (i % 8) as u8));
    }
    assert!(wait_until(WAIT, || rx.count() == 40));
    let reqs = rx.take();
    for r in &reqs {
        assert_sidekick_shape(r, &r.body);
        assert_eq!(r.path, "/");
        assert_eq!(
            r.header("user-agent"),
            Some(concat!("saker/", env!("CARGO_PKG_VERSION")))
        );
    }
    // Sent in order, one connection reused for all of them.
    let ids: Vec<String> = reqs
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["output_fields"]["fd.name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        ids,
        (0..40).map(|i| format!("/etc/x{i}")).collect::<Vec<_>>()
    );
    assert_eq!(rx.connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    let r = out.shutdown(WAIT);
    assert_eq!((r.delivered, r.undelivered()), (40, 0));
}

#[test]
fn http_posts_json_even_with_text_output() {
    let rx = Receiver::start(Mode::Answer, None);
    let mut cfg = http_config(rx.url("http"));
    cfg.json_output = false;
    cfg.http_output.user_agent = "falcosecurity/falco".into();
    let out = Outputs::start(&cfg).unwrap();
    out.send(alert(0, 4));
    assert!(wait_until(WAIT, || rx.count() == 1));
    let r = &rx.take()[0];
    assert_sidekick_shape(r, &r.body);
    assert_eq!(r.header("user-agent"), Some("falcosecurity/falco"));
}

#[test]
fn gzip_uploads() {
    let rx = Receiver::start(Mode::Answer, None);
    let mut cfg = http_config(rx.url("http"));
    cfg.http_output.compress_uploads = true;
    let out = Outputs::start(&cfg).unwrap();
    for i in 0..5 {
        out.send(alert(i, 1));
    }
    assert!(wait_until(WAIT, || rx.count() == 5));
    for r in rx.take() {
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_end(&mut body)
            .unwrap();
        assert_sidekick_shape(&r, &body);
    }
}

struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_der: CertificateDer<'static>,
    client_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "saker test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut sp = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = sp.signed_by(&server_key, &ca).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(vec!["saker-agent".into()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = cp.signed_by(&client_key, &ca).unwrap();

    Pki {
        ca_pem: ca.pem(),
        server_chain: vec![server.der().clone()],
        server_key: server_key.serialize_der(),
        ca_der: ca.der().clone(),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

fn server_tls(p: &Pki, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let b = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(p.ca_der.clone()).unwrap();
        let v =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        b.with_client_cert_verifier(v)
    } else {
        b.with_no_client_auth()
    };
    let key = PrivatePkcs8KeyDer::from(p.server_key.clone());
    Arc::new(
        b.with_single_cert(p.server_chain.clone(), key.into())
            .unwrap(),
    )
}

fn write(dir: &Path, name: &str, s: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p.display().to_string()
}

/// Sends one alert and returns the sink's (sent, failed) once it is handled.
fn one_alert(cfg: &OutputsConfig) -> (u64, u64) {
    let out = Outputs::start(cfg).unwrap();
    out.send(alert(0, 0));
    assert_eq!(out.shutdown(WAIT).undelivered(), 0);
    let st = &out.stats()[0];
    (st.sent, st.failed)
}

#[test]
fn tls_with_custom_ca_cert_bundle_and_path() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &p.ca_pem);
    let ca_dir = dir.path().join("certs");
    std::fs::create_dir(&ca_dir).unwrap();
    write(&ca_dir, "test-ca.pem", &p.ca_pem);
    write(&ca_dir, "README", "not a certificate");
    let rx = Receiver::start(Mode::Answer, Some(server_tls(&p, false)));

    let mut cfg = http_config(rx.url("https"));
    cfg.http_output.ca_cert = ca_file.clone();
    assert_eq!(one_alert(&cfg), (1, 0), "ca_cert");

    let mut cfg = http_config(rx.url("https"));
    cfg.http_output.ca_bundle = ca_file;
    assert_eq!(one_alert(&cfg), (1, 0), "ca_bundle");

    let mut cfg = http_config(rx.url("https"));
    cfg.http_output.ca_path = ca_dir.display().to_string();
    assert_eq!(one_alert(&cfg), (1, 0), "ca_path");

    let reqs = rx.take();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_sidekick_shape(r, &r.body);
    }
}

#[test]
fn tls_untrusted_fails_unless_insecure() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let rx = Receiver::start(Mode::Answer, Some(server_tls(&p, false)));

    // No CA given and an empty ca_path: the bundled public roots do not know the test CA.
    let mut cfg = http_config(rx.url("https"));
    cfg.http_output.ca_path = empty.display().to_string();
    assert_eq!(one_alert(&cfg), (0, 1));

    cfg.http_output.insecure = true;
    assert_eq!(one_alert(&cfg), (1, 0));
    assert_eq!(rx.count(), 1);
}

#[test]
fn mtls_client_certificate() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Mode::Answer, Some(server_tls(&p, true)));
    let mut cfg = http_config(rx.url("https"));
    cfg.http_output.ca_cert = write(dir.path(), "ca.pem", &p.ca_pem);
    cfg.http_output.client_cert = write(dir.path(), "client.crt", &p.client_pem);
    cfg.http_output.client_key = write(dir.path(), "client.key", &p.client_key_pem);

    // The server requires a client certificate: without mtls the handshake fails.
    assert_eq!(one_alert(&cfg), (0, 1));
    cfg.http_output.mtls = true;
    assert_eq!(one_alert(&cfg), (1, 0));
    let reqs = rx.take();
    assert_eq!(reqs.len(), 1);
    assert_sidekick_shape(&reqs[0], &reqs[0].body);
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let msg = |cfg: &OutputsConfig| Outputs::start(cfg).err().expect("must fail").to_string();

    assert!(msg(&http_config(String::new())).starts_with("http_output.url: "));
    assert!(msg(&http_config("ftp://127.0.0.1/".into())).starts_with("http_output.url: "));

    let mut cfg = http_config("https://127.0.0.1:1/".into());
    cfg.http_output.ca_cert = dir.path().join("nope.pem").display().to_string();
    let m = msg(&cfg);
    assert!(m.starts_with("http_output.ca_cert: cannot open "), "{m}");
    assert!(m.ends_with("no such file or directory"), "{m}");

    let mut cfg = http_config("https://127.0.0.1:1/".into());
    cfg.http_output.ca_cert = write(dir.path(), "junk.pem", "junk");
    assert!(msg(&cfg).starts_with("http_output.ca_cert: "));

    let mut cfg = http_config("https://127.0.0.1:1/".into());
    cfg.http_output.insecure = true;
    cfg.http_output.mtls = true;
    cfg.http_output.client_cert = dir.path().join("no.crt").display().to_string();
    assert!(msg(&cfg).starts_with("http_output.client_cert: cannot open "));

    // Plain http never reads the TLS files, so their defaults do not matter.
    let mut cfg = http_config("http://127.0.0.1:1/".into());
    cfg.http_output.mtls = true;
    assert!(Outputs::start(&cfg).is_ok());
}

#[test]
fn server_errors_are_counted_as_failures() {
    let rx = Receiver::start(Mode::Error, None);
    let out = Outputs::start(&http_config(rx.url("http"))).unwrap();
    for i in 0..3 {
        out.send(alert(i, 4));
    }
    assert_eq!(out.shutdown(WAIT).undelivered(), 0);
    let st = &out.stats()[0];
    assert_eq!((st.sent, st.failed, st.timeouts), (0, 3, 0));
    assert_eq!(rx.count(), 3);
}

#[test]
fn outputs_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Outputs>();
}
