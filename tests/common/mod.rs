//! Test harness: a real HTTPS/HTTP upstream (hyper + tokio-rustls, certificate from a test
//! CA) and the real `oauthscope` binary as a proxy, both on port 0.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use oauthscope::capture::{CaptureReader, Exchange};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub type Body = BoxBody<Bytes, std::io::Error>;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("oauthscope-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A CA for the test upstream, and a server config signed by it (SANs: localhost, 127.0.0.1).
pub struct UpstreamTls {
    pub ca_pem_path: PathBuf,
    /// The leaf certificate and its key as PEM files (for servers the tests run in
    /// another language).
    pub leaf_pem_path: PathBuf,
    pub leaf_key_path: PathBuf,
    pub config: Arc<ServerConfig>,
}

pub fn upstream_tls(dir: &Path) -> UpstreamTls {
    upstream_tls_with(dir, false).0
}

/// A client certificate for mutual TLS: one PEM holding the certificate and its key.
pub struct ClientIdentity {
    pub pem_path: PathBuf,
    /// Its `x5t#S256` (RFC 8705).
    pub x5t: String,
}

impl ClientIdentity {
    /// The identity as reqwest presents it.
    pub fn reqwest(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(&std::fs::read(&self.pem_path).unwrap()).unwrap()
    }
}

/// An upstream TLS config that asks clients for a certificate issued by its own client
/// CA (optional: clients without one go on), and one such client certificate.
pub fn upstream_tls_mtls(dir: &Path) -> (UpstreamTls, ClientIdentity) {
    let (tls, id) = upstream_tls_with(dir, true);
    (tls, id.unwrap())
}

/// The test authorization server with mutual TLS (RFC 8705): it asks for client
/// certificates and binds the tokens it issues over one to it. Returns the server, its
/// TLS setup (the CA to trust) and the client certificate to present.
pub async fn mtls_server(dir: &Path) -> (oauth::AuthServer, UpstreamTls, ClientIdentity) {
    let (tls, id) = upstream_tls_mtls(dir);
    let cfg = oauth::AsConfig {
        mtls: true,
        ..Default::default()
    };
    let srv = oauth::start(cfg, tls.config.clone()).await;
    (srv, tls, id)
}

fn upstream_tls_with(dir: &Path, mtls: bool) -> (UpstreamTls, Option<ClientIdentity>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "oauthscope test upstream CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let ca_pem_path = dir.join("upstream-ca.pem");
    std::fs::write(&ca_pem_path, ca_cert.pem()).unwrap();
    let leaf_pem_path = dir.join("upstream-leaf.pem");
    std::fs::write(&leaf_pem_path, leaf_cert.pem()).unwrap();
    let leaf_key_path = dir.join("upstream-leaf.key");
    std::fs::write(&leaf_key_path, leaf_key.serialize_pem()).unwrap();
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let (builder, identity) = if mtls {
        // A client CA, a client certificate it issues, and a server that verifies it.
        let client_ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "oauthscope test client CA");
        let client_ca = p.self_signed(&client_ca_key).unwrap();
        let client_issuer = Issuer::new(p, client_ca_key);
        let client_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
        cp.distinguished_name
            .push(rcgen::DnType::CommonName, "connector-app");
        cp.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = cp.signed_by(&client_key, &client_issuer).unwrap();
        let pem_path = dir.join("client-identity.pem");
        std::fs::write(
            &pem_path,
            format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
        )
        .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(client_ca.der().to_vec()))
            .unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .unwrap();
        let id = ClientIdentity {
            pem_path,
            x5t: oauth::x5t_s256(client_cert.der()),
        };
        (builder.with_client_cert_verifier(verifier), Some(id))
    } else {
        (builder.with_no_client_auth(), None)
    };
    let mut config = builder
        .with_single_cert(vec![CertificateDer::from(leaf_cert.der().to_vec())], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = UpstreamTls {
        ca_pem_path,
        leaf_pem_path,
        leaf_key_path,
        config: Arc::new(config),
    };
    (tls, identity)
}

/// A running upstream server.
pub struct Upstream {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
}

