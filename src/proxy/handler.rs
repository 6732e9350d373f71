//! The recording handler: turns each request/response pair into a recorded exchange,
//! strips hop-by-hop headers, answers out-of-scope CONNECTs with a counted tunnel, and
//! relays upgraded (WebSocket) connections itself so their bytes are counted too.
//!
//! Long on purpose: one request's whole life in the proxy (loop detection, CONNECT,
//! upgrades, forwarding, the error record) reads top to bottom in one file.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_ENCODING, HeaderMap, HeaderName, UPGRADE};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::Empty;
use hudsucker::Body;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::recording::{Recording, RunState, Side};
use super::scope::Scope;
use super::server::{self, Shared, Tunnel};
use super::tap::Tap;
use crate::capture::redact::{Fingerprinter, mask_header_value};
use crate::capture::{
    self, ClientCert, ErrorInfo, ErrorKind, Exchange, Header, Kind, Relay, header_value_string,
};
pub use crate::upstream::HttpsConnector;
use crate::upstream::{chain_of, classify_upstream_error};

/// Settings every handler clone shares.
pub struct HandlerConfig {
    pub scope: Scope,
    pub fingerprinter: Fingerprinter,
    /// HTTP/1.1-only client for upgrade requests (WebSocket needs HTTP/1.1).
    pub upgrade_client: Client<HttpsConnector, Empty<Bytes>>,
    /// The forwarding client (HTTP/1.1 and HTTP/2 upstream).
    pub client: Client<HttpsConnector, Body>,
    /// How long upstream may take to start its response, and may then fall silent
    /// mid-body, before the exchange fails as `upstream_timeout`.
    pub upstream_timeout: Duration,
    /// The CA certificate clients must trust, and its folder (for hints).
    pub ca_pem: std::path::PathBuf,
    pub ca_dir: std::path::PathBuf,
    /// Gateway mode: requests are routed by path instead of proxied.
    pub gateway: Option<Arc<super::gateway::Gateway>>,
    /// Forwarding clients that present a client certificate (`--client-identity`).
    pub identities: Vec<UpstreamIdentity>,
    /// Client certificates already said to have no `--client-identity` (said once each).
    pub certs_warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A forwarding client presenting the certificate with thumbprint `sha256`.
pub struct UpstreamIdentity {
    pub sha256: String,
    pub client: Client<HttpsConnector, Body>,
}

impl Recorder {
    /// A client presented `cert`: say once when the proxy cannot present it upstream.
    pub fn client_cert_seen(&self, cert: &ClientCert) {
        if self.cfg.identities.iter().any(|i| i.sha256 == cert.sha256) {
            return;
        }
        let first = self
            .cfg
            .certs_warned
            .lock()
            .map(|mut w| w.insert(cert.sha256.clone()))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                "a client presented the certificate {} ({}); without a --client-identity holding \
                 its key the server sees no client certificate",
                cert.sha256,
                cert.subject.as_deref().unwrap_or("no subject")
            );
        }
    }

    /// The forwarding client for `req`: the one presenting the client's own certificate
    /// when there is one; records whether it was presented.
    fn client_for(
        &self,
        rec: &Recording,
        cert: Option<&ClientCert>,
    ) -> &Client<HttpsConnector, Body> {
        let Some(cert) = cert else {
            return &self.cfg.client;
        };
        match self.cfg.identities.iter().find(|i| i.sha256 == cert.sha256) {
            Some(id) => {
                rec.update(|ex| {
                    if let Some(c) = ex.client_cert.as_mut() {
                        c.forwarded = true;
                    }
                });
                &id.client
            }
            None => &self.cfg.client,
        }
    }
}

/// The recording handler: one per client connection (its number), cloned per request.
pub struct Recorder {
    run: Arc<RunState>,
    cfg: Arc<HandlerConfig>,
    conn: u64,
}

impl Recorder {
    pub fn new(run: Arc<RunState>, cfg: Arc<HandlerConfig>) -> Self {
        Recorder { run, cfg, conn: 0 }
    }
}

impl Recorder {
    /// A handler for a new client connection (its own connection number).
    pub fn connection(&self) -> Recorder {
        Recorder {
            run: self.run.clone(),
            cfg: self.cfg.clone(),
            conn: self.run.next_conn(),
        }
    }

