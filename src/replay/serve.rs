//! `oauthscope serve CAPTURE`: stand in for the captured service. Requests are matched to
//! captured exchanges on method, path and the parameters that matter (volatile ones such
//! as state, nonce, PKCE values, codes and tokens are ignored); token responses get fresh
//! tokens, and the server keeps them consistent: a refresh with a served refresh token is
//! answered, an API call with a served access token is accepted.
//!
//! An API call with the newest token it issued gets a captured success (not a captured
//! 401); a token older than the `expires_in` it was issued with gets 401, as the real
//! service would.
//! Like the real service, it refuses what it does not know: a bearer token it neither
//! issued nor saw in the capture (401 `invalid_token`), client credentials other than the
//! captured ones (401 `invalid_client`), a refresh token or code it never issued nor saw
//! (400 `invalid_grant`). Discovery documents name the mock's own address.
//!
//! Faults: `--expire-after` (API answers 401 invalid_token once a token is older),
//! `--no-refresh-token` (token responses carry none), `--rotate-refresh-tokens` (each
//! refresh issues a new one and rejects reuse).
//!
//! Long on purpose: the mock upstream's routing, its OAuth checks (clients, codes,
//! tokens) and its faults are one behaviour.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::capture::Exchange;
use crate::oauth::parse::{Credentials, parse_authorization, parse_form, query_params, url_base};

/// Parameters that change on every run and never decide which answer fits.
const VOLATILE: [&str; 14] = [
    "state",
    "nonce",
    "code",
    "code_challenge",
    "code_verifier",
    "refresh_token",
    "access_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "timestamp",
    "_",
    "token",
    "id_token",
];

/// Fault injection switches.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub expire_after: Option<Duration>,
    pub no_refresh_token: bool,
    pub rotate_refresh_tokens: bool,
}

struct Candidate {
    params: Vec<(String, String)>,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Tokens {
    access: HashMap<String, Instant>,
    /// The `expires_in` each served access token was issued with: past it, the API
    /// refuses the token, as the real service did.
    lifetime: HashMap<String, Duration>,
    /// The access token served last: the one a well-behaved client uses.
    newest: Option<String>,
    refresh: HashMap<String, bool>,
    codes: std::collections::HashSet<String>,
}

/// What the capture shows the real service accepting or issuing.
#[derive(Default)]
struct Known {
    /// Access tokens issued or sent in the capture.
    access: std::collections::HashSet<String>,
    /// Refresh tokens issued or sent.
    refresh: std::collections::HashSet<String>,
    /// Codes issued (in a redirect) or sent.
    codes: std::collections::HashSet<String>,
    /// Per token endpoint path: the client ids and secrets sent there.
    clients: HashMap<String, Vec<(String, Option<String>)>>,
    /// Origins of the capture, as the discovery documents name them.
    origins: Vec<String>,
    /// Compares a presented secret with a redacted one.
    fpr: Option<crate::capture::redact::Fingerprinter>,
}

impl Known {
    fn learn(&mut self, ex: &Exchange, step: &crate::oauth::Step) {
        use crate::oauth::Step;
        let origin = crate::oauth::parse::url_origin(&ex.request.url);
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
        let issued = super::lineage::captured_issue(ex, step);
        self.access.extend(issued.access);
        self.refresh.extend(issued.refresh);
        self.codes.extend(issued.code);
        match step {
            Step::Token(t) => {
                self.refresh.extend(t.refresh_token.clone());
                self.codes.extend(t.code.clone());
                if let Some(id) = &t.client_id {
                    let list = self.clients.entry(path_of(&t.endpoint)).or_default();
                    let pair = (id.clone(), t.client_secret.clone());
                    if !list.contains(&pair) {
                        list.push(pair);
                    }
                }
            }
            Step::ApiCall(a) | Step::UserInfo(a) => self.access.extend(a.token.clone()),
            Step::Callback(p) => self.codes.extend(p.get("code").map(str::to_string)),
            _ => {}
        }
    }

    fn secret_matches(&self, recorded: &str, presented: &str) -> bool {
        match (crate::capture::redact::masked_fp(recorded), &self.fpr) {
            (Some(fp), Some(fpr)) => fpr.fp(presented) == fp,
            _ => recorded == presented,
        }
    }

