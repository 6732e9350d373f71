//! A test authorization server and API on loopback, with misconfigurations that a test
//! stages through [`AsConfig`]. It implements the parts of RFC 6749/6750/7009/7636/8414
//! the samples exercise, strictly enough that a wrong client is refused the way real
//! providers refuse it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::Body;

/// What the server does; defaults are a well-behaved provider.
#[derive(Debug, Clone)]
pub struct AsConfig {
    /// Access token lifetime; `None` sends no `expires_in` (GitHub OAuth apps).
    pub expires_in: Option<u64>,
    pub issue_refresh: bool,
    /// Each refresh issues a new refresh token and invalidates the old one.
    pub rotate_refresh: bool,
    /// Answer token requests form-encoded (GitHub without `Accept: application/json`).
    pub form_response: bool,
    pub expires_in_as_string: bool,
    pub no_store: bool,
    /// Issue JWT access tokens with this audience.
    pub jwt_audience: Option<String>,
    /// Shift the `Date` header by this many seconds.
    pub date_offset: i64,
    /// Send JSON answers gzip-encoded (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Think this long before answering a token request (so requests sent together
    /// overlap on the wire even on a loaded machine).
    pub token_delay_ms: u64,
    /// A request with no credentials gets `error="invalid_token"` in its challenge too.
    pub challenge_error: bool,
    /// The authorize redirect carries another `state` than the request sent.
    pub tamper_state: bool,
    /// Also listen over plain HTTP, and name that listener's `/token` in the (HTTPS)
    /// discovery document.
    pub plain_token_endpoint: bool,
    /// Salesforce-style token responses: no `expires_in` but `issued_at` (ms) and
    /// `instance_url`; the session still dies after this many seconds.
    pub salesforce_session: Option<u64>,
    /// Microsoft-style errors: `AADSTS` codes in the description and `error_codes`.
    pub aad_errors: bool,
    /// A refresh token only when the authorization asked for `offline_access` (Microsoft,
    /// Okta, Auth0).
    pub refresh_needs_offline_access: bool,
    /// Accept only this client authentication: `"basic"` or `"post"`.
    pub client_auth_only: Option<&'static str>,
    /// `/authorize` shows a sign-in form (user `alice`, password `wonderland`) instead of
    /// approving at once; the form posts to `/authorize/login`.
    pub login_form: bool,
    /// OpenID Connect: an `id_token` for authorizations that ask for `openid`, wrong in
    /// the ways named (`"aud"`: another client, `"nonce"`: another nonce, `"at_hash"`;
    /// `"aud+nonce"` for both; `"none"` for a right one).
    pub id_token_fault: Option<&'static str>,
    /// Token responses say `token_type: bearer` (lower case), as RFC 6749 allows.
    pub lowercase_token_type: bool,
    /// The API accepts only the scheme spelled `Bearer`; another spelling is answered as
    /// a request without credentials.
    pub strict_bearer_scheme: bool,
    /// Token responses claim this `expires_in` (the token still lives `expires_in`).
    pub expires_in_claim: Option<i64>,
    /// Device authorization (RFC 8628): the polling interval it asks for and how long
    /// its device codes live, in seconds.
    pub device_interval: u64,
    pub device_expires_in: u64,
    /// The token endpoint demands a server nonce in DPoP proofs (`use_dpop_nonce`).
    pub dpop_nonce: bool,
    /// `/userinfo` answers for this subject (the ID token's is `user-1`).
    pub userinfo_sub: Option<&'static str>,
    /// Mutual TLS (RFC 8705): a token request over a connection with a client
    /// certificate gets a JWT access token bound to it (`cnf.x5t#S256`), which the API
    /// takes only over a connection presenting the same certificate. Needs a TLS config
    /// that asks for client certificates (`upstream_tls_mtls`).
    pub mtls: bool,
    /// The API's own resource identifier (RFC 8707): tokens requested for another
    /// `resource` are refused, naming this one (`resource_id`, as Microsoft's APIs do).
    pub api_resource: Option<&'static str>,
}

impl Default for AsConfig {
    fn default() -> Self {
        AsConfig {
            expires_in: Some(3600),
            issue_refresh: true,
            rotate_refresh: false,
            form_response: false,
            expires_in_as_string: false,
            no_store: true,
            jwt_audience: None,
            date_offset: 0,
            gzip: false,
            token_delay_ms: 0,
            challenge_error: false,
            tamper_state: false,
            plain_token_endpoint: false,
            salesforce_session: None,
            aad_errors: false,
            refresh_needs_offline_access: false,
            client_auth_only: None,
            login_form: false,
            id_token_fault: None,
            lowercase_token_type: false,
            strict_bearer_scheme: false,
            expires_in_claim: None,
            device_interval: 1,
            device_expires_in: 600,
            dpop_nonce: false,
            userinfo_sub: None,
            mtls: false,
            api_resource: None,
        }
    }
}