    /// A handler for one request on this connection.
    pub fn request(&self) -> Recorder {
        Recorder {
            run: self.run.clone(),
            cfg: self.cfg.clone(),
            conn: self.conn,
        }
    }

    /// Handle one request from a client connection or an intercepted tunnel.
    pub async fn handle(
        &mut self,
        client: SocketAddr,
        mut req: Request<Body>,
        tunnel: Option<Tunnel>,
        shared: &Arc<Shared>,
    ) -> Response<Body> {
        if let Some(gw) = self.cfg.gateway.clone() {
            return self.gateway_request(client, req, &gw).await;
        }
        if req.method() == Method::CONNECT {
            return self.connect(client, req, tunnel.is_some(), shared).await;
        }
        match &tunnel {
            Some(t) => {
                let default = if t.scheme == "https" { 443 } else { 80 };
                // HTTP/2 names its target in `:authority`: inside a tunnel it must be the
                // CONNECT target, or the request could reach another host (and bypass
                // --ignore). HTTP/1.1 requests inside a tunnel go to the target.
                if let Some(a) = req.uri().authority() {
                    if !same_authority(a, &t.authority, default) {
                        let message = format!(
                            "refused: a request for {a} inside a tunnel opened to {}",
                            t.authority
                        );
                        return self.refuse(
                            client,
                            &req,
                            StatusCode::MISDIRECTED_REQUEST,
                            ErrorKind::Misdirected,
                            message,
                        );
                    }
                }
                let mut parts = std::mem::take(req.uri_mut()).into_parts();
                parts.scheme = Some(if t.scheme == "https" {
                    http::uri::Scheme::HTTPS
                } else {
                    http::uri::Scheme::HTTP
                });
                parts.authority = Some(t.authority.clone());
                if parts.path_and_query.is_none() {
                    parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
                }
                match Uri::from_parts(parts) {
                    Ok(u) => *req.uri_mut() = u,
                    Err(_) => {
                        return server::plain(
                            StatusCode::BAD_REQUEST,
                            "oauthscope: bad request target\n".into(),
                        );
                    }
                }
            }
            None => match req.uri().authority() {
                None => {
                    return server::plain(
                        StatusCode::BAD_REQUEST,
                        "oauthscope is a proxy: send requests in absolute form \
                         (http://host/path) or CONNECT host:port\n"
                            .into(),
                    );
                }
                Some(a) if server::is_own(a, 80, shared.own) => {
                    let message =
                        format!("refused: a request to the proxy itself ({a}) through the proxy");
                    return self.refuse_loop(client, &req, message);
                }
                Some(_) => {}
            },
        }
        self.record_and_forward(client, req).await
    }

    /// Record `req` (in absolute form) and forward it; the response streams back through
    /// the response tap.
    pub(crate) async fn record_and_forward(
        &self,
        client: SocketAddr,
        mut req: Request<Body>,
    ) -> Response<Body> {
        let upgrade = is_upgrade(req.headers());
        let exchange = self.new_exchange(
            client,
            &req,
            if upgrade { Kind::Upgrade } else { Kind::Http },
        );
        let rec = Arc::new(Recording::start(self.run.clone(), exchange));
        strip_hop_by_hop(req.headers_mut(), upgrade);
        if upgrade {
            return self.forward_upgrade(rec, req).await;
        }
        rec.set_request_encoding(header_string(req.headers(), &CONTENT_ENCODING));
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let req = req.map(|b| {
            Tap::new(b, rec.clone(), Side::Request)
                .declared_length(declared)
                .into_body()
        });
        self.forward(rec, req).await
    }