    /// Why the client credentials presented at `path` would be refused, if they would.
    fn refuse_client(&self, path: &str, id: Option<&str>, secret: Option<&str>) -> Option<String> {
        let list = self.clients.get(path)?;
        let Some(id) = id else {
            return Some("no client_id was sent".into());
        };
        let mine: Vec<&Option<String>> = list
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, s)| s)
            .collect();
        if mine.is_empty() {
            return Some(format!("client_id {id:?} is not the captured client"));
        }
        let secrets: Vec<&String> = mine.iter().filter_map(|s| s.as_ref()).collect();
        if secrets.is_empty() {
            return None;
        }
        match secret {
            None => Some("the client secret is missing".into()),
            Some(s) if secrets.iter().any(|r| self.secret_matches(r, s)) => None,
            Some(_) => Some("the client secret is not the captured one".into()),
        }
    }
}

struct State {
    known: Known,
    /// (method, path) → captured answers, in capture order.
    table: HashMap<(String, String), Vec<Candidate>>,
    /// Next candidate per key, so repeated calls replay the captured sequence.
    cursor: HashMap<(String, String), usize>,
    tokens: Tokens,
    faults: Faults,
    log: Box<dyn Fn(String) + Send + Sync>,
}

fn path_of(url: &str) -> String {
    let base = url_base(url);
    match base.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_else(|| "/".into()),
        None => base.to_string(),
    }
}

fn relevant(params: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
        .collect();
    v.sort();
    v
}

/// The replay table built from a capture's exchanges.
pub struct Replay {
    state: Arc<Mutex<State>>,
}

impl Replay {
    /// `salt` is the capture's (it compares presented secrets with redacted ones).
    pub fn new(
        exchanges: impl IntoIterator<Item = Exchange>,
        salt: Option<&str>,
        faults: Faults,
        log: Box<dyn Fn(String) + Send + Sync>,
    ) -> Self {
        let mut table: HashMap<(String, String), Vec<Candidate>> = HashMap::new();
        let mut known = Known {
            fpr: salt.map(crate::capture::redact::Fingerprinter::new),
            ..Known::default()
        };
        let mut flow = crate::oauth::Flow::new(salt.unwrap_or("00"), false);
        for ex in exchanges {
            let step = flow.push(&ex);
            known.learn(&ex, &step);
            let Some(r) = ex.response else { continue };
            let mut params = query_params(&ex.request.url).0;
            if let Some(t) = ex.request.body.as_text() {
                if ex
                    .request
                    .header("content-type")
                    .is_some_and(|c| c.contains("x-www-form-urlencoded"))
                {
                    params.extend(parse_form(t));
                }
            }
            table
                .entry((ex.request.method.clone(), path_of(&ex.request.url)))
                .or_default()
                .push(Candidate {
                    params: relevant(params),
                    status: r.status,
                    headers: r
                        .headers
                        .iter()
                        .filter(|h| {
                            ![
                                "content-length",
                                "transfer-encoding",
                                "connection",
                                "content-encoding",
                                "date",
                            ]
                            .contains(&h.0.to_ascii_lowercase().as_str())
                        })
                        .map(|h| (h.0.clone(), h.1.clone()))
                        .collect(),
                    body: r.body.bytes(),
                });
        }
        Replay {
            state: Arc::new(Mutex::new(State {
                known,
                table,
                cursor: HashMap::new(),
                tokens: Tokens::default(),
                faults,
                log,
            })),
        }
    }

    /// How many distinct (method, path) pairs can be answered.
    pub fn routes(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .table
            .len()
    }

    /// Serve on `listener` (plain HTTP, or TLS with `tls`) until `shutdown`.
    pub async fn serve(
        self,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = &mut shutdown => return,
            };
            let state = self.state.clone();
            let acceptor = acceptor.clone();
            let scheme = if acceptor.is_some() { "https" } else { "http" };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| answer(req, scheme, state.clone()));
                let b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(tcp).await {
                            let _ = b.serve_connection(TokioIo::new(s), svc).await;
                        }
                    }
                    None => {
                        let _ = b.serve_connection(TokioIo::new(tcp), svc).await;
                    }
                }
            });
        }
    }
}

fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 18];
    let _ = aws_lc_rs::rand::fill(&mut b);
    format!("{prefix}{}", crate::capture::redact::hex_encode(&b))
}