pub const CLIENT_ID: &str = "connector-app";
pub const CLIENT_SECRET: &str = "s3cret-Value_1";
pub const OTHER_CLIENT_ID: &str = "other-app";
pub const OTHER_CLIENT_SECRET: &str = "other-secret";
/// A client whose secret holds characters that Basic auth must form-encode.
pub const ODD_CLIENT_ID: &str = "odd-app";
pub const ODD_CLIENT_SECRET: &str = "abc+def/ghi";

struct CodeInfo {
    client_id: String,
    redirect_uri: Option<String>,
    challenge: Option<(String, String)>,
    scope: Option<String>,
    nonce: Option<String>,
    used: bool,
}

struct AccessInfo {
    issued: Instant,
    lifetime: Option<u64>,
    valid: bool,
    /// Bound to the client's DPoP key (RFC 9449): good only as `DPoP` with a proof.
    bound: bool,
    /// Bound to this client certificate (`x5t#S256`, RFC 8705).
    cert: Option<String>,
    /// Bound to the DPoP key with this JWK thumbprint.
    jkt: Option<String>,
    /// The `resource` its token request named (RFC 8707).
    resource: Option<String>,
}

struct RefreshInfo {
    client_id: String,
    valid: bool,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, CodeInfo>,
    access: HashMap<String, AccessInfo>,
    refresh: HashMap<String, RefreshInfo>,
    /// Access token each refresh token family last got (revoked on refresh).
    last_access_of: HashMap<String, String>,
    /// `http://127.0.0.1:PORT` of the plain listener, when there is one.
    plain_base: Option<String>,
    /// Device authorizations (RFC 8628) by device code.
    devices: HashMap<String, DeviceInfo>,
    /// The token request being answered came with a good DPoP proof: what it issues is
    /// bound to the client's key.
    bind_next_issue: bool,
    /// The JWK thumbprint of that proof's key (RFC 7638), which the API then demands.
    jkt_of_next_issue: Option<String>,
    /// The token request being answered came with this client certificate (`x5t#S256`)
    /// and mutual TLS is on: the access token it issues is bound to it.
    cert_of_next_issue: Option<String>,
    /// The `resource` the token request being answered named.
    resource_of_next_issue: Option<String>,
    /// Pushed authorization requests (RFC 9126): request_uri → the pushed form body.
    pushed: HashMap<String, String>,
}

struct DeviceInfo {
    client_id: String,
    user_code: String,
    approved: bool,
    issued: Instant,
    /// Seconds between polls the client must keep (grows by 5 at each `slow_down`).
    interval: u64,
    last_poll: Option<Instant>,
    redeemed: bool,
}