    /// A CONNECT: refuse loops, relay out-of-scope hosts (recorded as a tunnel entry),
    /// intercept the rest.
    async fn connect(
        &mut self,
        client: SocketAddr,
        mut req: Request<Body>,
        inside_tunnel: bool,
        shared: &Arc<Shared>,
    ) -> Response<Body> {
        let Some(authority) = req.uri().authority().cloned() else {
            return server::plain(
                StatusCode::BAD_REQUEST,
                "oauthscope: CONNECT needs host:port\n".into(),
            );
        };
        if inside_tunnel {
            let message = format!("refused: CONNECT {authority} inside a tunnel");
            return self.refuse(
                client,
                &req,
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorKind::NestedConnect,
                message,
            );
        }
        if server::is_own(&authority, 443, shared.own) {
            let message = format!("refused: a tunnel to the proxy itself ({authority})");
            return self.refuse_loop(client, &req, message);
        }
        if !self.cfg.scope.intercepts(authority.host()) {
            return self.open_tunnel(client, req).await;
        }
        let on_upgrade = hyper::upgrade::on(&mut req);
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Ok(up) = on_upgrade.await {
                server::intercept(up, client, authority, shared).await;
            }
        });
        Response::new(Body::empty())
    }

    /// Answer with `status` and record the refusal (nothing that reached the proxy goes
    /// unrecorded).
    /// Refuse a request or tunnel that would come back to the proxy itself.
    fn refuse_loop(
        &self,
        client: SocketAddr,
        req: &Request<Body>,
        message: String,
    ) -> Response<Body> {
        self.refuse(
            client,
            req,
            StatusCode::LOOP_DETECTED,
            ErrorKind::Loop,
            message,
        )
    }

    fn refuse(
        &self,
        client: SocketAddr,
        req: &Request<Body>,
        status: StatusCode,
        kind: ErrorKind,
        message: String,
    ) -> Response<Body> {
        let mut exchange = self.new_exchange(client, req, Kind::Http);
        if req.method() == Method::CONNECT {
            exchange.kind = Kind::Tunnel;
            exchange.request.url = req
                .uri()
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_default();
        }
        let rec = Recording::start(self.run.clone(), exchange);
        rec.set_error(ErrorInfo {
            kind,
            message: message.clone(),
            chain: Vec::new(),
            hint: None,
        });
        server::plain(status, format!("oauthscope: {message}\n"))
    }

    /// Record a tunnel that failed before any request (timeout, handshake).
    pub fn record_tunnel_failure(
        &self,
        client: SocketAddr,
        target: &http::uri::Authority,
        kind: ErrorKind,
        message: String,
        chain: Vec<String>,
        hint: Option<String>,
    ) {
        let exchange = self.tunnel_exchange(client, target, Kind::Connection);
        let rec = Recording::start(self.run.clone(), exchange);
        rec.set_error(ErrorInfo {
            kind,
            message,
            chain,
            hint,
        });
    }

    /// The client's TLS handshake with us failed: most often it does not trust our CA.
    pub fn record_client_tls_failure(
        &self,
        client: SocketAddr,
        target: &http::uri::Authority,
        chain: Vec<String>,
    ) {
        let joined = chain.join(": ");
        let rejected = ["alert", "UnknownCA", "BadCertificate", "CertificateUnknown"]
            .iter()
            .any(|k| joined.contains(k));
        let (message, hint) = if rejected {
            (
                format!("the client rejected our certificate for {target}: {joined}"),
                Some(format!(
                    "make the client trust {} (`oauthscope ca --ca-dir {}` shows the command for each client)",
                    self.cfg.ca_pem.display(),
                    self.cfg.ca_dir.display()
                )),
            )
        } else {
            (
                format!("TLS handshake with the client failed for {target}: {joined}"),
                None,
            )
        };
        self.record_tunnel_failure(client, target, ErrorKind::ClientTls, message, chain, hint);
    }

    /// A tunnel whose first bytes are neither TLS nor HTTP: relay it as is, recorded as a
    /// tunnel entry with the bytes each way.
    pub async fn relay_raw<I>(&self, client: SocketAddr, target: http::uri::Authority, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let exchange = self.tunnel_exchange(client, &target, Kind::Tunnel);
        let rec = Recording::start(self.run.clone(), exchange);
        match tokio::net::TcpStream::connect(target.as_str()).await {
            Ok(server) => {
                let _ = server.set_nodelay(true);
                relay(&rec, io, server).await;
            }
            Err(e) => rec.set_error(ErrorInfo {
                kind: crate::capture::ErrorKind::UpstreamConnect,
                message: format!("cannot open a tunnel to {target}: {e}"),
                chain: chain_of(&e),
                hint: None,
            }),
        }
    }

    fn tunnel_exchange(
        &self,
        client: SocketAddr,
        target: &http::uri::Authority,
        kind: Kind,
    ) -> Exchange {
        self.exchange(
            client,
            kind,
            capture::Request {
                method: "CONNECT".into(),
                url: target.to_string(),
                version: "HTTP/1.1".into(),
                headers: Vec::new(),
                body: Default::default(),
            },
        )
    }

    /// A new record for `request` from `client` on this connection.
    fn exchange(&self, client: SocketAddr, kind: Kind, request: capture::Request) -> Exchange {
        Exchange {
            id: 0,
            conn: self.conn,
            kind,
            client: client.to_string(),
            started: capture::now_rfc3339(),
            timings: Default::default(),
            request,
            response: None,
            error: None,
            incomplete: false,
            relay: None,
            hints: None,
            client_cert: None,
        }
    }
}