impl Upstream {
    pub fn https_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }
    pub fn https_localhost(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Start the upstream on 127.0.0.1:0, with TLS when `tls` is given.
pub async fn start_upstream(tls: Option<Arc<ServerConfig>>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let h = hits.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = &mut stop_rx => return,
            };
            let acceptor = acceptor.clone();
            let hits = h.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    hits.fetch_add(1, Ordering::SeqCst);
                    handle(req)
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(acc) => {
                        if let Ok(tls) = acc.accept(tcp).await {
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                                .await;
                        }
                    }
                    None => {
                        let _ = builder
                            .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                            .await;
                    }
                }
            });
        }
    });
    Upstream {
        addr,
        hits,
        stop: Some(stop_tx),
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The byte at position `i` of the pattern served by `/bytes`.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

pub fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn handle(mut req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let res = match path.as_str() {
        "/echo" => {
            let method = req.method().to_string();
            let version = format!("{:?}", req.version());
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let json = serde_json::json!({
                "method": method,
                "version": version,
                "headers": headers,
                "body_len": body.len(),
                "body_sha256": sha256_hex(&body),
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(full(json.to_string()))
                .unwrap()
        }
        "/gzip" => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(br#"{"message":"hello compressed world"}"#)
                .unwrap();
            Response::builder()
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(full(e.finish().unwrap()))
                .unwrap()
        }
        "/bytes" => {
            let n: u64 = query_param(&req, "n")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let delay: u64 = query_param(&req, "delay_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let chunk = 64 * 1024u64;
            let stream = futures_util::stream::unfold(0u64, move |pos| async move {
                if pos >= n {
                    return None;
                }
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let end = (pos + chunk).min(n);
                let data: Vec<u8> = (pos..end).map(pattern_byte).collect();
                Some((Ok::<_, std::io::Error>(Frame::data(Bytes::from(data))), end))
            });
            Response::builder()
                .header("content-type", "application/octet-stream")
                .header("content-length", n.to_string())
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
        "/ws" => {
            let key = req
                .headers()
                .get("sec-websocket-key")
                .cloned()
                .unwrap_or_else(|| http::HeaderValue::from_static(""));
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = on_upgrade.await {
                    let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                        TokioIo::new(up),
                        tokio_tungstenite::tungstenite::protocol::Role::Server,
                        None,
                    )
                    .await;
                    let (mut tx, mut rx) = ws.split();
                    while let Some(Ok(msg)) = rx.next().await {
                        if msg.is_close() {
                            break;
                        }
                        if tx.send(msg).await.is_err() {
                            break;
                        }
                    }
                }
            });
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-accept", accept)
                .body(full(Bytes::new()))
                .unwrap()
        }
        p if p.starts_with("/status/") => {
            let code: u16 = p[8..].parse().unwrap_or(500);
            Response::builder()
                .status(code)
                .body(full(format!("status {code}")))
                .unwrap()
        }
        _ => Response::builder()
            .status(404)
            .body(full("not found"))
            .unwrap(),
    };
    Ok(res)
}

/// Read an HTTP head (up to the blank line) byte by byte, as a raw server does.
pub async fn read_head(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut b).await.unwrap_or(0) == 0 {
            break;
        }
        head.push(b[0]);
    }
    head
}

/// `oauthscope serve CAPTURE` over HTTPS with the CA in `ca_dir`, on a free port;
/// returns the child and its base URL (`https://127.0.0.1:PORT`).
pub fn start_serve(capture: &Path, ca_dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin())
        .args([
            "serve",
            capture.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--ca-dir",
        ])
        .arg(ca_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("serve did not start: {line}"))
        .trim_end_matches('/')
        .to_string();
    std::thread::spawn(move || for _ in out.lines() {});
    (child, base)
}

/// The `oauthscope` binary running as a proxy.
pub struct ProxyProc {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub capture: PathBuf,
    pub ca_dir: PathBuf,
    pub lines: Arc<Mutex<Vec<String>>>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_oauthscope")
}