fn reply(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn json_error(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// 401 with an RFC 6750 challenge.
fn invalid_token(description: &str) -> Response<Full<Bytes>> {
    let challenge = format!(
        r#"Bearer realm="oauthscope serve", error="invalid_token", error_description="{description}""#
    );
    json_error(
        401,
        &[("www-authenticate", challenge.as_str())],
        &serde_json::json!({"error": "invalid_token", "error_description": description})
            .to_string(),
    )
}

/// A token endpoint error (RFC 6749 §5.2).
fn token_error(status: u16, error: &str, description: &str) -> Response<Full<Bytes>> {
    let mut headers = vec![("cache-control", "no-store")];
    if status == 401 {
        headers.push(("www-authenticate", r#"Basic realm="oauthscope serve""#));
    }
    json_error(
        status,
        &headers,
        &serde_json::json!({"error": error, "error_description": description}).to_string(),
    )
}

/// Rewrite URLs of the captured origins in a discovery document to the mock's own.
fn rewrite_origins(body: &[u8], from: &[String], to: &str) -> Option<Vec<u8>> {
    fn walk(v: &mut serde_json::Value, from: &[String], to: &str) {
        match v {
            serde_json::Value::String(s) => {
                for f in from {
                    let at_origin = s
                        .strip_prefix(f.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                    if at_origin {
                        *s = format!("{to}{}", &s[f.len()..]);
                        break;
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, from, to)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, from, to)),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    walk(&mut v, from, to);
    serde_json::to_vec(&v).ok()
}

async fn answer(
    req: Request<Incoming>,
    scheme: &'static str,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let own_origin = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .map(|h| format!("{scheme}://{h}"));
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut params = parse_form(&query);
    let query_state = params
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.clone());
    if ct.contains("x-www-form-urlencoded") {
        params.extend(parse_form(&String::from_utf8_lossy(&body)));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();

    // Tokens we served, older than --expire-after or than their own expires_in.
    if let Some(Credentials::Scheme { value, .. }) = auth.as_deref().and_then(parse_authorization) {
        let limit = match (st.faults.expire_after, st.tokens.lifetime.get(&value)) {
            (Some(a), Some(b)) => Some(a.min(*b)),
            (a, b) => a.or(b.copied()),
        };
        if let (Some(limit), Some(issued)) = (limit, st.tokens.access.get(&value)) {
            if now.duration_since(*issued) > limit {
                (st.log)(format!(
                    "{method} {path}: 401, the access token is older than {}",
                    if st.faults.expire_after == Some(limit) {
                        "--expire-after"
                    } else {
                        "its expires_in"
                    }
                ));
                return Ok(json_error(
                    401,
                    &[(
                        "www-authenticate",
                        r#"Bearer error="invalid_token", error_description="The access token expired""#,
                    )],
                    r#"{"error":"invalid_token"}"#,
                ));
            }
        }
    }
    // A bearer credential the service never issued is refused, as the real one would.
    let presented = match auth.as_deref().and_then(parse_authorization) {
        Some(Credentials::Scheme { value, .. }) => Some(value),
        Some(Credentials::Bare(value)) => Some(value),
        _ => get("access_token"),
    };
    // The newest token this mock issued (not expired: see above) is good: the API answers
    // it with a success the capture holds, not a captured refusal. Older ones get the
    // captured answers in turn (a service that revokes on refresh refused them).
    let served_bearer = presented.is_some() && presented == st.tokens.newest;
    if let Some(token) = presented {
        let known = st.tokens.access.contains_key(&token) || st.known.access.contains(&token);
        if !known {
            (st.log)(format!(
                "{method} {path}: 401, an access token this service never issued"
            ));
            return Ok(invalid_token(
                "The access token is not one this service issued",
            ));
        }
    }
    let grant = get("grant_type");
    if grant.is_some() {
        let (id, secret) = match auth.as_deref().and_then(parse_authorization) {
            Some(Credentials::Basic { user, password, .. }) => (Some(user), Some(password)),
            _ => (get("client_id"), get("client_secret")),
        };
        if let Some(why) = st
            .known
            .refuse_client(&path, id.as_deref(), secret.as_deref())
        {
            (st.log)(format!("{method} {path}: 401 invalid_client, {why}"));
            return Ok(token_error(
                401,
                "invalid_client",
                &format!("Client authentication failed: {why}"),
            ));
        }
    }
    if grant.as_deref() == Some("authorization_code") {
        let code = get("code").unwrap_or_default();
        if !st.tokens.codes.contains(&code) && !st.known.codes.contains(&code) {
            (st.log)(format!(
                "{method} {path}: 400 invalid_grant, an unknown code"
            ));
            return Ok(token_error(
                400,
                "invalid_grant",
                "The authorization code is not one this service issued",
            ));
        }
    }
    if grant.as_deref() == Some("refresh_token") {
        let rt = get("refresh_token").unwrap_or_default();
        if !st.tokens.refresh.contains_key(&rt) && !st.known.refresh.contains(&rt) {
            (st.log)(format!(
                "{method} {path}: 400 invalid_grant, an unknown refresh token"
            ));
            return Ok(token_error(
                400,
                "invalid_grant",
                "The refresh token is not one this service issued",
            ));
        }
        if let Some(valid) = st.tokens.refresh.get(&rt) {
            if !valid {
                (st.log)(format!(
                    "{method} {path}: invalid_grant, refresh token reused after rotation"
                ));
                return Ok(json_error(
                    400,
                    &[("cache-control", "no-store")],
                    r#"{"error":"invalid_grant","error_description":"The refresh token was already used"}"#,
                ));
            }
            if st.faults.rotate_refresh_tokens {
                st.tokens.refresh.insert(rt, false);
            }
        }
    }

    let key = (method.clone(), path.clone());
    let want = relevant(params.clone());
    let Some(cands) = st.table.get(&key) else {
        (st.log)(format!(
            "{method} {path}: no captured exchange matches (502)"
        ));
        return Ok(reply(
            502,
            &[("content-type".into(), "text/plain".into())],
            format!("oauthscope serve: nothing in the capture answers {method} {path}\n")
                .into_bytes(),
        ));
    };
    // Best match on the relevant parameters; ties go to the next in capture order.
    let start = st.cursor.get(&key).copied().unwrap_or(0);
    let n = cands.len();
    let score = |c: &Candidate| {
        let accepted = i64::from(served_bearer && (200..300).contains(&c.status)) * 1000;
        accepted + c.params.iter().filter(|p| want.contains(p)).count() as i64
            - (c.params.len() as i64 - want.len() as i64).abs()
    };
    let best = (0..n)
        .map(|i| (start + i) % n)
        .max_by_key(|&i| (score(&cands[i]), -(((i + n - start) % n) as i64)))
        .unwrap_or(0);
    let c = &cands[best];
    let (status, mut headers, mut body) = (c.status, c.headers.clone(), c.body.clone());
    st.cursor.insert(key, (best + 1) % n);

    // Token responses: fresh tokens, remembered for the faults.
    if grant.is_some() {
        if let Ok(serde_json::Value::Object(mut obj)) =
            serde_json::from_slice::<serde_json::Value>(&body)
        {
            if obj.contains_key("access_token") {
                let at = random_token("at-");
                st.tokens.access.insert(at.clone(), now);
                st.tokens.newest = Some(at.clone());
                let expires_in = obj.get("expires_in").and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                });
                if let Some(e) = expires_in {
                    st.tokens
                        .lifetime
                        .insert(at.clone(), Duration::from_secs(e));
                }
                obj.insert("access_token".into(), at.into());
                let had_rt = obj.contains_key("refresh_token");
                if st.faults.no_refresh_token {
                    obj.remove("refresh_token");
                } else if had_rt || st.faults.rotate_refresh_tokens {
                    let rt = random_token("rt-");
                    st.tokens.refresh.insert(rt.clone(), true);
                    obj.insert("refresh_token".into(), rt.into());
                }
                body = serde_json::Value::Object(obj).to_string().into_bytes();
            }
        }
    }
    // Authorize redirects: the client's own state goes back, a fresh code with it.
    if let Some(loc) = headers
        .iter_mut()
        .find(|h| h.0.eq_ignore_ascii_case("location"))
    {
        let redirect = get("redirect_uri");
        let target = match (&redirect, loc.1.split_once('?')) {
            (Some(r), Some((_, q))) => format!("{r}?{q}"),
            _ => loc.1.clone(),
        };
        let (base, q) = target
            .split_once('?')
            .map(|(b, q)| (b.to_string(), q.to_string()))
            .unwrap_or((target.clone(), String::new()));
        let mut issued_code = None;
        let pairs: Vec<String> = parse_form(&q)
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "state" => format!("state={}", query_state.clone().unwrap_or(v)),
                "code" => {
                    let code = random_token("code-");
                    issued_code = Some(code.clone());
                    format!("code={code}")
                }
                _ => format!("{k}={v}"),
            })
            .collect();
        st.tokens.codes.extend(issued_code);
        loc.1 = if pairs.is_empty() {
            base
        } else {
            format!("{base}?{}", pairs.join("&"))
        };
    }
    // Discovery documents describe the mock at its own address.
    if path.contains("/.well-known/") {
        if let Some(own) = &own_origin {
            if let Some(b) = rewrite_origins(&body, &st.known.origins, own) {
                body = b;
            }
        }
    }
    (st.log)(format!(
        "{method} {path}: {status} (captured answer {} of {n})",
        best + 1
    ));
    Ok(reply(status, &headers, body))
}
