//! `scheme: https` end to end: a configuration with a `tls_config` is loaded, and the
//! harness's scrape path (`HttpScraper` in a `ScrapeLoop`) scrapes an in-process
//! rustls server whose CA, server and client certificates are made at test time.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use promsdk_harness::config::Config;
use promsdk_harness::scrape::{HttpScraper, MemoryStore, ScrapeLoop, Scraper};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const BODY: &str = "# TYPE tls_test gauge\ntls_test 42\n";

/// A CA, a server certificate for `scrape.test` and 127.0.0.1, and a client
/// certificate, all from the CA; the PEM files the configurations name are in `dir`.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivatePkcs8KeyDer<'static>,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "promsdk test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            (cert, key)
        };
        let (server, server_key) = leaf(vec!["scrape.test".into(), "127.0.0.1".into()]);
        let (client, client_key) = leaf(vec!["client.test".into()]);
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        write("ca.pem", ca.pem());
        write("client.pem", client.pem());
        write("client-key.pem", client_key.serialize_pem());
        Pki {
            ca: ca.der().clone(),
            server_chain: vec![server.der().clone()],
            server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
            dir,
        }
    }

    /// Serves [`BODY`] over TLS, asking for a client certificate from the CA when
    /// `client_auth`.
    async fn serve(&self, client_auth: bool) -> SocketAddr {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(
                self.server_chain.clone(),
                PrivateKeyDer::Pkcs8(self.server_key.clone_key()),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A failed handshake is what some cases expect: the client reports it.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(|_| async {
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(Bytes::from(BODY)))
                                .unwrap(),
                        )
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        addr
    }
}

/// Loads a configuration from `dir` with one https job scraping `addr`.
fn job(dir: &Path, addr: SocketAddr, tls_config: &str) -> Config {
    let path = dir.join("prometheus.yml");
    let yaml = format!(
        "scrape_configs:\n  - job_name: tls\n    scheme: https\n{tls_config}    static_configs:\n      - targets: ['{addr}']\n"
    );
    std::fs::write(&path, yaml).unwrap();
    Config::load(&path).unwrap()
}

struct Case {
    name: &'static str,
    /// The `tls_config` block, indented as in the job.
    tls_config: &'static str,
    /// Whether the server asks for a client certificate.
    client_auth: bool,
    /// Empty: the scrape succeeds; otherwise its error contains one of these.
    error: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "ca_file",
        tls_config: "    tls_config:\n      ca_file: ca.pem\n",
        client_auth: false,
        error: &[],
    },
    Case {
        name: "system roots only: unknown issuer",
        tls_config: "",
        client_auth: false,
        error: &["invalid peer certificate: UnknownIssuer"],
    },
    Case {
        name: "insecure_skip_verify",
        tls_config: "    tls_config:\n      insecure_skip_verify: true\n",
        client_auth: false,
        error: &[],
    },
    Case {
        name: "server_name not in the certificate",
        tls_config: "    tls_config:\n      ca_file: ca.pem\n      server_name: other.test\n",
        client_auth: false,
        error: &["certificate not valid for name \"other.test\""],
    },
    Case {
        name: "server_name in the certificate",
        tls_config: "    tls_config:\n      ca_file: ca.pem\n      server_name: scrape.test\n",
        client_auth: false,
        error: &[],
    },
    Case {
        name: "client certificate required, none sent",
        tls_config: "    tls_config:\n      ca_file: ca.pem\n",
        client_auth: true,
        // The server's alert, unless its reset (it closes with the request unread)
        // overtakes it.
        error: &["CertificateRequired", "reset", "closed"],
    },
    Case {
        name: "client certificate required and sent",
        tls_config: "    tls_config:\n      ca_file: ca.pem\n      cert_file: client.pem\n      key_file: client-key.pem\n",
        client_auth: true,
        error: &[],
    },
];

#[tokio::test]
async fn https_targets_are_verified_as_tls_config_says() {
    let pki = Pki::new();
    let (plain, client_auth) = (pki.serve(false).await, pki.serve(true).await);
    // One scraper for every job, as in the harness: each config gets its own client.
    let scraper: Arc<dyn Scraper> = Arc::new(HttpScraper::new());
    for (i, case) in CASES.iter().enumerate() {
        let addr = if case.client_auth { client_auth } else { plain };
        let (cfg, targets) = job(pki.dir.path(), addr, case.tls_config).jobs().remove(0);
        let store = MemoryStore::new(std::time::Duration::from_secs(3600));
        let mut sl = ScrapeLoop::new(
            targets[0].clone(),
            Arc::new(cfg),
            Arc::clone(&scraper),
            Arc::new(store.clone()),
        );
        let t = 1_000 * (i as i64 + 1);
        let report = sl.scrape_at(t).await;
        let up = store.select(|l| l.get("__name__") == Some("up"), 0, i64::MAX);
        let value = store.select(|l| l.get("__name__") == Some("tls_test"), 0, i64::MAX);
        match case.error {
            [] => {
                assert!(report.error.is_none(), "{}: {:?}", case.name, report.error);
                assert_eq!(up[0].1, [(t, 1.0)], "{}", case.name);
                assert_eq!(value[0].1, [(t, 42.0)], "{}", case.name);
            }
            parts => {
                let error = report.error.map(|e| e.to_string()).unwrap_or_default();
                assert!(
                    parts.iter().any(|p| error.contains(p)),
                    "{}: {error:?}",
                    case.name
                );
                assert_eq!(up[0].1, [(t, 0.0)], "{}", case.name);
                assert!(value.is_empty(), "{}", case.name);
                let status = sl.status().last_error;
                assert_eq!(status, error, "{}: the target's lastError", case.name);
            }
        }
    }
}