impl ProxyProc {
    /// Start `oauthscope proxy` on 127.0.0.1:0 writing into `dir`, with extra flags.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_under(dir, extra, &[])
    }

    /// Like [`ProxyProc::start`], run by a wrapper command (`bash -c 'ulimit ...; exec "$@"'`).
    pub fn start_under(dir: &Path, extra: &[&str], wrapper: &[&str]) -> Self {
        let ca_dir = dir.join("certs");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        cmd.args(["proxy", "--ca-dir"]).arg(&ca_dir);
        Self::spawn(cmd, dir, extra)
    }

    /// `oauthscope gateway` on 127.0.0.1:0 writing into `dir`, with `extra` flags (routes,
    /// secret, TLS). `url()` is then the gateway's own address.
    pub fn gateway(dir: &Path, extra: &[&str]) -> Self {
        let mut cmd = Command::new(bin());
        cmd.arg("gateway");
        Self::spawn(cmd, dir, extra)
    }

    fn spawn(mut cmd: Command, dir: &Path, extra: &[&str]) -> Self {
        let capture = dir.join("capture.jsonl");
        let ca_dir = dir.join("certs");
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .args(["--grace", "5"])
            .arg("--out")
            .arg(&capture)
            .args(extra)
            .env("NO_COLOR", "1")
            .env_remove("OAUTHSCOPE_CA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oauthscope");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let listening = line
                    .strip_prefix("oauthscope proxy listening on http://")
                    .or_else(|| line.strip_prefix("oauthscope gateway listening on http://"))
                    .or_else(|| line.strip_prefix("oauthscope gateway listening on https://"));
                if let Some(a) = listening {
                    let _ = tx.send(a.parse::<SocketAddr>().unwrap());
                }
                l.lock().unwrap().push(line);
            }
        });
        let err = child.stderr.take().unwrap();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                l.lock().unwrap().push(format!("stderr: {line}"));
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("proxy did not start: {:?}", lines.lock().unwrap()));
        ProxyProc {
            child,
            addr,
            dir: dir.to_path_buf(),
            capture,
            ca_dir,
            lines,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn ca_pem(&self) -> PathBuf {
        self.ca_dir.join("ca.pem")
    }

    /// A reqwest client going through the proxy and trusting our CA (not the webpki roots).
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap()
    }

    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let pem = std::fs::read(self.ca_pem()).unwrap();
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(self.url()).unwrap())
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .tls_built_in_root_certs(false)
            .timeout(Duration::from_secs(60))
    }

    /// SIGTERM, wait for exit; returns the exit status and everything it printed.
    pub fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let lines = self.lines.lock().unwrap().clone();
        (status, lines)
    }

    /// SIGKILL (nothing is flushed on the way out).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for ProxyProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Resident memory of a process now (VmRSS), in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Send a request and parse its answer as JSON (panics on any failure).
