//! Capture fidelity: the capture holds every byte the client sent, and its `error` and
//! `incomplete` are true statements, whatever the upstream does first and whichever
//! client sends (reqwest, Python's httpx over HTTP/2).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use common::*;
use oauthscope::capture::Exchange;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const REFRESH_FORM: &str = "grant_type=refresh_token&refresh_token=rt-fidelity-1f2e3d4c5b6a\
&client_id=connector-app&client_secret=s3cr3t-fidelity-9a8b";

/// A plain-HTTP server that, like Werkzeug on a 404, answers as soon as it has read the
/// request head and closes the connection without reading the body.
async fn answers_before_reading_the_body() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_head(&mut tcp).await;
                let body = r#"{"error":"not_found"}"#;
                let res = format!(
                    "HTTP/1.1 404 NOT FOUND\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(res.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    addr
}

fn only_exchange(capture: &[Exchange], path: &str) -> Exchange {
    let found: Vec<&Exchange> = capture
        .iter()
        .filter(|e| e.request.url.contains(path))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one exchange for {path}: {capture:#?}"
    );
    found[0].clone()
}

/// Issue #11 item 1: the refresh POST answered 404 before its body was read keeps its
/// body (grant type, client id, refresh token) in the capture, and no false error.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_the_server_never_read_is_still_captured() {
    let dir = temp_dir("fidelity-early-answer");
    let proxy = ProxyProc::start(&dir, &[]);
    let server = answers_before_reading_the_body().await;
    let client = proxy.client();
    // A body larger than one segment, sent after the head: the server has answered by then.
    let padding = "x".repeat(200_000);
    let body = format!("{REFRESH_FORM}&padding={padding}");
    let res = client
        .post(format!("http://{server}/wrong/refresh"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await;
    // The server resets the connection under a body it never reads: the proxy may see
    // the reset before the 404 (then the client gets 502). Either way the capture must
    // hold the body.
    if let Ok(res) = res {
        assert!([404, 502].contains(&res.status().as_u16()), "{res:?}");
    }
    let small = client
        .post(format!("http://{server}/wrong/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(REFRESH_FORM)
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 404);
    proxy.written(2).await;
    let (capture, _) = stop_and_read(proxy);

    let ex = only_exchange(&capture, "/wrong/token");
    assert_eq!(ex.request.body.as_text(), Some(REFRESH_FORM));
    assert_eq!(ex.response.as_ref().map(|r| r.status), Some(404));
    assert!(ex.error.is_none() && !ex.incomplete, "{ex:#?}");

    let big = only_exchange(&capture, "/wrong/refresh");
    let text = big.request.body.as_text().unwrap_or_default();
    assert!(
        text.starts_with(REFRESH_FORM),
        "body kept: {} bytes",
        text.len()
    );
    assert_eq!(big.request.body.size, body.len() as u64);
    assert_eq!(text.len(), body.len(), "whole body under --max-body");
}

fn venv_python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python");
    let ok = std::process::Command::new(&p)
        .args(["-c", "import httpx, h2"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(p)
}

/// Issue #11 item 2: httpx over HTTP/2 ends its request body with an empty DATA frame
/// carrying END_STREAM; its POSTs are complete exchanges, not `request_not_sent`.
#[tokio::test(flavor = "multi_thread")]
async fn httpx_http2_posts_are_complete() {
    let Some(python) = venv_python() else {
        eprintln!("skipped: target/venv has no httpx[http2] (bash .ci/run installs it)");
        return;
    };
    let dir = temp_dir("fidelity-httpx-h2");
    let tls = upstream_tls(&dir);
    // An HTTP/1.1 upstream (as most Python servers are): the proxy's upstream side then
    // has the whole announced length before the client's END_STREAM arrives.
    let mut h1 = (*tls.config).clone();
    h1.alpn_protocols = vec![b"http/1.1".to_vec()];
    let upstream = start_upstream(Some(std::sync::Arc::new(h1))).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let script = r#"
import sys, httpx
proxy, ca, url, form = sys.argv[1:5]
with httpx.Client(http2=True, proxy=proxy, verify=ca) as c:
    for i in range(3):
        r = c.post(url, content=form.encode(), headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.http_version == "HTTP/2", r.http_version
        assert r.json()["body_len"] == len(form), r.text
print("ok")
"#;
    let out = tokio::process::Command::new(&python)
        .args(["-c", script, &proxy.url()])
        .arg(proxy.ca_pem())
        .arg(upstream.https_url("/echo"))
        .arg(REFRESH_FORM)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "httpx: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (capture, _) = stop_and_read(proxy);
    let posts: Vec<&Exchange> = capture
        .iter()
        .filter(|e| e.request.method == "POST")
        .collect();
    assert_eq!(posts.len(), 3, "{capture:#?}");
    for ex in posts {
        assert_eq!(ex.request.version, "HTTP/2.0");
        assert_eq!(ex.request.body.as_text(), Some(REFRESH_FORM));
        assert!(ex.error.is_none() && !ex.incomplete, "{ex:#?}");
        assert!(ex.timings.request_sent.is_some(), "{ex:#?}");
    }
}

/// Issue #11 item 3: a POST whose upstream cannot be reached records the connect failure
/// (the cause), exactly as a GET does, not a body that was "not sent".
#[tokio::test(flavor = "multi_thread")]
async fn a_post_to_an_unreachable_upstream_keeps_the_cause() {
    let dir = temp_dir("fidelity-unreachable");
    let proxy = ProxyProc::start(&dir, &[]);
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let client = proxy.client();
    let get = client
        .get(format!("http://127.0.0.1:{port}/api"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 502);
    let post = client
        .post(format!("http://127.0.0.1:{port}/token"))
        .body(REFRESH_FORM)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 502);
    let said = post.text().await.unwrap();
    assert!(said.contains("refused"), "{said}");
    proxy.written(2).await;
    let (capture, _) = stop_and_read(proxy);
    for path in ["/api", "/token"] {
        let ex = only_exchange(&capture, path);
        let err = ex.error.as_ref().expect("an error");
        assert_eq!(err.kind, "upstream_connect", "{path}: {err:#?}");
    }
    let post = only_exchange(&capture, "/token");
    assert_eq!(post.request.body.as_text(), Some(REFRESH_FORM));
}
