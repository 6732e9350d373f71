//! Faults: peers that misbehave and a capture that cannot be written. The proxy forwards
//! what it can, records every exchange once with what went wrong, and never crashes.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use oauthscope::capture::{CaptureReader, Exchange};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the misbehaving upstream does after reading a request head.
#[derive(Clone, Copy)]
enum Misbehave {
    /// Send the head and 1,000 of the 100,000 announced bytes, then reset the connection.
    ResetMidBody,
    /// Say nothing, keep the connection open.
    StallBeforeHead,
    /// Send the head and 1,000 of the 100,000 announced bytes, then fall silent.
    StallMidBody,
}

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
content-length: 100000\r\n\r\n";

/// A real TLS upstream (HTTP/1.1) that reads one request head and then misbehaves.
async fn bad_upstream(tls: &UpstreamTls, how: Misbehave) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = (*tls.config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                read_head(&mut tls).await;
                if !matches!(how, Misbehave::StallBeforeHead) {
                    tls.write_all(HEAD).await.unwrap();
                    tls.write_all(&[b'x'; 1000]).await.unwrap();
                    tls.flush().await.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                if matches!(how, Misbehave::ResetMidBody) {
                    let (tcp, _) = tls.into_inner();
                    tcp.set_zero_linger().unwrap();
                    drop(tcp); // RST
                } else {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
            });
        }
    });
    addr
}