pub async fn send_json(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Every exchange in a capture (panics on any unreadable line).
pub fn read_capture(path: &Path) -> Vec<Exchange> {
    CaptureReader::open(path)
        .unwrap()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Whole exchange lines in a capture file (the proxy writes each exchange's line as soon
/// as the exchange ends: an abort, a tunnel's close).
fn exchanges_written(capture: &Path) -> usize {
    std::fs::read(capture).map_or(0, |b| {
        b.split_inclusive(|c| *c == b'\n')
            .filter(|l| l.starts_with(b"{\"id\":") && l.ends_with(b"\n"))
            .count()
    })
}

impl ProxyProc {
    /// Wait until the capture holds `n` exchanges: the event to wait for before stopping
    /// a proxy whose last exchange ends with a peer's close.
    pub async fn written(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while exchanges_written(&self.capture) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the capture holds {} exchanges after 30 s, expected {n}",
                exchanges_written(&self.capture)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait until the whole exchanges written so far satisfy `done`.
    pub async fn written_until(&self, what: &str, done: impl Fn(&[Exchange]) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&self.capture).unwrap_or_default();
            let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            let exchanges: Vec<Exchange> = whole
                .lines()
                .filter(|l| l.starts_with("{\"id\":"))
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if done(&exchanges) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited 30 s for {what}: {exchanges:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait until a line of the process's output starts with or contains `text`;
    /// returns that line.
    pub fn wait_for_line(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(l) = self.output().into_iter().find(|l| l.contains(text)) {
                return l;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {text:?} in {:#?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`ProxyProc::written`] for a test without a runtime.
    pub fn written_blocking(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while exchanges_written(&self.capture) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "capture: expected {n}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Stop the proxy and return its exchanges and output.
pub fn stop_and_read(proxy: ProxyProc) -> (Vec<Exchange>, Vec<String>) {
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "proxy exit {status:?}: {lines:#?}");
    (read_capture(&capture), lines)
}
pub mod cdp;
pub mod oauth;

/// The secrets a capture holds: tokens, codes, verifiers and client secrets found in its
/// bodies, URLs and redirects (values longer than 8 characters).
pub fn secrets_in(capture: &Path) -> Vec<String> {
    let mut secrets = Vec::new();
    for ex in read_capture(capture) {
        let texts = [
            ex.request.body.as_text().map(str::to_string),
            ex.response
                .as_ref()
                .and_then(|r| r.body.as_text().map(str::to_string)),
            ex.response
                .as_ref()
                .and_then(|r| r.header("location").map(str::to_string)),
            Some(ex.request.url.clone()),
        ];
        for t in texts.into_iter().flatten() {
            let t = t.replace(['?', '#'], "&");
            if let Some(obj) = oauthscope::oauth::parse::json_object(&t) {
                for k in ["access_token", "refresh_token", "id_token", "device_code"] {
                    if let Some(v) = obj.get(k).and_then(|v| v.as_str()) {
                        secrets.push(v.to_string());
                    }
                }
            }
            for (k, v) in oauthscope::oauth::parse::parse_form(&t) {
                if [
                    "access_token",
                    "refresh_token",
                    "code",
                    "client_secret",
                    "code_verifier",
                    "token",
                ]
                .contains(&k.as_str())
                    && v.len() > 8
                {
                    secrets.push(v);
                }
            }
        }
    }
    secrets
}

/// Whether an external tool a test needs is there. When it is missing the test fails
/// under `CI=true` (`.ci/run` installs every tool and sets it), and elsewhere is skipped
/// with the reason printed.
pub fn have_tool(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing under CI=true: bash .ci/run installs it");
    }
    eprintln!("skipped: {what} is missing (bash .ci/run installs it)");
    false
}

/// A free loopback port (bound, then released for the tool that needs a number).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run `oauthscope` with `args` (`NO_COLOR=1`): (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `analyze --format json` of a capture or HAR: (the findings' rule ids, sorted, one per
/// finding; the whole report). Fails the test when analyze fails.
pub fn analyze_rules(capture: &Path) -> (Vec<String>, serde_json::Value) {
    let out = Command::new(bin())
        .args(["analyze", "--format", "json"])
        .arg(capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rules: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    rules.sort();
    (rules, v)
}

/// A real mitmproxy (`mitmdump` from target/venv) recording a HAR (`hardump`) into
/// `dir`, trusting `upstream_ca` for the servers it forwards to.
pub struct Mitmdump {
    child: Child,
    pub port: u16,
    /// mitmproxy's CA, for the client to trust.
    pub ca: PathBuf,
    pub har: PathBuf,
}

impl Mitmdump {
    pub fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/mitmdump")
    }

    /// Start it and wait until it listens (its CA exists then too).
    pub fn start(dir: &Path, upstream_ca: &Path) -> Self {
        let port = free_port();
        let har = dir.join("mitm.har");
        let confdir = dir.join("mitmconf");
        let child = Command::new(Self::path())
            .args([
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                &port.to_string(),
                "-q",
            ])
            .arg("--set")
            .arg(format!("confdir={}", confdir.display()))
            .arg("--set")
            .arg(format!(
                "ssl_verify_upstream_trusted_ca={}",
                upstream_ca.display()
            ))
            .arg("--set")
            .arg(format!("hardump={}", har.display()))
            .spawn()
            .expect("start mitmdump");
        let ca = confdir.join("mitmproxy-ca-cert.pem");
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        while !(ca.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
            assert!(
                std::time::Instant::now() < deadline,
                "mitmdump did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Mitmdump {
            child,
            port,
            ca,
            har,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stop it (it writes the HAR on the way out) and return the HAR's path.
    pub fn stop(mut self) -> PathBuf {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        assert!(self.har.exists(), "mitmproxy wrote no HAR");
        self.har.clone()
    }
}

/// `oauthscope export INPUT --har OUT [extra...]`; fails the test when it fails.
pub fn export_har(input: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "export",
        input.to_str().unwrap(),
        "--har",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
}
