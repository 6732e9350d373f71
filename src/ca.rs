//! The local root CA: created once (ECDSA P-256) under `certs/`, reused after, and the
//! leaf certificates it issues per host, with IP SANs for IP literals.
//!
//! An IP literal gets an IP SAN (a DNS SAN holding an IP, as rcgen-based authorities
//! issue, is rejected by clients for `https://127.0.0.1/`). The proxy's connection layer
//! asks [`LocalCa::config_for`] for the host a client names in its ClientHello.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// File names inside the CA folder.
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";

/// How long a new root CA is valid.
const CA_VALIDITY_DAYS: i64 = 825;
/// How long a leaf certificate is valid (clients reject longer ones).
const LEAF_VALIDITY_DAYS: i64 = 397;
/// Leaf configs kept in memory before the cache is emptied.
const LEAF_CACHE_MAX: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} holds a CA that cannot be used: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// Facts about the CA certificate, for `oauthscope ca`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaInfo {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub subject: String,
    /// SHA-256 of the DER certificate, colon-separated upper-case hex.
    pub sha256: String,
    /// base64 SHA-256 of the CA's SubjectPublicKeyInfo: what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub spki_sha256: String,
    pub not_after: String,
    pub created: bool,
}

/// The root CA and its leaf-certificate factory.
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    ca_not_after: OffsetDateTime,
    /// One key for every leaf: generating a key per host costs more than it protects.
    leaf_key: KeyPair,
    provider: Arc<rustls::crypto::CryptoProvider>,
    cache: Mutex<HashMap<String, Arc<ServerConfig>>>,
    /// Ask clients for a certificate in each handshake (`--client-certs`).
    ask_client_certs: bool,
    pub info: CaInfo,
}

/// The CA folder: `--ca-dir`, else `OAUTHSCOPE_CA_DIR`, else `certs/` under the working dir.
pub fn resolve_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os("OAUTHSCOPE_CA_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("certs"),
    }
}

impl LocalCa {
    /// Load the CA in `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let created = if cert_path.exists() && key_path.exists() {
            false
        } else {
            create(dir, &cert_path, &key_path)?;
            true
        };
        Self::load(&cert_path, &key_path, created)
    }

    /// Replace the CA in `dir` with a new one.
    pub fn rotate(dir: &Path) -> Result<Self, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        for p in [&cert_path, &key_path] {
            if p.exists() {
                std::fs::remove_file(p).map_err(|source| CaError::Io {
                    action: "remove",
                    path: p.clone(),
                    cause: source,
                })?;
            }
        }
        create(dir, &cert_path, &key_path)?;
        Self::load(&cert_path, &key_path, true)
    }

    fn load(cert_path: &Path, key_path: &Path, created: bool) -> Result<Self, CaError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| CaError::Io {
                action: "read",
                path: p.to_path_buf(),
                cause: source,
            })
        };
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        let invalid = |p: &Path, reason: String| CaError::Invalid {
            path: p.to_path_buf(),
            reason,
        };
        let key = KeyPair::from_pem(&key_pem).map_err(|e| invalid(key_path, e.to_string()))?;
        let ca_der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .ok_or_else(|| invalid(cert_path, "no CERTIFICATE block".into()))?
            .map_err(|e| invalid(cert_path, e.to_string()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca_der)
            .map_err(|e| invalid(cert_path, e.to_string()))?;
        let ca_not_after = parsed.validity().not_after.to_datetime();
        let subject = parsed.subject().to_string();
        let spki_sha256 = {
            use base64::Engine;
            let spki = parsed.tbs_certificate.subject_pki.raw;
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki);
            base64::engine::general_purpose::STANDARD.encode(d.as_ref())
        };
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)
            .map_err(|e| invalid(cert_path, e.to_string()))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &ca_der);
        let sha256 = digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let info = CaInfo {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            subject,
            sha256,
            spki_sha256,
            not_after: crate::capture::format_time(ca_not_after),
            created,
        };
        Ok(LocalCa {
            issuer,
            ca_der: ca_der.into_owned(),
            ca_not_after,
            leaf_key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            cache: Mutex::new(HashMap::new()),
            ask_client_certs: false,
            info,
        })
    }

    /// The DER of the root certificate.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// Issue a leaf certificate for `host` (a DNS name or an IP literal, brackets allowed).
    pub fn issue_leaf(&self, host: &str) -> Result<CertificateDer<'static>, CaError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut params = CertificateParams::default();
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| rcgen::Error::RingUnspecified)?;
        serial[0] &= 0x7f;
        params.serial_number = Some(serial.to_vec().into());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = (now + Duration::days(LEAF_VALIDITY_DAYS)).min(self.ca_not_after);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host);
        params.distinguished_name = dn;
        params.subject_alt_names = vec![match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.to_string().try_into().map_err(|_| {
                rcgen::Error::InvalidAsn1String(rcgen::InvalidAsn1String::Ia5String(
                    host.to_string(),
                ))
            })?),
        }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        Ok(params.signed_by(&self.leaf_key, &self.issuer)?.into())
    }

    fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let leaf = self.issue_leaf(host)?;
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let b = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?;
        let b = if self.ask_client_certs {
            b.with_client_cert_verifier(AnyClientCert::new(self.provider.clone()))
        } else {
            b.with_no_client_auth()
        };
        let mut cfg = b.with_single_cert(vec![leaf, self.ca_der.clone()], key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// Ask every client for a TLS client certificate (optional: a client without one
    /// goes on), so the proxy can record which certificate a request came with.
    pub fn asking_client_certs(mut self, ask: bool) -> Self {
        self.ask_client_certs = ask;
        self
    }

    /// The TLS server config for `host`, from the cache when issued before.
    pub fn config_for(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let key = host.to_ascii_lowercase();
        if let Some(cfg) = self.cache.lock().expect("leaf cache").get(&key) {
            return Ok(cfg.clone());
        }
        let cfg = self.server_config(&key)?;
        let mut cache = self.cache.lock().expect("leaf cache");
        if cache.len() >= LEAF_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, cfg.clone());
        Ok(cfg)
    }
}