/// `host:port` equality with default ports filled in, host names without case.
fn same_authority(a: &http::uri::Authority, b: &http::uri::Authority, default: u16) -> bool {
    a.host().eq_ignore_ascii_case(b.host())
        && a.port_u16().unwrap_or(default) == b.port_u16().unwrap_or(default)
}

impl Recorder {
    /// Send the request upstream ourselves (rather than through hudsucker's client) so a
    /// silent upstream ends in a recorded `upstream_timeout` and a 504, not a hang.
    async fn forward(&self, rec: Arc<Recording>, req: Request<Body>) -> Response<Body> {
        let limit = self.cfg.upstream_timeout;
        let client = self.client_for(&rec, req.extensions().get::<ClientCert>());
        match head_within(&rec, limit, client.request(normalize_request(req))).await {
            Ok(Ok(res)) => {
                record_response(&rec, res.status(), res.version(), res.headers());
                res.map(|b| {
                    Tap::new(Body::from(b), rec, Side::Response)
                        .idle_timeout(limit)
                        .into_body()
                })
            }
            Ok(Err(err)) => {
                let info = classify_upstream_error(&err);
                let body = format!(
                    "oauthscope: the request could not be forwarded.\n{}\n{}{}\n",
                    info.message,
                    info.chain.join("\n  caused by: "),
                    info.hint
                        .as_deref()
                        .map(|h| format!("\nhint: {h}"))
                        .unwrap_or_default()
                );
                // A client that broke off mid-body makes the upstream request fail too:
                // the client's abort, recorded first by the request tap, is the cause.
                rec.set_error_first(info);
                gateway_error(StatusCode::BAD_GATEWAY, body)
            }
            Err(_) => {
                let message = format!(
                    "upstream did not answer within {} (--upstream-timeout)",
                    super::tap::show_duration(limit)
                );
                let body = format!("oauthscope: {message}\n");
                rec.set_error(ErrorInfo {
                    kind: crate::capture::ErrorKind::UpstreamTimeout,
                    message,
                    chain: Vec::new(),
                    hint: Some(
                        "the server accepted the request but sent no response; \
                         raise --upstream-timeout if it is just slow"
                            .into(),
                    ),
                });
                gateway_error(StatusCode::GATEWAY_TIMEOUT, body)
            }
        }
    }

    fn new_exchange(&self, client: SocketAddr, req: &Request<Body>, kind: Kind) -> Exchange {
        let mut ex = self.exchange(
            client,
            kind,
            capture::Request {
                method: req.method().to_string(),
                url: absolute_url(req.uri()),
                version: format!("{:?}", req.version()),
                headers: record_headers(req.headers(), &self.cfg.fingerprinter),
                body: Default::default(),
            },
        );
        ex.client_cert = req.extensions().get::<ClientCert>().cloned();
        ex
    }

