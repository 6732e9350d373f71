//! The TLS client side, shared by the proxy and replay: how upstream servers are
//! verified, the connector, and what a forwarding failure means ([`classify_upstream_error`]).
//!
//! Verified by default against the webpki roots, the system's roots and any
//! `--upstream-ca` PEM files; `--insecure-upstream` turns verification off.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::capture::{ClientCert, ErrorInfo, ErrorKind};

/// The HTTPS (and plain HTTP) connector to upstream servers.
pub type HttpsConnector = hyper_rustls::HttpsConnector<HttpConnector>;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot read --upstream-ca {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("--upstream-ca {0} holds no usable certificate")]
    NoCerts(PathBuf),
    #[error("TLS client configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate in it")]
    NoCert { path: String },
    #[error("{path}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: String },
    #[error("{path}: the private key is not usable: {message}")]
    BadKey { path: String, message: String },
    #[error("the certificate {cert} does not match the key {key}")]
    Mismatch { cert: String, key: String },
}

/// Read a certificate chain and its key (PEM), and check that they belong together
/// (the gateway's own certificate, a `--client-identity`).
pub fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsSetupError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsSetupError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsSetupError::NoCert {
            path: cert.display().to_string(),
        });
    }
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| TlsSetupError::NoKey {
            path: key.display().to_string(),
        })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| TlsSetupError::BadKey {
            path: key.display().to_string(),
            message: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|_| TlsSetupError::Mismatch {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        })?;
    Ok(certified)
}

/// A client certificate and its key the proxy may present upstream (`--client-identity`):
/// when a client presents this certificate to the proxy, the server sees it too.
#[derive(Debug, Clone)]
pub struct Identity {
    pub key: Arc<CertifiedKey>,
    /// The certificate's thumbprint and subject.
    pub cert: ClientCert,
}

impl Identity {
    /// Load `cert` (PEM, the chain) and `key` (PEM; may be the same file).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsSetupError> {
        let certified = load(cert, key)?;
        let leaf = certified
            .cert
            .first()
            .ok_or_else(|| TlsSetupError::NoCert {
                path: cert.display().to_string(),
            })?;
        Ok(Identity {
            cert: ClientCert::of_der(leaf),
            key: Arc::new(certified),
        })
    }
}

/// Presents one identity whatever the server asks for (the server decides).
#[derive(Debug)]
struct Present(Arc<CertifiedKey>);

impl ResolvesClientCert for Present {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Build the rustls client config for upstream connections (presenting `identity`'s
/// certificate when a server asks for one).
pub fn client_config(
    extra_cas: &[PathBuf],
    insecure: bool,
    identity: Option<&Identity>,
) -> Result<ClientConfig, UpstreamError> {
    let mut config = server_trust(extra_cas, insecure)?;
    if let Some(id) = identity {
        config.client_auth_cert_resolver = Arc::new(Present(id.key.clone()));
    }
    Ok(config)
}

fn server_trust(extra_cas: &[PathBuf], insecure: bool) -> Result<ClientConfig, UpstreamError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    if insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth());
    }
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for path in extra_cas {
        let pem = std::fs::read(path).map_err(|source| UpstreamError::Read {
            path: path.clone(),
            cause: source,
        })?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
            .filter_map(Result::ok)
            .collect();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(UpstreamError::NoCerts(path.clone()));
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// An HTTPS (and plain HTTP) connector using `config`; HTTP/2 offered via ALPN when `h2`.
pub fn connector(config: ClientConfig, h2: bool) -> HttpsConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(15)));
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1();
    if h2 {
        b.enable_http2().wrap_connector(http)
    } else {
        b.wrap_connector(http)
    }
}

/// Accepts any upstream certificate (`--insecure-upstream`), still checking signatures
/// so the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

/// Every message of an error's `source()` chain, outermost first, repeats removed.
pub fn chain_of(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if out.last() != Some(&s) && !s.is_empty() {
            out.push(s);
        }
        cur = err.source();
    }
    out
}

/// Turn a forwarding failure into a record: kind, plain message, full cause chain, hint.
pub fn classify_upstream_error(err: &(dyn std::error::Error + 'static)) -> ErrorInfo {
    let chain = chain_of(err);
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut io_kind = None;
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(ce) => ErrorInfo {
                    kind: crate::capture::ErrorKind::UpstreamTls,
                    message: format!("upstream certificate not trusted: {ce:?}"),
                    chain,
                    hint: Some(
                        "if the server uses a private CA, pass --upstream-ca FILE.pem; \
                         --insecure-upstream skips the check (not recommended)"
                            .into(),
                    ),
                },
                other => ErrorInfo {
                    kind: crate::capture::ErrorKind::UpstreamTls,
                    message: format!("TLS handshake with upstream failed: {other}"),
                    chain,
                    hint: None,
                },
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            // io::Error::source() skips the wrapped error itself: look inside.
            if let Some(inner) = io.get_ref() {
                cur = Some(inner);
                continue;
            }
        }
        cur = e.source();
    }
    use std::io::ErrorKind as K;
    let (kind, message) = match io_kind {
        Some(K::ConnectionRefused) => (
            ErrorKind::UpstreamConnect,
            "upstream refused the connection",
        ),
        Some(K::TimedOut) => (
            ErrorKind::UpstreamTimeout,
            "upstream did not answer in time",
        ),
        Some(K::ConnectionReset) | Some(K::BrokenPipe) | Some(K::UnexpectedEof) => (
            ErrorKind::UpstreamProtocol,
            "upstream closed the connection",
        ),
        _ => {
            let connect = chain
                .iter()
                .any(|c| c.contains("connect") || c.contains("dns"));
            if connect {
                (ErrorKind::UpstreamConnect, "cannot connect to upstream")
            } else {
                (ErrorKind::UpstreamProtocol, "upstream failed")
            }
        }
    };
    ErrorInfo {
        kind,
        message: format!("{message}: {}", chain.last().cloned().unwrap_or_default()),
        chain,
        hint: None,
    }
}
