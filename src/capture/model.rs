//! The wire record: what passed the proxy, byte for byte, with no interpretation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// Version of the capture file format written in the header record.
pub const FORMAT_VERSION: u32 = 1;

/// First line of every capture file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaptureHeader {
    /// Always `"oauthscope-capture"`: tells a capture from any other JSON Lines file.
    pub format: String,
    pub version: u32,
    pub tool: String,
    /// RFC 3339, UTC, microseconds.
    pub started: String,
    /// Hex salt for secret fingerprints (HMAC-SHA256 key), random per capture.
    pub salt: String,
    /// The `--max-body` the capture was taken with: it bounds how long a record line can
    /// be, so a reader can skip longer (damaged) lines without holding them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body: Option<u64>,
    /// Taken with `--redact-at-capture`: secret values are fingerprints, so the capture
    /// can be analyzed but not replayed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub redacted: bool,
}

impl CaptureHeader {
    pub fn new(started: String, salt: String) -> Self {
        CaptureHeader {
            format: "oauthscope-capture".into(),
            version: FORMAT_VERSION,
            tool: format!("oauthscope {}", env!("CARGO_PKG_VERSION")),
            started,
            salt,
            max_body: None,
            redacted: false,
        }
    }

    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = Some(max_body as u64);
        self
    }

    /// The longest record line this capture can hold: two bodies and their decoded
    /// copies at `--max-body` each, as base64 at worst, plus headers.
    pub fn max_line(&self) -> usize {
        match self.max_body {
            Some(m) => ((m as usize).saturating_mul(6) + (2 << 20)).max(8 << 20),
            None => 64 << 20,
        }
    }
}

/// What kind of traffic an exchange records.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One HTTP request and its response (or error).
    #[default]
    Http,
    /// A CONNECT tunnel passed through without interception (out of scope).
    Tunnel,
    /// An upgraded connection (WebSocket): the 101 exchange plus the bytes relayed after it.
    Upgrade,
    /// A connection the proxy could not serve at all (e.g. the client rejected our certificate).
    Connection,
}

/// One request and its response, or the error that stopped it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    /// Monotonic within a capture, starting at 1.
    pub id: u64,
    /// Client connection number; requests inside one CONNECT tunnel share it.
    pub conn: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub kind: Kind,
    /// Client socket address.
    pub client: String,
    /// RFC 3339, UTC, microseconds.
    pub started: String,
    #[serde(default)]
    pub timings: Timings,
    pub request: Request,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// True when the exchange did not run to its end (client or upstream went away mid-way).
    #[serde(default, skip_serializing_if = "is_default")]
    pub incomplete: bool,
    /// Byte counts of a tunnel or an upgraded connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<Relay>,
    /// What the analysis needs of secrets a redacted HAR masks (from `_oauthscope.oauth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Box<Hints>>,
    /// The TLS client certificate the client presented to the proxy (`--client-certs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<ClientCert>,
}

/// A TLS client certificate a client presented (RFC 8705 mutual TLS): its thumbprint
/// as a certificate-bound token's `cnf` names it, and whether the proxy could present
/// the same certificate upstream. A certificate is public: the thumbprint is no secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientCert {
    /// `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate's DER.
    pub sha256: String,
    /// The certificate's subject, as text (`CN=connector, O=Example`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The proxy presented the same certificate to the server (a `--client-identity`
    /// holds its key); when false the server saw no client certificate.
    #[serde(default)]
    pub forwarded: bool,
}

impl ClientCert {
    /// The record of a certificate in DER form (its subject read when it parses).
    pub fn of_der(der: &[u8]) -> Self {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let subject = x509_parser::parse_x509_certificate(der)
            .ok()
            .map(|(_, c)| c.subject().to_string())
            .filter(|s| !s.is_empty());
        ClientCert {
            sha256: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()),
            subject,
            forwarded: false,
        }
    }
}

