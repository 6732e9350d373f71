//! The proxy's connection layer: the accept loop, client connections, and CONNECT
//! tunnels (intercepted, or relayed and recorded).
//!
//! hudsucker's own accept loop and CONNECT handling could not give what a recording proxy
//! must: its loop spins on `EMFILE` with no back-off and has no connection cap; it decides
//! interception on the first read (a ClientHello split after one byte went through
//! unseen), relays plain-HTTP tunnels other than `GET` unrecorded, routes HTTP/2 inside
//! a tunnel by `:authority`, and has no TLS handshake timeout. So this layer is ours;
//! each request goes to the same [`Recorder`] as before.
//!
//! Limits: the request head must arrive within `header_timeout` (also between requests
//! on a kept-alive connection), the first bytes and TLS handshake of a tunnel within
//! `handshake_timeout`; at most `max_connections` client connections at once (more wait
//! in the listen backlog, said once in the log); accept errors back off (`EMFILE`).
//!
//! Long on purpose: the connection layer (accept loop, limits, timeouts, what a CONNECT
//! carries) is one state machine; its parts only make sense together.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hudsucker::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::handler::Recorder;
use crate::ca::LocalCa;
use crate::capture::ClientCert;
pub use io::Prefixed;
use io::{Activity, Guarded};

/// Connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub handshake_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// Defaults from the process's file-descriptor limit: each client connection may need
    /// an upstream one too, and the capture, logs and listener need a few.
    pub fn for_this_process() -> Self {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we pass and has no other effect.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            lim.rlim_cur as usize
        } else {
            1024
        };
        Limits {
            header_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_connections: (soft.saturating_sub(64) / 2).clamp(16, 20_000),
        }
    }
}

/// Raise the soft file-descriptor limit to the hard one (a proxy holds two per client).
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on our own process with a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Where requests on a connection go: the CONNECT target of an intercepted tunnel.
#[derive(Debug, Clone)]
pub struct Tunnel {
    pub scheme: &'static str,
    /// `host:port` as the CONNECT request named it.
    pub authority: http::uri::Authority,
}

/// Everything a connection needs.
pub struct Shared {
    pub recorder: Recorder,
    /// Our CA, for intercepted tunnels (none in gateway mode: no CONNECT is served).
    pub ca: Option<Arc<LocalCa>>,
    /// TLS on the listening socket itself (the gateway with --tls-cert).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub builder: Builder<TokioExecutor>,
    pub limits: Limits,
    /// The proxy's own listening address (requests to it are loops).
    pub own: SocketAddr,
    pub stopping: watch::Receiver<bool>,
}

/// The HTTP server settings for client connections.
pub fn server_builder(limits: &Limits, max_head: usize) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .title_case_headers(true)
        .preserve_header_case(true)
        .max_buf_size(max_head)
        .max_headers(MAX_HEADERS)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    b.http2()
        .max_header_list_size(max_head as u32)
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
    b
}

/// Most header fields in one request head (more gets `431` from the server, unrecorded:
/// no request was parsed).
pub const MAX_HEADERS: usize = 500;

