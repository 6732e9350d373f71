//! Samples: each scenario stages one misconfiguration in the test authorization server,
//! drives a real OAuth client (the `oauth2` crate, or reqwest where the point is a client
//! doing it wrong) through the real proxy, and records the capture.
//!
//! `samples/<name>.jsonl` is such a recording and `samples/<name>.expected.json` the exact
//! findings it must yield. One test analyzes every sample file; another records every
//! scenario afresh and requires the same findings. Regenerate the samples with
//! `OAUTHSCOPE_REGEN_SAMPLES=1 cargo test --release --test samples` (then review the diff).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::oauth::{self, AsConfig, AuthServer, CLIENT_ID, CLIENT_SECRET};
use common::*;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};

type Oauth = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct Flow {
    http: reqwest::Client,
    srv: AuthServer,
}

impl Flow {
    fn oauth_at(&self, token_path: &str) -> Oauth {
        BasicClient::new(ClientId::new(CLIENT_ID.into()))
            .set_client_secret(ClientSecret::new(CLIENT_SECRET.into()))
            .set_auth_uri(AuthUrl::new(self.srv.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(self.srv.url(token_path)).unwrap())
            .set_redirect_uri(RedirectUrl::new(self.srv.url("/callback")).unwrap())
    }

    fn oauth(&self) -> Oauth {
        self.oauth_at("/token")
    }

    /// Play the browser: open the authorize URL, follow the redirect to the callback.
    async fn browser(&self, url: &str) -> Option<String> {
        let r = self.http.get(url).send().await.unwrap();
        let loc = r.headers().get("location")?.to_str().ok()?.to_string();
        let _ = self.http.get(&loc).send().await.unwrap().bytes().await;
        oauthscope::oauth::parse::query_params(&loc)
            .get("code")
            .map(str::to_string)
    }

    /// Sign in with PKCE, state and the given scopes; returns (access, refresh) tokens.
    async fn sign_in(&self, scopes: &[&str]) -> (String, Option<String>) {
        let client = self.oauth();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge);
        for s in scopes {
            req = req.add_scope(Scope::new(s.to_string()));
        }
        let (url, _state) = req.url();
        let code = self.browser(url.as_str()).await.expect("code");
        let tok = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .expect("code exchange");
        (
            tok.access_token().secret().clone(),
            tok.refresh_token().map(|r| r.secret().clone()),
        )
    }

    async fn refresh(&self, rt: &str) -> Result<(String, Option<String>), String> {
        self.oauth()
            .exchange_refresh_token(&RefreshToken::new(rt.to_string()))
            .request_async(&self.http)
            .await
            .map(|t| {
                (
                    t.access_token().secret().clone(),
                    t.refresh_token().map(|r| r.secret().clone()),
                )
            })
            .map_err(|e| format!("{e:?}"))
    }

