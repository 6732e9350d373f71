//! The gateway's own TLS: a certificate and key the user provides (PEM), checked to
//! match at start-up and reloaded on SIGHUP (a renewed certificate takes effect for new
//! connections; a reload that fails keeps the one in use and says why).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

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

/// Read a certificate chain and its key, and check that they belong together.
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

/// Serves the current certificate; [`Reloading::reload`] swaps it.
#[derive(Debug)]
pub struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Reloading {
    pub fn new(cert: PathBuf, key: PathBuf) -> Result<Arc<Self>, TlsSetupError> {
        let first = load(&cert, &key)?;
        Ok(Arc::new(Reloading {
            cert,
            key,
            current: RwLock::new(Arc::new(first)),
        }))
    }

    /// Read the files again; on success new handshakes use the new certificate.
    pub fn reload(&self) -> Result<(), TlsSetupError> {
        let next = Arc::new(load(&self.cert, &self.key)?);
        if let Ok(mut cur) = self.current.write() {
            *cur = next;
        }
        Ok(())
    }

    /// The TLS acceptor for client connections (HTTP/2 and HTTP/1.1 by ALPN).
    pub fn acceptor(self: &Arc<Self>) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
    }

    /// Reload on every SIGHUP until the process ends.
    pub fn reload_on_sighup(self: &Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        let me = self.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match me.reload() {
                    Ok(()) => {
                        crate::sayln!("SIGHUP: reloaded the certificate {}", me.cert.display())
                    }
                    Err(e) => eprintln!(
                        "SIGHUP: {}; still serving the previous certificate",
                        crate::upstream::chain_of(&e).join(": ")
                    ),
                }
            }
        });
        Ok(())
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}