    /// Out of scope: relay the CONNECT tunnel untouched, counting bytes each way.
    async fn open_tunnel(&self, client: SocketAddr, mut req: Request<Body>) -> Response<Body> {
        let target = req
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let mut exchange = self.new_exchange(client, &req, Kind::Tunnel);
        exchange.request.url = target.clone();
        let rec = Recording::start(self.run.clone(), exchange);
        let server = match tokio::net::TcpStream::connect(&target).await {
            Ok(s) => s,
            Err(e) => {
                let info = ErrorInfo {
                    kind: crate::capture::ErrorKind::UpstreamConnect,
                    message: format!("cannot open a tunnel to {target}: {e}"),
                    chain: chain_of(&e),
                    hint: None,
                };
                let body = format!("oauthscope: {}\n", info.message);
                rec.set_error(info);
                return bad_gateway(body);
            }
        };
        let _ = server.set_nodelay(true);
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(up) => relay(&rec, TokioIo::new(up), server).await,
                Err(e) => rec.set_error(ErrorInfo {
                    kind: crate::capture::ErrorKind::Tunnel,
                    message: format!("the client's CONNECT tunnel did not open: {e}"),
                    chain: chain_of(&e),
                    hint: None,
                }),
            }
        });
        Response::new(Body::empty())
    }

    /// Forward an upgrade request and, on 101, relay both upgraded connections.
    async fn forward_upgrade(&self, rec: Arc<Recording>, mut req: Request<Body>) -> Response<Body> {
        let client_side = hyper::upgrade::on(&mut req);
        let (mut parts, _body) = req.into_parts();
        parts.version = http::Version::HTTP_11;
        parts.extensions = http::Extensions::new();
        let upstream_req = Request::from_parts(parts, Empty::<Bytes>::new());
        rec.body_finished(
            Side::Request,
            Vec::new(),
            0,
            super::recording::BodyEnd::Complete,
            crate::capture::budget::Lease::new(rec.budget()),
        );
        let mut res = match self.cfg.upgrade_client.request(upstream_req).await {
            Ok(res) => res,
            Err(err) => {
                let info = classify_upstream_error(&err);
                let body = format!("oauthscope: {}\n", info.message);
                rec.set_error(info);
                return bad_gateway(body);
            }
        };
        record_response(&rec, res.status(), res.version(), res.headers());
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            let res = res.map(Body::from);
            return res.map(|b| Tap::new(b, rec, Side::Response).into_body());
        }
        let server_side = hyper::upgrade::on(&mut res);
        let (parts, _) = res.into_parts();
        rec.update(|ex| ex.kind = Kind::Upgrade);
        tokio::spawn(async move {
            match tokio::try_join!(client_side, server_side) {
                Ok((c, s)) => relay(&rec, TokioIo::new(c), TokioIo::new(s)).await,
                Err(e) => rec.set_error(ErrorInfo {
                    kind: crate::capture::ErrorKind::Upgrade,
                    message: format!("the upgraded connection did not open: {e}"),
                    chain: chain_of(&e),
                    hint: None,
                }),
            }
        });
        Response::from_parts(parts, Body::empty())
    }
}

fn bad_gateway(body: String) -> Response<Body> {
    gateway_error(StatusCode::BAD_GATEWAY, body)
}

fn gateway_error(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-oauthscope-error", "1")
        .body(Body::from(body))
        .expect("static response")
}

fn record_response(
    rec: &Recording,
    status: StatusCode,
    version: http::Version,
    headers: &HeaderMap,
) {
    rec.set_response(
        capture::Response {
            status: status.as_u16(),
            version: format!("{version:?}"),
            headers: headers
                .iter()
                .map(|(n, v)| Header(n.as_str().to_owned(), header_value_string(v.as_bytes())))
                .collect(),
            body: Default::default(),
        },
        header_string(headers, &CONTENT_ENCODING),
    );
}

/// Wait for the response head, failing with `Err(())` once upstream has been silent for
/// `limit` after the request body was sent in full. The clock starts at the end of the
/// upload, so a client that uploads slowly is not blamed on the upstream.
async fn head_within<F: Future>(rec: &Recording, limit: Duration, fut: F) -> Result<F::Output, ()> {
    let limit_ms = limit.as_secs_f64() * 1000.0;
    let sleep = tokio::time::sleep(limit);
    tokio::pin!(fut, sleep);
    loop {
        tokio::select! {
            out = &mut fut => return Ok(out),
            () = &mut sleep => {
                let now = rec.elapsed_ms();
                let waited = rec.request_sent_ms().map_or(0.0, |sent| now - sent);
                if waited >= limit_ms {
                    return Err(());
                }
                let left = Duration::from_secs_f64((limit_ms - waited) / 1000.0);
                sleep.as_mut().reset(tokio::time::Instant::now() + left);
            }
        }
    }
}