/// A running authorization server + API.
pub struct AuthServer {
    pub base: String,
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl AuthServer {
    /// A server this harness does not run (e.g. `oauthscope serve`), known by its base URL.
    pub fn external(base: &str) -> Self {
        let port = base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        AuthServer {
            base: base.trim_end_matches('/').to_string(),
            port,
            stop: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 18];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// Start the server over TLS (`tls`) on 127.0.0.1:0.
pub async fn start(config: AsConfig, tls: Arc<rustls::ServerConfig>) -> AuthServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("https://127.0.0.1:{port}");
    let state = Arc::new(Mutex::new(State::default()));
    let cfg = Arc::new(config);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    if cfg.plain_token_endpoint {
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_port = plain.local_addr().unwrap().port();
        state.lock().unwrap().plain_base = Some(format!("http://127.0.0.1:{plain_port}"));
        let (state, cfg, base) = (state.clone(), cfg.clone(), base.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = plain.accept().await {
                let (state, cfg, base) = (state.clone(), cfg.clone(), base.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        handle(req, state.clone(), cfg.clone(), base.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
    }
    let b = base.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = &mut rx => return,
            };
            let (state, cfg, acceptor, base) =
                (state.clone(), cfg.clone(), acceptor.clone(), b.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| PeerCert(x5t_s256(c)));
                let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    if let Some(p) = &peer {
                        req.extensions_mut().insert(p.clone());
                    }
                    handle(req, state.clone(), cfg.clone(), base.clone())
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    AuthServer {
        base,
        port,
        stop: Some(tx),
    }
}

/// The client certificate of the connection a request came on (`x5t#S256`).
#[derive(Clone)]
struct PeerCert(String);

/// RFC 8705 §3.1: base64url of the SHA-256 of the certificate's DER.
pub fn x5t_s256(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

fn http_date(offset: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset);
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).unwrap()
}

fn form(s: &str) -> HashMap<String, String> {
    oauthscope::oauth::parse::parse_form(s)
        .into_iter()
        .collect()
}

fn json_response(
    cfg: &AsConfig,
    status: u16,
    v: serde_json::Value,
    no_store: bool,
) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header("date", http_date(cfg.date_offset));
    if no_store {
        b = b
            .header("cache-control", "no-store")
            .header("pragma", "no-cache");
    }
    if cfg.form_response {
        let pairs: Vec<String> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                format!("{k}={}", s.replace(' ', "+"))
            })
            .collect();
        return b
            .header("content-type", "application/x-www-form-urlencoded")
            .body(full(pairs.join("&")))
            .unwrap();
    }
    if cfg.gzip {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(v.to_string().as_bytes()).unwrap();
        return b
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(full(e.finish().unwrap()))
            .unwrap();
    }
    b.header("content-type", "application/json")
        .body(full(v.to_string()))
        .unwrap()
}

fn oauth_error(cfg: &AsConfig, status: u16, error: &str, desc: &str) -> Response<Body> {
    let mut c = cfg.clone();
    c.form_response = false;
    let mut v = serde_json::json!({"error": error, "error_description": desc});
    if cfg.aad_errors {
        let code = match error {
            "invalid_client" => 7000215,
            "invalid_grant" => 70008,
            _ => 90009,
        };
        v["error_description"] = format!("AADSTS{code}: {desc} Trace ID: 0000").into();
        v["error_codes"] = serde_json::json!([code]);
    }
    json_response(&c, status, v, true)
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    cfg: Arc<AsConfig>,
    base: String,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let dpop = req
        .headers()
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .and_then(oauthscope::oauth::parse::decode_jwt);
    let method = req.method().to_string();
    let peer = req.extensions().get::<PeerCert>().map(|p| p.0.clone());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).to_string();
    let res = match path.as_str() {
        "/.well-known/oauth-authorization-server" => json_response(
            &AsConfig {
                form_response: false,
                ..(*cfg).clone()
            },
            200,
            serde_json::json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!(
                    "{}/token",
                    state.lock().unwrap().plain_base.clone().unwrap_or_else(|| base.clone())
                ),
                "revocation_endpoint": format!("{base}/revoke"),
                "introspection_endpoint": format!("{base}/introspect"),
                "pushed_authorization_request_endpoint": format!("{base}/par"),
                "userinfo_endpoint": format!("{base}/userinfo"),
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
                "device_authorization_endpoint": format!("{base}/device_authorization"),
                "token_endpoint_auth_methods_supported": match cfg.client_auth_only {
                    Some("basic") => vec!["client_secret_basic"],
                    Some(_) => vec!["client_secret_post"],
                    None => vec!["client_secret_basic", "client_secret_post"],
                },
                "scopes_supported": ["read", "write", "offline_access"],
                "code_challenge_methods_supported": ["S256"],
                "response_types_supported": ["code"],
                "jwks_uri": format!("{base}/jwks"),
                "id_token_signing_alg_values_supported": ["RS256"],
            }),
            false,
        ),
        "/device_authorization" => {
            let f = form(&body);
            match client_auth(&f, auth.as_deref(), cfg.client_auth_only) {
                None => oauth_error(&cfg, 401, "invalid_client", "Client authentication failed."),
                Some(client) => {
                    let device_code = random_token("dc-");
                    let user_code = format!("WDJB-{}", &random_token("")[..4].to_ascii_uppercase());
                    state.lock().unwrap().devices.insert(
                        device_code.clone(),
                        DeviceInfo {
                            client_id: client,
                            user_code: user_code.clone(),
                            approved: false,
                            issued: Instant::now(),
                            interval: cfg.device_interval,
                            last_poll: None,
                            redeemed: false,
                        },
                    );
                    json_response(
                        &AsConfig {
                            form_response: false,
                            ..(*cfg).clone()
                        },
                        200,
                        serde_json::json!({
                            "device_code": device_code,
                            "user_code": user_code,
                            "verification_uri": format!("{base}/device"),
                            "expires_in": cfg.device_expires_in,
                            "interval": cfg.device_interval,
                        }),
                        true,
                    )
                }
            }
        }
        "/par" => {
            let f = form(&body);
            match client_auth(&f, auth.as_deref(), cfg.client_auth_only) {
                None => oauth_error(&cfg, 401, "invalid_client", "Client authentication failed."),
                Some(_) => {
                    let uri = format!("urn:ietf:params:oauth:request_uri:{}", random_token(""));
                    state
                        .lock()
                        .unwrap()
                        .pushed
                        .insert(uri.clone(), body.clone());
                    json_response(
                        &AsConfig {
                            form_response: false,
                            ..(*cfg).clone()
                        },
                        201,
                        serde_json::json!({ "request_uri": uri, "expires_in": 60 }),
                        true,
                    )
                }
            }
        }
        "/device" => {
            // The user approves on another device: `?user_code=` signs in and approves.
            let f = form(&query);
            let mut s = state.lock().unwrap();
            let found = s
                .devices
                .values_mut()
                .find(|d| Some(&d.user_code) == f.get("user_code"));
            match found {
                Some(d) => {
                    d.approved = true;
                    Response::builder()
                        .status(200)
                        .body(full("Approved."))
                        .unwrap()
                }
                None => Response::builder()
                    .status(404)
                    .body(full("No such code."))
                    .unwrap(),
            }
        }
        "/jwks" => json_response(
            &AsConfig {
                form_response: false,
                ..(*cfg).clone()
            },
            200,
            serde_json::json!({ "keys": [signing_key().jwk("k1")] }),
            false,
        ),
        "/authorize" if cfg.login_form => login_form(&query),
        "/authorize/login" => {
            let f = form(&body);
            if f.get("username").map(String::as_str) == Some("alice")
                && f.get("password").map(String::as_str) == Some("wonderland")
            {
                authorize(
                    f.get("query").map(String::as_str).unwrap_or(""),
                    &state,
                    &cfg,
                )
            } else {
                Response::builder()
                    .status(403)
                    .body(full("wrong user or password"))
                    .unwrap()
            }
        }
        "/authorize" if form(&query).contains_key("request_uri") => {
            // RFC 9126: the browser brings only client_id and request_uri (single use).
            let uri = form(&query).get("request_uri").cloned().unwrap_or_default();
            let pushed = state.lock().unwrap().pushed.remove(&uri);
            match pushed {
                Some(pushed) => authorize(&pushed, &state, &cfg),
                None => Response::builder()
                    .status(400)
                    .body(full("invalid_request_uri"))
                    .unwrap(),
            }
        }
        "/authorize" => authorize(&query, &state, &cfg),
        "/callback" => Response::builder()
            .header("content-type", "text/plain")
            .body(full("signed in; you may close this window"))
            .unwrap(),
        "/token" | "/oauth2/token" | "/token/refresh" => {
            if cfg.token_delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(cfg.token_delay_ms)).await;
            }
            let proof = Proof {
                jwt: dpop.as_ref(),
                method: &method,
                url: format!("{base}{path}"),
            };
            if dpop.is_some() {
                let nonce = cfg.dpop_nonce.then_some(DPOP_NONCE);
                match proof.refused(None, nonce) {
                    Some("nonce") => {
                        let mut r = oauth_error(
                            &cfg,
                            400,
                            "use_dpop_nonce",
                            "Authorization server requires nonce in DPoP proof",
                        );
                        r.headers_mut()
                            .insert("dpop-nonce", http::HeaderValue::from_static(DPOP_NONCE));
                        return Ok(r);
                    }
                    Some(why) => return Ok(oauth_error(&cfg, 400, "invalid_dpop_proof", why)),
                    None => {
                        let mut s = state.lock().unwrap();
                        s.bind_next_issue = true;
                        s.jkt_of_next_issue =
                            dpop.as_ref().and_then(|j| ec_thumbprint(&j.header["jwk"]));
                    }
                }
            }
            if cfg.mtls {
                state.lock().unwrap().cert_of_next_issue = peer.clone();
            }
            state.lock().unwrap().resource_of_next_issue = form(&body).get("resource").cloned();
            let r = token(&body, &query, auth.as_deref(), &state, &cfg, &base);
            state.lock().unwrap().bind_next_issue = false;
            state.lock().unwrap().cert_of_next_issue = None;
            r
        }
        "/revoke" => {
            let f = form(&body);
            if let Some(t) = f.get("token") {
                let mut s = state.lock().unwrap();
                if let Some(a) = s.access.get_mut(t) {
                    a.valid = false;
                }
                if let Some(r) = s.refresh.get_mut(t) {
                    r.valid = false;
                }
            }
            Response::builder().status(200).body(full("")).unwrap()
        }
        "/introspect" => {
            // RFC 7662: is this token still good?
            let f = form(&body);
            let s = state.lock().unwrap();
            let active = f
                .get("token")
                .and_then(|t| s.access.get(t))
                .is_some_and(|a| {
                    a.valid
                        && a.lifetime
                            .is_none_or(|l| a.issued.elapsed() < Duration::from_secs(l))
                });
            json_response(
                &AsConfig {
                    form_response: false,
                    ..(*cfg).clone()
                },
                200,
                serde_json::json!({ "active": active }),
                true,
            )
        }
        "/userinfo" | "/api/me" => {
            let proof = Proof {
                jwt: dpop.as_ref(),
                method: &method,
                url: format!("{base}{path}"),
            };
            let r = api(
                auth.as_deref(),
                &query,
                &state,
                &cfg,
                &proof,
                peer.as_deref(),
            );
            match (path.as_str(), r.status().as_u16(), cfg.userinfo_sub) {
                ("/userinfo", 200, Some(sub)) => Response::builder()
                    .header("content-type", "application/json")
                    .body(full(
                        serde_json::json!({ "sub": sub, "name": "Someone Else" }).to_string(),
                    ))
                    .unwrap(),
                _ => r,
            }
        }
        _ => Response::builder()
            .status(404)
            .body(full("not found"))
            .unwrap(),
    };
    Ok(res)
}

