//! TLS for `https` targets: [`TlsSettings`] (a scrape config's `tls_config`), loaded
//! into a [`TlsConfig`] that the [`HttpScraper`](crate::scrape::HttpScraper) connects
//! with. rustls with the ring provider does the work.
//!
//! As in Prometheus:
//! - without `ca_file`, server certificates are verified against the system's root
//!   certificates (read once per process by rustls-native-certs, which honours
//!   `SSL_CERT_FILE` and `SSL_CERT_DIR`); `ca_file` replaces them;
//! - `cert_file` and `key_file` (both or neither) present a client certificate;
//! - `server_name` is the name sent (SNI) and verified instead of the target's host;
//! - `insecure_skip_verify` accepts any server certificate (the handshake's
//!   signatures are still checked).
//!
//! Files are read and checked when the configuration is loaded, and a [`TlsConfig`]
//! keeps their contents: two configurations are equal only if the files read the same,
//! so reloading after a certificate was renewed restarts the job's loops.
//!
//! ```
//! use promsdk_harness::tls::{TlsConfig, TlsError, TlsSettings};
//! let settings = TlsSettings {
//!     ca_file: Some("/nonexistent/ca.pem".into()),
//!     ..TlsSettings::default()
//! };
//! let err = TlsConfig::load(settings).unwrap_err();
//! assert!(matches!(err, TlsError::Read { key: "ca_file", .. }));
//! assert!(err.to_string().starts_with("ca_file: cannot read /nonexistent/ca.pem"), "{err}");
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The keys of a Prometheus `tls_config` block that the harness implements. Paths are
/// used as given (the configuration loader resolves relative ones).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TlsSettings {
    /// PEM file of the certificate authorities to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain) to present; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key; needs `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name to send and verify instead of the target's host.
    pub server_name: Option<String>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
}

/// Why a [`TlsSettings`] could not be loaded. Every message starts with the
/// `tls_config` key at fault ([`TlsError::key`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key}: cannot read {}: {message}", path.display())]
    Read {
        /// `ca_file`, `cert_file` or `key_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// A file holds no usable certificate or key, or the key does not fit the
    /// certificate.
    #[error("{key}: {}: {message}", path.display())]
    Invalid {
        /// `ca_file`, `cert_file` or `key_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Only one of `cert_file` and `key_file` is set.
    #[error("{present}: set without {missing} (both or neither)")]
    Unpaired {
        /// The key that is set.
        present: &'static str,
        /// The key that is missing.
        missing: &'static str,
    },
    /// `server_name` is neither a DNS name nor an IP address.
    #[error("server_name: {name:?} is not a valid DNS name or IP address")]
    ServerName {
        /// The value.
        name: String,
    },
    /// rustls refused the protocol settings.
    #[error("tls_config: {message}")]
    Setup {
        /// What rustls said.
        message: String,
    },
}

impl TlsError {
    /// The `tls_config` key the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::Read { key, .. } | TlsError::Invalid { key, .. } => key,
            TlsError::Unpaired { present, .. } => present,
            TlsError::ServerName { .. } => "server_name",
            TlsError::Setup { .. } => "tls_config",
        }
    }
}

/// Loaded TLS settings: the rustls client configuration of a job's `https` targets.
/// Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    settings: TlsSettings,
    /// The contents of the files read, in the order ca, cert, key.
    files: Arc<[Vec<u8>]>,
    server_name: Option<ServerName<'static>>,
    client: Arc<ClientConfig>,
}

