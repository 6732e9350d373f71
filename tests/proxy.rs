//! The recording proxy, driven by real clients (reqwest, curl) against a real TLS upstream.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use oauthscope::capture::{Exchange, Kind};

fn find<'a>(exchanges: &'a [Exchange], url_part: &str) -> &'a Exchange {
    exchanges
        .iter()
        .find(|e| e.request.url.contains(url_part))
        .unwrap_or_else(|| panic!("no exchange for {url_part} in {exchanges:#?}"))
}

struct Setup {
    dir: std::path::PathBuf,
    upstream: Upstream,
    proxy: ProxyProc,
}

async fn setup(name: &str, extra: &[&str]) -> Setup {
    let dir = temp_dir(name);
    let tls = upstream_tls(&dir);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let mut args = vec!["--upstream-ca", tls.ca_pem_path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let proxy = ProxyProc::start(&dir, &args);
    Setup {
        dir,
        upstream,
        proxy,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn https_get_post_and_http2_are_recorded_in_full() {
    let s = setup("basic", &[]).await;
    let client = s.proxy.client();
    // GET over an IP-literal host (needs an IP SAN on our leaf certificate).
    let r = client
        .get(s.upstream.https_url("/echo?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.version(),
        reqwest::Version::HTTP_2,
        "ALPN h2 towards the client"
    );
    // A form POST and a JSON POST by DNS name.
    let form = "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp%2Fcb";
    let r = client
        .post(s.upstream.https_localhost("/echo?form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let echoed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echoed["body_len"], form.len());
    let json = r#"{"hello":"world","n":[1,2,3]}"#;
    let r = client
        .post(s.upstream.https_url("/echo?json"))
        .header("content-type", "application/json")
        .header("x-dup", "one")
        .header("x-dup", "two")
        .body(json)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ex, _) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 3, "{ex:#?}");

    let get = find(&ex, "/echo?x=1");
    assert_eq!(get.request.method, "GET");
    assert_eq!(get.request.version, "HTTP/2.0");
    assert_eq!(
        get.request.url,
        format!("https://127.0.0.1:{}/echo?x=1", s.upstream.addr.port())
    );
    let resp = get.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.version, "HTTP/2.0", "h2 towards upstream too");
    let body: serde_json::Value = serde_json::from_str(resp.body.text.as_deref().unwrap()).unwrap();
    assert_eq!(body["method"], "GET");
    assert!(get.timings.response_start.unwrap() <= get.timings.end.unwrap());
    assert!(
        get.started.ends_with('Z') && get.started.len() == 27,
        "{}",
        get.started
    );

    let post = find(&ex, "/echo?form");
    assert_eq!(post.request.body.text.as_deref(), Some(form));
    assert_eq!(post.request.body.size, form.len() as u64);
    assert!(post.request.url.starts_with("https://localhost:"));
    assert!(post.timings.request_sent.is_some());

    let jpost = find(&ex, "/echo?json");
    assert_eq!(jpost.request.body.text.as_deref(), Some(json));
    let dups: Vec<&str> = jpost
        .request
        .headers
        .iter()
        .filter(|h| h.name() == "x-dup")
        .map(|h| h.value())
        .collect();
    assert_eq!(dups, vec!["one", "two"], "duplicate headers kept in order");
    let mut ids: Vec<u64> = ex.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_is_proxied_and_hop_by_hop_headers_stripped() {
    let dir = temp_dir("plain");
    let upstream = start_upstream(None).await;
    let proxy = ProxyProc::start(&dir, &[]);
    let client = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::http(proxy.url())
                .unwrap()
                .basic_auth("user", "proxy-pass"),
        )
        .build()
        .unwrap();
    let r = client
        .get(upstream.http_url("/echo"))
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .send()
        .await
        .unwrap();
    let echoed: serde_json::Value = r.json().await.unwrap();
    let sent: Vec<String> = echoed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_string())
        .collect();
    for hop in [
        "proxy-authorization",
        "proxy-connection",
        "keep-alive",
        "te",
    ] {
        assert!(
            !sent.contains(&hop.to_string()),
            "{hop} reached upstream: {sent:?}"
        );
    }
    let (ex, _) = stop_and_read(proxy);
    assert_eq!(ex.len(), 1);
    let e = &ex[0];
    assert!(e.request.url.starts_with("http://127.0.0.1:"));
    let pa = e
        .request
        .header("proxy-authorization")
        .expect("recorded, masked");
    assert!(pa.starts_with("Basic [redacted fp:"), "{pa}");
    let raw = std::fs::read_to_string(dir.join("capture.jsonl")).unwrap();
    assert!(
        !raw.contains("dXNlcjpwcm94eS1wYXNz"),
        "proxy credentials in clear"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_body_is_decoded_in_the_capture_but_not_for_the_client() {
    let s = setup("gzip", &[]).await;
    // reqwest's gzip feature is on for the crate; turn it off to see the wire bytes.
    let client = s.proxy.client_builder().no_gzip().build().unwrap();
    let r = client
        .get(s.upstream.https_url("/gzip"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let wire = r.bytes().await.unwrap();
    assert_eq!(
        &wire[..2],
        &[0x1f, 0x8b],
        "client receives the original gzip bytes"
    );
    let (ex, _) = stop_and_read(s.proxy);
    let body = &ex[0].response.as_ref().unwrap().body;
    assert_eq!(body.size, wire.len() as u64);
    assert_eq!(body.raw_bytes(), wire.to_vec());
    assert_eq!(
        body.as_text(),
        Some(r#"{"message":"hello compressed world"}"#)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_upstream_gives_502_and_a_recorded_cause() {
    let dir = temp_dir("untrusted");
    let tls = upstream_tls(&dir);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let proxy = ProxyProc::start(&dir, &[]); // no --upstream-ca
    let r = proxy
        .client()
        .get(upstream.https_url("/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(text.contains("UnknownIssuer"), "{text}");
    let (ex, lines) = stop_and_read(proxy);
    assert_eq!(ex.len(), 1);
    let err = ex[0].error.as_ref().unwrap();
    assert_eq!(err.kind, "upstream_tls");
    assert!(
        err.message
            .contains("upstream certificate not trusted: UnknownIssuer"),
        "{err:?}"
    );
    assert!(!err.chain.is_empty());
    assert!(
        lines.iter().any(|l| l.contains("upstream_tls")),
        "{lines:#?}"
    );
    assert_eq!(upstream.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_distrusts_our_ca_is_reported() {
    let s = setup("distrust", &[]).await;
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(s.proxy.url()).unwrap())
        .build()
        .unwrap();
    let err = client
        .get(s.upstream.https_url("/echo"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    // The failure is reported asynchronously by the TLS watcher.
    s.proxy.written(1).await;
    let (ex, lines) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 1, "{ex:#?}");
    assert_eq!(ex[0].kind, Kind::Connection);
    let e = ex[0].error.as_ref().unwrap();
    assert_eq!(e.kind, "client_tls");
    assert!(e.message.contains("rejected our certificate"), "{e:?}");
    assert!(e.hint.as_deref().unwrap().contains("ca.pem"));
    assert!(
        lines.iter().any(|l| l.contains("rejected our certificate")),
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_requests_are_each_recorded_once() {
    let s = setup("concurrent", &[]).await;
    let client = s.proxy.client();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = client.clone();
        let url = s.upstream.https_url(&format!("/echo?i={i}"));
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .body(format!("request {i}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (ex, _) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 200);
    let mut ids: Vec<u64> = ex.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "ids unique");
    for i in 0..200 {
        let hits: Vec<_> = ex
            .iter()
            .filter(|e| e.request.url.ends_with(&format!("/echo?i={i}")))
            .collect();
        assert_eq!(hits.len(), 1, "request {i} recorded exactly once");
        assert_eq!(
            hits[0].request.body.text.as_deref(),
            Some(format!("request {i}").as_str())
        );
        assert_eq!(hits[0].response.as_ref().unwrap().status, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_50_mib_body_streams_in_full_and_the_capture_is_capped() {
    let s = setup("big", &["--max-body", "64KiB"]).await;
    let n: u64 = 50 * 1024 * 1024;
    let client = s.proxy.client();
    let mut r = client
        .get(s.upstream.https_url(&format!("/bytes?n={n}")))
        .send()
        .await
        .unwrap();
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut got = 0u64;
    let mut ok = true;
    while let Some(chunk) = r.chunk().await.unwrap() {
        for (i, b) in chunk.iter().enumerate() {
            ok &= *b == pattern_byte(got + i as u64);
        }
        got += chunk.len() as u64;
        ctx.update(&chunk);
    }
    assert_eq!(got, n);
    assert!(ok, "every byte as the upstream sent it");
    let expected: Vec<u8> = (0..n).map(pattern_byte).collect();
    assert_eq!(
        ctx.finish().as_ref(),
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &expected).as_ref()
    );
    // And an upload of the same size.
    let up = client
        .post(s.upstream.https_url("/echo"))
        .body(expected.clone())
        .send()
        .await
        .unwrap();
    let echoed: serde_json::Value = up.json().await.unwrap();
    assert_eq!(echoed["body_len"], n);
    assert_eq!(echoed["body_sha256"], sha256_hex(&expected));
    let (ex, _) = stop_and_read(s.proxy);
    let down = find(&ex, "/bytes");
    let body = &down.response.as_ref().unwrap().body;
    assert_eq!(body.size, n);
    assert!(body.truncated);
    assert_eq!(body.raw_bytes().len(), 64 * 1024);
    assert!(!down.incomplete);
    let upx = find(&ex, "/echo");
    assert_eq!(upx.request.body.size, n);
    assert!(upx.request.body.truncated);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_abort_mid_body_is_recorded_as_incomplete() {
    let s = setup("abort", &[]).await;
    let client = s.proxy.client();
    let mut r = client
        .get(s.upstream.https_url("/bytes?n=10000000&delay_ms=20"))
        .send()
        .await
        .unwrap();
    let first = r.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(r);
    drop(client);
    s.proxy.written(1).await;
    let (ex, _) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 1);
    assert!(ex[0].incomplete, "{:#?}", ex[0]);
    assert_eq!(ex[0].error.as_ref().unwrap().kind, "client_aborted");
    let body = &ex[0].response.as_ref().unwrap().body;
    assert!(body.size > 0 && body.size < 10_000_000);
}

/// A client that takes the answer's head and goes away (a connector that resets an
/// HTTP/2 stream, or times out, before the token JSON arrives): the capture still holds
/// what the server answered, and says the client did not get it.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_the_client_left_unread_is_recorded_whole() {
    let s = setup("abort-unread", &[]).await;
    let client = s.proxy.client();
    // Both HTTP versions: HTTP/2 resets the stream, HTTP/1.1 closes the connection.
    let h1 = s.proxy.client_builder().http1_only().build().unwrap();
    for (c, n) in [(&client, 3000u64), (&h1, 5000u64)] {
        let r = c
            .get(s.upstream.https_url(&format!("/bytes?n={n}&delay_ms=300")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        drop(r);
    }
    drop((client, h1));
    s.proxy.written(2).await;
    let (ex, _) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 2, "{ex:#?}");
    for e in &ex {
        let n: u64 = if e.request.url.contains("n=3000") {
            3000
        } else {
            5000
        };
        assert!(e.incomplete, "{e:#?}");
        let err = e.error.as_ref().unwrap();
        assert_eq!(err.kind, "client_aborted", "{e:#?}");
        assert!(err.message.contains("the capture holds the rest"), "{e:#?}");
        let body = &e.response.as_ref().unwrap().body;
        assert_eq!((body.size, body.truncated), (n, false), "{e:#?}");
        let want: Vec<u8> = (0..n).map(pattern_byte).collect();
        assert_eq!(body.raw_bytes(), want);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_scope_hosts_are_tunnelled_and_recorded_as_tunnels() {
    // Only "localhost" is intercepted; 127.0.0.1 passes through untouched.
    let s = setup("scope", &["--scope", "^localhost$"]).await;
    let upstream_ca = std::fs::read(s.dir.join("upstream-ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(s.proxy.url()).unwrap())
        .add_root_certificate(reqwest::Certificate::from_pem(&upstream_ca).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    // Not intercepted: the client sees the upstream's own certificate.
    let r = client
        .get(s.upstream.https_url("/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    drop(client);
    s.proxy.written(1).await;
    let (ex, _) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 1, "{ex:#?}");
    let t = &ex[0];
    assert_eq!(t.kind, Kind::Tunnel);
    assert_eq!(t.request.method, "CONNECT");
    let relay = t.relay.as_ref().unwrap();
    assert!(
        relay.client_to_server > 100 && relay.server_to_client > 100,
        "{relay:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrades_pass_through_and_are_counted() {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = temp_dir("ws");
    let upstream = start_upstream(None).await;
    let proxy = ProxyProc::start(&dir, &[]);
    // CONNECT to the plain-HTTP upstream; the proxy sees "GET" and intercepts.
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let target = format!("127.0.0.1:{}", upstream.addr.port());
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (mut ws, resp) = tokio_tungstenite::client_async(format!("ws://{target}/ws"), tcp)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..5 {
        ws.send(format!("message {i}").into()).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), format!("message {i}"));
    }
    ws.close(None).await.unwrap();
    drop(ws);
    proxy.written(1).await;
    let (ex, _) = stop_and_read(proxy);
    assert_eq!(ex.len(), 1, "{ex:#?}");
    assert_eq!(ex[0].kind, Kind::Upgrade);
    assert_eq!(ex[0].response.as_ref().unwrap().status, 101);
    let relay = ex[0].relay.as_ref().unwrap();
    assert!(
        relay.client_to_server >= 5 * 9 && relay.server_to_client >= 5 * 9,
        "{relay:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ca_is_reused_across_runs_and_files_are_private() {
    let s = setup("reuse", &[]).await;
    let ca1 = std::fs::read(s.proxy.ca_pem()).unwrap();
    let capture = s.proxy.capture.clone();
    let ca_dir = s.proxy.ca_dir.clone();
    let (ex, _) = stop_and_read(s.proxy);
    assert!(ex.is_empty());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&capture), 0o600);
    assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
    let again = ProxyProc::start(&s.dir, &[]);
    assert_eq!(
        std::fs::read(again.ca_pem()).unwrap(),
        ca1,
        "same CA on the second run"
    );
    assert!(
        !again
            .output()
            .iter()
            .any(|l| l.contains("created a new CA"))
    );
    again.stop();
    // `oauthscope ca --json` reports the same certificate.
    let out = std::process::Command::new(bin())
        .args(["ca", "--json", "--ca-dir"])
        .arg(&ca_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["created"], false);
    assert_eq!(info["sha256"].as_str().unwrap().len(), 95);
}

#[test]
fn a_non_loopback_listen_address_is_refused_without_the_flag() {
    let dir = temp_dir("remote");
    let out = std::process::Command::new(bin())
        .args(["proxy", "--listen", "0.0.0.0:0", "--ca-dir"])
        .arg(dir.join("certs"))
        .arg("--out")
        .arg(dir.join("c.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
    assert!(!dir.join("c.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_through_the_proxy_with_our_ca() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let s = setup("curl", &[]).await;
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--proxy", &s.proxy.url(), "--cacert"])
        .arg(s.proxy.ca_pem())
        .args(["-d", "grant_type=refresh_token&refresh_token=r1"])
        .arg(s.upstream.https_url("/echo"))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ex, _) = stop_and_read(s.proxy);
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].request.body.text.as_deref(),
        Some("grant_type=refresh_token&refresh_token=r1")
    );
    assert!(
        ex[0]
            .request
            .header("user-agent")
            .unwrap()
            .starts_with("curl/")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_on_the_proxy_port_never_crashes_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = temp_dir("badinput");
    let upstream = start_upstream(None).await;
    let proxy = ProxyProc::start(&dir, &[]);
    let read_reply = |mut tcp: tokio::net::TcpStream| async move {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
        String::from_utf8_lossy(&buf).to_string()
    };
    // Garbage bytes.
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    tcp.write_all(b"\x00\x01\x02garbage\r\n\r\n").await.unwrap();
    let reply = read_reply(tcp).await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
        "{reply}"
    );
    // A truncated request, then the client hangs up.
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    tcp.write_all(b"GET http://127.0.0.1/ HTT").await.unwrap();
    drop(tcp);
    // A header block over 64 KiB.
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let big = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        upstream.http_url("/echo"),
        "a".repeat(70 * 1024)
    );
    let _ = tcp.write_all(big.as_bytes()).await;
    let reply = read_reply(tcp).await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431") || reply.starts_with("HTTP/1.1 400"),
        "{reply}"
    );
    // Still serving.
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy.url()).unwrap())
        .build()
        .unwrap();
    let r = client.get(upstream.http_url("/echo")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (ex, _) = stop_and_read(proxy);
    assert_eq!(ex.len(), 1, "only the valid request is an exchange");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificates_are_recorded_and_presented_only_with_their_key() {
    let dir = temp_dir("proxy-client-certs");
    let (srv, tls, id) = mtls_server(&dir).await;
    let ca = tls.ca_pem_path.display().to_string();
    // Asked for, recorded, but not presented: the proxy holds no key for it.
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", &ca, "--client-certs"]);
    let client = proxy
        .client_builder()
        .identity(id.reqwest())
        .build()
        .unwrap();
    let plain = proxy.client_builder().build().unwrap();
    let token = |c: &reqwest::Client| {
        c.post(srv.url("/token"))
            .basic_auth(oauth::CLIENT_ID, Some(oauth::CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let v: serde_json::Value = token(&client).await.unwrap().json().await.unwrap();
    let at = v["access_token"].as_str().unwrap();
    // The server saw no certificate, so the token is not bound (not a JWT with `cnf`).
    assert!(
        oauthscope::oauth::parse::decode_jwt(at).is_none(),
        "the server saw a certificate: {v}"
    );
    assert_eq!(token(&plain).await.unwrap().status(), 200);
    proxy.wait_for_line("without a --client-identity");
    proxy.written(2).await;
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");
    let exs = read_capture(&capture);
    let with = exs[0]
        .client_cert
        .as_ref()
        .expect("the certificate is recorded");
    assert_eq!(with.sha256, id.x5t);
    assert_eq!(with.subject.as_deref(), Some("CN=connector-app"));
    assert!(!with.forwarded);
    assert!(exs[1].client_cert.is_none());
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("without a --client-identity"))
            .count(),
        1,
        "said once: {lines:#?}"
    );

    // With its key (--client-identity), the server sees the certificate and binds.
    let dir = temp_dir("proxy-client-identity");
    let proxy = ProxyProc::start(
        &dir,
        &[
            "--upstream-ca",
            &ca,
            "--client-identity",
            &id.pem_path.display().to_string(),
        ],
    );
    let client = proxy
        .client_builder()
        .identity(id.reqwest())
        .build()
        .unwrap();
    let v: serde_json::Value = token(&client).await.unwrap().json().await.unwrap();
    let jwt = oauthscope::oauth::parse::decode_jwt(v["access_token"].as_str().unwrap())
        .expect("a bound JWT access token");
    assert_eq!(jwt.cnf("x5t#S256").as_deref(), Some(id.x5t.as_str()));
    proxy.written(1).await;
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");
    let exs = read_capture(&capture);
    assert!(exs[0].client_cert.as_ref().is_some_and(|c| c.forwarded));
    let shown = std::process::Command::new(bin())
        .args(["show", &capture.display().to_string(), "1"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!("client certificate: x5t#S256 {}", id.x5t))
            && shown.contains("presented to the server"),
        "{shown}"
    );

    // A certificate file without its key is refused at start, saying which file.
    let bad = dir.join("cert-only.pem");
    let pem = std::fs::read_to_string(&id.pem_path).unwrap();
    std::fs::write(&bad, &pem[..pem.find("-----BEGIN PRIVATE KEY").unwrap()]).unwrap();
    let out = std::process::Command::new(bin())
        .args(["proxy", "--listen", "127.0.0.1:0", "--client-identity"])
        .arg(&bad)
        .arg("--ca-dir")
        .arg(dir.join("unused-certs"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cert-only.pem") && err.contains("private key"),
        "{err}"
    );
    assert!(
        !dir.join("unused-certs").exists(),
        "nothing created before the refusal"
    );
}