    /// Call the API with this Authorization header value (or none); returns the status.
    async fn api(&self, authorization: Option<&str>) -> u16 {
        let mut r = self.http.get(self.srv.url("/api/me"));
        if let Some(a) = authorization {
            r = r.header("authorization", a);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        let _ = res.bytes().await;
        s
    }

    /// A hand-made token request (for clients that get it wrong).
    async fn raw_token(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> serde_json::Value {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let mut r = self
            .http
            .post(self.srv.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body.join("&"));
        if let Some((u, p)) = basic {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            r = r.header("authorization", format!("Basic {raw}"));
        }
        let res = r.send().await.unwrap();
        let text = res.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    /// Authorize by hand (no PKCE, optional state) and return the code.
    async fn raw_authorize(&self, extra: &str) -> String {
        let url = format!(
            "{}?response_type=code&client_id={CLIENT_ID}&redirect_uri={}{extra}",
            self.srv.url("/authorize"),
            urlencode(&self.srv.url("/callback"))
        );
        self.browser(&url).await.expect("code")
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One staged misconfiguration.
struct Scenario {
    name: &'static str,
    about: &'static str,
    config: AsConfig,
    /// The root cause the verdict must name (`summary.cause`; `None` when none is found).
    cause: Option<&'static str>,
    /// Rules the staged problem must produce (the expected file may hold more).
    must: &'static [&'static str],
}

/// The scenario called `name`.
fn scenario(name: &str) -> Scenario {
    scenarios().into_iter().find(|s| s.name == name).unwrap()
}

fn scenarios() -> Vec<Scenario> {
    let d = AsConfig::default;
    vec![
        Scenario {
            name: "good-flow",
            about: "PKCE, state, offline_access, refresh before expiry, rotation honored",
            config: AsConfig {
                rotate_refresh: true,
                ..d()
            },
            cause: None,
            must: &[],
        },
        Scenario {
            name: "no-refresh-token",
            about: "no refresh token issued; the 2 s access token expires and the API refuses it",
            config: AsConfig {
                issue_refresh: false,
                expires_in: Some(2),
                ..d()
            },
            cause: Some("refresh-token-absent"),
            must: &[
                "refresh-token-absent",
                "offline-access-missing",
                "token-expired-used",
                "fails-after-interval",
                "api-rejected",
            ],
        },
        Scenario {
            name: "bearer-header",
            about: "token sent as `Token x`, then not at all, then in the query string",
            config: d(),
            cause: Some("bearer-scheme"),
            must: &["bearer-scheme", "bearer-missing", "token-in-url"],
        },
        Scenario {
            name: "refresh-mismatch",
            about: "refresh sent to another URL, with the client secret in the body instead of Basic, and a wrong one",
            config: d(),
            cause: Some("client-secret-mismatch"),
            must: &[
                "refresh-url-mismatch",
                "client-secret-mismatch",
                "client-auth-method-mismatch",
                "token-error",
            ],
        },
        Scenario {
            name: "rotation-ignored",
            about: "the server rotates refresh tokens; the client reuses the first one",
            config: AsConfig {
                rotate_refresh: true,
                ..d()
            },
            cause: Some("refresh-rotation-ignored"),
            must: &["refresh-rotation-ignored", "token-error"],
        },
        Scenario {
            name: "stale-token",
            about: "after a refresh the client keeps calling the API with the old access token",
            config: d(),
            cause: Some("stale-token-used"),
            must: &["stale-token-used", "api-rejected"],
        },
        Scenario {
            name: "github-form",
            about: "form-encoded token response (GitHub style), no expires_in",
            config: AsConfig {
                form_response: true,
                expires_in: None,
                ..d()
            },
            cause: Some("token-response-format"),
            must: &["token-response-format"],
        },
        Scenario {
            name: "client-credentials",
            about: "client credentials grant instead of authorization code",
            config: d(),
            cause: Some("grant-unsupported"),
            must: &["grant-unsupported"],
        },
        Scenario {
            name: "no-pkce-no-state",
            about: "authorize request without PKCE and without state",
            config: d(),
            cause: Some("state-missing"),
            must: &["pkce-missing", "state-missing"],
        },
        Scenario {
            name: "redirect-mismatch",
            about: "code exchanged with a different redirect_uri",
            config: d(),
            cause: Some("redirect-uri-mismatch"),
            must: &["redirect-uri-mismatch", "token-error"],
        },
        Scenario {
            name: "code-reused",
            about: "the same authorization code exchanged twice",
            config: d(),
            cause: Some("code-reused"),
            must: &["code-reused", "token-error"],
        },
        Scenario {
            name: "refresh-race",
            about: "two refreshes with one rotating refresh token at once",
            config: AsConfig {
                rotate_refresh: true,
                // Both refreshes are in flight together even on a loaded machine.
                token_delay_ms: 300,
                ..d()
            },
            cause: Some("refresh-race"),
            must: &["refresh-race", "token-error"],
        },
        Scenario {
            name: "cacheable-string-expiry",
            about: "token response without no-store, expires_in as a string",
            config: AsConfig {
                no_store: false,
                expires_in_as_string: true,
                ..d()
            },
            cause: Some("token-response-format"),
            must: &["token-response-format", "token-response-cacheable"],
        },
        Scenario {
            name: "revoked-token",
            about: "access token used after the client revoked it",
            config: d(),
            cause: Some("revoked-token-used"),
            must: &["revoked-token-used", "api-rejected"],
        },
        Scenario {
            name: "client-id-mismatch",
            about: "refresh with another client's id and secret",
            config: d(),
            cause: Some("client-id-mismatch"),
            must: &[
                "client-id-mismatch",
                "client-secret-mismatch",
                "token-error",
            ],
        },
        Scenario {
            name: "token-url-mismatch",
            about: "discovery names /token; the client uses /oauth2/token",
            config: d(),
            cause: Some("token-url-mismatch"),
            must: &["token-url-mismatch"],
        },
        Scenario {
            name: "basic-not-encoded",
            about: "client secret with reserved characters sent in Basic without form-encoding",
            config: d(),
            cause: Some("basic-not-form-encoded"),
            must: &["basic-not-form-encoded", "token-error"],
        },
        Scenario {
            name: "scope-widened",
            about: "refresh asks for a scope the sign-in did not have",
            config: d(),
            cause: Some("scope-change"),
            must: &["scope-change", "token-error"],
        },
        Scenario {
            name: "jwt-audience-skew",
            about: "JWT access token for another audience; server clock 10 minutes ahead",
            config: AsConfig {
                jwt_audience: Some("https://other-api.example".into()),
                date_offset: 600,
                ..d()
            },
            cause: Some("jwt-claims"),
            must: &["jwt-claims", "clock-skew"],
        },
        Scenario {
            name: "secret-in-url",
            about: "client secret sent in the token URL's query string",
            config: d(),
            cause: Some("secret-in-url"),
            must: &["secret-in-url"],
        },
        Scenario {
            name: "metadata-mismatch",
            about: "discovery lists only S256; the client uses PKCE `plain`",
            config: d(),
            cause: Some("pkce-missing"),
            must: &["metadata-mismatch", "pkce-missing"],
        },
        Scenario {
            name: "no-bearer",
            about: "API called with no credentials (401 with a Bearer challenge), then with the token in X-Access-Token, then with `Authorization: Bearer` and no token",
            config: AsConfig {
                challenge_error: true,
                ..d()
            },
            cause: Some("bearer-missing"),
            must: &["bearer-missing"],
        },
        Scenario {
            name: "state-mismatch",
            about: "the redirect back carries another state than the authorize request sent; the client exchanges the code anyway",
            config: AsConfig {
                tamper_state: true,
                ..d()
            },
            cause: Some("state-missing"),
            must: &["state-missing"],
        },
        Scenario {
            name: "http-token-endpoint",
            about: "the HTTPS discovery document names a plain-HTTP token endpoint; the client sends Basic credentials there",
            config: AsConfig {
                plain_token_endpoint: true,
                ..d()
            },
            cause: Some("plain-http"),
            must: &["plain-http"],
        },
        Scenario {
            name: "salesforce-expiry",
            about: "Salesforce-style token response (issued_at, instance_url, no expires_in); the session ends after 2 s, the API answers 401 and the client never refreshes",
            config: AsConfig {
                salesforce_session: Some(2),
                ..d()
            },
            cause: Some("token-expired-used"),
            must: &["token-expired-used", "api-rejected"],
        },
        Scenario {
            name: "refresh-404",
            about: "the refresh goes to /other/token, which answers 404; the 2 s access token then expires and the API refuses it",
            config: AsConfig {
                expires_in: Some(2),
                ..d()
            },
            cause: Some("refresh-url-mismatch"),
            must: &[
                "refresh-url-mismatch",
                "token-error",
                "fails-after-interval",
            ],
        },
        Scenario {
            name: "pkce-mismatch",
            about: "the code exchange sends a PKCE verifier that does not match the challenge",
            config: d(),
            cause: Some("pkce-missing"),
            must: &["pkce-missing", "token-error"],
        },
        Scenario {
            name: "aadsts-secret",
            about: "Microsoft-style invalid_client (AADSTS7000215 with error_codes) for a wrong client secret",
            config: AsConfig {
                aad_errors: true,
                ..d()
            },
            cause: None,
            must: &["token-error"],
        },
        Scenario {
            name: "implicit-grant",
            about: "implicit grant (response_type=token)",
            config: d(),
            cause: Some("grant-unsupported"),
            must: &["grant-unsupported"],
        },
    ]
}

async fn play(name: &str, f: &Flow) {
    let srv = &f.srv;
    match name {
        "good-flow" => {
            let _ = f
                .http
                .get(srv.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await;
            let (at, rt) = f.sign_in(&["read", "offline_access"]).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            let (at2, rt2) = f.refresh(&rt.unwrap()).await.unwrap();
            assert_eq!(f.api(Some(&format!("Bearer {at2}"))).await, 200);
            let (at3, _) = f.refresh(&rt2.unwrap()).await.unwrap();
            assert_eq!(f.api(Some(&format!("Bearer {at3}"))).await, 200);
        }
        "no-refresh-token" => {
            let (at, rt) = f.sign_in(&["read"]).await;
            assert!(rt.is_none());
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            tokio::time::sleep(Duration::from_millis(2600)).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
        }
        "bearer-header" => {
            let (at, _) = f.sign_in(&["read", "offline_access"]).await;
            assert_eq!(f.api(Some(&format!("Token {at}"))).await, 401);
            assert_eq!(f.api(None).await, 401);
            let r = f
                .http
                .get(format!("{}?access_token={at}", srv.url("/api/me")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        "refresh-mismatch" => {
            let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
            let v = f
                .raw_token(
                    "/token/refresh",
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt.unwrap()),
                        ("client_id", CLIENT_ID),
                        ("client_secret", "old-secret"),
                    ],
                    None,
                )
                .await;
            assert_eq!(v["error"], "invalid_client");
        }
        "rotation-ignored" => {
            let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
            let rt = rt.unwrap();
            let (_, rt2) = f.refresh(&rt).await.unwrap();
            assert!(rt2.is_some());
            assert!(f.refresh(&rt).await.is_err(), "old refresh token refused");
        }
        "stale-token" => {
            let (at, rt) = f.sign_in(&["read", "offline_access"]).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            f.refresh(&rt.unwrap()).await.unwrap();
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
        }
        "github-form" => {
            let code = f.raw_authorize("&state=s1").await;
            let r = f
                .http
                .post(srv.url("/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=authorization_code&code={code}&redirect_uri={}&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}",
                    urlencode(&srv.url("/callback"))
                ))
                .send()
                .await
                .unwrap();
            assert!(r.text().await.unwrap().starts_with("access_token="));
        }
        "client-credentials" => {
            let v = f
                .raw_token(
                    "/token",
                    &[("grant_type", "client_credentials")],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            let at = v["access_token"].as_str().unwrap();
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
        }
        "no-pkce-no-state" => {
            let code = f.raw_authorize("&scope=read%20offline_access").await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &srv.url("/callback")),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            assert!(v["access_token"].is_string());
        }
        "redirect-mismatch" => {
            let code = f.raw_authorize("&state=xyz&scope=read%20offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256").await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &srv.url("/callback/")),
                        (
                            "code_verifier",
                            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                        ),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            assert_eq!(v["error"], "invalid_grant");
        }
        "code-reused" => {
            let code = f.raw_authorize("&state=xyz&scope=read%20offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256").await;
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", &srv.url("/callback")),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                ),
            ];
            let first = f
                .raw_token("/token", &form, Some((CLIENT_ID, CLIENT_SECRET)))
                .await;
            assert!(first["access_token"].is_string());
            let again = f
                .raw_token("/token", &form, Some((CLIENT_ID, CLIENT_SECRET)))
                .await;
            assert_eq!(again["error"], "invalid_grant");
        }
        "refresh-race" => {
            let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
            let rt = rt.unwrap();
            let (a, b) = tokio::join!(f.refresh(&rt), f.refresh(&rt));
            assert!(a.is_ok() != b.is_ok(), "exactly one refresh wins");
        }
        "cacheable-string-expiry" => {
            // The oauth2 crate itself rejects `"expires_in": "3600"`: that is the point.
            let client = f.oauth();
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _) = client
                .authorize_url(CsrfToken::new_random)
                .add_scope(Scope::new("offline_access".into()))
                .set_pkce_challenge(challenge)
                .url();
            let code = f.browser(url.as_str()).await.unwrap();
            let err = client
                .exchange_code(AuthorizationCode::new(code))
                .set_pkce_verifier(verifier)
                .request_async(&f.http)
                .await;
            assert!(format!("{err:?}").contains("expires_in"), "{err:?}");
        }
        "revoked-token" => {
            let (at, _) = f.sign_in(&["read", "offline_access"]).await;
            let r = f
                .http
                .post(srv.url("/revoke"))
                .header("content-type", "application/x-www-form-urlencoded")
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .body(format!("token={at}&token_type_hint=access_token"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
        }
        "client-id-mismatch" => {
            let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt.unwrap()),
                    ],
                    Some((oauth::OTHER_CLIENT_ID, oauth::OTHER_CLIENT_SECRET)),
                )
                .await;
            assert_eq!(v["error"], "invalid_grant");
        }
        "token-url-mismatch" => {
            let _ = f
                .http
                .get(srv.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await;
            let client = f.oauth_at("/oauth2/token");
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _) = client
                .authorize_url(CsrfToken::new_random)
                .add_scope(Scope::new("offline_access".into()))
                .set_pkce_challenge(challenge)
                .url();
            let code = f.browser(url.as_str()).await.unwrap();
            client
                .exchange_code(AuthorizationCode::new(code))
                .set_pkce_verifier(verifier)
                .request_async(&f.http)
                .await
                .unwrap();
        }
        "basic-not-encoded" => {
            let url = format!(
                "{}?response_type=code&client_id={}&redirect_uri={}&state=s&scope=offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
                srv.url("/authorize"),
                oauth::ODD_CLIENT_ID,
                urlencode(&srv.url("/callback"))
            );
            let code = f.browser(&url).await.unwrap();
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &srv.url("/callback")),
                        (
                            "code_verifier",
                            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                        ),
                    ],
                    Some((oauth::ODD_CLIENT_ID, oauth::ODD_CLIENT_SECRET)),
                )
                .await;
            assert_eq!(v["error"], "invalid_client");
        }
        "scope-widened" => {
            let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt.unwrap()),
                        ("scope", "read admin"),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            assert_eq!(v["error"], "invalid_scope");
        }
        "jwt-audience-skew" => {
            let (at, _) = f.sign_in(&["read", "offline_access"]).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
        }
        "secret-in-url" => {
            let code = f.raw_authorize("&state=q&scope=offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256").await;
            let url = format!(
                "{}?client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}",
                srv.url("/token")
            );
            let r = f
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                    urlencode(&srv.url("/callback"))
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        "metadata-mismatch" => {
            let _ = f
                .http
                .get(srv.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await;
            let verifier = "plain-verifier-0123456789012345678901234567890";
            let code = f
                .raw_authorize(&format!("&state=m&scope=offline_access&code_challenge={verifier}&code_challenge_method=plain"))
                .await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &srv.url("/callback")),
                        ("code_verifier", verifier),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            assert!(v["access_token"].is_string(), "{v}");
        }
        "implicit-grant" => {
            let url = format!(
                "{}?response_type=token&client_id={CLIENT_ID}&redirect_uri={}&state=abc",
                srv.url("/authorize"),
                urlencode(&srv.url("/callback"))
            );
            let r = f.http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 302);
        }
        "no-bearer" => {
            assert_eq!(f.api(None).await, 401);
            let (at, _) = f.sign_in(&["read", "offline_access"]).await;
            let r = f
                .http
                .get(srv.url("/api/me"))
                .header("x-access-token", &at)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
            let _ = r.bytes().await;
            // `Bearer` and nothing after it (a field value's trailing space is not part of
            // it: RFC 9110 §5.5, and HTTP/2 stacks refuse to send one).
            assert_eq!(f.api(Some("Bearer")).await, 401);
        }
        "state-mismatch" => {
            let code = f.raw_authorize("&state=sent-by-client").await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &srv.url("/callback")),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            assert!(v["access_token"].is_string(), "{v}");
        }
        "http-token-endpoint" => {
            let meta: serde_json::Value = f
                .http
                .get(srv.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token_url = meta["token_endpoint"].as_str().unwrap().to_string();
            assert!(token_url.starts_with("http://"), "{token_url}");
            let client = BasicClient::new(ClientId::new(CLIENT_ID.into()))
                .set_client_secret(ClientSecret::new(CLIENT_SECRET.into()))
                .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
                .set_token_uri(TokenUrl::new(token_url).unwrap())
                .set_redirect_uri(RedirectUrl::new(srv.url("/callback")).unwrap());
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _) = client
                .authorize_url(CsrfToken::new_random)
                .set_pkce_challenge(challenge)
                .add_scope(Scope::new("offline_access".into()))
                .url();
            let code = f.browser(url.as_str()).await.expect("code");
            client
                .exchange_code(AuthorizationCode::new(code))
                .set_pkce_verifier(verifier)
                .request_async(&f.http)
                .await
                .expect("code exchange over http");
        }
        "salesforce-expiry" => {
            let (at, rt) = f.sign_in(&["api", "refresh_token"]).await;
            assert!(rt.is_some());
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            tokio::time::sleep(Duration::from_millis(2600)).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
        }
        "refresh-404" => {
            let (at, rt) = f.sign_in(&["read", "offline_access"]).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            let refused = f
                .oauth_at("/other/token")
                .exchange_refresh_token(&RefreshToken::new(rt.unwrap()))
                .request_async(&f.http)
                .await;
            assert!(refused.is_err());
            tokio::time::sleep(Duration::from_millis(2600)).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
        }
        "pkce-mismatch" => {
            let client = f.oauth();
            let (challenge, _) = PkceCodeChallenge::new_random_sha256();
            let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _) = client
                .authorize_url(CsrfToken::new_random)
                .set_pkce_challenge(challenge)
                .add_scope(Scope::new("offline_access".into()))
                .url();
            let code = f.browser(url.as_str()).await.expect("code");
            let refused = client
                .exchange_code(AuthorizationCode::new(code))
                .set_pkce_verifier(other_verifier)
                .request_async(&f.http)
                .await;
            assert!(refused.is_err());
        }
        "aadsts-secret" => {
            let code = f.raw_authorize("&state=s1").await;
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &srv.url("/callback")),
                    ],
                    Some((CLIENT_ID, "the-secret-id-not-its-value")),
                )
                .await;
            assert_eq!(v["error"], "invalid_client");
        }
        other => panic!("no script for scenario {other}"),
    }
}

