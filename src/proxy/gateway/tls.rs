//! The gateway's own TLS: a certificate and key the user provides (PEM), checked to
//! match at start-up and reloaded on SIGHUP (a renewed certificate takes effect for new
//! connections; a reload that fails keeps the one in use and says why).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

pub use crate::upstream::{TlsSetupError, load};

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

    /// The TLS acceptor for client connections (HTTP/2 and HTTP/1.1 by ALPN), asking
    /// for client certificates when `ask_client_certs`.
    pub fn acceptor(self: &Arc<Self>, ask_client_certs: bool) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let b = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the default versions");
        let b = if ask_client_certs {
            b.with_client_cert_verifier(crate::ca::AnyClientCert::new(provider))
        } else {
            b.with_no_client_auth()
        };
        let mut cfg = b.with_cert_resolver(self.clone());
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