fn create(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), CaError> {
    std::fs::create_dir_all(dir).map_err(|source| CaError::Io {
        action: "create",
        path: dir.to_path_buf(),
        cause: source,
    })?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    let host = hostname();
    let date = format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("oauthscope local CA ({host}, {date})"),
    );
    dn.push(DnType::OrganizationName, "oauthscope");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    let cert = params.self_signed(&key)?;
    write_private(key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, cert.pem()).map_err(|source| CaError::Io {
        action: "write",
        path: cert_path.to_path_buf(),
        cause: source,
    })?;
    Ok(())
}

/// Write a file readable by its owner only (0600).
fn write_private(path: &Path, data: &[u8]) -> Result<(), CaError> {
    let io = |source| CaError::Io {
        action: "write",
        path: path.to_path_buf(),
        cause: source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    f.write_all(data).map_err(io)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The per-client set-up printed by `oauthscope ca`: how to route each client through
/// the proxy at `proxy` and make it trust the CA. The curl, Python (httpx), Node.js
/// (undici) and Chromium lines are exercised by tests.
pub fn trust_instructions(info: &CaInfo, proxy: &str) -> String {
    let p = info.cert_path.display();
    let spki = &info.spki_sha256;
    format!(
        "  curl            curl --proxy {proxy} --cacert {p} https://...
  Python requests HTTPS_PROXY={proxy} REQUESTS_CA_BUNDLE={p} python app.py
  Python httpx    HTTPS_PROXY={proxy} SSL_CERT_FILE={p} python app.py
  Node.js >= 24   NODE_USE_ENV_PROXY=1 HTTPS_PROXY={proxy} NODE_EXTRA_CA_CERTS={p} node app.js
  Node.js (any)   NODE_EXTRA_CA_CERTS={p} node app.js, with undici's ProxyAgent in the code:
                    const {{ fetch, ProxyAgent }} = require('undici');
                    fetch(url, {{ dispatcher: new ProxyAgent('{proxy}') }})
                  (Node ignores HTTPS_PROXY unless NODE_USE_ENV_PROXY=1 on Node 24+)
  Chromium        chromium --proxy-server={proxy} --proxy-bypass-list='<-loopback>' \\
                    --ignore-certificate-errors-spki-list={spki}
                  (<-loopback> sends 127.0.0.1 and localhost through the proxy too; the SPKI
                  hash trusts this CA for that browser run only)
  Java            keytool -importcert -noprompt -alias oauthscope -file {p} -keystore \"$JAVA_HOME/lib/security/cacerts\" -storepass changeit
                  then -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=<port>
  .NET / OpenSSL  SSL_CERT_FILE={p}
  Debian/Ubuntu   sudo cp {p} /usr/local/share/ca-certificates/oauthscope.crt && sudo update-ca-certificates
  Fedora/RHEL     sudo cp {p} /etc/pki/ca-trust/source/anchors/oauthscope.pem && sudo update-ca-trust
  macOS           sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {p}
  Windows         certutil -addstore -f ROOT {p}
  oauthscope serve  a mock signed by this CA is trusted by the proxy as an upstream already"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("oauthscope-ca-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn creates_reuses_and_rotates() {
        let dir = tmp("reuse");
        let a = LocalCa::load_or_create(&dir).unwrap();
        assert!(a.info.created);
        assert!(a.info.subject.contains("oauthscope"));
        let mode = std::fs::metadata(dir.join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = LocalCa::load_or_create(&dir).unwrap();
        assert!(!b.info.created);
        assert_eq!(a.info.sha256, b.info.sha256);
        let c = LocalCa::rotate(&dir).unwrap();
        assert_ne!(a.info.sha256, c.info.sha256);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ip_hosts_get_ip_sans() {
        let dir = tmp("ipsan");
        let ca = LocalCa::load_or_create(&dir).unwrap();
        for (host, want_ip) in [("127.0.0.1", true), ("[::1]", true), ("example.com", false)] {
            let der = ca.issue_leaf(host).unwrap();
            let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
            let san = cert.subject_alternative_name().unwrap().unwrap();
            let is_ip = matches!(
                san.value.general_names[0],
                x509_parser::extensions::GeneralName::IPAddress(_)
            );
            assert_eq!(is_ip, want_ip, "{host}");
        }
        let invalid = dir.join("bad");
        std::fs::create_dir_all(&invalid).unwrap();
        std::fs::write(invalid.join(CA_CERT_FILE), "junk").unwrap();
        std::fs::write(invalid.join(CA_KEY_FILE), "junk").unwrap();
        assert!(matches!(
            LocalCa::load_or_create(&invalid),
            Err(CaError::Invalid { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Asks for a client certificate and takes any, or none: the proxy records which
/// certificate a client presented (RFC 8705); judging it is the server's business. The
/// handshake's signature is still checked, so the client holds the certificate's key.
#[derive(Debug)]
pub struct AnyClientCert(Arc<rustls::crypto::CryptoProvider>);

impl AnyClientCert {
    pub fn new(provider: Arc<rustls::crypto::CryptoProvider>) -> Arc<Self> {
        Arc::new(AnyClientCert(provider))
    }
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
