//! `replay` and `serve` tell the truth and keep credentials where they belong: tokens in
//! gzip answers are learned, a credential only goes where its captured predecessor went
//! (never to another host, never over plain HTTP when captured over HTTPS), `--target`
//! sends the walk elsewhere, and the mock refuses what the real service would.

mod common;

use std::path::Path;
use std::process::Command;

use common::oauth::{self, AsConfig, CLIENT_ID, CLIENT_SECRET};
use common::*;

/// Record a flow through the proxy against a gzip-answering AS: sign-in, API call,
/// refresh, API call with the new token, and a call to a second (plain HTTP) origin that
/// never got a credential. Returns the capture, the AS, the second origin, the CA of the
/// AS and the proxy's folder.
async fn record_flow(
    name: &str,
) -> (
    std::path::PathBuf,
    oauth::AuthServer,
    Upstream,
    std::path::PathBuf,
) {
    let dir = temp_dir(name);
    let tls = upstream_tls(&dir);
    let srv = oauth::start(
        AsConfig {
            gzip: true,
            ..AsConfig::default()
        },
        tls.config.clone(),
    )
    .await;
    let other = start_upstream(None).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let http = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = srv.url("/callback");
    let r = http
        .get(format!(
            "{}?response_type=code&client_id={CLIENT_ID}&redirect_uri={}&state=s1",
            srv.url("/authorize"),
            oauthscope::wire::form_encode(&redirect)
        ))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let code = oauthscope::oauth::parse::query_params(&loc)
        .get("code")
        .unwrap()
        .to_string();
    let tok: serde_json::Value = send_json(http.post(srv.url("/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]))
    .await;
    let at = tok["access_token"].as_str().unwrap().to_string();
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    let api = |t: String| http.get(srv.url("/api/me")).bearer_auth(t).send();
    assert_eq!(api(at).await.unwrap().status(), 200);
    let tok: serde_json::Value = send_json(http.post(srv.url("/token")).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &rt),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]))
    .await;
    let at2 = tok["access_token"].as_str().unwrap().to_string();
    assert_eq!(api(at2).await.unwrap().status(), 200);
    let r = http.get(other.http_url("/echo")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");
    (capture, srv, other, tls.ca_pem_path)
}

/// Run `oauthscope replay CAPTURE --out OUT ARGS...`.
fn run_replay(capture: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("replay")
        .arg(capture)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

fn replay(capture: &Path, ca: &Path, out: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--format", "json", "--upstream-ca", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = run_replay(capture, out, &args);
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|_| {
        panic!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    (run.status.code().unwrap_or(-1), v)
}

/// Issue #11 items 10 and 14: tokens in gzip token answers are learned (the API calls
/// run with this run's tokens and pass), the replay capture holds the decoded answers,
/// and the second origin receives no credential.
#[tokio::test(flavor = "multi_thread")]
async fn replay_learns_gzip_tokens_and_keeps_credentials_at_their_origin() {
    let (capture, srv, other, ca) = record_flow("replay-gzip").await;
    let out = capture.with_file_name("replay.jsonl");
    let (code, v) = replay(&capture, &ca, &out, &[]);
    assert_eq!(code, 0, "{v:#}");
    for c in v["checklist"].as_array().unwrap() {
        assert_eq!(c["result"], "passed", "{c}");
    }
    let replayed = read_capture(&out);
    let refresh = replayed
        .iter()
        .find(|e| {
            e.request
                .body
                .as_text()
                .is_some_and(|b| b.contains("grant_type=refresh_token"))
        })
        .expect("a refresh was replayed");
    let answer = refresh.response.as_ref().unwrap().body.as_text().unwrap();
    assert!(answer.contains("access_token"), "stored decoded: {answer}");
    let to_other: Vec<_> = replayed
        .iter()
        .filter(|e| e.request.url.starts_with(&other.http_url("/")))
        .collect();
    assert_eq!(to_other.len(), 1);
    let sent = &to_other[0].request;
    assert!(sent.header("authorization").is_none(), "{sent:#?}");
    assert!(
        !sent.body.as_text().unwrap_or("").contains("token"),
        "{sent:#?}"
    );
    drop(srv);
}

/// Issue #11 items 8 and 14: `--target` sends the walk to another origin; credentials
/// captured over HTTPS are not sent there over plain HTTP; with the service gone every
/// step fails on its own evidence (nothing "passed"), each step is listed once.
#[tokio::test(flavor = "multi_thread")]
async fn replay_targets_other_origins_and_never_downgrades_credentials() {
    let (capture, srv, other, ca) = record_flow("replay-target").await;
    let origin = srv.url("/").trim_end_matches('/').to_string();
    // The same service under another name: the walk works there.
    let localhost = origin.replace("127.0.0.1", "localhost");
    let (code, v) = replay(
        &capture,
        &ca,
        &capture.with_file_name("to-localhost.jsonl"),
        &["--target", &format!("{origin}={localhost}")],
    );
    assert_eq!(code, 0, "{v:#}");
    let urls: Vec<&str> = v["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["url"].as_str())
        .collect();
    assert!(urls.iter().any(|u| u.starts_with(&localhost)), "{urls:?}");
    // To plain HTTP: every step with a credential is skipped, none is sent.
    let plain = other.http_url("/").trim_end_matches('/').to_string();
    let out = capture.with_file_name("to-plain.jsonl");
    let (_, v) = replay(
        &capture,
        &ca,
        &out,
        &["--target", &format!("{origin}={plain}")],
    );
    let skipped = v["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["verdict"]
                .as_str()
                .is_some_and(|s| s.contains("would go over plain HTTP"))
        })
        .count();
    assert!(skipped >= 3, "{v:#}");
    for e in read_capture(&out) {
        assert!(e.request.header("authorization").is_none(), "{e:#?}");
        let body = e.request.body.as_text().unwrap_or("");
        assert!(
            !body.contains("token") && !body.contains("secret"),
            "{e:#?}"
        );
    }
    // The service gone: nothing passes, each step once.
    drop(srv);
    let (code, v) = replay(&capture, &ca, &capture.with_file_name("gone.jsonl"), &[]);
    assert_eq!(code, 1, "{v:#}");
    let checks = v["checklist"].as_array().unwrap();
    let steps: Vec<u64> = checks.iter().map(|c| c["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![1, 2, 3, 4], "{checks:#?}");
    assert!(
        checks.iter().all(|c| c["result"] != "passed"),
        "{checks:#?}"
    );
}

/// Issue #11 item 9: the mock refuses an access token it never issued, client
/// credentials other than the captured ones, and a refresh token it does not know; its
/// discovery document names its own address.
#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_what_the_real_service_would() {
    let dir = temp_dir("serve-refuses");
    let ca_dir = dir.join("certs");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/good-flow.jsonl");
    let (mut child, base) = start_serve(&sample, &ca_dir, &[]);
    let ca = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{base}/api/me"))
        .bearer_auth("nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(CLIENT_ID, Some("not-the-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "never-issued"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    let meta: serde_json::Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_endpoint = meta["token_endpoint"].as_str().unwrap();
    assert!(token_endpoint.starts_with(&base), "{meta:#}");
    let _ = child.kill();
    let _ = child.wait();
}

/// RFC 8705: a connector that presented a client certificate through the proxy. Replayed
/// with `--client-identity`, the token request and the API call present it too (each
/// replayed exchange records it, the new token is bound to it); without it the replay
/// says the server will see no certificate, and records none. A certificate file that
/// cannot be read stops the replay before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn replay_presents_the_client_certificate_it_is_given() {
    let dir = temp_dir("replay-mtls");
    let (srv, tls, id) = mtls_server(&dir).await;
    let ca = tls.ca_pem_path.display().to_string();
    let pem = id.pem_path.display().to_string();
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", &ca, "--client-identity", &pem]);
    let client = proxy
        .client_builder()
        .identity(id.reqwest())
        .build()
        .unwrap();
    let v: serde_json::Value = send_json(
        client
            .post(srv.url("/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let at = v["access_token"].as_str().unwrap();
    let r = client.get(srv.url("/api/me")).bearer_auth(at).send().await;
    assert_eq!(r.unwrap().status(), 200);
    proxy.written(2).await;
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");

    // The replayed token answer: Some(the certificate its token is bound to, if any).
    let issued_binding = |out: &Path| -> Option<Option<String>> {
        let exs = read_capture(out);
        let body = exs[0].response.as_ref()?.body.as_text()?.to_string();
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let at = v["access_token"].as_str()?;
        Some(oauthscope::oauth::parse::decode_jwt(at).and_then(|j| j.cnf("x5t#S256")))
    };
    let out = dir.join("with-cert.jsonl");
    let (code, v) = replay(
        &capture,
        &tls.ca_pem_path,
        &out,
        &["--client-identity", &pem],
    );
    assert_eq!(code, 0, "{v:#}");
    let checks = v["checklist"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["result"] == "passed"), "{v:#}");
    assert!(checks.iter().all(|c| c["result"] != "failed"), "{v:#}");
    let replayed = read_capture(&out);
    assert_eq!(replayed.len(), 2, "{replayed:#?}");
    for e in &replayed {
        assert_eq!(e.client, "oauthscope replay");
        let c = e.client_cert.as_ref().expect("recorded");
        assert_eq!((c.sha256.as_str(), c.forwarded), (id.x5t.as_str(), true));
    }
    assert_eq!(issued_binding(&out), Some(Some(id.x5t.clone())));

    let out = dir.join("without-cert.jsonl");
    let run = run_replay(&capture, &out, &["--format", "json", "--upstream-ca", &ca]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("presented a client certificate"), "{err}");
    assert!(err.contains(&id.x5t), "{err}");
    assert!(err.contains("presents none"), "{err}");
    assert!(read_capture(&out).iter().all(|e| e.client_cert.is_none()));
    assert_eq!(
        issued_binding(&out),
        Some(None),
        "the server saw no certificate"
    );

    let out = dir.join("bad-cert.jsonl");
    let missing = dir.join("no-such.pem").display().to_string();
    let run = run_replay(
        &capture,
        &out,
        &["--upstream-ca", &ca, "--client-identity", &missing],
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert_ne!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("--client-identity"), "{err}");
    assert!(err.contains("no-such.pem"), "{err}");
    assert!(!out.exists(), "nothing recorded, nothing sent");
}
