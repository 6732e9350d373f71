//! Clients that misbehave, or attack: loops through the proxy to itself, tunnels that
//! are not TLS, a ClientHello split after its first byte, HTTP/2 requests for another
//! host inside a tunnel, clients that never finish their head, and more connections than
//! file descriptors. Every case is answered, recorded, and leaves the proxy serving.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use oauthscope::capture::Exchange;

/// Send `head` on a fresh connection to the proxy; return the status line.
fn raw(proxy: &ProxyProc, head: &str) -> String {
    let mut s = TcpStream::connect(proxy.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Open a CONNECT tunnel to `target` through the proxy.
fn tunnel(proxy: &ProxyProc, target: &str) -> TcpStream {
    tunnel_at(proxy.addr, target)
}

/// Issue #11 item 16: CONNECT and absolute-form requests to the proxy itself are refused
/// (also through a tunnel), and recorded.
#[test]
fn loops_through_the_proxy_to_itself_are_refused() {
    let dir = temp_dir("hostile-loop");
    let proxy = ProxyProc::start(&dir, &[]);
    let me = proxy.addr.to_string();
    let port = proxy.addr.port();
    for target in [
        me.clone(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let status = raw(
            &proxy,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        );
        assert!(status.contains("508"), "{target}: {status}");
    }
    let status = raw(
        &proxy,
        &format!("GET http://{me}/ HTTP/1.1\r\nHost: {me}\r\n\r\n"),
    );
    assert!(status.contains("508"), "{status}");
    // 500 nested attempts on one connection each get an answer and open nothing.
    let mut s = TcpStream::connect(proxy.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for _ in 0..500 {
        write!(s, "CONNECT {me} HTTP/1.1\r\nHost: {me}\r\n\r\n").unwrap();
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    while seen.windows(12).filter(|w| w == b"HTTP/1.1 508").count() < 500 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    drop(s);
    proxy.written_blocking(3 + 1 + 500);
    let (capture, _) = stop_and_read(proxy);
    let loops = capture
        .iter()
        .filter(|e| e.error.as_ref().is_some_and(|x| x.kind == "loop"))
        .count();
    assert_eq!(loops, 3 + 1 + 500, "every refusal recorded");
}

/// Issue #11 item 17: a POST inside a plain-HTTP CONNECT tunnel is recorded like any
/// request; a tunnel that speaks neither HTTP nor TLS is relayed and recorded.
#[tokio::test(flavor = "multi_thread")]
async fn plain_tunnels_are_recorded() {
    let dir = temp_dir("hostile-plain-tunnel");
    let upstream = start_upstream(None).await;
    let proxy = ProxyProc::start(&dir, &[]);
    let target = format!("127.0.0.1:{}", upstream.addr.port());
    let (p, t) = (proxy.addr, target.clone());
    let status = tokio::task::spawn_blocking(move || {
        let mut s = tunnel_at(p, &t);
        let body = "grant_type=refresh_token&refresh_token=rt-in-a-plain-tunnel";
        write!(
            s,
            "POST /echo HTTP/1.1\r\nHost: {t}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines().next().unwrap_or_default().to_string()
    })
    .await
    .unwrap();
    assert!(status.contains("200"), "{status}");
    // An SSH-like opening: not HTTP, not TLS.
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = echo.accept() {
            let mut b = [0u8; 64];
            let n = c.read(&mut b).unwrap_or(0);
            let _ = c.write_all(&b[..n]);
        }
    });
    let p = proxy.addr;
    let got = tokio::task::spawn_blocking(move || {
        let mut s = tunnel_at(p, &echo_addr.to_string());
        s.write_all(b"SSH-2.0-test\r\n").unwrap();
        let mut b = [0u8; 64];
        let n = s.read(&mut b).unwrap_or(0);
        b[..n].to_vec()
    })
    .await
    .unwrap();
    assert_eq!(got, b"SSH-2.0-test\r\n");
    proxy.written(2).await;
    let (capture, _) = stop_and_read(proxy);
    let post = capture
        .iter()
        .find(|e| e.request.method == "POST")
        .unwrap_or_else(|| panic!("the POST in the tunnel is recorded: {capture:#?}"));
    assert_eq!(post.request.url, format!("http://{target}/echo"));
    assert!(
        post.request
            .body
            .as_text()
            .unwrap()
            .contains("rt-in-a-plain-tunnel")
    );
    let relayed = capture
        .iter()
        .find(|e| e.request.url == echo_addr.to_string())
        .expect("the raw tunnel is recorded");
    let relay = relayed.relay.as_ref().expect("with byte counts");
    assert_eq!((relay.client_to_server, relay.server_to_client), (14, 14));
}

fn tunnel_at(proxy: std::net::SocketAddr, target: &str) -> TcpStream {
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1);
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Issue #11 item 17: a ClientHello split after its first byte is still intercepted
/// (the client sees our certificate) and the request recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_split_client_hello_is_intercepted() {
    let dir = temp_dir("hostile-split-hello");
    let tls = upstream_tls(&dir);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let ca = std::fs::read(proxy.ca_pem()).unwrap();
    let target = format!("127.0.0.1:{}", upstream.addr.port());
    let t = target.clone();
    let mut s = tunnel(&proxy, &target);
    let response = tokio::task::spawn_blocking(move || {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut &ca[..]) {
            roots.add(c.unwrap()).unwrap();
        }
        // Trusting only our CA: the handshake succeeds only if the proxy intercepted.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).unwrap();
        s.write_all(&hello[..1]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(&hello[1..]).unwrap();
        let mut stream = rustls::Stream::new(&mut conn, &mut s);
        write!(
            stream,
            "GET /echo HTTP/1.1\r\nHost: {t}\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let (capture, _) = stop_and_read(proxy);
    assert!(
        capture
            .iter()
            .any(|e| e.request.url == format!("https://{target}/echo")),
        "{capture:#?}"
    );
}

/// Issue #11 item 18: inside a tunnel to one host, an HTTP/2 request naming another in
/// `:authority` is refused (421) and recorded, never sent to that host.
#[tokio::test(flavor = "multi_thread")]
async fn http2_in_a_tunnel_cannot_reach_another_host() {
    let dir = temp_dir("hostile-h2-authority");
    let tls = upstream_tls(&dir);
    let allowed = start_upstream(Some(tls.config.clone())).await;
    let other = start_upstream(Some(tls.config.clone())).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let ca = std::fs::read(proxy.ca_pem()).unwrap();
    let target = format!("127.0.0.1:{}", allowed.addr.port());
    let s = tunnel(&proxy, &target);
    s.set_nonblocking(true).unwrap();
    let tcp = tokio::net::TcpStream::from_std(s).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &ca[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tls_stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls_stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let elsewhere = format!("https://127.0.0.1:{}/echo", other.addr.port());
    let req = hyper::Request::get(&elsewhere)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    assert_eq!(res.status(), 421);
    let same = format!("https://{target}/echo");
    let req = hyper::Request::get(&same)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(send.send_request(req).await.unwrap().status(), 200);
    assert_eq!(
        other.hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the other host was never reached"
    );
    drop(send);
    let (capture, _) = stop_and_read(proxy);
    let refused: Vec<&Exchange> = capture
        .iter()
        .filter(|e| e.error.as_ref().is_some_and(|x| x.kind == "misdirected"))
        .collect();
    assert_eq!(refused.len(), 1, "{capture:#?}");
}

/// Issue #11 item 15: a client that never finishes its head, or opens a tunnel and says
/// nothing, is cut off after --client-timeout (the tunnel is recorded); at the
/// connection cap the proxy says so once and serves again as connections close.
#[tokio::test(flavor = "multi_thread")]
async fn slow_and_excess_clients_cannot_starve_the_proxy() {
    let dir = temp_dir("hostile-limits");
    let upstream = start_upstream(None).await;
    // 256 descriptors: a cap of (256 - 64) / 2 = 96 client connections.
    let proxy = ProxyProc::start_under(
        &dir,
        &["--client-timeout", "1s"],
        &["bash", "-c", "ulimit -n 256 && exec \"$@\"", "--"],
    );
    let p = proxy.addr;
    let closed = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(p).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x")
            .unwrap();
        let t = std::time::Instant::now();
        let mut b = [0u8; 64];
        let _ = s.read(&mut b);
        t.elapsed()
    })
    .await
    .unwrap();
    assert!(
        closed < Duration::from_secs(4),
        "cut off after the head timeout: {closed:?}"
    );
    // 150 idle connections: more than the cap.
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(proxy.addr).unwrap());
    }
    let t = format!("127.0.0.1:{}", upstream.addr.port());
    let mut silent = TcpStream::connect(proxy.addr).unwrap();
    write!(silent, "CONNECT {t} HTTP/1.1\r\nHost: {t}\r\n\r\n").unwrap();
    // The idle ones time out, so a real client is served.
    let client = proxy.client();
    let res = client
        .get(format!("http://{t}/echo"))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(idle);
    proxy
        .written_until("the silent tunnel's timeout", |ex| {
            ex.iter()
                .any(|e| e.error.as_ref().is_some_and(|x| x.kind == "client_timeout"))
        })
        .await;
    let (capture, lines) = stop_and_read(proxy);
    let cap_lines = lines
        .iter()
        .filter(|l| l.contains("client connections open"))
        .count();
    assert_eq!(cap_lines, 1, "{lines:#?}");
    assert!(
        capture
            .iter()
            .any(|e| e.error.as_ref().is_some_and(|x| x.kind == "client_timeout")),
        "the silent tunnel is recorded: {capture:#?}"
    );
}
