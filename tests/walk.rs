//! `oauthscope walk` from a connector definition, against the test authorization server
//! and against `oauthscope serve` with its faults. Sign-in through a loopback redirect is
//! done by a real headless Chromium filling the server's sign-in form (DevTools
//! protocol), or by curl where the sign-in is not the point; the paste flow writes the
//! address to the walk's standard input.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::oauth::{self, AsConfig, CLIENT_ID, CLIENT_SECRET};
use common::*;

const SECRET_VAR: &str = "OAUTHSCOPE_WALK_TEST_SECRET";
/// A browser that follows the redirects (the test server approves at once).
const CURL_BROWSER: &str = "curl -sSkL -o /dev/null";

/// A connector folder (apiProperties.json + apiDefinition.swagger.json) for the server at
/// `base`, whose API is `GET /api/me`.
fn definition(
    dir: &Path,
    base: &str,
    redirect: &str,
    scopes: &[&str],
    refresh_path: &str,
) -> PathBuf {
    let folder = dir.join("connector");
    std::fs::create_dir_all(&folder).unwrap();
    let props = serde_json::json!({"properties": {"connectionParameters": {"token": {
        "type": "oauthSetting",
        "oAuthSettings": {
            "identityProvider": "oauth2",
            "clientId": CLIENT_ID,
            "scopes": scopes,
            "redirectMode": "Global",
            "redirectUrl": redirect,
            "customParameters": {
                "authorizationUrl": {"value": format!("{base}/authorize")},
                "tokenUrl": {"value": format!("{base}/token")},
                "refreshUrl": {"value": format!("{base}{refresh_path}")},
            }
        }
    }}}});
    std::fs::write(
        folder.join("apiProperties.json"),
        serde_json::to_string_pretty(&props).unwrap(),
    )
    .unwrap();
    let host = base.trim_start_matches("https://");
    let swagger = serde_json::json!({
        "swagger": "2.0", "info": {"title": "walk test", "version": "1"},
        "host": host, "basePath": "/api", "schemes": ["https"],
        "paths": {
            "/items/{id}": {"get": {"operationId": "GetItem", "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}], "responses": {"200": {"description": "ok"}}}},
            "/me": {"get": {"operationId": "Me", "responses": {"200": {"description": "ok"}}}},
        },
        "securityDefinitions": {"oauth2": {"type": "oauth2", "flow": "accessCode",
            "authorizationUrl": format!("{base}/authorize"), "tokenUrl": format!("{base}/token"), "scopes": {}}},
    });
    std::fs::write(
        folder.join("apiDefinition.swagger.json"),
        serde_json::to_string_pretty(&swagger).unwrap(),
    )
    .unwrap();
    folder
}

/// The definition of a healthy connector for the server at `base`: a loopback redirect,
/// `read offline_access`, refresh at the token URL.
fn healthy_definition(dir: &Path, base: &str) -> PathBuf {
    definition(
        dir,
        base,
        &loopback_redirect(),
        &["read", "offline_access"],
        "/token",
    )
}

fn loopback_redirect() -> String {
    format!("http://127.0.0.1:{}/callback", free_port())
}

/// A running `oauthscope walk`; stderr is collected line by line.
struct WalkProc {
    child: std::process::Child,
    err: Arc<Mutex<Vec<String>>>,
    out: std::thread::JoinHandle<String>,
}

impl WalkProc {
    fn start(args: &[&str], secret: Option<&str>) -> Self {
        let mut cmd = Command::new(bin());
        cmd.arg("walk")
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match secret {
            Some(s) => cmd.env(SECRET_VAR, s),
            None => cmd.env_remove(SECRET_VAR),
        };
        let mut child = cmd.spawn().unwrap();
        let err = Arc::new(Mutex::new(Vec::new()));
        let e = err.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                e.lock().unwrap().push(line);
            }
        });
        let mut stdout = child.stdout.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
            s
        });
        WalkProc { child, err, out }
    }

    /// The authorize URL the walk printed.
    fn authorize_url(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(u) = self.err.lock().unwrap().iter().find(|l| {
                l.trim_start().starts_with("https://") && l.contains("response_type=code")
            }) {
                return u.trim().to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no authorize URL printed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn paste(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
    }

    /// Wait for the exit: (code, stdout, stderr).
    fn finish(mut self) -> (i32, String, String) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        let out = self.out.join().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let err = self.err.lock().unwrap().join("\n");
        (status.code().unwrap_or(-1), out, err)
    }
}