/// Accept connections until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(shared.limits.max_connections));
    let at_cap_said = AtomicBool::new(false);
    let mut backoff = Duration::from_millis(5);
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !at_cap_said.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "{} client connections open (the most this proxy takes at once, from \
                         `ulimit -n`): new ones wait until one closes",
                        shared.limits.max_connections
                    );
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                    _ = &mut stop => return,
                }
            }
        };
        let (tcp, client) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff = Duration::from_millis(5);
                    x
                }
                Err(e) => {
                    drop(permit);
                    let exhausted = matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    );
                    if exhausted {
                        tracing::warn!("cannot accept a connection ({e}); retrying in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        if permits.available_permits() > shared.limits.max_connections / 2 {
            at_cap_said.store(false, Ordering::Relaxed);
        }
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            match shared.tls.clone() {
                None => serve_connection(tcp, client, None, None, &shared).await,
                Some(acceptor) => {
                    let limit = shared.limits.handshake_timeout;
                    // A client that fails or stalls its handshake reached nothing: no
                    // request was made, so there is nothing to record.
                    if let Ok(Ok(tls)) = tokio::time::timeout(limit, acceptor.accept(tcp)).await {
                        let cert = presented_cert(tls.get_ref().1, &shared);
                        serve_connection(tls, client, None, cert, &shared).await;
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Serve HTTP on one client connection (or an intercepted tunnel) until it closes or the
/// proxy stops (then gracefully). A connection that stays silent for `header_timeout`
/// while no request of it is in flight is closed (a client that connects and sends
/// nothing, or never finishes its head, cannot hold a descriptor for ever).
async fn serve_connection<I>(
    io: I,
    client: SocketAddr,
    tunnel: Option<Tunnel>,
    cert: Option<ClientCert>,
    shared: &Arc<Shared>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::default());
    let io = Guarded::new(io, activity.clone(), shared.limits.header_timeout);
    let recorder = shared.recorder.connection();
    let s = shared.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        if let Some(c) = &cert {
            req.extensions_mut().insert(c.clone());
        }
        let mut r = recorder.request();
        let s = s.clone();
        let tunnel = tunnel.clone();
        let activity = activity.clone();
        async move {
            activity.in_flight.fetch_add(1, Ordering::AcqRel);
            let connect = req.method() == http::Method::CONNECT;
            let res = r.handle(client, req.map(Body::from), tunnel, &s).await;
            // A tunnel or an upgraded connection is idle by nature: never cut it.
            let upgraded = (connect && res.status().is_success())
                || res.status() == StatusCode::SWITCHING_PROTOCOLS;
            if !upgraded {
                activity.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
            activity.touch();
            Ok::<_, Infallible>(res)
        }
    });
    let conn = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), svc);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = shared.stopping.clone();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// What the first bytes of a tunnel are.
#[derive(Debug, PartialEq, Eq)]
enum Opening {
    Tls,
    Http,
    Other,
}

/// Read until the opening can be told (TLS record header, or an HTTP method and a space),
/// however the client splits its first bytes.
async fn peek_opening<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Opening> {
    let mut chunk = [0u8; 16];
    loop {
        if buf.len() >= 2 && buf[0] == 0x16 && buf[1] == 0x03 {
            return Ok(Opening::Tls);
        }
        let method_len = buf.iter().take_while(|b| b.is_ascii_uppercase()).count();
        if method_len > 0 && buf.get(method_len) == Some(&b' ') {
            return Ok(Opening::Http);
        }
        let undecided = (buf.len() < 2 && buf.first().is_none_or(|b| *b == 0x16))
            || (method_len == buf.len() && method_len < 16);
        if !undecided {
            return Ok(Opening::Other);
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Opening::Other);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// After `200` to an intercepted CONNECT: find out what the client speaks and serve it.
/// (Boxed: a tunnel's requests are handled by the same code that opened it.)
pub fn intercept(
    upgraded: hyper::upgrade::Upgraded,
    client: SocketAddr,
    target: http::uri::Authority,
    shared: Arc<Shared>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(intercept_inner(upgraded, client, target, shared))
}

async fn intercept_inner(
    upgraded: hyper::upgrade::Upgraded,
    client: SocketAddr,
    target: http::uri::Authority,
    shared: Arc<Shared>,
) {
    let mut io = TokioIo::new(upgraded);
    let mut first = Vec::with_capacity(16);
    let limit = shared.limits.handshake_timeout;
    let opening = match tokio::time::timeout(limit, peek_opening(&mut io, &mut first)).await {
        Ok(Ok(o)) => o,
        Ok(Err(_)) => return,
        Err(_) => {
            shared.recorder.record_tunnel_failure(
                client,
                &target,
                crate::capture::ErrorKind::ClientTimeout,
                format!(
                    "the client opened a tunnel to {target} and sent nothing within {}",
                    super::tap::show_duration(limit)
                ),
                Vec::new(),
                None,
            );
            return;
        }
    };
    let io = Prefixed::new(first, io);
    match opening {
        Opening::Tls => intercept_tls(io, client, target, shared).await,
        Opening::Http => {
            let tunnel = Tunnel {
                scheme: "http",
                authority: target,
            };
            serve_connection(io, client, Some(tunnel), None, &shared).await;
        }
        Opening::Other => shared.recorder.relay_raw(client, target, io).await,
    }
}

async fn intercept_tls(
    io: Prefixed<TokioIo<hyper::upgrade::Upgraded>>,
    client: SocketAddr,
    target: http::uri::Authority,
    shared: Arc<Shared>,
) {
    let limit = shared.limits.handshake_timeout;
    let handshake = async {
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
        let host = start
            .client_hello()
            .server_name()
            .map(str::to_string)
            .unwrap_or_else(|| target.host().to_string());
        let config = shared
            .ca
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no CA: this listener intercepts nothing"))?
            .config_for(&host)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        start.into_stream(config).await
    };
    match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(tls)) => {
            let tunnel = Tunnel {
                scheme: "https",
                authority: target,
            };
            let cert = presented_cert(tls.get_ref().1, &shared);
            serve_connection(tls, client, Some(tunnel), cert, &shared).await;
        }
        Ok(Err(e)) => {
            let chain = crate::upstream::chain_of(&e);
            shared
                .recorder
                .record_client_tls_failure(client, &target, chain);
        }
        Err(_) => shared.recorder.record_tunnel_failure(
            client,
            &target,
            crate::capture::ErrorKind::ClientTimeout,
            format!(
                "the TLS handshake with the client for {target} did not finish within {}",
                super::tap::show_duration(limit)
            ),
            Vec::new(),
            None,
        ),
    }
}

/// The certificate a client presented in its handshake (`--client-certs`), if any.
fn presented_cert(tls: &rustls::ServerConnection, shared: &Shared) -> Option<ClientCert> {
    let cert = ClientCert::of_der(tls.peer_certificates()?.first()?);
    shared.recorder.client_cert_seen(&cert);
    Some(cert)
}

/// A response the proxy gives itself (errors, refusals).
pub fn plain(status: StatusCode, text: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-oauthscope-error", "1")
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Whether `authority` names the proxy itself (a request to it through it is a loop).
pub fn is_own(authority: &http::uri::Authority, default_port: u16, own: SocketAddr) -> bool {
    let port = authority.port_u16().unwrap_or(default_port);
    if port != own.port() {
        return false;
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            ip == own.ip()
                || ip.is_unspecified()
                || (ip.is_loopback() && own.ip().is_loopback())
                || (own.ip().is_unspecified())
        }
        Err(_) => false,
    }
}

mod io;
#[cfg(test)]
mod tests;
