//! Secrets audit: after a full flow through the proxy with known values (authorization
//! code, PKCE verifier, access and refresh tokens, client secret in Basic and in a body,
//! a password, a cookie), none of them appears in anything oauthscope writes or prints:
//! the proxy's console and logs (at debug level), `analyze` in every format, `timeline`,
//! the HAR written by the proxy and by `export`. With `--no-redact` the export holds them,
//! which shows the search itself works. The CA key and captures are 0600, and listeners
//! refuse non-loopback addresses without `--allow-remote`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use base64::Engine;
use common::oauth::{self, AsConfig, CLIENT_ID, CLIENT_SECRET};
use common::*;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    RefreshToken, TokenResponse, TokenUrl,
};

const PASSWORD: &str = "Corr3ct-Horse-Battery";
const COOKIE: &str = "sess-9f8e7d6c5b4a39281706";

/// Run `oauthscope` with `args`; returns (exit code, stdout + stderr).
fn run(args: &[&str], extra: &[&Path]) -> (i32, String) {
    let out = Command::new(bin())
        .args(args)
        .args(extra)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Everything oauthscope prints or writes by default about `capture`: the proxy's
/// console and logs, its `--har`, `analyze` in every format, `timeline`, `export`.
fn default_outputs(
    dir: &Path,
    capture: &Path,
    console: &[String],
    har: &Path,
) -> Vec<(String, String)> {
    let mut outputs: Vec<(String, String)> = vec![
        ("proxy console and logs".into(), console.join("\n")),
        ("proxy --har".into(), std::fs::read_to_string(har).unwrap()),
    ];
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "json"],
        &["analyze", "--format", "markdown"],
        &["analyze", "--format", "html"],
        &["timeline"],
        &["timeline", "--format", "json"],
    ] {
        let (code, text) = run(args, &[capture]);
        assert!(code == 0 || code == 1, "{args:?}: {text}");
        outputs.push((args.join(" "), text));
    }
    let export = dir.join("export.har");
    let (code, text) = run(&["export", "--har"], &[&export, capture]);
    assert_eq!(code, 0, "{text}");
    outputs.push(("export (its output)".into(), text));
    outputs.push((
        "export --har".into(),
        std::fs::read_to_string(&export).unwrap(),
    ));
    outputs
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_any_output_unless_asked() {
    let dir = temp_dir("secrets");
    let tls = upstream_tls(&dir);
    let srv = oauth::start(AsConfig::default(), tls.config.clone()).await;
    let har = dir.join("proxy.har");
    let proxy = ProxyProc::start_under(
        &dir,
        &[
            "--upstream-ca",
            tls.ca_pem_path.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
        &["env", "RUST_LOG=debug"],
    );
    let http = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Authorization code with PKCE, then the code exchange (client secret in Basic).
    let client = BasicClient::new(ClientId::new(CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.into()))
        .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(srv.url("/callback")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let verifier_value = verifier.secret().clone();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let r = http.get(url.as_str()).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let code = oauthscope::oauth::parse::query_params(&location)
        .get("code")
        .unwrap()
        .to_string();
    http.get(&location).send().await.unwrap();
    let tok = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let access = tok.access_token().secret().clone();
    let refresh = tok.refresh_token().unwrap().secret().clone();

    // An API call with the token and a session cookie; one with the token in the query.
    let r = http
        .get(srv.url("/api/me"))
        .bearer_auth(&access)
        .header("cookie", format!("session={COOKIE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A refresh (client secret in the body this time), then the new token in a query.
    let body = format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    );
    let v: serde_json::Value = send_json(
        http.post(srv.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await;
    let access2 = v["access_token"].as_str().unwrap().to_string();
    let r = http
        .get(format!("{}?access_token={access2}", srv.url("/api/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A password grant (the server does not support it; the password still went out).
    let r = http
        .post(srv.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The same refresh token through the oauth2 crate (Basic again).
    client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .unwrap();

    let capture = proxy.capture.clone();
    let ca_key = proxy.ca_dir.join("ca.key");
    let (status, console) = proxy.stop();
    assert!(status.success(), "{console:#?}");

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let secrets: Vec<(&str, String)> = vec![
        ("authorization code", code),
        ("PKCE verifier", verifier_value),
        ("access token", access),
        ("refresh token", refresh),
        ("second access token", access2),
        ("client secret", CLIENT_SECRET.to_string()),
        ("Basic credentials", basic),
        ("password", PASSWORD.to_string()),
        ("cookie", COOKIE.to_string()),
    ];
    // The capture holds them all (it is the raw record, private to the user).
    let raw = std::fs::read_to_string(&capture).unwrap();
    for (what, value) in &secrets {
        assert!(raw.contains(value.as_str()), "the capture lacks the {what}");
    }

    // Everything oauthscope prints or writes by default.
    let outputs = default_outputs(&dir, &capture, &console, &har);
    for (name, text) in &outputs {
        assert!(text.len() > 40, "{name} printed almost nothing: {text}");
        for (what, value) in &secrets {
            let lines: Vec<String> = text
                .lines()
                .filter(|l| l.contains(value.as_str()))
                .map(|l| l.replace(value.as_str(), "<THE SECRET>"))
                .collect();
            assert!(
                lines.is_empty(),
                "the {what} leaked into {name}: {lines:#?}"
            );
        }
    }

    // Asked for: `export --no-redact` keeps them, and the file is private.
    let clear = dir.join("clear.har");
    let (code, text) = run(&["export", "--no-redact", "--har"], &[&clear, &capture]);
    assert_eq!(code, 0, "{text}");
    let clear_text = std::fs::read_to_string(&clear).unwrap();
    for (what, value) in &secrets {
        assert!(
            clear_text.contains(value.as_str()),
            "--no-redact lost the {what}"
        );
    }

    // Private files: the capture, the CA key, the clear export.
    for f in [&capture, &ca_key, &clear] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", f.display());
    }
}

#[test]
fn listeners_refuse_non_loopback_addresses_without_allow_remote() {
    let dir = temp_dir("loopback");
    let ca_dir = dir.join("certs");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/good-flow.jsonl");
    for args in [
        vec!["proxy", "--listen", "0.0.0.0:0"],
        vec!["serve", sample.to_str().unwrap(), "--listen", "0.0.0.0:0"],
    ] {
        let out = Command::new(bin())
            .args(&args)
            .arg("--ca-dir")
            .arg(&ca_dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--allow-remote"), "{args:?}: {err}");
    }
}

/// The planted values: one unique value per place an integration (or an attacker) puts
/// a secret. Index → where it goes.
fn planted() -> Vec<(&'static str, String)> {
    let nonce = format!("{:012x}", std::process::id() as u64 * 7919 + 104_729);
    [
        "JSON Access_Token",
        "JSON ID_TOKEN",
        "JSON accessToken",
        "JSON refreshToken",
        "JSON idToken",
        "JSON clientSecret",
        "revocation JSON token",
        "form_post code",
        "form_post id_token",
        "token JSON with a BOM",
        "token JSON nested deeper than 128",
        "token JSON cut at --max-body",
        "token JSON with a Latin-1 byte",
        "multipart password",
        "Ocp-Apim-Subscription-Key",
        "X-Auth-Token",
        "X-Amz-Security-Token",
        "Private-Token",
        "X-Goog-Api-Key",
        "X-Vault-Token",
        "X-Subject-Token (response)",
        "code in a Link header",
        "code in a Refresh header",
        "userinfo in Location",
        "SAMLResponse in a form",
        "WS-Trust password",
        "access%5Ftoken in a query",
        "id_token_hint in a query",
        "api_key in a query",
        "apikey in a query",
        "key in a query",
        "sig in a query",
        "SAMLResponse in a query",
        "subject_token",
        "actor_token",
        "bearer token echoed in an error page",
    ]
    .iter()
    .enumerate()
    .map(|(i, what)| (*what, format!("Plnt{i:02}v{nonce}")))
    .collect()
}

/// An HTTPS upstream that answers with the planted values where real services put them.
async fn hostile_upstream(
    tls: Arc<rustls::ServerConfig>,
    p: Arc<Vec<String>>,
) -> std::net::SocketAddr {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let p = p.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let p = p.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let _ = req.into_body().collect().await;
                            let json = "application/json";
                            let (status, ct, extra, body): (u16, &str, Vec<(&str, String)>, Vec<u8>) = match path.as_str() {
                            "/token-exchange" => (200, json, vec![], format!(
                                r#"{{"Access_Token":"{}","ID_TOKEN":"{}","accessToken":"{}","refreshToken":"{}","idToken":"{}","clientSecret":"{}","token_type":"Bearer"}}"#,
                                p[0], p[1], p[2], p[3], p[4], p[5]).into_bytes()),
                            "/form_post" => (200, "text/html", vec![], format!(
                                r#"<html><body onload="document.forms[0].submit()"><form method="post" action="https://app.example/cb"><input type="hidden" name="code" value="{}"/><input type="hidden" name="id_token" value="{}"/></form></body></html>"#,
                                p[7], p[8]).into_bytes()),
                            "/bom" => (200, json, vec![], format!("\u{feff}{{\"access_token\":\"{}\",\"token_type\":\"Bearer\"}}", p[9]).into_bytes()),
                            "/deep" => (200, json, vec![], format!("{}{{\"access_token\":\"{}\"}}{}", "[".repeat(200), p[10], "]".repeat(200)).into_bytes()),
                            "/big" => (200, json, vec![], format!("{{\"access_token\":\"{}\",\"pad\":\"{}\"}}", p[11], "x".repeat(20_000)).into_bytes()),
                            "/latin1" => {
                                let mut b = format!("{{\"access_token\":\"{}\",\"name\":\"", p[12]).into_bytes();
                                b.push(0xe9);
                                b.extend_from_slice(b"\"}");
                                (200, json, vec![], b)
                            }
                            "/api/data" => (200, json, vec![
                                ("x-subject-token", p[20].clone()),
                                ("link", format!("<https://app.example/next?code={}>; rel=\"next\"", p[21])),
                                ("refresh", format!("0; url=https://app.example/cb?code={}", p[22])),
                            ], b"{\"ok\":true}".to_vec()),
                            "/redirect" => (302, "text/plain", vec![("location", format!("https://alice:{}@app.example/landing", p[23]))], Vec::new()),
                            "/api/me" => (401, "text/html", vec![("www-authenticate", r#"Bearer realm="api", error="invalid_token""#.to_string())],
                                format!("<p>The access token {} has expired.</p>", p[35]).into_bytes()),
                            _ => (200, json, vec![], b"{}".to_vec()),
                        };
                            let mut res = hyper::Response::builder()
                                .status(status)
                                .header("content-type", ct);
                            for (k, v) in extra {
                                res = res.header(k, v);
                            }
                            Ok::<_, std::convert::Infallible>(
                                res.body(Full::new(bytes::Bytes::from(body))).unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Send, and read the answer to its end: a client that drops an answer unread resets the
/// stream, and the proxy rightly records an exchange the client abandoned.
async fn complete(request: reqwest::RequestBuilder) {
    request.send().await.unwrap().bytes().await.unwrap();
}

/// Issue #11 items 12 and 13: a unique value planted in every place a real integration
/// puts a secret (and where an attacker would) reaches no default output.
#[tokio::test(flavor = "multi_thread")]
async fn planted_secrets_in_every_place_reach_no_default_output() {
    let dir = temp_dir("secrets-planted");
    let tls = upstream_tls(&dir);
    let plants = planted();
    let p: Arc<Vec<String>> = Arc::new(plants.iter().map(|(_, v)| v.clone()).collect());
    let addr = hostile_upstream(tls.config.clone(), p.clone()).await;
    let base = format!("https://127.0.0.1:{}", addr.port());
    let har = dir.join("proxy.har");
    let proxy = ProxyProc::start_under(
        &dir,
        &[
            "--upstream-ca",
            tls.ca_pem_path.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
            "--max-body",
            "4KiB",
        ],
        &["env", "RUST_LOG=debug"],
    );
    let http = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = "application/x-www-form-urlencoded";
    complete(http.post(format!("{base}/token-exchange"))
        .header("content-type", form)
        .body(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={}&actor_token={}",
            p[33], p[34]
        ))).await;
    complete(
        http.post(format!("{base}/revoke"))
            .header("content-type", "application/json")
            .body(format!(
                "{{\"token\":\"{}\",\"token_type_hint\":\"refresh_token\"}}",
                p[6]
            )),
    )
    .await;
    for path in [
        "/form_post",
        "/bom",
        "/deep",
        "/big",
        "/latin1",
        "/redirect",
    ] {
        complete(http.get(format!("{base}{path}"))).await;
    }
    complete(http.post(format!("{base}/upload"))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n{}\r\n--XyZ--\r\n",
            p[13]
        ))).await;
    complete(http.get(format!(
        "{base}/api/data?access%5Ftoken={}&id_token_hint={}&api_key={}&apikey={}&key={}&sig={}&SAMLResponse={}&page=2",
        p[26], p[27], p[28], p[29], p[30], p[31], p[32]
    ))
    .header("Ocp-Apim-Subscription-Key", &p[14])
    .header("X-Auth-Token", &p[15])
    .header("X-Amz-Security-Token", &p[16])
    .header("Private-Token", &p[17])
    .header("X-Goog-Api-Key", &p[18])
    .header("X-Vault-Token", &p[19])).await;
    complete(
        http.post(format!("{base}/saml/acs"))
            .header("content-type", form)
            .body(format!("SAMLResponse={}&RelayState=home", p[24])),
    )
    .await;
    complete(http.post(format!("{base}/adfs/services/trust/13/usernamemixed"))
        .header("content-type", "application/soap+xml")
        .body(format!(
            "<s:Envelope><s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>alice</wsse:Username><wsse:Password Type=\"PasswordText\">{}</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header></s:Envelope>",
            p[25]
        ))).await;
    complete(http.get(format!("{base}/api/me")).bearer_auth(&p[35])).await;

    let capture = proxy.capture.clone();
    let (status, console) = proxy.stop();
    assert!(status.success(), "{console:#?}");
    let raw = std::fs::read(&capture).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    for (what, v) in &plants {
        // The capture is the private raw record: it holds them all (the Latin-1 body is
        // stored as base64, so that one is checked in the export below instead).
        if *what != "token JSON with a Latin-1 byte" {
            assert!(raw.contains(v.as_str()), "the capture lacks the {what}");
        }
    }
    let outputs = default_outputs(&dir, &capture, &console, &har);
    let mut leaks = Vec::new();
    let b64 = regex::Regex::new(r#""text":"([A-Za-z0-9+/=]{16,})","encoding":"base64""#).unwrap();
    for (name, text) in &outputs {
        // A base64 body would hide a value from a plain search: decode them too.
        let mut hay = text.clone();
        for cap in b64.captures_iter(text) {
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(&cap[1]) {
                hay.push_str(&String::from_utf8_lossy(&b));
            }
        }
        for (what, v) in &plants {
            if hay.contains(v.as_str()) {
                leaks.push(format!("{what} in {name}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    // Asked for, the export holds them (the search works).
    let clear = dir.join("clear.har");
    let (code, text) = run(&["export", "--no-redact", "--har"], &[&clear, &capture]);
    assert_eq!(code, 0, "{text}");
    let clear_text = std::fs::read_to_string(&clear).unwrap();
    let found = plants
        .iter()
        .filter(|(_, v)| clear_text.contains(v.as_str()))
        .count();
    assert!(
        found >= plants.len() - 3,
        "--no-redact holds {found} of {}",
        plants.len()
    );
}