fn authorize(query: &str, state: &Mutex<State>, cfg: &AsConfig) -> Response<Body> {
    let q = form(query);
    let client_ok = q
        .get("client_id")
        .is_some_and(|c| c == CLIENT_ID || c == OTHER_CLIENT_ID || c == ODD_CLIENT_ID);
    let Some(redirect) = q.get("redirect_uri").filter(|_| client_ok) else {
        return Response::builder()
            .status(400)
            .body(full("invalid client or redirect_uri"))
            .unwrap();
    };
    let mut loc = redirect.clone();
    loc.push(if loc.contains('?') { '&' } else { '?' });
    match q.get("response_type").map(String::as_str) {
        Some("code") => {
            let code = random_token("code-");
            state.lock().unwrap().codes.insert(
                code.clone(),
                CodeInfo {
                    client_id: q["client_id"].clone(),
                    redirect_uri: q.get("redirect_uri").cloned(),
                    challenge: q.get("code_challenge").map(|c| {
                        (
                            c.clone(),
                            q.get("code_challenge_method")
                                .cloned()
                                .unwrap_or_else(|| "plain".into()),
                        )
                    }),
                    scope: q.get("scope").cloned(),
                    nonce: q.get("nonce").cloned(),
                    used: false,
                },
            );
            loc.push_str(&format!("code={code}"));
        }
        Some("token") => {
            let at = random_token("at-");
            state.lock().unwrap().access.insert(
                at.clone(),
                AccessInfo {
                    issued: Instant::now(),
                    lifetime: Some(3600),
                    valid: true,
                    bound: false,
                    cert: None,
                    jkt: None,
                    resource: None,
                },
            );
            loc = format!("{redirect}#access_token={at}&token_type=Bearer&expires_in=3600");
        }
        _ => loc.push_str("error=unsupported_response_type"),
    }
    if let Some(s) = q.get("state") {
        if cfg.tamper_state {
            loc.push_str("&state=forged-elsewhere");
        } else {
            loc.push_str(&format!("&state={s}"));
        }
    }
    Response::builder()
        .status(302)
        .header("location", loc)
        .body(full(""))
        .unwrap()
}