fn start(name: &str, extra: &[&str]) -> (PathBuf, UpstreamTls, ProxyProc) {
    let dir = temp_dir(name);
    let tls = upstream_tls(&dir);
    let mut args = vec!["--upstream-ca", tls.ca_pem_path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let proxy = ProxyProc::start(&dir, &args);
    (dir, tls, proxy)
}

/// GET `url` through the proxy (which must answer, whatever the status).
async fn get(proxy: &ProxyProc, url: impl reqwest::IntoUrl) -> reqwest::Response {
    proxy.client().get(url).send().await.unwrap()
}

fn only(exchanges: &[Exchange]) -> &Exchange {
    assert_eq!(exchanges.len(), 1, "{exchanges:#?}");
    &exchanges[0]
}

fn error_kind(ex: &Exchange) -> &str {
    ex.error
        .as_ref()
        .map(|e| e.kind.name())
        .unwrap_or_else(|| panic!("no error recorded: {ex:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_reset_mid_response_is_recorded_as_aborted() {
    let (_dir, tls, proxy) = start("reset", &[]);
    let addr = bad_upstream(&tls, Misbehave::ResetMidBody).await;
    let r = get(&proxy, format!("https://{addr}/file")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.is_err(),
        "the client must see the body fail"
    );
    let (ex, _) = stop_and_read(proxy);
    let ex = only(&ex);
    assert_eq!(error_kind(ex), "upstream_aborted", "{ex:#?}");
    assert!(ex.incomplete);
    let body = &ex.response.as_ref().unwrap().body;
    assert_eq!(body.size, 1000, "the bytes that did arrive are kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_never_answers_times_out_with_504() {
    let (_dir, tls, proxy) = start("stall-head", &["--upstream-timeout", "1s"]);
    let addr = bad_upstream(&tls, Misbehave::StallBeforeHead).await;
    let t0 = Instant::now();
    let r = get(&proxy, format!("https://{addr}/slow")).await;
    let waited = t0.elapsed();
    assert_eq!(r.status(), 504);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("did not answer within 1 s")
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let (ex, _) = stop_and_read(proxy);
    let ex = only(&ex);
    assert_eq!(error_kind(ex), "upstream_timeout", "{ex:#?}");
    assert!(ex.response.is_none());
    assert!(ex.error.as_ref().unwrap().message.contains("1 s"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_stalls_mid_body_times_out() {
    let (_dir, tls, proxy) = start("stall-body", &["--upstream-timeout", "1s"]);
    let addr = bad_upstream(&tls, Misbehave::StallMidBody).await;
    let mut r = get(&proxy, format!("https://{addr}/file")).await;
    assert_eq!(r.status(), 200);
    let mut got = 0;
    let failed = loop {
        match r.chunk().await {
            Ok(Some(c)) => got += c.len(),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(failed, "the stalled body must fail, not end cleanly");
    assert_eq!(got, 1000);
    let (ex, _) = stop_and_read(proxy);
    let ex = only(&ex);
    assert_eq!(error_kind(ex), "upstream_timeout", "{ex:#?}");
    assert!(ex.incomplete);
    assert_eq!(ex.response.as_ref().unwrap().body.size, 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_is_down_gives_502_with_the_cause() {
    let (_dir, _tls, proxy) = start("down", &[]);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let r = get(&proxy, format!("https://127.0.0.1:{port}/x")).await;
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["x-oauthscope-error"], "1");
    let text = r.text().await.unwrap();
    assert!(text.contains("refused"), "{text}");
    let (ex, _) = stop_and_read(proxy);
    assert_eq!(error_kind(only(&ex)), "upstream_connect");
}

/// A TLS connection to `target` through the proxy's CONNECT, trusting the proxy's CA.
async fn tls_through(
    proxy: &ProxyProc,
    target: SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut tcp = TcpStream::connect(proxy.addr).await.unwrap();
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with(b"HTTP/1.1 200"), "{head:?}");
    let pem = std::fs::read(proxy.ca_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::from(target.ip());
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_request_is_recorded_as_aborted() {
    let (_dir, tls, proxy) = start("client-mid-request", &[]);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let mut conn = tls_through(&proxy, upstream.addr).await;
    let head = format!(
        "POST /echo HTTP/1.1\r\nhost: {}\r\ncontent-type: application/octet-stream\r\n\
         content-length: 100000\r\n\r\n",
        upstream.addr
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&[b'y'; 1000]).await.unwrap();
    conn.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(conn);
    proxy.written(1).await;
    // The proxy is still healthy: a normal request goes through afterwards.
    let r = get(&proxy, upstream.https_url("/echo?after")).await;
    assert_eq!(r.status(), 200);
    let (ex, _) = stop_and_read(proxy);
    assert_eq!(ex.len(), 2, "{ex:#?}");
    let aborted = ex.iter().find(|e| e.request.method == "POST").unwrap();
    assert_eq!(error_kind(aborted), "client_aborted", "{aborted:#?}");
    assert!(aborted.incomplete);
    assert_eq!(aborted.request.body.size, 1000);
    assert!(
        ex.iter()
            .any(|e| e.request.url.ends_with("/echo?after") && e.error.is_none())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_response_is_recorded_once() {
    let (_dir, tls, proxy) = start("client-mid-response", &[]);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let mut conn = tls_through(&proxy, upstream.addr).await;
    let head = format!(
        "GET /bytes?n=50000000&delay_ms=5 HTTP/1.1\r\nhost: {}\r\n\r\n",
        upstream.addr
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < 100_000 {
        got += conn.read(&mut buf).await.unwrap();
    }
    drop(conn);
    proxy.written(1).await;
    let (ex, _) = stop_and_read(proxy);
    let ex = only(&ex);
    assert_eq!(error_kind(ex), "client_aborted", "{ex:#?}");
    assert!(ex.incomplete);
    let size = ex.response.as_ref().unwrap().body.size;
    assert!(size > 0 && size < 50_000_000, "{size}");
}

/// Every line of a capture parses, but a torn last one; returns the exchanges and whether
/// the last line was torn.
fn read_whole_lines(path: &Path) -> (Vec<Exchange>, bool) {
    let mut out = Vec::new();
    let mut torn = false;
    let items: Vec<_> = CaptureReader::open(path).unwrap().collect();
    let n = items.len();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(ex) => out.push(ex),
            Err(e) if e.torn && i + 1 == n => torn = true,
            Err(e) => panic!("corrupt line in {}: {e}", path.display()),
        }
    }
    (out, torn)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_keeps_traffic_flowing_and_the_capture_whole() {
    let dir = temp_dir("disk-full");
    let tls = upstream_tls(&dir);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    // A 48 KiB file-size limit stands in for a full disk: writes past it fail (EFBIG).
    let proxy = ProxyProc::start_under(
        &dir,
        &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()],
        &["bash", "-c", "ulimit -f 48 && exec \"$@\"", "oauthscope"],
    );
    let client = proxy.client();
    for i in 0..60 {
        let r = client
            .get(upstream.https_url(&format!("/bytes?n=3000&i={i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.bytes().await.unwrap().len(),
            3000,
            "request {i} forwarded in full"
        );
    }
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(!status.success(), "lost records must show in the exit code");
    let warnings = lines
        .iter()
        .filter(|l| l.contains("cannot write the capture file"))
        .count();
    assert_eq!(warnings, 1, "one loud warning: {lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("could not be written")),
        "{lines:#?}"
    );
    let (ex, torn) = read_whole_lines(&capture);
    assert!(!torn, "a failed write is cut back, never left torn");
    assert!(ex.len() > 3 && ex.len() < 60, "{} recorded", ex.len());
    assert!(std::fs::metadata(&capture).unwrap().len() <= 48 * 1024);
}

#[test]
fn an_unwritable_capture_path_is_refused_at_start() {
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = std::process::Command::new(bin())
        .args(["proxy", "--listen", "127.0.0.1:0", "--ca-dir"])
        .arg(dir.join("certs"))
        .arg("--out")
        .arg(file.join("capture.jsonl"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot create") && err.contains("a-file is not a folder"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_leaves_a_readable_capture() {
    let (dir, tls, proxy) = start("kill9", &[]);
    let upstream = Arc::new(start_upstream(Some(tls.config.clone())).await);
    let client = proxy.client();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..32 {
        let (client, upstream, stop) = (client.clone(), upstream.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u32;
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let url = upstream.https_url(&format!("/bytes?n=20000&t={t}&i={i}"));
                let Ok(r) = client.get(url).send().await else {
                    break;
                };
                if r.bytes().await.is_err() {
                    break;
                }
                ok += 1;
            }
            ok
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let capture = proxy.capture.clone();
    proxy.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    assert!(done > 100, "load was running: {done} requests done");
    let (ex, _torn) = read_whole_lines(&capture);
    assert!(!ex.is_empty());
    // Each recorded exchange is there once.
    let mut ids: Vec<u64> = ex.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ex.len());
    // And the tools read it: analyze runs to a verdict, no panic.
    let out = std::process::Command::new(bin())
        .arg("analyze")
        .arg(&capture)
        .env("NO_COLOR", "1")
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_not_taken_for_a_silent_upstream() {
    let (_dir, tls, proxy) = start("slow-client", &["--upstream-timeout", "1s"]);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let client = proxy.client();
    // An upload that takes 1.6 s, longer than the timeout: upstream waits for it, rightly.
    let chunks = futures_util::stream::unfold(0u32, |i| async move {
        if i == 4 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        Some((Ok::<_, std::io::Error>(vec![b'u'; 1000]), i + 1))
    });
    let r = client
        .post(upstream.https_url("/echo?slow-upload"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    // A download read with a 1.5 s pause part-way: the pause is the client's, not upstream's.
    let mut r = client
        .get(upstream.https_url("/bytes?n=8000000"))
        .send()
        .await
        .unwrap();
    let mut got = r.chunk().await.unwrap().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Some(c) = r.chunk().await.unwrap() {
        got += c.len();
    }
    assert_eq!(got, 8_000_000);
    let (ex, _) = stop_and_read(proxy);
    assert_eq!(ex.len(), 2, "{ex:#?}");
    for e in &ex {
        assert!(e.error.is_none() && !e.incomplete, "{e:#?}");
    }
    assert_eq!(ex[0].request.body.size.max(ex[1].request.body.size), 4000);
}
