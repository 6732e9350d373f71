//! Gateway mode: a real OAuth client (the `oauth2` crate and reqwest) configured only
//! with gateway URLs signs in, calls the API and refreshes against the test authorization
//! server through `oauthscope gateway`, over TLS (a certificate from a test CA) and over
//! plain HTTP with `--public-url`. What is not for a route never reaches an upstream.

mod common;
mod scenarios;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::oauth::{self, AuthServer, CLIENT_ID, CLIENT_SECRET};
use common::*;
use scenarios::*;

const SECRET: &str = "gw-test-secret-0123456789abcdef";

/// A client that trusts `ca` only, follows no redirects and uses no proxy.
fn direct_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A gateway routing `/idp` to the server at `base` (trusting the test CA), with `extra`.
fn gateway_to(dir: &Path, base: &str, tls: &UpstreamTls, extra: &[&str]) -> ProxyProc {
    let route = format!("/idp={base}");
    let ca = tls.ca_pem_path.display().to_string();
    let mut args = vec!["--route", &route, "--secret", SECRET, "--upstream-ca", &ca];
    args.extend_from_slice(extra);
    ProxyProc::gateway(dir, &args)
}

/// `--tls-cert` and `--tls-key` with the test CA's leaf.
fn tls_args(tls: &UpstreamTls) -> [String; 4] {
    [
        "--tls-cert".into(),
        tls.leaf_pem_path.display().to_string(),
        "--tls-key".into(),
        tls.leaf_key_path.display().to_string(),
    ]
}

/// The findings and cause `analyze` gives for a capture.
fn diagnosis(capture: &Path) -> (Vec<String>, Option<String>) {
    let (rules, report) = analyze_rules(capture);
    (
        rules,
        report["summary"]["cause"].as_str().map(str::to_string),
    )
}

/// The scenario's flow through the gateway equals the recorded sample: same findings,
/// same cause, the same number of exchanges, each recorded once with the upstream's URL.
fn assert_same_as_sample(name: &str, capture: &Path, upstream: &str) {
    assert_eq!(
        diagnosis(capture),
        (expected_rules(name), expected_cause(name)),
        "{name}"
    );
    let got = read_capture(capture);
    let sample = read_capture(&samples_dir().join(format!("{name}.jsonl")));
    assert_eq!(got.len(), sample.len(), "{name}: one record per exchange");
    let ids: Vec<u64> = got.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=got.len() as u64).collect::<Vec<_>>());
    for ex in &got {
        assert!(
            ex.request.url.starts_with(upstream),
            "{name}: recorded as sent upstream: {}",
            ex.request.url
        );
        let host = ex.request.header("host").unwrap_or("");
        assert!(upstream.ends_with(host), "Host set to the upstream: {host}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_configured_with_gateway_urls_runs_its_flow_over_tls() {
    let dir = temp_dir("gateway-tls");
    let tls = upstream_tls(&dir);
    let s = scenario("good-flow");
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let t = tls_args(&tls);
    let gw = gateway_to(&dir, &srv.base, &tls, &t.each_ref().map(String::as_str));
    let base = format!("https://{}/{SECRET}/idp", gw.addr);
    // The route's public URL is printed.
    gw.wait_for_line(&format!("{base} -> {}", srv.base));
    let flow = Flow {
        http: direct_client(&tls.ca_pem_path),
        srv: AuthServer::external(&base),
        mtls: None,
    };
    play(s.name, &flow).await;
    // The discovery document the client got points at the gateway; the capture holds
    // what the server sent.
    let doc: serde_json::Value = flow
        .http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], format!("{base}/token"));
    assert_eq!(doc["issuer"].as_str(), Some(srv.base.as_str()));
    let capture = gw.capture.clone();
    let (status, lines) = gw.stop();
    assert!(status.success(), "{lines:#?}");
    let all = read_capture(&capture);
    let last = all.last().unwrap();
    let recorded = last.response.as_ref().unwrap().body.as_text().unwrap();
    assert!(recorded.contains(&format!("\"token_endpoint\":\"{}/token\"", srv.base)));
    // Without the extra discovery request, the capture is the sample's flow.
    let trimmed = dir.join("flow.jsonl");
    let text = std::fs::read_to_string(&capture).unwrap();
    let keep: Vec<&str> = text.lines().take(all.len()).collect();
    std::fs::write(&trimmed, keep.join("\n") + "\n").unwrap();
    assert_same_as_sample(s.name, &trimmed, &srv.base);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_behind_a_tunnel_names_the_public_url_and_a_wrong_refresh_url_is_diagnosed() {
    let dir = temp_dir("gateway-plain");
    let tls = upstream_tls(&dir);
    let s = scenario("refresh-mismatch");
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // The name the outside world uses (a tunnel's), not the listening address.
    let public = format!("http://localhost:{port}");
    let extra = ["--listen", &listen, "--public-url", &public];
    let gw = gateway_to(&dir, &srv.base, &tls, &extra);
    let base = format!("{public}/{SECRET}/idp");
    let flow = Flow {
        http: direct_client(&tls.ca_pem_path),
        srv: AuthServer::external(&base),
        mtls: None,
    };
    play(s.name, &flow).await;
    let (status, lines) = gw.stop();
    assert!(status.success(), "{lines:#?}");
    assert_same_as_sample(s.name, &dir.join("capture.jsonl"), &srv.base);

    // Discovery and Location through a fresh gateway name the public URL.
    let dir = temp_dir("gateway-plain-rewrite");
    let gw = gateway_to(&dir, &srv.base, &tls, &extra);
    let http = direct_client(&tls.ca_pem_path);
    let doc: serde_json::Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], format!("{base}/token"));
    assert_eq!(doc["authorization_endpoint"], format!("{base}/authorize"));
    let (status, lines) = gw.stop();
    assert!(status.success(), "{lines:#?}");
    let recorded = read_capture(&dir.join("capture.jsonl"));
    assert_eq!(recorded.len(), 1);
    let body = recorded[0]
        .response
        .as_ref()
        .unwrap()
        .body
        .as_text()
        .unwrap();
    assert!(
        !body.contains("localhost") && body.contains(&srv.base),
        "the capture holds the document as the server sent it: {body}"
    );
}