/// The sign-in page: a form that carries the authorization request along.
fn login_form(query: &str) -> Response<Body> {
    let escaped = query
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    let page = format!(
        "<!doctype html><title>Sign in</title><form method=post action=/authorize/login>\
         <input name=username><input name=password type=password>\
         <input type=hidden name=query value=\"{escaped}\"><button>Sign in</button></form>"
    );
    Response::builder()
        .header("content-type", "text/html; charset=utf-8")
        .body(full(page))
        .unwrap()
}

/// The server's signing key (RS256, published as `k1` at `/jwks`), made once per test
/// binary; and another one, published nowhere.
fn signing_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(SigningKey::generate)
}

fn stranger_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(SigningKey::generate)
}

pub struct SigningKey(aws_lc_rs::signature::RsaKeyPair);

impl SigningKey {
    fn generate() -> Self {
        SigningKey(
            aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
        )
    }

    fn jwk(&self, kid: &str) -> serde_json::Value {
        use aws_lc_rs::signature::KeyPair;
        let public = self.0.public_key();
        serde_json::json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// `header.claims` signed RS256.
    fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// An ID token for `client`, signed RS256 with the key published at `/jwks`, wrong as
/// `cfg.id_token_fault` says (`kid`: under a key id the set does not hold; `signature`:
/// signed by a key published nowhere).
fn id_token(
    cfg: &AsConfig,
    iss: &str,
    client: &str,
    nonce: Option<String>,
    access: &str,
) -> String {
    use aws_lc_rs::digest;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let fault = cfg.id_token_fault.unwrap_or("");
    let h = digest::digest(&digest::SHA256, access.as_bytes());
    let mut at_hash = URL_SAFE_NO_PAD.encode(&h.as_ref()[..16]);
    if fault.contains("at_hash") {
        at_hash = URL_SAFE_NO_PAD.encode([7u8; 16]);
    }
    let mut claims = serde_json::json!({
        "iss": iss,
        "sub": "user-1",
        "aud": if fault.contains("aud") { OTHER_CLIENT_ID } else { client },
        "iat": now,
        "exp": now + 3600,
        "at_hash": at_hash,
    });
    if let Some(n) = nonce {
        claims["nonce"] = if fault.contains("nonce") {
            "a-nonce-from-elsewhere".into()
        } else {
            n.into()
        };
    }
    let kid = if fault.contains("kid") {
        "k0-retired"
    } else {
        "k1"
    };
    let header = serde_json::json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
    let key = if fault.contains("signature") {
        stranger_key()
    } else {
        signing_key()
    };
    key.sign(&header, &claims)
}

/// Client authentication as a strict server does it: Basic (form-decoded) or body.
fn client_auth(
    f: &HashMap<String, String>,
    auth: Option<&str>,
    only: Option<&str>,
) -> Option<String> {
    let basic = auth.is_some_and(|a| a.starts_with("Basic "));
    if only.is_some_and(|o| (o == "basic") != basic) {
        return None;
    }
    let (id, secret) = match auth.and_then(|a| a.strip_prefix("Basic ")) {
        Some(b64) => {
            let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
            let (u, p) = raw.split_once(':')?;
            (
                oauthscope::oauth::parse::form_decode(u),
                oauthscope::oauth::parse::form_decode(p),
            )
        }
        None => (f.get("client_id")?.clone(), f.get("client_secret")?.clone()),
    };
    let ok = [
        (CLIENT_ID, CLIENT_SECRET),
        (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET),
        (ODD_CLIENT_ID, ODD_CLIENT_SECRET),
    ]
    .iter()
    .any(|(i, s)| *i == id && *s == secret);
    ok.then_some(id)
}

fn issue(
    cfg: &AsConfig,
    s: &mut State,
    client: &str,
    with_refresh: bool,
    scope: Option<&String>,
) -> serde_json::Value {
    let cert = s.cert_of_next_issue.take();
    let at = match (&cfg.jwt_audience, &cert) {
        (_, Some(x5t)) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"at+jwt"}"#);
            let c = URL_SAFE_NO_PAD.encode(
                serde_json::json!({"iss": "https://127.0.0.1", "aud": cfg.jwt_audience.clone().unwrap_or_else(|| "https://127.0.0.1".into()),
                    "sub": "user", "client_id": client, "iat": now, "exp": now + cfg.expires_in.unwrap_or(3600) as i64,
                    "jti": random_token(""), "cnf": {"x5t#S256": x5t}})
                .to_string(),
            );
            format!("{h}.{c}.{}", random_token("sig"))
        }
        (Some(aud), None) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"at+jwt"}"#);
            let c = URL_SAFE_NO_PAD.encode(
                serde_json::json!({"iss": "https://127.0.0.1", "aud": aud, "sub": "user", "client_id": client,
                    "iat": now + cfg.date_offset, "exp": now + cfg.date_offset + cfg.expires_in.unwrap_or(3600) as i64,
                    "jti": random_token("")})
                .to_string(),
            );
            format!("{h}.{c}.{}", random_token("sig"))
        }
        (None, None) => random_token("at-"),
    };
    s.access.insert(
        at.clone(),
        AccessInfo {
            issued: Instant::now(),
            lifetime: cfg.salesforce_session.or(cfg.expires_in),
            valid: true,
            bound: false,
            cert,
            jkt: None,
            resource: s.resource_of_next_issue.take(),
        },
    );
    let bound = std::mem::take(&mut s.bind_next_issue);
    let jkt = s.jkt_of_next_issue.take();
    if let Some(a) = s.access.get_mut(&at) {
        a.bound = bound;
        a.jkt = jkt;
    }
    let token_type = if bound {
        "DPoP"
    } else if cfg.lowercase_token_type {
        "bearer"
    } else {
        "Bearer"
    };
    let mut v = serde_json::json!({"access_token": at, "token_type": token_type});
    if cfg.salesforce_session.is_some() {
        let ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        v["issued_at"] = ms.to_string().into();
        v["instance_url"] = "https://example.my.salesforce.com".into();
    } else if let Some(e) = cfg.expires_in {
        v["expires_in"] = if cfg.expires_in_as_string {
            e.to_string().into()
        } else {
            e.into()
        };
    }
    if let Some(claim) = cfg.expires_in_claim {
        v["expires_in"] = claim.into();
    }
    if let Some(sc) = scope {
        v["scope"] = sc.clone().into();
    }
    if with_refresh {
        let rt = random_token("rt-");
        s.refresh.insert(
            rt.clone(),
            RefreshInfo {
                client_id: client.to_string(),
                valid: true,
            },
        );
        s.last_access_of.insert(rt.clone(), at);
        v["refresh_token"] = rt.into();
    }
    v
}