/// Facts about an exchange's secrets that are not secret themselves, kept in a redacted
/// HAR so that it analyzes like the capture it came from: the client id and how the
/// client authenticated (with fingerprints of each part of a Basic credential), the PKCE
/// relation, the access token's JWT header and registered claims (never its signature,
/// never personal claims; `sub` as a fingerprint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_user_fp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_secret_fp: Option<String>,
    /// The Basic credential's parts hold characters form-encoding would have escaped.
    #[serde(default, skip_serializing_if = "is_default")]
    pub basic_not_form_encoded: bool,
    /// `code_challenge_method` of the authorize request this code exchange belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce_method: Option<String>,
    /// Whether the code verifier matches that challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce_matches: Option<bool>,
    /// The issued access token's JWT header and registered claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_jwt: Option<JwtHint>,
    /// What is wrong with the issued ID token (OpenID Connect), sentence by sentence;
    /// empty when it fits its sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_problems: Option<Vec<String>>,
    /// What is wrong with the issued ID token's signature or algorithm, when the
    /// provider's keys or metadata were known at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signature: Option<String>,
    /// The fingerprint of the issued ID token's `sub` (the userinfo answer must name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_sub_fp: Option<String>,
    /// On a userinfo answer: the fingerprint of the `sub` it names (fingerprints of a
    /// redacted HAR are only comparable with those made at its export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_sub_fp: Option<String>,
    /// The client assertion's header and the claims RFC 7523 checks (`iss`, `sub`,
    /// `aud`, `exp`, `iat`, `nbf`, `jti`), never its signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_assertion: Option<JwtHint>,
    /// What is wrong with the exchange's DPoP proof (RFC 9449), checked before its
    /// masking: the proof's problems, and the exchange whose nonce it ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<DpopHint>,
    /// On a JWK set: the ID tokens issued before it that it settles, with what is wrong
    /// with each one's signature (`None`: it verifies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Vec<SignatureHint>>,
}

/// A DPoP proof's verdict, as a redacted HAR keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DpopHint {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proof: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_ignored: Option<u64>,
}

/// One ID token's signature as checked against a JWK set fetched after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignatureHint {
    /// The ID token's fingerprint.
    pub fp: String,
    /// The exchange that issued it.
    pub by: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A JWT's header and registered claims, as a redacted HAR keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwtHint {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Milliseconds since `started`. `None` where the moment never came.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// The request (headers and body) was handed to upstream in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sent: Option<f64>,
    /// The response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_start: Option<f64>,
    /// The last byte of the response body reached the client (or the exchange ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub method: String,
    /// Absolute URL (`https://host:port/path?query`; `host:port` for CONNECT).
    pub url: String,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub version: String,
    /// In wire order, duplicates kept.
    pub headers: Vec<Header>,
    #[serde(default)]
    pub body: Body,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub status: u16,
    pub version: String,
    pub headers: Vec<Header>,
    #[serde(default)]
    pub body: Body,
}

/// One header line: `[name, value]`. Values that are not UTF-8 are stored as Latin-1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header(pub String, pub String);

impl Header {
    pub fn name(&self) -> &str {
        &self.0
    }
    pub fn value(&self) -> &str {
        &self.1
    }
}

/// A captured body. The copy is capped; `size` counts every byte that passed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Body {
    /// Bytes that passed on the wire (before any decoding).
    pub size: u64,
    /// The captured copy stops short of `size` (cap reached, or the transfer broke off).
    #[serde(default, skip_serializing_if = "is_default")]
    pub truncated: bool,
    /// The captured bytes, when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The captured bytes, base64, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// For a `Content-Encoding` (gzip, deflate, br, zstd): the decoded copy, capped alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<Box<Body>>,
    /// Why decoding failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
}

impl Body {
    /// A body holding `bytes`, of which `size` passed in total.
    pub fn from_bytes(bytes: &[u8], size: u64, truncated: bool) -> Self {
        let (text, base64) = match std::str::from_utf8(bytes) {
            Ok(s) if !s.is_empty() => (Some(s.to_owned()), None),
            Ok(_) => (None, None),
            Err(_) => (None, Some(B64.encode(bytes))),
        };
        Body {
            size,
            truncated,
            text,
            base64,
            decoded: None,
            decode_error: None,
        }
    }

    /// The captured bytes as they crossed the wire (possibly compressed).
    pub fn raw_bytes(&self) -> Vec<u8> {
        if let Some(t) = &self.text {
            t.as_bytes().to_vec()
        } else if let Some(b) = &self.base64 {
            B64.decode(b).unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    /// The bytes as the application sees them: the decoded copy when there is one.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.decoded {
            Some(d) => d.raw_bytes(),
            None => self.raw_bytes(),
        }
    }