impl TlsConfig {
    /// Reads the files of `settings` and builds the client configuration.
    pub fn load(settings: TlsSettings) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut files = Vec::new();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup {
                message: e.to_string(),
            })?;
        let roots = match &settings.ca_file {
            Some(path) => {
                let pem = read("ca_file", path)?;
                let roots = ca_roots(path, &pem)?;
                files.push(pem);
                Arc::new(roots)
            }
            None => system_roots(),
        };
        let builder = if settings.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        } else {
            builder.with_root_certificates(roots)
        };
        let client = match (&settings.cert_file, &settings.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert_path), Some(key_path)) => {
                let cert_pem = read("cert_file", cert_path)?;
                let key_pem = read("key_file", key_path)?;
                let invalid = |key, path: &Path, message: String| TlsError::Invalid {
                    key,
                    path: path.to_owned(),
                    message,
                };
                let certs = CertificateDer::pem_slice_iter(&cert_pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| invalid("cert_file", cert_path, e.to_string()))?;
                if certs.is_empty() {
                    return Err(invalid("cert_file", cert_path, "no PEM certificate".into()));
                }
                let key = PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|e| invalid("key_file", key_path, e.to_string()))?;
                files.extend([cert_pem, key_pem]);
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| invalid("key_file", key_path, e.to_string()))?
            }
            (Some(_), None) => {
                return Err(TlsError::Unpaired {
                    present: "cert_file",
                    missing: "key_file",
                })
            }
            (None, Some(_)) => {
                return Err(TlsError::Unpaired {
                    present: "key_file",
                    missing: "cert_file",
                })
            }
        };
        let server_name = settings
            .server_name
            .as_ref()
            .map(|name| {
                ServerName::try_from(name.clone())
                    .map_err(|_| TlsError::ServerName { name: name.clone() })
            })
            .transpose()?;
        Ok(TlsConfig {
            settings,
            files: files.into(),
            server_name,
            client: Arc::new(client),
        })
    }

    /// The settings loaded.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The rustls configuration (no ALPN protocols set).
    pub(crate) fn client_config(&self) -> &Arc<ClientConfig> {
        &self.client
    }

    /// The name to send and verify instead of the target's host, if set.
    pub(crate) fn server_name(&self) -> Option<&ServerName<'static>> {
        self.server_name.as_ref()
    }
}

impl PartialEq for TlsConfig {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.client, &other.client)
            || (self.settings == other.settings && self.files == other.files)
    }
}

impl Eq for TlsConfig {}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TlsConfig").field(&self.settings).finish()
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        key,
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn ca_roots(path: &Path, pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let invalid = |message: String| TlsError::Invalid {
        key: "ca_file",
        path: path.to_owned(),
        message,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no PEM certificate".into()));
    }
    Ok(roots)
}

/// The system's root certificates, read on first use.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "reading the system's root certificates");
        }
        let mut roots = RootCertStore::empty();
        let (_, ignored) = roots.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::warn!(ignored, "unusable system root certificates");
        }
        if roots.is_empty() {
            tracing::warn!("no system root certificates: https targets need tls_config.ca_file");
        }
        Arc::new(roots)
    });
    Arc::clone(roots)
}

/// `insecure_skip_verify`: any certificate, any name; signatures still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn equal_when_the_files_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca_pem()).unwrap();
        let settings = TlsSettings {
            ca_file: Some(path.clone()),
            ..TlsSettings::default()
        };
        let a = TlsConfig::load(settings.clone()).unwrap();
        assert_eq!(a, TlsConfig::load(settings.clone()).unwrap());
        std::fs::write(&path, ca_pem()).unwrap();
        assert_ne!(a, TlsConfig::load(settings).unwrap(), "the CA was renewed");
    }

    #[test]
    fn files_without_certificates_or_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not PEM\n").unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ca_pem()).unwrap();
        for (settings, key) in [
            (
                TlsSettings {
                    ca_file: Some(junk.clone()),
                    ..TlsSettings::default()
                },
                "ca_file",
            ),
            (
                TlsSettings {
                    cert_file: Some(junk.clone()),
                    key_file: Some(junk.clone()),
                    ..TlsSettings::default()
                },
                "cert_file",
            ),
            (
                TlsSettings {
                    cert_file: Some(ca.clone()),
                    key_file: Some(junk.clone()),
                    ..TlsSettings::default()
                },
                "key_file",
            ),
        ] {
            let err = TlsConfig::load(settings).unwrap_err();
            assert_eq!(err.key(), key, "{err}");
            assert!(err.to_string().contains("junk.pem"), "{err}");
        }
        let err = TlsConfig::load(TlsSettings {
            key_file: Some(junk),
            ..TlsSettings::default()
        })
        .unwrap_err();
        assert_eq!(err.key(), "key_file", "{err}");
    }

    #[test]
    fn server_name_must_be_a_name_or_address() {
        let err = TlsConfig::load(TlsSettings {
            server_name: Some("no spaces".into()),
            ..TlsSettings::default()
        })
        .unwrap_err();
        assert_eq!(err.key(), "server_name");
    }
}