fn token(
    body: &str,
    query: &str,
    auth: Option<&str>,
    state: &Mutex<State>,
    cfg: &AsConfig,
    base: &str,
) -> Response<Body> {
    let mut f = form(body);
    for (k, v) in form(query) {
        f.entry(k).or_insert(v);
    }
    let Some(client) = client_auth(&f, auth, cfg.client_auth_only) else {
        return oauth_error(cfg, 401, "invalid_client", "Client authentication failed.");
    };
    let mut s = state.lock().unwrap();
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(info) = s.codes.get_mut(&code) else {
                return oauth_error(cfg, 400, "invalid_grant", "Unknown authorization code.");
            };
            if info.used {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_grant",
                    "The authorization code was already redeemed.",
                );
            }
            info.used = true;
            if info.client_id != client {
                return oauth_error(cfg, 400, "invalid_grant", "Code issued to another client.");
            }
            if info.redirect_uri != f.get("redirect_uri").cloned() {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request.",
                );
            }
            if let Some((challenge, method)) = &info.challenge {
                let v = f.get("code_verifier").cloned().unwrap_or_default();
                let computed = if method == "S256" {
                    oauthscope::oauth::parse::s256(&v)
                } else {
                    v
                };
                if &computed != challenge {
                    return oauth_error(cfg, 400, "invalid_grant", "PKCE verification failed.");
                }
            }
            let offline = info
                .scope
                .as_deref()
                .is_some_and(|sc| sc.split([' ', '+']).any(|x| x == "offline_access"));
            let refresh = cfg.issue_refresh && (offline || !cfg.refresh_needs_offline_access);
            let openid = info
                .scope
                .as_deref()
                .is_some_and(|sc| sc.split([' ', '+']).any(|x| x == "openid"));
            let nonce = info.nonce.clone();
            let mut v = issue(cfg, &mut s, &client, refresh, f.get("scope"));
            if openid {
                let at = v["access_token"].as_str().unwrap_or("").to_string();
                v["id_token"] = id_token(cfg, base, &client, nonce, &at).into();
            }
            json_response(cfg, 200, v, cfg.no_store)
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(info) = s.refresh.get(&rt) else {
                return oauth_error(cfg, 400, "invalid_grant", "Unknown refresh token.");
            };
            if !info.valid {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_grant",
                    "The refresh token was already used or revoked.",
                );
            }
            if info.client_id != client {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_grant",
                    "Refresh token issued to another client.",
                );
            }
            if f.get("scope").is_some_and(|sc| sc.contains("admin")) {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_scope",
                    "Scope exceeds the original grant.",
                );
            }
            // The access token issued with this refresh token's family is replaced.
            if let Some(old) = s.last_access_of.get(&rt).cloned() {
                if let Some(a) = s.access.get_mut(&old) {
                    a.valid = false;
                }
            }
            let v = if cfg.rotate_refresh {
                s.refresh.get_mut(&rt).unwrap().valid = false;
                issue(cfg, &mut s, &client, true, None)
            } else {
                let v = issue(cfg, &mut s, &client, false, None);
                let at = v["access_token"].as_str().unwrap().to_string();
                s.last_access_of.insert(rt, at);
                v
            };
            json_response(cfg, 200, v, cfg.no_store)
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let code = f.get("device_code").cloned().unwrap_or_default();
            let lifetime = Duration::from_secs(cfg.device_expires_in);
            let Some(d) = s.devices.get_mut(&code).filter(|d| d.client_id == client) else {
                return oauth_error(cfg, 400, "invalid_grant", "Unknown device code.");
            };
            if d.redeemed {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_grant",
                    "The device code was already redeemed.",
                );
            }
            if d.issued.elapsed() >= lifetime {
                return oauth_error(cfg, 400, "expired_token", "The device code has expired.");
            }
            let too_soon = d
                .last_poll
                .is_some_and(|p| p.elapsed() < Duration::from_secs(d.interval));
            d.last_poll = Some(Instant::now());
            if too_soon {
                d.interval += 5;
                return oauth_error(cfg, 400, "slow_down", "Polling too fast.");
            }
            if !d.approved {
                return oauth_error(
                    cfg,
                    400,
                    "authorization_pending",
                    "The user has not approved yet.",
                );
            }
            d.redeemed = true;
            let v = issue(cfg, &mut s, &client, cfg.issue_refresh, None);
            json_response(cfg, 200, v, cfg.no_store)
        }
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => {
            const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
            let subject = f.get("subject_token").cloned().unwrap_or_default();
            if f.get("subject_token_type").map(String::as_str) != Some(ACCESS) {
                return oauth_error(
                    cfg,
                    400,
                    "invalid_request",
                    "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
                );
            }
            if !s.access.get(&subject).is_some_and(|a| a.valid) {
                return oauth_error(cfg, 400, "invalid_grant", "Unknown subject token.");
            }
            let mut v = issue(cfg, &mut s, &client, false, None);
            v["issued_token_type"] = ACCESS.into();
            json_response(cfg, 200, v, cfg.no_store)
        }
        Some("client_credentials") => {
            let v = issue(cfg, &mut s, &client, false, None);
            json_response(cfg, 200, v, cfg.no_store)
        }
        _ => oauth_error(
            cfg,
            400,
            "unsupported_grant_type",
            "Grant type not supported.",
        ),
    }
}