    /// The body as text, when it is UTF-8 (decoded copy first).
    pub fn as_text(&self) -> Option<&str> {
        match &self.decoded {
            Some(d) => d.text.as_deref(),
            None => self.text.as_deref(),
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorInfo {
    /// Stable machine-readable kind (serialized as `upstream_tls`, `client_aborted`, ...).
    pub kind: ErrorKind,
    /// One-line explanation for people.
    pub message: String,
    /// The full cause chain, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// What to do about it, when we know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Bytes relayed through a tunnel or an upgraded connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Relay {
    pub client_to_server: u64,
    pub server_to_client: u64,
    /// Milliseconds the relay stayed open.
    pub duration_ms: f64,
}

/// Render raw header bytes as a string: UTF-8 when valid, else Latin-1 (each byte one char).
pub fn header_value_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

impl Request {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl Response {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

fn find_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.0.eq_ignore_ascii_case(name))
        .map(|h| h.1.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_is_known_by_its_rfc_8705_thumbprint() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "connector");
        let cert = p.self_signed(&key).unwrap();
        let c = ClientCert::of_der(cert.der());
        // base64url without padding of a SHA-256: 43 characters.
        assert_eq!(c.sha256.len(), 43);
        assert!(!c.sha256.contains(['=', '+', '/']));
        let again = ClientCert::of_der(cert.der());
        assert_eq!(c, again);
        assert_eq!(c.subject.as_deref(), Some("CN=connector"));
        assert!(!c.forwarded);
        // Not a certificate: still a thumbprint, no subject, no panic.
        let junk = ClientCert::of_der(b"not DER");
        assert_eq!(junk.sha256.len(), 43);
        assert_eq!(junk.subject, None);
    }

    #[test]
    fn body_keeps_text_and_binary() {
        let t = Body::from_bytes(b"hello", 5, false);
        assert_eq!(t.text.as_deref(), Some("hello"));
        assert_eq!(t.raw_bytes(), b"hello");
        let b = Body::from_bytes(&[0xff, 0, 1], 3, false);
        assert!(b.text.is_none());
        assert_eq!(b.raw_bytes(), vec![0xff, 0, 1]);
    }

    #[test]
    fn latin1_header_values_round_trip() {
        let s = header_value_string(&[b'a', 0xe9]);
        assert_eq!(s, "a\u{e9}");
        let back: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(back, vec![b'a', 0xe9]);
    }
}

/// What went wrong with an exchange, as a stable machine-readable kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The upstream's certificate or TLS handshake failed.
    UpstreamTls,
    /// No connection to the upstream (refused, DNS, unreachable).
    UpstreamConnect,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The upstream broke HTTP or closed the connection.
    UpstreamProtocol,
    /// The upstream stopped sending a body half-way.
    UpstreamAborted,
    /// The client's TLS handshake with the proxy failed (it does not trust our CA).
    ClientTls,
    /// The client went away before the exchange ended.
    ClientAborted,
    /// The client sent nothing (or too slowly) within `--client-timeout`.
    ClientTimeout,
    /// A CONNECT tunnel could not be set up.
    Tunnel,
    /// A protocol upgrade (WebSocket, ...) failed.
    Upgrade,
    /// Relaying a non-HTTP tunnel failed.
    Relay,
    /// An imported entry (HAR) holds no response.
    NoResponse,
    /// The upstream answered or failed before the request body was sent in full.
    RequestNotSent,
    /// The proxy refused a request that would loop back into itself.
    Loop,
    /// An HTTP/2 request for another host than its connection's (answered 421).
    Misdirected,
    /// A CONNECT inside a tunnel (refused).
    NestedConnect,
    /// A kind this version does not know (from a newer capture).
    #[serde(other)]
    Other,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::UpstreamTls => "upstream_tls",
            ErrorKind::UpstreamConnect => "upstream_connect",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::UpstreamProtocol => "upstream_protocol",
            ErrorKind::UpstreamAborted => "upstream_aborted",
            ErrorKind::ClientTls => "client_tls",
            ErrorKind::ClientAborted => "client_aborted",
            ErrorKind::ClientTimeout => "client_timeout",
            ErrorKind::Tunnel => "tunnel",
            ErrorKind::Upgrade => "upgrade",
            ErrorKind::Relay => "relay",
            ErrorKind::NoResponse => "no_response",
            ErrorKind::RequestNotSent => "request_not_sent",
            ErrorKind::Loop => "loop",
            ErrorKind::Misdirected => "misdirected",
            ErrorKind::NestedConnect => "nested_connect",
            ErrorKind::Other => "other",
        }
    }
}

impl ErrorKind {
    /// The kind named `name` ([`ErrorKind::Other`] when unknown).
    pub fn parse(name: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(name.to_string()))
            .unwrap_or(ErrorKind::Other)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}