/// What hudsucker does before forwarding: hyper sets `Host` itself, HTTP/2 cookie
/// headers are joined for HTTP/1.1, and the client picks the upstream version by ALPN.
fn normalize_request(mut req: Request<Body>) -> Request<Body> {
    req.headers_mut().remove(http::header::HOST);
    let cookies: Vec<&[u8]> = req
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if cookies.len() > 1 {
        let joined = cookies.join(&b"; "[..]);
        if let Ok(v) = http::HeaderValue::from_bytes(&joined) {
            req.headers_mut().insert(http::header::COOKIE, v);
        }
    }
    *req.version_mut() = http::Version::HTTP_11;
    req
}

/// Relay bytes both ways until both directions close; record the counts.
async fn relay<C, S>(rec: &Recording, client: C, server: S)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = tokio::io::split(server);
    let ((up, e1), (down, e2)) = tokio::join!(pump(&mut cr, &mut sw), pump(&mut sr, &mut cw));
    rec.update(|ex| {
        ex.relay = Some(Relay {
            client_to_server: up,
            server_to_client: down,
            duration_ms: super::recording::round_ms(start.elapsed().as_secs_f64() * 1000.0),
        });
    });
    if let Some(e) = e1.or(e2) {
        rec.update(|ex| {
            ex.error.get_or_insert(ErrorInfo {
                kind: crate::capture::ErrorKind::Relay,
                message: format!("the relayed connection ended with an error: {e}"),
                chain: chain_of(&e),
                hint: None,
            });
        });
    }
}

async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    r: &mut R,
    w: &mut W,
) -> (u64, Option<std::io::Error>) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut n_total = 0u64;
    loop {
        match r.read(&mut buf).await {
            Ok(0) => {
                let _ = w.shutdown().await;
                return (n_total, None);
            }
            Ok(n) => {
                if let Err(e) = w.write_all(&buf[..n]).await {
                    return (n_total, Some(e));
                }
                n_total += n as u64;
            }
            Err(e) => {
                let _ = w.shutdown().await;
                return (n_total, Some(e));
            }
        }
    }
}

/// `https://host:443/x` → `https://host/x`; origin-form stays as it came.
pub fn absolute_url(uri: &Uri) -> String {
    let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) else {
        return uri.to_string();
    };
    let default = matches!(
        (scheme, auth.port_u16()),
        ("https", Some(443)) | ("http", Some(80))
    );
    let host = if default { auth.host() } else { auth.as_str() };
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{scheme}://{host}{pq}")
}

fn record_headers(headers: &HeaderMap, fpr: &Fingerprinter) -> Vec<Header> {
    headers
        .iter()
        .map(|(n, v)| {
            let value = header_value_string(v.as_bytes());
            let value = if n.as_str() == "proxy-authorization" {
                mask_header_value(fpr, n.as_str(), &value)
            } else {
                value
            };
            Header(n.as_str().to_owned(), value)
        })
        .collect()
}

fn header_string(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let v: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!v.is_empty()).then(|| v.join(", "))
}

fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE) && connection_tokens(headers).iter().any(|t| t == "upgrade")
}

/// Remove hop-by-hop headers before forwarding (RFC 9110 §7.6.1). An upgrade keeps its
/// `Connection: upgrade` and `Upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let tokens = connection_tokens(headers);
    for name in [
        "proxy-authorization",
        "proxy-connection",
        "te",
        "keep-alive",
        "trailer",
    ] {
        headers.remove(name);
    }
    for t in &tokens {
        if keep_upgrade && (t == "upgrade" || t == "connection") {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(t.as_bytes()) {
            headers.remove(name);
        }
    }
    if keep_upgrade {
        headers.insert(CONNECTION, http::HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(CONNECTION);
        headers.remove(UPGRADE);
    }
}

#[cfg(test)]
mod tests;
