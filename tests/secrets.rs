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
    let mut outputs: Vec<(String, String)> = vec![
        ("proxy console and logs".into(), console.join("\n")),
        ("proxy --har".into(), std::fs::read_to_string(&har).unwrap()),
    ];
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "json"],
        &["analyze", "--format", "markdown"],
        &["analyze", "--format", "html"],
        &["timeline"],
        &["timeline", "--format", "json"],
    ] {
        let (code, text) = run(args, &[&capture]);
        assert!(code == 0 || code == 1, "{args:?}: {text}");
        outputs.push((args.join(" "), text));
    }
    let export = dir.join("export.har");
    let (code, text) = run(&["export", "--har"], &[&export, &capture]);
    assert_eq!(code, 0, "{text}");
    outputs.push(("export (its output)".into(), text));
    outputs.push((
        "export --har".into(),
        std::fs::read_to_string(&export).unwrap(),
    ));
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