/// A request's DPoP proof (claims only: this server checks what it says, not its
/// signature) and what it must match.
struct Proof<'a> {
    jwt: Option<&'a oauthscope::oauth::parse::Jwt>,
    method: &'a str,
    url: String,
}

impl Proof<'_> {
    /// Why the proof does not fit (`None`: it does), for the token `ath` must hash.
    fn refused(&self, token: Option<&str>, nonce: Option<&str>) -> Option<&'static str> {
        let Some(j) = self.jwt else {
            return Some("no DPoP proof");
        };
        if j.claim_str("htm") != Some(self.method) {
            return Some("htm does not match");
        }
        if j.claim_str("htu") != Some(self.url.as_str()) {
            return Some("htu does not match");
        }
        if let Some(t) = token {
            if j.claim_str("ath") != Some(oauthscope::oauth::dpop::token_hash(t).as_str()) {
                return Some("ath does not match");
            }
        }
        if nonce.is_some() && j.claim_str("nonce") != nonce {
            return Some("nonce");
        }
        None
    }
}

/// The JWK thumbprint (RFC 7638) of an EC public key: the test clients sign with P-256.
fn ec_thumbprint(jwk: &serde_json::Value) -> Option<String> {
    let m = |k: &str| jwk.get(k).and_then(|v| v.as_str());
    let canonical = format!(
        r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
        m("crv")?,
        m("x")?,
        m("y")?
    );
    (m("kty")? == "EC").then(|| x5t_s256(canonical.as_bytes()))
}