/// Run a walk to its end with `browser` (loopback sign-in); JSON output parsed.
fn walk_json(
    folder: &Path,
    dir: &Path,
    ca: &Path,
    browser: &str,
    extra: &[&str],
    secret: Option<&str>,
) -> (i32, serde_json::Value, String) {
    let capture = dir.join("walk.jsonl");
    let mut args = vec![
        "--connector",
        folder.to_str().unwrap(),
        "--client-secret-env",
        SECRET_VAR,
        "--upstream-ca",
        ca.to_str().unwrap(),
        "--browser",
        browser,
        "--timeout",
        "60s",
        "--format",
        "json",
        "--out",
        capture.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = WalkProc::start(&args, secret).finish();
    let v = serde_json::from_str(&out).unwrap_or_else(|_| serde_json::json!({"raw": out}));
    (code, v, err)
}

/// `step` → (result, reason).
fn step(v: &serde_json::Value, name: &str) -> (String, String) {
    let s = v["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {v}"))
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {v:#}"));
    (
        s["result"].as_str().unwrap().to_string(),
        s["reason"].as_str().unwrap().to_string(),
    )
}

fn results(v: &serde_json::Value) -> Vec<(String, String)> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_string(),
                s["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_definition_walks_to_all_passed_with_a_real_browser_signing_in() {
    if !have_tool(
        Command::new("chromium").arg("--version").output().is_ok(),
        "chromium",
    ) {
        return;
    }
    let dir = temp_dir("walk-chromium");
    let tls = upstream_tls(&dir);
    let srv = oauth::start(
        AsConfig {
            login_form: true,
            ..AsConfig::default()
        },
        tls.config.clone(),
    )
    .await;
    let folder = healthy_definition(&dir, &srv.base);
    let cdp = free_port();
    let browser = cdp::chromium_command(cdp, &dir.join("chromium-profile"));
    let capture = dir.join("walk.jsonl");
    let har = dir.join("walk.har");
    let walk = WalkProc::start(
        &[
            "--connector",
            folder.to_str().unwrap(),
            "--client-secret-env",
            SECRET_VAR,
            "--upstream-ca",
            tls.ca_pem_path.to_str().unwrap(),
            "--browser",
            &browser,
            "--format",
            "json",
            "--out",
            capture.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
        Some(CLIENT_SECRET),
    );
    // The browser shows the sign-in form; fill it as a user would.
    let mut page = cdp::Session::page(cdp, Duration::from_secs(60)).await;
    page.eval_until(
        "document.querySelector('form input[name=username]') ? 'form' : 'waiting'",
        "form",
        Duration::from_secs(30),
    )
    .await;
    page.eval(
        "(() => { const f = document.forms[0]; f.username.value = 'alice'; \
         f.password.value = 'wonderland'; f.submit(); return 'sent'; })()",
    )
    .await;
    page.eval_until(
        "document.body && document.body.innerText.includes('signed in') ? 'done' : 'waiting'",
        "done",
        Duration::from_secs(30),
    )
    .await;
    cdp::close(cdp).await;
    let (code, out, err) = walk.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        results(&v),
        all(&[
            ("sign-in", "passed"),
            ("1", "passed"),
            ("2", "passed"),
            ("3", "passed"),
            ("4", "passed"),
            ("5", "passed")
        ])
    );
    assert!(step(&v, "sign-in").1.contains("PKCE S256"));
    assert!(step(&v, "2").1.contains("GET https://127.0.0.1"));
    assert!(step(&v, "2").1.contains("/api/me → 200"), "{v:#}");
    assert_eq!(v["analysis"]["summary"]["cause"], serde_json::Value::Null);
    // Every request is in the capture, secrets never on the screen.
    let exchanges = read_capture(&capture);
    assert!(exchanges.len() >= 5, "{}", exchanges.len());
    for s in secrets_in(&capture) {
        assert!(!out.contains(&s) && !err.contains(&s), "{s} printed");
    }
    assert!(!out.contains(CLIENT_SECRET) && !err.contains(CLIENT_SECRET));
    assert!(har.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connectors_own_redirect_uri_is_pasted_back() {
    let dir = temp_dir("walk-paste");
    let tls = upstream_tls(&dir);
    let srv = oauth::start(AsConfig::default(), tls.config.clone()).await;
    let redirect = "https://global.consent.azure-apim.net/redirect/walk-test";
    let folder = definition(
        &dir,
        &srv.base,
        redirect,
        &["read", "offline_access"],
        "/token",
    );
    let capture = dir.join("walk.jsonl");
    let mut walk = WalkProc::start(
        &[
            "--connector",
            folder.to_str().unwrap(),
            "--client-secret-env",
            SECRET_VAR,
            "--upstream-ca",
            tls.ca_pem_path.to_str().unwrap(),
            "--out",
            capture.to_str().unwrap(),
        ],
        Some(CLIENT_SECRET),
    );
    // The user signs in; the browser ends on the consent page's address, code in it.
    let url = walk.authorize_url();
    let http = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&tls.ca_pem_path).unwrap()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(&url).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(redirect), "{location}");
    walk.paste(&location);
    let (code, out, err) = walk.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "sign-in  passed",
        "step 1   passed",
        "step 2   passed",
        "step 3   passed",
        "step 4   passed",
        "step 5   passed",
        "No problems found",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(err.contains("Paste the whole address"), "{err}");
}

/// Start the server with `config`, walk the definition made by `def` with curl as the
/// browser: (exit code, JSON report).
async fn walk_against(
    name: &str,
    config: AsConfig,
    scopes: &[&str],
    refresh_path: &str,
    extra: &[&str],
    secret: &str,
) -> (i32, serde_json::Value, PathBuf) {
    let dir = temp_dir(name);
    let tls = upstream_tls(&dir);
    let srv = oauth::start(config, tls.config.clone()).await;
    let folder = definition(&dir, &srv.base, &loopback_redirect(), scopes, refresh_path);
    let (code, v, err) = walk_json(
        &folder,
        &dir,
        &tls.ca_pem_path,
        CURL_BROWSER,
        extra,
        Some(secret),
    );
    assert!(v.get("steps").is_some(), "{name}: {v}\n{err}");
    (code, v, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_refresh_url_fails_at_step_3() {
    let (code, v, _) = walk_against(
        "walk-refresh-url",
        AsConfig::default(),
        &["read", "offline_access"],
        "/oauth/refresh",
        &[],
        CLIENT_SECRET,
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(
        results(&v),
        all(&[
            ("sign-in", "passed"),
            ("1", "passed"),
            ("2", "passed"),
            ("3", "failed"),
            ("4", "skipped"),
            ("5", "failed")
        ])
    );
    let (_, reason) = step(&v, "3");
    assert!(reason.contains("/oauth/refresh answered 404"), "{reason}");
    assert!(reason.contains("not a token endpoint"), "{reason}");
    assert!(step(&v, "5").1.contains("refresh URL"), "{v:#}");
    assert_eq!(v["analysis"]["summary"]["cause"], "refresh-url-mismatch");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_client_secret_fails_at_step_1_with_both_methods_refused() {
    let (code, v, _) = walk_against(
        "walk-secret",
        AsConfig::default(),
        &["read", "offline_access"],
        "/token",
        &[],
        "not-the-secret",
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(
        results(&v),
        all(&[
            ("sign-in", "passed"),
            ("1", "failed"),
            ("2", "skipped"),
            ("3", "skipped"),
            ("4", "skipped"),
            ("5", "failed")
        ])
    );
    let (_, reason) = step(&v, "1");
    assert!(reason.contains("401 invalid_client"), "{reason}");
    assert!(
        reason.contains("the client id or secret itself is wrong"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_offline_access_fails_at_step_3_and_says_so() {
    let (code, v, _) = walk_against(
        "walk-offline",
        AsConfig {
            refresh_needs_offline_access: true,
            ..AsConfig::default()
        },
        &["read"],
        "/token",
        &[],
        CLIENT_SECRET,
    )
    .await;
    assert_eq!(code, 1);
    let (r, reason) = step(&v, "3");
    assert_eq!(r, "failed");
    assert!(reason.contains("carried no refresh token"), "{reason}");
    assert!(reason.contains("add offline_access"), "{reason}");
    assert_eq!(step(&v, "2").0, "passed");
    assert_eq!(v["analysis"]["summary"]["cause"], "refresh-token-absent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_client_auth_method_is_named_with_the_one_that_works() {
    let (code, v, _) = walk_against(
        "walk-auth-method",
        AsConfig {
            client_auth_only: Some("basic"),
            ..AsConfig::default()
        },
        &["read", "offline_access"],
        "/token",
        &[],
        CLIENT_SECRET,
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(
        results(&v),
        all(&[
            ("sign-in", "passed"),
            ("1", "failed"),
            ("2", "passed"),
            ("3", "passed"),
            ("4", "passed"),
            ("5", "failed")
        ])
    );
    let (_, reason) = step(&v, "1");
    assert!(reason.contains("refused client_secret_post"), "{reason}");
    assert!(
        reason.contains("in the Authorization header (Basic)"),
        "{reason}"
    );
    let (_, reason) = step(&v, "5");
    assert!(
        reason.contains(
            "client authentication: the definition has client_secret_post, client_secret_basic worked"
        ),
        "{reason}"
    );
    // Asked for, the method the server wants walks clean.
    let (code, v, _) = walk_against(
        "walk-auth-method-basic",
        AsConfig {
            client_auth_only: Some("basic"),
            ..AsConfig::default()
        },
        &["read", "offline_access"],
        "/token",
        &["--client-auth", "basic"],
        CLIENT_SECRET,
    )
    .await;
    assert_eq!(code, 0, "{v:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_expiry_reproduces_the_failure_after_the_token_lifetime() {
    let (code, v, _) = walk_against(
        "walk-expiry",
        AsConfig {
            expires_in: Some(2),
            ..AsConfig::default()
        },
        &["read", "offline_access"],
        "/token",
        &["--wait-expiry", "--max-wait", "30s"],
        CLIENT_SECRET,
    )
    .await;
    assert_eq!(code, 0, "{v:#}");
    let (r, reason) = step(&v, "expiry");
    assert_eq!(r, "passed");
    assert!(
        reason.contains("after 2 s the first access token fails as the connector's would"),
        "{reason}"
    );
    assert!(reason.contains("→ 401"), "{reason}");
    // The refresh and the new token recover; the order is the connector's.
    let order: Vec<String> = results(&v).into_iter().map(|(s, _)| s).collect();
    assert_eq!(order, ["sign-in", "1", "2", "expiry", "3", "4", "5"]);
    assert_eq!(step(&v, "3").0, "passed");
    assert_eq!(step(&v, "4").0, "passed");
    assert_eq!(v["expired_on_purpose"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_faults_show_at_the_right_step() {
    let dir = temp_dir("walk-serve");
    let ca_dir = dir.join("certs");
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/good-flow.jsonl");
    for (faults, expect3, text) in [
        (
            vec!["--no-refresh-token"],
            "failed",
            "carried no refresh token",
        ),
        (
            vec!["--rotate-refresh-tokens"],
            "passed",
            "a new refresh token (rotation: keep the newest)",
        ),
    ] {
        let (mut child, base) = start_serve(&sample, &ca_dir, &faults);
        let sub = dir.join(faults[0].trim_start_matches('-'));
        std::fs::create_dir_all(&sub).unwrap();
        let folder = healthy_definition(&sub, &base);
        let (code, v, err) = walk_json(
            &folder,
            &sub,
            &ca_dir.join("ca.pem"),
            CURL_BROWSER,
            &[],
            Some(CLIENT_SECRET),
        );
        let _ = child.kill();
        let _ = child.wait();
        assert!(v.get("steps").is_some(), "{faults:?}: {v}\n{err}");
        let (r, reason) = step(&v, "3");
        assert_eq!(r, expect3, "{faults:?}: {reason}");
        assert!(reason.contains(text), "{faults:?}: {reason}");
        assert_eq!(code, if expect3 == "failed" { 1 } else { 0 }, "{v:#}");
        assert_eq!(step(&v, "1").0, "passed", "{v:#}");
        assert_eq!(step(&v, "2").0, "passed", "{v:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_expire_after_is_met_by_wait_expiry() {
    // A recording whose tokens live 2 s, served back with tokens that die after 1 s.
    let dir = temp_dir("walk-serve-expiry");
    let ca_dir = dir.join("certs");
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/refresh-404.jsonl");
    let (mut child, base) = start_serve(&sample, &ca_dir, &["--expire-after", "1s"]);
    let folder = healthy_definition(&dir, &base);
    let (code, v, err) = walk_json(
        &folder,
        &dir,
        &ca_dir.join("ca.pem"),
        CURL_BROWSER,
        &["--wait-expiry", "--max-wait", "30s"],
        Some(CLIENT_SECRET),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(v.get("steps").is_some(), "{v}\n{err}");
    let (r, reason) = step(&v, "expiry");
    assert!(reason.contains("the first access token fails"), "{reason}");
    assert!(reason.contains("→ 401"), "{reason}");
    assert_eq!(r, "passed", "{reason}");
    assert_eq!(code, 0, "{v:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_stops_the_walk_naming_the_step_and_keeps_the_capture() {
    let dir = temp_dir("walk-bad");
    let tls = upstream_tls(&dir);
    let ca = tls.ca_pem_path.to_str().unwrap().to_string();
    // A definition that does not use OAuth.
    let plain = dir.join("apiProperties.json");
    std::fs::write(
        &plain,
        r#"{"properties": {"connectionParameters": {"api_key": {"type": "securestring"}}}}"#,
    )
    .unwrap();
    let (code, _, err) = WalkProc::start(&["--connector", plain.to_str().unwrap()], None).finish();
    assert_eq!(code, 2);
    assert!(err.contains("does not use OAuth"), "{err}");

    let srv = oauth::start(AsConfig::default(), tls.config.clone()).await;
    let redirect = loopback_redirect();
    let folder = definition(&dir, &srv.base, &redirect, &["read"], "/token");
    let f = folder.to_str().unwrap();
    // The secret's variable is not set.
    let (code, _, err) =
        WalkProc::start(&["--connector", f, "--client-secret-env", SECRET_VAR], None).finish();
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{SECRET_VAR} (--client-secret-env) is not set")),
        "{err}"
    );

    // The redirect never comes.
    let capture = dir.join("timeout.jsonl");
    let args = [
        "--connector",
        f,
        "--client-secret-env",
        SECRET_VAR,
        "--upstream-ca",
        &ca,
        "--browser",
        "true",
        "--timeout",
        "1s",
        "--out",
        capture.to_str().unwrap(),
    ];
    let (code, _, err) = WalkProc::start(&args, Some(CLIENT_SECRET)).finish();
    assert_eq!(code, 2);
    assert!(err.contains("sign-in: no redirect came back"), "{err}");
    assert!(err.contains("What to do:"), "{err}");
    assert!(err.contains("the capture of what happened is in"), "{err}");
    assert!(
        !read_capture(&capture).is_empty(),
        "the metadata requests are kept"
    );

    // A pasted address without a code, then one with a foreign state.
    let pasted = dir.join("pasted");
    std::fs::create_dir_all(&pasted).unwrap();
    let consent = definition(
        &pasted,
        &srv.base,
        "https://global.consent.azure-apim.net/redirect/x",
        &["read"],
        "/token",
    );
    for (line, expected) in [
        (
            "https://global.consent.azure-apim.net/redirect/x?error_hint=none".to_string(),
            "no authorization code",
        ),
        (
            "https://global.consent.azure-apim.net/redirect/x?code=abc&state=someone-else"
                .to_string(),
            "another state",
        ),
    ] {
        let mut w = WalkProc::start(
            &[
                "--connector",
                consent.to_str().unwrap(),
                "--client-secret-env",
                SECRET_VAR,
                "--upstream-ca",
                &ca,
            ],
            Some(CLIENT_SECRET),
        );
        let _ = w.authorize_url();
        w.paste(&line);
        let (code, _, err) = w.finish();
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "{expected}: {err}");
    }

    // A token endpoint that answers HTML (the server's sign-in page).
    let html_srv = oauth::start(
        AsConfig {
            login_form: true,
            ..AsConfig::default()
        },
        tls.config.clone(),
    )
    .await;
    let html_dir = dir.join("html");
    std::fs::create_dir_all(&html_dir).unwrap();
    let html_folder = definition(
        &html_dir,
        &srv.base,
        &loopback_redirect(),
        &["read"],
        "/token",
    );
    let capture = html_dir.join("walk.jsonl");
    let token_url = html_srv.url("/authorize");
    let args = [
        "--connector",
        html_folder.to_str().unwrap(),
        "--client-secret-env",
        SECRET_VAR,
        "--upstream-ca",
        &ca,
        "--browser",
        CURL_BROWSER,
        "--token-url",
        &token_url,
        "--out",
        capture.to_str().unwrap(),
    ];
    let (code, _, err) = WalkProc::start(&args, Some(CLIENT_SECRET)).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("step 1 (code exchange)"), "{err}");
    assert!(err.contains("text/html"), "{err}");
    assert!(err.contains("not a token endpoint"), "{err}");
    let recorded = read_capture(&capture);
    assert!(
        recorded.iter().any(|e| e.request.url == token_url),
        "the HTML answer is in the capture"
    );
}

/// RFC 8705: with `--client-identity` the walk offers its client certificate; the
/// server binds the tokens to it, the API takes them over the same certificate, and
/// every exchange of the walk records the certificate. Without it the tokens come
/// unbound and no exchange claims a certificate.
#[tokio::test(flavor = "multi_thread")]
async fn the_walk_presents_the_client_certificate_it_is_given() {
    let dir = temp_dir("walk-mtls");
    let (srv, tls, id) = mtls_server(&dir).await;
    let folder = healthy_definition(&dir, &srv.base);
    let pem = id.pem_path.display().to_string();
    let bound_tokens = |capture: &Path| -> Vec<Option<String>> {
        read_capture(capture)
            .iter()
            .filter_map(|e| {
                let body = e.response.as_ref()?.body.as_text()?.to_string();
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                let at = v["access_token"].as_str()?.to_string();
                Some(oauthscope::oauth::parse::decode_jwt(&at).and_then(|j| j.cnf("x5t#S256")))
            })
            .collect()
    };

    let (code, v, err) = walk_json(
        &folder,
        &dir,
        &tls.ca_pem_path,
        CURL_BROWSER,
        &["--client-identity", &pem],
        Some(CLIENT_SECRET),
    );
    assert_eq!(code, 0, "{v:#}\n{err}");
    assert!(
        results(&v).iter().all(|(_, r)| r == "passed"),
        "{v:#}\n{err}"
    );
    let capture = dir.join("walk.jsonl");
    let exchanges = read_capture(&capture);
    assert!(exchanges.len() >= 4, "{exchanges:#?}");
    for e in &exchanges {
        assert_eq!(e.client, "oauthscope walk");
        let c = e.client_cert.as_ref().expect("the certificate is recorded");
        assert_eq!(c.sha256, id.x5t);
        assert!(c.forwarded);
    }
    let tokens = bound_tokens(&capture);
    // The sign-in's tokens and the refreshed ones, each bound to the certificate.
    assert!(tokens.len() >= 2, "{tokens:?}");
    assert!(
        tokens.iter().all(|t| t.as_deref() == Some(id.x5t.as_str())),
        "{tokens:?}"
    );

    let (code, v, err) = walk_json(
        &folder,
        &dir,
        &tls.ca_pem_path,
        CURL_BROWSER,
        &[],
        Some(CLIENT_SECRET),
    );
    assert_eq!(code, 0, "{v:#}\n{err}");
    assert!(
        read_capture(&capture)
            .iter()
            .all(|e| e.client_cert.is_none())
    );
    let tokens = bound_tokens(&capture);
    assert!(
        !tokens.is_empty() && tokens.iter().all(Option::is_none),
        "{tokens:?}"
    );
}