/// Record one scenario through the proxy; returns the capture's path and the console.
async fn record(s: &Scenario, dir: &Path) -> (PathBuf, Vec<String>) {
    record_with(s, dir, |_| vec!["--quiet".into()]).await
}

/// Record a scenario with extra proxy flags, which may depend on the server's URL.
async fn record_with(
    s: &Scenario,
    dir: &Path,
    extra: impl FnOnce(&AuthServer) -> Vec<String>,
) -> (PathBuf, Vec<String>) {
    let tls = upstream_tls(dir);
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let mut args = vec![
        "--upstream-ca".to_string(),
        tls.ca_pem_path.display().to_string(),
    ];
    args.extend(extra(&srv));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let proxy = ProxyProc::start(dir, &args);
    let http = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let flow = Flow { http, srv };
    play(s.name, &flow).await;
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");
    (capture, lines)
}

/// Every secret in the capture (tokens, codes, client secrets) is absent from what
/// oauthscope prints: the live console, `analyze` (text and JSON) and `timeline`.
fn assert_no_secret_leaks(capture: &Path, console: &[String], name: &str) {
    let mut secrets = secrets_in(capture);
    secrets.extend([
        CLIENT_SECRET.to_string(),
        oauth::OTHER_CLIENT_SECRET.to_string(),
    ]);
    assert!(
        secrets.len() > 2,
        "{name}: found no token or code to look for"
    );
    let mut outputs = console.join("\n");
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "json"],
        &["timeline"],
        &["timeline", "--format", "json"],
    ] {
        let out = std::process::Command::new(bin())
            .args(args)
            .arg(capture)
            .output()
            .unwrap();
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    for s in &secrets {
        assert!(
            !outputs.contains(s.as_str()),
            "{name}: a secret ({} chars) leaked into the output",
            s.len()
        );
    }
}

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn expected_rules(name: &str) -> Vec<String> {
    let p = samples_dir().join(format!("{name}.expected.json"));
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap();
    let mut rules: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    rules.sort();
    rules
}