/// Send raw bytes to `addr` and return the status line of the answer.
fn raw_status(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_not_for_a_route_reach_no_upstream() {
    let dir = temp_dir("gateway-refusals");
    let up = start_upstream(None).await;
    let route = format!("/api={}", up.http_url(""));
    let gw = ProxyProc::gateway(&dir, &["--route", &route, "--secret", SECRET]);
    let http = direct_client(&temp_ca(&dir));
    let base = gw.url();
    let status = |path: String| {
        let http = http.clone();
        async move { http.get(path).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("{base}/api/echo")).await, 404, "no secret");
    assert_eq!(status(format!("{base}/")).await, 404);
    let wrong = format!("{}x", &SECRET[..SECRET.len() - 1]);
    assert_eq!(
        status(format!("{base}/{wrong}/api/echo")).await,
        404,
        "wrong secret"
    );
    assert_eq!(
        status(format!("{base}/{SECRET}/other/echo")).await,
        404,
        "unrouted"
    );
    assert_eq!(
        status(format!("{base}/{SECRET}/apiecho")).await,
        404,
        "not a segment"
    );
    let absolute = format!(
        "GET {}/{SECRET}/api/echo HTTP/1.1\r\nHost: {}\r\n\r\n",
        up.http_url(""),
        up.addr
    );
    assert!(
        raw_status(gw.addr, &absolute).contains(" 404 "),
        "absolute form"
    );
    let connect = format!("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n\r\n", up.addr);
    assert!(raw_status(gw.addr, &connect).contains(" 405 "), "CONNECT");
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the upstream"
    );
    // The one routed request goes through, Host set to the upstream.
    let echo: serde_json::Value = http
        .get(format!("{base}/{SECRET}/api/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let host = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "host")
        .unwrap()[1]
        .clone();
    assert_eq!(host, up.addr.to_string());
    assert_eq!(up.hits.load(Ordering::SeqCst), 1);
    let (exchanges, lines) = stop_and_read(gw);
    assert_eq!(exchanges.len(), 1, "refused requests are not recorded");
    assert_eq!(exchanges[0].request.url, up.http_url("/echo"));
    let said = lines.join("\n");
    for expected in [
        "refused 3 request(s) without the path secret",
        "refused 2 request(s) for a prefix no --route names",
        "refused 1 request(s) CONNECT",
        "refused 1 request(s) in absolute form",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
    assert!(
        !said.contains(&wrong),
        "a wrong secret is not echoed: {said}"
    );

    // A client over the rate limit gets 429 and the upstream sees only what was let in.
    let dir = temp_dir("gateway-rate");
    let up = start_upstream(None).await;
    let route = format!("/api={}", up.http_url(""));
    let gw = ProxyProc::gateway(
        &dir,
        &["--route", &route, "--secret", SECRET, "--rate-limit", "2"],
    );
    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(status(format!("{}/{SECRET}/api/echo", gw.url())).await);
    }
    let ok = codes.iter().filter(|c| **c == 200).count();
    let limited = codes.iter().filter(|c| **c == 429).count();
    assert_eq!(ok + limited, 20, "{codes:?}");
    assert!((8..=12).contains(&ok), "a burst of 8 (+ refill): {codes:?}");
    assert_eq!(up.hits.load(Ordering::SeqCst), ok);
    let (exchanges, lines) = stop_and_read(gw);
    assert_eq!(exchanges.len(), ok);
    assert!(lines.join("\n").contains(&format!(
        "refused {limited} request(s) over the per-client rate limit"
    )));
}

/// A CA file for clients of plain-HTTP gateways (unused, but the client builder wants one).
fn temp_ca(dir: &Path) -> std::path::PathBuf {
    upstream_tls(dir).ca_pem_path
}

#[tokio::test(flavor = "multi_thread")]
async fn redact_at_capture_keeps_no_secret_and_the_same_diagnosis() {
    // Client → forward proxy (records everything in clear) → gateway (redacts) → server:
    // every secret the first capture holds must be absent from the second.
    let dir = temp_dir("gateway-redact");
    let tls = upstream_tls(&dir);
    let s = scenario("good-flow");
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let ca = tls.ca_pem_path.display().to_string();
    let gdir = dir.join("gateway").tap_create();
    let t = tls_args(&tls);
    let mut extra: Vec<&str> = t.iter().map(String::as_str).collect();
    extra.push("--redact-at-capture");
    let gw = gateway_to(&gdir, &srv.base, &tls, &extra);
    let pdir = dir.join("proxy").tap_create();
    let proxy = ProxyProc::start(&pdir, &["--upstream-ca", &ca, "--quiet"]);
    let flow = Flow {
        http: proxy
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        srv: AuthServer::external(&format!("https://{}/{SECRET}/idp", gw.addr)),
        mtls: None,
    };
    play(s.name, &flow).await;
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");
    let (status, lines) = gw.stop();
    assert!(status.success(), "{lines:#?}");
    let clear = pdir.join("capture.jsonl");
    let redacted = gdir.join("capture.jsonl");
    let mut secrets = secrets_in(&clear);
    assert!(
        secrets.len() >= 6,
        "the flow showed its secrets: {secrets:?}"
    );
    secrets.push(SECRET.to_string());
    secrets.push(CLIENT_SECRET.to_string());
    use base64::Engine;
    secrets.push(
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")),
    );
    let bytes = std::fs::read_to_string(&redacted).unwrap();
    for secret in &secrets {
        assert!(
            !bytes.contains(secret.as_str()),
            "{secret} is in the capture"
        );
    }
    assert!(bytes.lines().next().unwrap().contains("\"redacted\":true"));
    assert_eq!(read_capture(&redacted).len(), read_capture(&clear).len());
    assert_eq!(
        diagnosis(&redacted),
        (expected_rules(s.name), expected_cause(s.name))
    );
    // A replay needs the values: refused, saying why.
    let (code, _, err) = run(&["replay", &redacted.display().to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("--redact-at-capture"), "{err}");

    // Findings that need what redaction hides (Basic parts, PKCE) survive it.
    for name in ["basic-not-encoded", "pkce-mismatch"] {
        let dir = temp_dir(&format!("gateway-redact-{name}"));
        let tls = upstream_tls(&dir);
        let s = scenario(name);
        let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
        let gw = gateway_to(&dir, &srv.base, &tls, &["--redact-at-capture"]);
        let flow = Flow {
            http: direct_client(&tls.ca_pem_path),
            srv: AuthServer::external(&format!("{}/{SECRET}/idp", gw.url())),
            mtls: None,
        };
        play(name, &flow).await;
        let (status, lines) = gw.stop();
        assert!(status.success(), "{lines:#?}");
        let capture = dir.join("capture.jsonl");
        assert!(
            !std::fs::read_to_string(&capture)
                .unwrap()
                .contains(CLIENT_SECRET)
        );
        assert_eq!(
            diagnosis(&capture),
            (expected_rules(name), expected_cause(name)),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_definition_is_routed_and_patched_in_its_url_fields_only() {
    let dir = temp_dir("gateway-connector");
    let tls = upstream_tls(&dir);
    let s = scenario("good-flow");
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let api = start_upstream(Some(tls.config.clone())).await;
    // The sample definition, pointed at this run's server; the API on its own host.
    let folder = dir.join("connector");
    std::fs::create_dir_all(&folder).unwrap();
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let props =
        std::fs::read_to_string(samples_dir().join("connectors/good-flow.apiProperties.json"))
            .unwrap();
    // The browser comes back through the gateway in this test (in the cloud it goes to
    // the connector's consent page directly): the definition says so.
    let gw_port = free_port();
    let props = port
        .replace_all(&props, format!("127.0.0.1:{}", srv.port).as_str())
        .replace(
            &format!("\"redirectUrl\": \"{}\"", srv.url("/callback")),
            &format!("\"redirectUrl\": \"https://127.0.0.1:{gw_port}/{SECRET}/idp/callback\""),
        );
    assert!(props.contains(&format!("{gw_port}/{SECRET}/idp/callback")));
    std::fs::write(folder.join("apiProperties.json"), &props).unwrap();
    let swagger =
        std::fs::read_to_string(samples_dir().join("connectors/good-flow.swagger.json")).unwrap();
    let swagger = port
        .replace_all(&swagger, format!("127.0.0.1:{}", srv.port).as_str())
        .replace(
            "\"host\":\"127.0.0.1\"",
            &format!("\"host\":\"{}\"", api.addr),
        );
    std::fs::write(folder.join("apiDefinition.swagger.json"), &swagger).unwrap();
    let gw = ProxyProc::gateway(
        &dir,
        &[
            "--listen",
            &format!("127.0.0.1:{gw_port}"),
            "--connector",
            &folder.display().to_string(),
            "--secret",
            SECRET,
            "--upstream-ca",
            &tls.ca_pem_path.display().to_string(),
            "--tls-cert",
            &tls.leaf_pem_path.display().to_string(),
            "--tls-key",
            &tls.leaf_key_path.display().to_string(),
        ],
    );
    let public = format!("https://{}", gw.addr);
    let idp = format!("{public}/{SECRET}/idp");
    let patched_dir = dir.join("connector.gateway");
    let patched_props = std::fs::read_to_string(patched_dir.join("apiProperties.json")).unwrap();
    let patched_swagger =
        std::fs::read_to_string(patched_dir.join("apiDefinition.swagger.json")).unwrap();
    // Only the URL fields differ: putting the old values back gives the original bytes.
    assert_eq!(
        patched_props.replace(&format!("{idp}/token"), &srv.url("/token")),
        props
    );
    assert!(patched_props.contains(&format!(
        "\"authorizationUrl\": {{ \"value\": \"{}\"",
        srv.url("/authorize")
    )));
    let gw_host = gw.addr.to_string();
    assert_eq!(
        patched_swagger
            .replace(&format!("{idp}/token"), &srv.url("/token"))
            .replace(
                &format!("\"host\":\"{gw_host}\", \"basePath\": \"/{SECRET}/api\""),
                &format!("\"host\":\"{}\"", api.addr)
            ),
        swagger
    );
    let said = gw.output().join("\n");
    assert!(
        said.contains(&format!(
            "tokenUrl.value: {} -> {idp}/token",
            srv.url("/token")
        )),
        "{said}"
    );
    // The client uses the patched URLs: token and refresh through /idp, the API through
    // the patched host and basePath.
    let flow = Flow {
        http: direct_client(&tls.ca_pem_path),
        srv: AuthServer::external(&idp),
        mtls: None,
    };
    play(s.name, &flow).await;
    let echo = flow
        .http
        .get(format!("{public}/{SECRET}/api/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);
    assert_eq!(api.hits.load(Ordering::SeqCst), 1);
    let (status, lines) = gw.stop();
    assert!(status.success(), "{lines:#?}");
    // Live traffic matches the original definition: no connector finding.
    let (code, out, err) = run(&[
        "analyze",
        "--format",
        "json",
        "--connector",
        &folder.display().to_string(),
        &dir.join("capture.jsonl").display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{out}");
}

#[test]
fn bad_routes_certificates_and_keys_stop_the_gateway_at_start_up() {
    let dir = temp_dir("gateway-bad-input");
    let one = upstream_tls(&dir.join("one").tap_create());
    let two = upstream_tls(&dir.join("two").tap_create());
    let out = dir.join("c.jsonl").display().to_string();
    let base = ["gateway", "--listen", "127.0.0.1:0", "--out", &out];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--route".into(), "/idp=login.example.com".into()],
            "no scheme",
        ),
        (
            vec![
                "--route".into(),
                "/idp=https://login.example.com/oauth2".into(),
            ],
            "no path",
        ),
        (
            vec![
                "--route".into(),
                "/idp=https://a.example.com".into(),
                "--route".into(),
                "/idp=https://b.example.com".into(),
            ],
            "two routes have the prefix /idp",
        ),
        (vec![], "no route"),
        (
            vec![
                "--route".into(),
                "/idp=https://a.example.com".into(),
                "--tls-cert".into(),
                one.leaf_pem_path.display().to_string(),
                "--tls-key".into(),
                two.leaf_key_path.display().to_string(),
            ],
            "does not match the key",
        ),
        (
            vec![
                "--route".into(),
                "/idp=https://a.example.com".into(),
                "--tls-cert".into(),
                one.leaf_pem_path.display().to_string(),
                "--tls-key".into(),
                dir.join("missing.key").display().to_string(),
            ],
            "cannot read",
        ),
        (
            vec![
                "--route".into(),
                "/idp=https://a.example.com".into(),
                "--secret".into(),
                "short".into(),
            ],
            "at least 16",
        ),
    ];
    for (extra, expected) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter().map(String::as_str));
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
    assert!(!Path::new(&out).exists(), "nothing was recorded");
}

trait TapCreate {
    fn tap_create(self) -> Self;
}

impl TapCreate for std::path::PathBuf {
    fn tap_create(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_certificate() {
    let dir = temp_dir("gateway-sighup");
    let one = upstream_tls(&dir.join("one").tap_create());
    let two = upstream_tls(&dir.join("two").tap_create());
    let cert = dir.join("gw.pem");
    let key = dir.join("gw.key");
    std::fs::copy(&one.leaf_pem_path, &cert).unwrap();
    std::fs::copy(&one.leaf_key_path, &key).unwrap();
    let up = start_upstream(None).await;
    let route = format!("/api={}", up.http_url(""));
    let gw = ProxyProc::gateway(
        &dir,
        &[
            "--route",
            &route,
            "--secret",
            SECRET,
            "--tls-cert",
            &cert.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
        ],
    );
    let url = format!("https://{}/{SECRET}/api/echo", gw.addr);
    let get = |ca: &Path| {
        let c = direct_client(ca);
        let url = url.clone();
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(get(&one.ca_pem_path).await.unwrap(), 200);
    assert!(get(&two.ca_pem_path).await.is_err());
    std::fs::copy(&two.leaf_pem_path, &cert).unwrap();
    std::fs::copy(&two.leaf_key_path, &key).unwrap();
    let hup = |gw: &ProxyProc| {
        std::process::Command::new("kill")
            .args(["-HUP", &gw.pid().to_string()])
            .status()
            .unwrap();
    };
    hup(&gw);
    gw.wait_for_line("SIGHUP: reloaded the certificate");
    assert_eq!(get(&two.ca_pem_path).await.unwrap(), 200);
    assert!(get(&one.ca_pem_path).await.is_err());
    // A broken pair on reload keeps the one in use.
    std::fs::write(&key, "not a key").unwrap();
    hup(&gw);
    gw.wait_for_line("still serving the previous certificate");
    assert_eq!(get(&two.ca_pem_path).await.unwrap(), 200);
    let (exchanges, _) = stop_and_read(gw);
    assert_eq!(exchanges.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_on_every_address_redacts_by_default_and_needs_allow_remote() {
    let dir = temp_dir("gateway-remote");
    let up = start_upstream(None).await;
    let route = format!("/api={}", up.http_url(""));
    let out = dir.join("refused.jsonl").display().to_string();
    let (code, _, err) = run(&[
        "gateway",
        "--listen",
        "0.0.0.0:0",
        "--route",
        &route,
        "--out",
        &out,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-remote"), "{err}");
    // Listening on every address (reached here over loopback only).
    let gw = ProxyProc::gateway(
        &dir,
        &[
            "--listen",
            "0.0.0.0:0",
            "--allow-remote",
            "--route",
            &route,
            "--secret",
            SECRET,
        ],
    );
    let url = format!("http://127.0.0.1:{}/{SECRET}/api/echo", gw.addr.port());
    let token = "at-remote-token-0123456789";
    let status = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let (exchanges, lines) = stop_and_read(gw);
    assert_eq!(exchanges.len(), 1);
    let text = std::fs::read_to_string(dir.join("capture.jsonl")).unwrap();
    assert!(
        !text.contains(token),
        "the token is stored as a fingerprint"
    );
    assert!(text.lines().next().unwrap().contains("\"redacted\":true"));
    assert!(
        lines
            .join("\n")
            .contains("secrets are stored as fingerprints"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_through_the_gateway_records_and_presents_the_client_certificate() {
    let dir = temp_dir("gateway-mtls");
    let (tls, id) = upstream_tls_mtls(&dir);
    let s = scenario("mtls-no-cert");
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let t = tls_args(&tls);
    let pem = id.pem_path.display().to_string();
    let mut extra: Vec<&str> = t.each_ref().map(String::as_str).to_vec();
    extra.extend(["--client-identity", &pem]);
    let gw = gateway_to(&dir, &srv.base, &tls, &extra);
    let base = format!("https://{}/{SECRET}/idp", gw.addr);
    gw.wait_for_line("asking clients for a TLS client certificate");
    let with_cert = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&tls.ca_pem_path).unwrap()).unwrap(),
        )
        .tls_built_in_root_certs(false)
        .identity(id.reqwest())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let flow = Flow {
        http: direct_client(&tls.ca_pem_path),
        srv: AuthServer::external(&base),
        mtls: Some(with_cert),
    };
    play(s.name, &flow).await;
    let capture = gw.capture.clone();
    let (status, lines) = gw.stop();
    assert!(status.success(), "{lines:#?}");
    let all = read_capture(&capture);
    let certs: Vec<bool> = all
        .iter()
        .map(|e| {
            e.client_cert
                .as_ref()
                .is_some_and(|c| c.sha256 == id.x5t && c.forwarded)
        })
        .collect();
    // Authorize, callback, token and the first API call came with the certificate; the
    // last call did not.
    assert_eq!(certs.last(), Some(&false), "{certs:?}");
    assert!(certs[..certs.len() - 1].iter().all(|c| *c), "{certs:?}");
    assert_same_as_sample(s.name, &capture, &srv.base);
}
