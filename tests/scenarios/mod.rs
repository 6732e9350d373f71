//! The scenarios of the first test bed: each stages one misconfiguration in the test
//! authorization server and drives a real OAuth client through whatever `Flow::http`
//! goes through (the proxy, mitmproxy, the gateway). Shared by `samples.rs` and
//! `gateway.rs`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use crate::common::oauth::{self, AsConfig, AuthServer, CLIENT_ID, CLIENT_SECRET};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use oauthscope::wire::form_encode;

pub type Oauth =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A DPoP client key (ES256) that signs proofs (RFC 9449 §4.2).
pub struct DpopKey(aws_lc_rs::signature::EcdsaKeyPair);

impl DpopKey {
    pub fn new() -> Self {
        DpopKey(
            aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .unwrap(),
        )
    }

    /// A fresh proof for `method` `htu` (with `ath` for `token`, and `nonce`).
    pub fn proof(
        &self,
        method: &str,
        htu: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        use aws_lc_rs::signature::KeyPair;
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let p = self.0.public_key().as_ref();
        let header = serde_json::json!({
            "typ": "dpop+jwt", "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..])},
        });
        let mut jti = [0u8; 12];
        aws_lc_rs::rand::fill(&mut jti).unwrap();
        let mut claims = serde_json::json!({
            "htm": method, "htu": htu, "jti": b64(&jti),
            "iat": time::OffsetDateTime::now_utc().unix_timestamp(),
        });
        if let Some(t) = token {
            claims["ath"] = oauthscope::oauth::dpop::token_hash(t).into();
        }
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self
            .0
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

pub struct Flow {
    pub http: reqwest::Client,
    pub srv: AuthServer,
    /// A client through the same path that presents a TLS client certificate (the
    /// mutual-TLS scenarios, `AsConfig::mtls`).
    pub mtls: Option<reqwest::Client>,
}

impl Flow {
    pub fn oauth_at(&self, token_path: &str) -> Oauth {
        BasicClient::new(ClientId::new(CLIENT_ID.into()))
            .set_client_secret(ClientSecret::new(CLIENT_SECRET.into()))
            .set_auth_uri(AuthUrl::new(self.srv.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(self.srv.url(token_path)).unwrap())
            .set_redirect_uri(RedirectUrl::new(self.srv.url("/callback")).unwrap())
    }

    pub fn oauth(&self) -> Oauth {
        self.oauth_at("/token")
    }

    /// Sign in (PKCE, state) and exchange the code by hand; returns the token response.
    pub async fn code_exchange(&self) -> serde_json::Value {
        let verifier = "v".repeat(43);
        let challenge = oauthscope::oauth::parse::s256(&verifier);
        let code = self
            .raw_authorize(&format!(
                "&scope=read+offline_access&state=s-1&code_challenge={challenge}&code_challenge_method=S256"
            ))
            .await;
        self.exchange_code(&code, &verifier).await
    }

    /// Exchange `code` (with its PKCE `verifier`) by hand; returns the token response.
    pub async fn exchange_code(&self, code: &str, verifier: &str) -> serde_json::Value {
        let redirect = self.srv.url("/callback");
        self.raw_token(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("code_verifier", verifier),
            ],
            Some((CLIENT_ID, CLIENT_SECRET)),
        )
        .await
    }

    /// A token request with extra headers (a DPoP proof); returns the status, the
    /// `DPoP-Nonce` the answer carries, and its JSON.
    pub async fn token_with(
        &self,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, serde_json::Value) {
        let mut r = self.form_post("/token", form, Some((CLIENT_ID, CLIENT_SECRET)));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let nonce = res
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = res.text().await.unwrap();
        (
            status,
            nonce,
            serde_json::from_str(&text).unwrap_or_default(),
        )
    }

    /// `GET /api/me{query}` with these headers; returns the status.
    pub async fn api_with(&self, query: &str, headers: &[(&str, &str)]) -> u16 {
        let mut r = self.http.get(self.srv.url(&format!("/api/me{query}")));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        let _ = res.bytes().await;
        s
    }

    /// Fetch the authorization server's metadata, as a client that discovers does.
    pub async fn discovery(&self) {
        let _ = self
            .http
            .get(self.srv.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }

    /// Play the browser: open the authorize URL, follow the redirect to the callback.
    pub async fn browser(&self, url: &str) -> Option<String> {
        let r = self.http.get(url).send().await.unwrap();
        let loc = r.headers().get("location")?.to_str().ok()?.to_string();
        let _ = self.http.get(&loc).send().await.unwrap().bytes().await;
        oauthscope::oauth::parse::query_params(&loc)
            .get("code")
            .map(str::to_string)
    }

    /// Sign in with PKCE, state and the given scopes; returns (access, refresh) tokens.
    pub async fn sign_in(&self, scopes: &[&str]) -> (String, Option<String>) {
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

    pub async fn refresh(&self, rt: &str) -> Result<(String, Option<String>), String> {
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
    pub async fn api(&self, authorization: Option<&str>) -> u16 {
        let mut r = self.http.get(self.srv.url("/api/me"));
        if let Some(a) = authorization {
            r = r.header("authorization", a);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        let _ = res.bytes().await;
        s
    }

    /// A form-encoded POST to `path`, with Basic client credentials when given.
    fn form_post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::RequestBuilder {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect();
        let mut r = self
            .http
            .post(self.srv.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        if let Some((u, p)) = basic {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            r = r.header("authorization", format!("Basic {raw}"));
        }
        r
    }

    /// A hand-made token request (for clients that get it wrong).
    pub async fn raw_token(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> serde_json::Value {
        let r = self
            .form_post(path, form, basic)
            .header("accept", "application/json");
        let res = r.send().await.unwrap();
        let text = res.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    /// Authorize by hand (no PKCE, optional state) and return the code.
    pub async fn raw_authorize(&self, extra: &str) -> String {
        let url = format!(
            "{}?response_type=code&client_id={CLIENT_ID}&redirect_uri={}{extra}",
            self.srv.url("/authorize"),
            form_encode(&self.srv.url("/callback"))
        );
        self.browser(&url).await.expect("code")
    }
}

/// One staged misconfiguration.
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub config: AsConfig,
    /// The root cause the verdict must name (`summary.cause`; `None` when none is found).
    pub cause: Option<&'static str>,
    /// Rules the staged problem must produce (the expected file may hold more).
    pub must: &'static [&'static str],
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> Scenario {
    scenarios().into_iter().find(|s| s.name == name).unwrap()
}

pub fn scenarios() -> Vec<Scenario> {
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
            name: "oidc-id-token",
            about: "OpenID Connect sign-in whose ID token names another client in aud and carries another nonce",
            config: AsConfig {
                id_token_fault: Some("aud+nonce"),
                ..d()
            },
            cause: Some("id-token-claims"),
            must: &["id-token-claims"],
        },
        Scenario {
            name: "id-token-as-bearer",
            about: "OpenID Connect sign-in, then the API called with the ID token instead of the access token",
            config: AsConfig {
                id_token_fault: Some("none"),
                ..d()
            },
            cause: Some("id-token-as-bearer"),
            must: &["id-token-as-bearer", "api-rejected"],
        },
        Scenario {
            name: "id-token-unknown-kid",
            about: "OpenID Connect sign-in whose ID token names a key id the provider's JWK set does not hold (a rotated key)",
            config: AsConfig {
                id_token_fault: Some("kid"),
                ..d()
            },
            cause: Some("id-token-signature"),
            must: &["id-token-signature"],
        },
        Scenario {
            name: "id-token-bad-signature",
            about: "OpenID Connect sign-in whose ID token is signed by a key the provider does not publish",
            config: AsConfig {
                id_token_fault: Some("signature"),
                ..d()
            },
            cause: Some("id-token-signature"),
            must: &["id-token-signature"],
        },
        Scenario {
            name: "token-type-lowercase",
            about: "the token response says token_type bearer; the client copies it into the Authorization header and a strict API refuses it",
            config: AsConfig {
                lowercase_token_type: true,
                strict_bearer_scheme: true,
                ..d()
            },
            cause: Some("token-type-case"),
            must: &["token-type-case"],
        },
        Scenario {
            name: "expires-in-zero",
            about: "the token response says expires_in 0, so the client refreshes before every call",
            config: AsConfig {
                expires_in_claim: Some(0),
                ..d()
            },
            cause: Some("expires-in-invalid"),
            must: &["expires-in-invalid"],
        },
        Scenario {
            name: "device-flow",
            about: "device authorization grant polled at the interval, approved on another device",
            config: d(),
            cause: None,
            must: &[],
        },
        Scenario {
            name: "device-poll-too-fast",
            about: "device flow polled every 0.2 s although the interval is 1 s, ignoring slow_down",
            config: d(),
            cause: Some("device-poll-too-fast"),
            must: &["device-poll-too-fast"],
        },
        Scenario {
            name: "device-poll-after-expiry",
            about: "device code that expires before the user approves, polled again after expired_token",
            config: AsConfig {
                device_expires_in: 1,
                ..d()
            },
            // The first expired_token is the cause (the user did not approve in time);
            // polling on after it is the client's fault, its own finding.
            cause: Some("device-code-expired"),
            must: &[
                "device-code-expired",
                "device-poll-after-end",
                "token-error",
            ],
        },
        Scenario {
            name: "dpop-flow",
            about: "DPoP-bound tokens: the token endpoint asks for a nonce, the client follows it and calls the API with DPoP proofs",
            config: AsConfig {
                dpop_nonce: true,
                ..d()
            },
            cause: None,
            must: &[],
        },
        Scenario {
            name: "dpop-nonce-ignored",
            about: "the token endpoint asks for a DPoP nonce; the client retries without it",
            config: AsConfig {
                dpop_nonce: true,
                ..d()
            },
            cause: Some("dpop-nonce-ignored"),
            must: &["dpop-nonce-ignored"],
        },
        Scenario {
            name: "dpop-as-bearer",
            about: "a DPoP-bound access token sent to the API as a Bearer token",
            config: d(),
            cause: Some("dpop-bound-as-bearer"),
            must: &["dpop-bound-as-bearer"],
        },
        Scenario {
            name: "dpop-htu-query",
            about: "DPoP proof whose htu keeps the request's query string; the API refuses it",
            config: d(),
            cause: Some("dpop-proof"),
            must: &["dpop-proof"],
        },
        Scenario {
            name: "mtls-flow",
            about: "mutual TLS: the client presents its certificate at the token endpoint and at the API, which takes the certificate-bound token",
            config: AsConfig { mtls: true, ..d() },
            cause: None,
            must: &[],
        },
        Scenario {
            name: "mtls-no-cert",
            about: "mutual TLS: a certificate-bound access token sent to the API over a connection without the client certificate",
            config: AsConfig { mtls: true, ..d() },
            cause: Some("mtls-bound-token"),
            must: &["mtls-bound-token"],
        },
        Scenario {
            name: "dpop-key-mismatch",
            about: "DPoP: the API call's proof is signed with another key than the one the access token was bound to at the token endpoint",
            config: d(),
            cause: Some("dpop-proof"),
            must: &["dpop-proof"],
        },
        Scenario {
            name: "introspected-inactive",
            about: "the client refreshes, introspection says the old access token is no longer active, and the client calls the API with it anyway",
            config: d(),
            cause: Some("revoked-token-used"),
            must: &["revoked-token-used"],
        },
        Scenario {
            name: "userinfo-sub-mismatch",
            about: "OpenID Connect sign-in whose userinfo answer names another subject than the ID token",
            config: AsConfig {
                id_token_fault: Some("none"),
                userinfo_sub: Some("user-2"),
                ..d()
            },
            cause: Some("userinfo-sub-mismatch"),
            must: &["userinfo-sub-mismatch"],
        },
        Scenario {
            name: "token-exchange",
            about: "token exchange (RFC 8693) of the signed-in user's access token for another, then an API call with it",
            config: d(),
            cause: None,
            must: &[],
        },
        Scenario {
            name: "token-exchange-type",
            about: "token exchange whose subject_token_type is `access_token` instead of the token type URI",
            config: d(),
            cause: Some("token-exchange-request"),
            must: &["token-exchange-request", "token-error"],
        },
        Scenario {
            name: "par-flow",
            about: "pushed authorization request (RFC 9126): the parameters go to /par, the browser brings only the request_uri",
            config: d(),
            cause: None,
            must: &[],
        },
        Scenario {
            name: "par-reused",
            about: "pushed authorization request whose request_uri the browser opens a second time (a back button); the server refuses it",
            config: d(),
            cause: Some("par-request-uri"),
            must: &["par-request-uri"],
        },
        Scenario {
            name: "resource-mismatch",
            about: "access token requested for another resource (RFC 8707 `resource`) than the API, which refuses it naming its own (`resource_id`)",
            config: AsConfig {
                api_resource: Some("https://api.example/"),
                ..d()
            },
            cause: Some("resource-mismatch"),
            must: &["resource-mismatch", "api-rejected"],
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

pub async fn play(name: &str, f: &Flow) {
    let srv = &f.srv;
    match name {
        "good-flow" => {
            f.discovery().await;
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
                    form_encode(&srv.url("/callback"))
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
            f.discovery().await;
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
                form_encode(&srv.url("/callback"))
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
                    form_encode(&srv.url("/callback"))
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        "metadata-mismatch" => {
            f.discovery().await;
            let verifier = "plain-verifier-0123456789012345678901234567890";
            let code = f
                .raw_authorize(&format!("&state=m&scope=offline_access&code_challenge={verifier}&code_challenge_method=plain"))
                .await;
            let v = f.exchange_code(&code, verifier).await;
            assert!(v["access_token"].is_string(), "{v}");
        }
        "implicit-grant" => {
            let url = format!(
                "{}?response_type=token&client_id={CLIENT_ID}&redirect_uri={}&state=abc",
                srv.url("/authorize"),
                form_encode(&srv.url("/callback"))
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
        "oidc-id-token"
        | "id-token-as-bearer"
        | "id-token-unknown-kid"
        | "id-token-bad-signature"
        | "userinfo-sub-mismatch" => {
            f.discovery().await;
            let verifier = "v".repeat(43);
            let challenge = oauthscope::oauth::parse::s256(&verifier);
            let code = f
                .raw_authorize(&format!(
                    "&scope=openid+read&state=s-1&nonce=n-0S6_WzA2Mj&code_challenge={challenge}&code_challenge_method=S256"
                ))
                .await;
            let v = f.exchange_code(&code, &verifier).await;
            let id = v["id_token"].as_str().expect("an ID token").to_string();
            let at = v["access_token"].as_str().unwrap().to_string();
            // A validating client fetches the provider's keys to check the ID token.
            let keys = f.http.get(srv.url("/jwks")).send().await.unwrap();
            assert_eq!(keys.status(), 200);
            let _ = keys.bytes().await;
            if name == "userinfo-sub-mismatch" {
                let r = f
                    .http
                    .get(srv.url("/userinfo"))
                    .header("authorization", format!("Bearer {at}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert_eq!(
                    r.json::<serde_json::Value>().await.unwrap()["sub"],
                    "user-2"
                );
                return;
            }
            if name.starts_with("id-token-") && name != "id-token-as-bearer" {
                // It rejects the sign-in: no API call.
                return;
            }
            if name == "oidc-id-token" {
                assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            } else {
                assert_eq!(f.api(Some(&format!("Bearer {id}"))).await, 401);
            }
        }
        "token-type-lowercase" => {
            let v = f.code_exchange().await;
            let at = v["access_token"].as_str().unwrap();
            let token_type = v["token_type"].as_str().unwrap();
            assert_eq!(token_type, "bearer");
            // The connector builds the header from the response, verbatim.
            assert_eq!(f.api(Some(&format!("{token_type} {at}"))).await, 401);
        }
        "expires-in-zero" => {
            let v = f.code_exchange().await;
            assert_eq!(v["expires_in"], 0);
            let mut rt = v["refresh_token"].as_str().unwrap().to_string();
            // A client that trusts expires_in finds its token expired before each call.
            for _ in 0..3 {
                let (at, new_rt) = f.refresh(&rt).await.unwrap();
                rt = new_rt.unwrap_or(rt);
                assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            }
        }
        "device-flow" | "device-poll-too-fast" | "device-poll-after-expiry" => {
            f.discovery().await;
            let d = f
                .raw_token(
                    "/device_authorization",
                    &[("scope", "read offline_access")],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            let device_code = d["device_code"].as_str().unwrap().to_string();
            let user_code = d["user_code"].as_str().unwrap().to_string();
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code.as_str()),
            ];
            let poll = || f.raw_token("/token", &form, Some((CLIENT_ID, CLIENT_SECRET)));
            let approve = || async {
                let url = srv.url(&format!("/device?user_code={user_code}"));
                assert_eq!(f.http.get(url).send().await.unwrap().status(), 200);
            };
            match name {
                "device-flow" => {
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                    assert_eq!(poll().await["error"], "authorization_pending");
                    approve().await;
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                    let v = poll().await;
                    let at = v["access_token"].as_str().expect("tokens after approval");
                    assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
                }
                "device-poll-too-fast" => {
                    let mut answers = Vec::new();
                    for i in 0..5 {
                        if i == 2 {
                            approve().await;
                        }
                        answers.push(poll().await["error"].as_str().unwrap_or("").to_string());
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    assert!(answers.iter().any(|a| a == "slow_down"), "{answers:?}");
                }
                _ => {
                    tokio::time::sleep(Duration::from_millis(1300)).await;
                    assert_eq!(poll().await["error"], "expired_token");
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                    assert_eq!(poll().await["error"], "expired_token");
                }
            }
        }
        "mtls-flow" | "mtls-no-cert" => {
            // The same client with and without its certificate: the token request and the
            // first API call present it; the second call of mtls-no-cert does not.
            let with_cert = Flow {
                http: f.mtls.clone().expect("a client with a certificate"),
                srv: AuthServer::external(&srv.base),
                mtls: None,
            };
            let v = with_cert.code_exchange().await;
            let at = v["access_token"].as_str().unwrap();
            let claims = oauthscope::oauth::parse::decode_jwt(at).expect("a JWT access token");
            assert!(claims.cnf("x5t#S256").is_some(), "{}", claims.claims);
            let bearer = format!("Bearer {at}");
            let auth = [("authorization", bearer.as_str())];
            assert_eq!(with_cert.api_with("", &auth).await, 200);
            let (client, want) = if name == "mtls-flow" {
                (&with_cert, 200)
            } else {
                (f, 401)
            };
            assert_eq!(client.api_with("", &auth).await, want);
        }
        "dpop-flow" | "dpop-nonce-ignored" | "dpop-as-bearer" | "dpop-htu-query"
        | "dpop-key-mismatch" => {
            let key = DpopKey::new();
            let verifier = "v".repeat(43);
            let challenge = oauthscope::oauth::parse::s256(&verifier);
            let code = f
                .raw_authorize(&format!(
                    "&scope=read&state=s-1&code_challenge={challenge}&code_challenge_method=S256"
                ))
                .await;
            let redirect = srv.url("/callback");
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("code_verifier", verifier.as_str()),
            ];
            let token_url = srv.url("/token");
            let proof = key.proof("POST", &token_url, None, None);
            let (mut status, nonce, mut v) = f.token_with(&form, &[("dpop", &proof)]).await;
            if name == "dpop-flow" || name == "dpop-nonce-ignored" {
                assert_eq!((status, v["error"].as_str()), (400, Some("use_dpop_nonce")));
                let nonce = nonce.expect("a DPoP-Nonce header");
                let follow = (name == "dpop-flow").then_some(nonce.as_str());
                let proof = key.proof("POST", &token_url, None, follow);
                (status, _, v) = f.token_with(&form, &[("dpop", &proof)]).await;
                if name == "dpop-nonce-ignored" {
                    assert_eq!(status, 400);
                    return;
                }
            }
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["token_type"], "DPoP");
            let at = v["access_token"].as_str().unwrap();
            let api = srv.url("/api/me");
            match name {
                "dpop-as-bearer" => {
                    assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
                }
                "dpop-key-mismatch" => {
                    // A client that made a new key (a restart that lost it) but kept the token.
                    let proof = DpopKey::new().proof("GET", &api, Some(at), None);
                    let auth = format!("DPoP {at}");
                    let s = f
                        .api_with("", &[("authorization", &auth), ("dpop", &proof)])
                        .await;
                    assert_eq!(s, 401);
                }
                "dpop-htu-query" => {
                    let proof = key.proof("GET", &format!("{api}?fields=name"), Some(at), None);
                    let auth = format!("DPoP {at}");
                    let s = f
                        .api_with(
                            "?fields=name",
                            &[("authorization", &auth), ("dpop", &proof)],
                        )
                        .await;
                    assert_eq!(s, 401);
                }
                _ => {
                    let proof = key.proof("GET", &api, Some(at), None);
                    let auth = format!("DPoP {at}");
                    assert_eq!(
                        f.api_with("", &[("authorization", &auth), ("dpop", &proof)])
                            .await,
                        200
                    );
                }
            }
        }
        "introspected-inactive" => {
            f.discovery().await;
            let (at, rt) = f.sign_in(&["read", "offline_access"]).await;
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
            let (new_at, _) = f.refresh(&rt.unwrap()).await.unwrap();
            let v = f
                .raw_token(
                    "/introspect",
                    &[("token", &at)],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            assert_eq!(v["active"], false);
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
            assert_eq!(f.api(Some(&format!("Bearer {new_at}"))).await, 200);
        }
        "token-exchange" | "token-exchange-type" => {
            let (at, _) = f.sign_in(&["read"]).await;
            let kind = if name == "token-exchange" {
                "urn:ietf:params:oauth:token-type:access_token"
            } else {
                "access_token"
            };
            let v = f
                .raw_token(
                    "/token",
                    &[
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:token-exchange",
                        ),
                        ("subject_token", &at),
                        ("subject_token_type", kind),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            if name == "token-exchange" {
                let exchanged = v["access_token"].as_str().expect("an exchanged token");
                assert_eq!(f.api(Some(&format!("Bearer {exchanged}"))).await, 200);
            } else {
                assert_eq!(v["error"], "invalid_request");
            }
        }
        "par-flow" | "par-reused" => {
            f.discovery().await;
            let verifier = "v".repeat(43);
            let challenge = oauthscope::oauth::parse::s256(&verifier);
            let redirect = srv.url("/callback");
            let pushed = f
                .raw_token(
                    "/par",
                    &[
                        ("response_type", "code"),
                        ("client_id", CLIENT_ID),
                        ("redirect_uri", &redirect),
                        ("scope", "read offline_access"),
                        ("state", "s-par-1"),
                        ("code_challenge", &challenge),
                        ("code_challenge_method", "S256"),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            let uri = pushed["request_uri"]
                .as_str()
                .expect("a request_uri")
                .to_string();
            let url = format!(
                "{}?client_id={CLIENT_ID}&request_uri={}",
                srv.url("/authorize"),
                form_encode(&uri)
            );
            let code = f.browser(&url).await.expect("a code");
            if name == "par-reused" {
                // The user goes back: the browser opens the same request_uri again.
                assert_eq!(f.browser(&url).await, None, "a request_uri is single-use");
            }
            let v = f.exchange_code(&code, &verifier).await;
            let at = v["access_token"].as_str().expect("tokens");
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 200);
        }
        "resource-mismatch" => {
            // The connector copied the resource of another API it also calls.
            let verifier = "v".repeat(43);
            let challenge = oauthscope::oauth::parse::s256(&verifier);
            let code = f
                .raw_authorize(&format!(
                    "&scope=read+offline_access&state=s-1&code_challenge={challenge}&code_challenge_method=S256"
                ))
                .await;
            let redirect = srv.url("/callback");
            let v = f
                .raw_token(
                    "/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &redirect),
                        ("code_verifier", &verifier),
                        ("resource", "https://graph.example/"),
                    ],
                    Some((CLIENT_ID, CLIENT_SECRET)),
                )
                .await;
            let at = v["access_token"].as_str().expect("tokens");
            assert_eq!(f.api(Some(&format!("Bearer {at}"))).await, 401);
        }
        other => panic!("no script for scenario {other}"),
    }
}

pub fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The root cause a sample's verdict names (`None`: none).
pub fn expected_cause(name: &str) -> Option<String> {
    let p = samples_dir().join(format!("{name}.expected.json"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["cause"].as_str().map(str::to_string)
}

pub fn expected_rules(name: &str) -> Vec<String> {
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