#[test]
fn every_sample_yields_exactly_its_expected_findings() {
    let names: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
    let mut seen = 0;
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let (got, report) = analyze_rules(&path);
        assert_eq!(got, expected_rules(name), "sample {name}: findings differ");
        assert_eq!(
            report["summary"]["cause"].as_str(),
            scenario(name).cause,
            "sample {name}: the verdict names another cause: {}",
            report["summary"]["verdict"]
        );
        if name == "good-flow" {
            for f in report["findings"].as_array().unwrap() {
                let sev = f["severity"].as_str().unwrap();
                assert!(sev == "low" || sev == "info", "good flow has {f}");
            }
            assert!(
                report["summary"]["verdict"]
                    .as_str()
                    .unwrap()
                    .starts_with("No problems found")
            );
        }
        assert!(names.contains(&name), "sample {name} has no scenario");
        seen += 1;
    }
    assert_eq!(seen, names.len(), "every scenario has a sample");
}

/// The connector definitions in `samples/connectors` name the servers of the samples
/// they are compared with: when a sample is recorded afresh (on another port), they
/// follow it.
fn retarget_connectors(old: &Path, new: &Path) {
    let origin = |p: &Path| {
        let text = std::fs::read_to_string(p).ok()?;
        let start = text.find("\"url\":\"https://127.0.0.1:")? + "\"url\":\"".len();
        let rest = &text[start..];
        let host_end = "https://".len() + rest["https://".len()..].find('/')?;
        Some(rest[..host_end].to_string())
    };
    let (Some(from), Some(to)) = (origin(old), origin(new)) else {
        return;
    };
    for entry in std::fs::read_dir(samples_dir().join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains(&from) {
            std::fs::write(&path, text.replace(&from, &to)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scenarios_recorded_live_yield_the_expected_findings() {
    let regen = std::env::var_os("OAUTHSCOPE_REGEN_SAMPLES").is_some();
    for s in scenarios() {
        let dir = temp_dir(&format!("sample-{}", s.name));
        let (capture, console) = record(&s, &dir).await;
        let (got, report) = analyze_rules(&capture);
        for must in s.must {
            assert!(
                got.iter().any(|r| r == must),
                "{}: staged {must} not found in {got:?}",
                s.name
            );
            // The live console reported it too, as soon as it could be known.
            assert!(
                console.iter().any(|l| l.contains(&format!(" {must}: "))),
                "{}: {must} not shown live: {console:#?}",
                s.name
            );
        }
        assert_no_secret_leaks(&capture, &console, s.name);
        assert_eq!(
            report["summary"]["cause"].as_str(),
            s.cause,
            "{}: the verdict names another cause: {}",
            s.name,
            report["summary"]["verdict"]
        );
        let verdict = report["summary"]["verdict"].as_str().unwrap();
        assert!(
            console.iter().any(|l| l == verdict),
            "{}: verdict not printed at stop",
            s.name
        );
        if regen {
            retarget_connectors(&samples_dir().join(format!("{}.jsonl", s.name)), &capture);
            std::fs::copy(&capture, samples_dir().join(format!("{}.jsonl", s.name))).unwrap();
            let expected = serde_json::json!({
                "scenario": s.name,
                "about": s.about,
                "findings": got,
                "cause": report["summary"]["cause"],
                "verdict": report["summary"]["verdict"],
            });
            std::fs::write(
                samples_dir().join(format!("{}.expected.json", s.name)),
                serde_json::to_string_pretty(&expected).unwrap() + "\n",
            )
            .unwrap();
        } else {
            assert_eq!(
                got,
                expected_rules(s.name),
                "scenario {} recorded live: findings differ from its sample",
                s.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_compares_live_traffic_with_the_connector() {
    let good = scenario("good-flow");
    let dir = temp_dir("live-connector");
    let profile = dir.join("connector.toml");
    let (_, lines) = record_with(&good, &dir, |srv| {
        std::fs::write(
            &profile,
            format!(
                "client_id = \"connector-app\"\ntoken_url = \"{}\"\nrefresh_url = \"{}\"\nredirect_url = \"{}\"\n",
                srv.url("/oauth2/token"),
                srv.url("/oauth2/token"),
                srv.url("/callback")
            ),
        )
        .unwrap();
        vec!["--connector".into(), profile.display().to_string()]
    })
    .await;
    for rule in ["token-url-mismatch", "refresh-url-mismatch"] {
        assert!(
            lines.iter().any(|l| l.contains(&format!(" {rule}: "))),
            "{rule} not shown live: {lines:#?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("client-id-mismatch")),
        "the client id matches"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hars_written_by_a_real_mitmproxy_import_and_analyze_alike() {
    if !have_tool(Mitmdump::path().exists(), "mitmdump (target/venv)") {
        return;
    }
    // Every staged flow, recorded by a real mitmproxy instead of oauthscope.
    let mut judged = 0;
    for scenario in scenarios() {
        let dir = temp_dir(&format!("mitmproxy-{}", scenario.name));
        let tls = upstream_tls(&dir);
        let srv = oauth::start(scenario.config.clone(), tls.config.clone()).await;
        let mitm = Mitmdump::start(&dir, &tls.ca_pem_path);
        let http = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(mitm.url()).unwrap())
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&mitm.ca).unwrap()).unwrap(),
            )
            .tls_built_in_root_certs(false)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        tokio::time::timeout(
            Duration::from_secs(120),
            play(scenario.name, &Flow { http, srv }),
        )
        .await
        .unwrap_or_else(|_| panic!("{}: the flow through mitmproxy hung", scenario.name));
        let har = mitm.stop();
        let (rules, report) = analyze_rules(&har);
        assert_eq!(
            rules,
            expected_rules(scenario.name),
            "{}: mitmproxy's HAR analyzes unlike our capture",
            scenario.name
        );
        assert_eq!(
            report["summary"]["cause"].as_str(),
            scenario.cause,
            "{}: mitmproxy's HAR names another cause: {}",
            scenario.name,
            report["summary"]["verdict"]
        );
        judged += 1;
    }
    assert_eq!(judged, scenarios().len());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_writes_a_redacted_har_when_it_stops() {
    let scenario = scenario("stale-token");
    let dir = temp_dir("proxy-har");
    let har = dir.join("live.har");
    let (capture, lines) = record_with(&scenario, &dir, |_| {
        vec!["--har".into(), har.display().to_string()]
    })
    .await;
    assert!(lines.iter().any(|l| l.contains("live.har")), "{lines:#?}");
    let text = std::fs::read_to_string(&har).unwrap();
    for s in secrets_in(&capture) {
        assert!(!text.contains(&s), "a secret is in the proxy's HAR");
    }
    let (rules, _) = analyze_rules(&har);
    assert_eq!(rules, expected_rules(scenario.name));
}

/// `oauthscope serve` on a sample, HTTPS with the CA in `ca_dir`; returns it and its base.
fn start_serve(sample: &str, ca_dir: &Path, extra: &[&str]) -> (std::process::Child, String) {
    common::start_serve(&samples_dir().join(sample), ca_dir, extra)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_stands_in_for_the_service_and_injects_expiry() {
    for (faults, must) in [
        (vec!["--expire-after", "1s"], vec!["api-rejected"]),
        (
            vec!["--expire-after", "1s", "--no-refresh-token"],
            vec!["api-rejected", "refresh-token-absent"],
        ),
    ] {
        let dir = temp_dir("serve");
        let ca_dir = dir.join("certs");
        // The proxy creates the CA; serve signs its certificate with the same one.
        let proxy = ProxyProc::start(
            &dir,
            &["--upstream-ca", ca_dir.join("ca.pem").to_str().unwrap()],
        );
        let (mut serve, base) = start_serve("good-flow.jsonl", &ca_dir, &faults);
        let http = proxy
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let f = Flow {
            http,
            srv: AuthServer::external(&base),
        };
        let (at, rt) = f.sign_in(&["read", "offline_access"]).await;
        assert_eq!(
            f.api(Some(&format!("Bearer {at}"))).await,
            200,
            "served API accepts the served token"
        );
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(
            f.api(Some(&format!("Bearer {at}"))).await,
            401,
            "--expire-after took effect"
        );
        match rt {
            Some(rt) => {
                // The client's refresh happens and the API works again.
                let (at2, _) = f.refresh(&rt).await.expect("refresh served");
                assert_ne!(at2, at);
                assert_eq!(f.api(Some(&format!("Bearer {at2}"))).await, 200);
            }
            None => assert!(
                faults.contains(&"--no-refresh-token"),
                "no refresh token only when stripped"
            ),
        }
        let capture = proxy.capture.clone();
        proxy.stop();
        let _ = serve.kill();
        let _ = serve.wait();
        let (rules, _) = analyze_rules(&capture);
        for m in must {
            assert!(
                rules.iter().any(|r| r == m),
                "{faults:?}: {m} not in {rules:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_rotates_refresh_tokens_and_explains_what_it_cannot_answer() {
    let dir = temp_dir("serve-rotate");
    let ca_dir = dir.join("certs");
    std::fs::create_dir_all(&ca_dir).unwrap();
    let (mut serve, base) = start_serve("good-flow.jsonl", &ca_dir, &["--rotate-refresh-tokens"]);
    let ca = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let f = Flow {
        http,
        srv: AuthServer::external(&base),
    };
    let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
    let rt = rt.unwrap();
    let (_, rt2) = f.refresh(&rt).await.unwrap();
    assert!(rt2.is_some_and(|r| r != rt), "a new refresh token");
    assert!(
        f.refresh(&rt).await.is_err(),
        "reuse of the old one is refused"
    );
    let r = f
        .http
        .get(format!("{base}/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("nothing in the capture answers GET /nothing/here")
    );
    let _ = serve.kill();
    let _ = serve.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_walks_the_flow_again_against_the_real_service() {
    let good = scenario("good-flow");
    let dir = temp_dir("replay");
    let tls = upstream_tls(&dir);
    let srv = oauth::start(good.config.clone(), tls.config.clone()).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let http = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let f = Flow { http, srv };
    play("good-flow", &f).await;
    let capture = proxy.capture.clone();
    proxy.stop();
    // The server is still up: replay the capture against it.
    let out = dir.join("replay.jsonl");
    let replay_to = |out: &Path| {
        std::process::Command::new(bin())
            .args([
                "replay",
                capture.to_str().unwrap(),
                "--format",
                "json",
                "--upstream-ca",
            ])
            .arg(&tls.ca_pem_path)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let run = replay_to(&out);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&run.stderr),
        String::from_utf8_lossy(&run.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let ex = v["exchanges"].as_array().unwrap();
    let code = ex
        .iter()
        .find(|e| e["step"] == "token:authorization_code")
        .unwrap();
    assert!(
        code["verdict"].as_str().unwrap().contains("single-use"),
        "{code}"
    );
    let refreshes: Vec<_> = ex.iter().filter(|e| e["step"] == "token:refresh").collect();
    // The captured access token was revoked by the captured refreshes: the replay
    // refreshes first, then walks the two captured refreshes.
    assert_eq!(refreshes.len(), 3);
    for r in &refreshes {
        assert_eq!(r["now_status"], 200, "{r}");
        assert_eq!(r["verdict"], "same", "{r}");
    }
    let apis: Vec<_> = ex.iter().filter(|e| e["step"] == "api").collect();
    assert_eq!(apis.len(), 3);
    assert!(apis.iter().all(|a| a["now_status"] == 200), "{apis:?}");
    for c in v["checklist"].as_array().unwrap() {
        assert_eq!(c["result"], "passed", "{c}");
    }
    // Tokens were substituted: each API call after a refresh carries that refresh's token.
    let replayed = read_capture(&out);
    let last_refresh = replayed
        .iter()
        .rev()
        .find(|e| {
            e.request
                .body
                .as_text()
                .is_some_and(|b| b.contains("grant_type=refresh_token"))
        })
        .unwrap();
    let new_at = oauthscope::oauth::parse::json_object(
        last_refresh
            .response
            .as_ref()
            .unwrap()
            .body
            .as_text()
            .unwrap(),
    )
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let last_api = replayed
        .iter()
        .rev()
        .find(|e| e.request.url.ends_with("/api/me"))
        .unwrap();
    assert_eq!(
        last_api.request.header("authorization"),
        Some(format!("Bearer {new_at}").as_str())
    );
    // With the service gone, the replayed steps fail (exit 1).
    drop(f);
    let again = replay_to(&dir.join("replay2.jsonl"));
    assert_eq!(
        again.status.code(),
        Some(1),
        "the service is gone: steps fail"
    );
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(
        v["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["verdict"].as_str().unwrap().starts_with("failed"))
    );
}

/// The rule catalog is whole: `oauthscope rules --format json` lists every rule with its
/// role, each rule has a recorded sample (or a connector definition) that yields it, and
/// the README's list of rules is the catalog's.
#[test]
fn every_rule_in_the_catalog_has_a_sample_and_is_in_the_readme() {
    let out = std::process::Command::new(bin())
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rules: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = rules
        .iter()
        .map(|r| {
            let role = r["role"].as_str().unwrap();
            assert!(role == "cause" || role == "symptom", "{r}");
            r["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(ids.len() >= 30, "{ids:?}");
    let mut yielded = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(n) = name.strip_suffix(".expected.json") {
            yielded.extend(expected_rules(n));
        }
    }
    for entry in std::fs::read_dir(samples_dir().join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        let out = std::process::Command::new(bin())
            .args(["lint-connector", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            for f in v["findings"].as_array().unwrap() {
                yielded.insert(f["rule"].as_str().unwrap().to_string());
            }
        }
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !yielded.contains(*id)).collect();
    assert!(missing.is_empty(), "rules no sample yields: {missing:?}");
    for y in &yielded {
        assert!(
            ids.contains(y),
            "sample yields {y}, which the catalog lacks"
        );
    }
    // The README's list, from "catalog: `" to the next full stop at a line end.
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let start = readme.find("catalog: `").expect("README lists the rules");
    let list = &readme[start..];
    let list = &list[..list.find(".\n").unwrap()];
    let mut listed: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let mut catalog = ids.clone();
    listed.sort();
    catalog.sort();
    assert_eq!(
        listed, catalog,
        "README's rule list differs from the catalog"
    );
}

/// `explain` prints a rule's explanation and fix; an unknown rule is an error (exit 2)
/// that suggests the near ones.
#[test]
fn explain_prints_a_rule_and_refuses_an_unknown_one() {
    let out = std::process::Command::new(bin())
        .args(["explain", "refresh-url-mismatch"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("refresh-url-mismatch  medium · cause · checklist step 5"),
        "{text}"
    );
    assert!(
        text.contains("Fix: Set the refresh URL to the token URL"),
        "{text}"
    );
    let out = std::process::Command::new(bin())
        .args(["explain", "refresh-url"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean refresh-url-mismatch?"));
}

/// A redacted HAR is what people send to support: for every sample, the HAR export
/// (secrets masked) analyzes to the same findings, cause and verdict as the capture.
#[test]
fn redacted_hars_keep_the_diagnosis_of_every_sample() {
    let dir = temp_dir("redacted-diagnosis");
    let mut compared = 0;
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let har = dir.join(format!("{name}.har"));
        export_har(&path, &har, &[]);
        let text = std::fs::read_to_string(&har).unwrap();
        for s in secrets_in(&path) {
            assert!(
                !text.contains(&s),
                "{name}: a secret ({} chars) is in the redacted HAR",
                s.len()
            );
        }
        let (from_capture, a) = analyze_rules(&path);
        let (from_har, b) = analyze_rules(&har);
        assert_eq!(from_capture, from_har, "{name}: findings differ");
        assert_eq!(
            a["summary"]["cause"], b["summary"]["cause"],
            "{name}: cause differs"
        );
        assert_eq!(
            a["summary"]["verdict"], b["summary"]["verdict"],
            "{name}: verdict differs"
        );
        compared += 1;
    }
    assert!(compared >= 29, "{compared}");
}