/// The nonce the token endpoint demands when `dpop_nonce` is set.
const DPOP_NONCE: &str = "srv-nonce-1";

fn api(
    auth: Option<&str>,
    query: &str,
    state: &Mutex<State>,
    cfg: &AsConfig,
    proof: &Proof<'_>,
    peer: Option<&str>,
) -> Response<Body> {
    if let Some(token) = auth.and_then(|a| a.strip_prefix("DPoP ")) {
        let s = state.lock().unwrap();
        let info = s.access.get(token.trim()).filter(|a| a.valid && a.bound);
        let key = proof.jwt.and_then(|j| ec_thumbprint(&j.header["jwk"]));
        let why = match info {
            None => Some("unknown token"),
            Some(a) if a.jkt.is_some() && a.jkt != key => {
                Some("the proof is not signed with the key the token is bound to")
            }
            Some(_) => proof.refused(Some(token.trim()), None),
        };
        return match why {
            None => Response::builder()
                .header("content-type", "application/json")
                .body(full(r#"{"sub":"user-1","name":"Test User"}"#))
                .unwrap(),
            Some(why) => Response::builder()
                .status(401)
                .header(
                    "www-authenticate",
                    format!(r#"DPoP algs="ES256", error="invalid_dpop_proof", error_description="{why}""#),
                )
                .body(full(""))
                .unwrap(),
        };
    }
    let token = match auth {
        Some(a) if cfg.strict_bearer_scheme && !a.starts_with("Bearer ") => None,
        Some(a) if a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ") => {
            Some(a[7..].trim().to_string())
        }
        Some(_) => None,
        None => form(query).get("access_token").cloned(),
    };
    let unauthorized = |www: &str| {
        Response::builder()
            .status(401)
            .header("date", http_date(cfg.date_offset))
            .header("www-authenticate", www)
            .body(full(""))
            .unwrap()
    };
    let Some(token) = token else {
        return unauthorized(if cfg.challenge_error {
            r#"Bearer realm="api", error="invalid_token""#
        } else {
            r#"Bearer realm="api""#
        });
    };
    let s = state.lock().unwrap();
    if s.access.get(&token).is_some_and(|a| a.bound) {
        return unauthorized(
            r#"DPoP algs="ES256", error="invalid_token", error_description="DPoP-bound token sent as a bearer token""#,
        );
    }
    if let (Some(want), Some(a)) = (cfg.api_resource, s.access.get(&token)) {
        if a.resource.as_deref() != Some(want) {
            return unauthorized(&format!(
                r#"Bearer realm="api", error="invalid_token", error_description="The token is for another resource", resource_id="{want}""#
            ));
        }
    }
    if let Some(bound) = s.access.get(&token).and_then(|a| a.cert.as_deref()) {
        if peer != Some(bound) {
            return unauthorized(
                r#"Bearer realm="api", error="invalid_token", error_description="The access token is bound to a client certificate this connection did not present""#,
            );
        }
    }
    let ok = s.access.get(&token).is_some_and(|a| {
        a.valid
            && a.lifetime
                .is_none_or(|l| a.issued.elapsed() < Duration::from_secs(l))
    });
    if !ok {
        return unauthorized(if cfg.salesforce_session.is_some() {
            r#"Bearer realm="api", error="invalid_token", error_description="Session expired or invalid""#
        } else {
            r#"Bearer realm="api", error="invalid_token", error_description="The access token expired or was revoked""#
        });
    }
    Response::builder()
        .header("content-type", "application/json")
        .header("date", http_date(cfg.date_offset))
        .body(full(r#"{"sub":"user-1","name":"Test User"}"#))
        .unwrap()
}
