//! What an exchange means: [`classify`] turns a wire record into a [`Step`], by content
//! (grant_type, response_type, credentials, response shape), never by URL path alone.
//!
//! Long on purpose: every kind of step is recognised here, by content, in one order of
//! precedence that reads top to bottom (token request, discovery, authorize, revocation,
//! callback, API call), together with the token response reader they share.

use std::collections::HashSet;

use super::parse::{
    Challenge, Credentials, Params, json_object, parse_authorization, parse_form,
    parse_www_authenticate, query_params, url_base, url_origin,
};
use crate::capture::Exchange;
use crate::capture::redact::Fingerprinter;

/// The grant a token request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    Password,
    DeviceCode,
    TokenExchange,
    JwtBearer,
    Other(String),
}

impl Grant {
    pub fn parse(s: &str) -> Self {
        match s {
            "authorization_code" => Grant::AuthorizationCode,
            "refresh_token" => Grant::RefreshToken,
            "client_credentials" => Grant::ClientCredentials,
            "password" => Grant::Password,
            "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => Grant::DeviceCode,
            "urn:ietf:params:oauth:grant-type:token-exchange" => Grant::TokenExchange,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Grant::JwtBearer,
            other => Grant::Other(other.to_string()),
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
            Grant::Password => "password",
            Grant::DeviceCode => "device_code",
            Grant::TokenExchange => "token_exchange",
            Grant::JwtBearer => "jwt_bearer",
            Grant::Other(s) => s,
        }
    }
}

/// How the client authenticated at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (client_secret_basic).
    Basic,
    /// `client_secret` in the form body (client_secret_post).
    Post,
    /// `client_assertion` signed with a private key (private_key_jwt).
    Assertion,
    /// `client_assertion` signed with the client secret (client_secret_jwt, `HS256`...).
    SecretJwt,
    /// Mutual TLS: the client certificate of the connection, and only the client id in
    /// the body (RFC 8705 §2: `tls_client_auth` or `self_signed_tls_client_auth`).
    Tls,
    /// No client authentication (public client).
    None,
}

impl ClientAuth {
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
            ClientAuth::Assertion => "private_key_jwt",
            ClientAuth::SecretJwt => "client_secret_jwt",
            ClientAuth::Tls => "tls_client_auth",
            ClientAuth::None => "none",
        }
    }
}

/// How a token response was encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Form,
    Other(String),
    Empty,
}

/// What the token endpoint answered.
#[derive(Debug, Clone, Default)]
pub struct TokenResponse {
    pub status: u16,
    pub format: Option<BodyFormat>,
    pub content_type: String,
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<f64>,
    /// `expires_in` came as a JSON string (Microsoft v1) rather than a number.
    pub expires_in_is_string: bool,
    pub refresh_token: Option<String>,
    pub refresh_token_expires_in: Option<f64>,
    pub id_token: Option<String>,
    pub scope: Option<String>,
    /// Token exchange (RFC 8693): the type of the token issued.
    pub issued_token_type: Option<String>,
    /// Salesforce: `issued_at` in milliseconds.
    pub issued_at_ms: Option<i64>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Microsoft's numeric `error_codes` (AADSTS without the prefix).
    pub error_codes: Vec<i64>,
    /// The access token's JWT header and claims (decoded once; from the hints when masked).
    pub access_jwt: Option<super::parse::Jwt>,
    pub no_store: bool,
    /// Fingerprints of the issued tokens (filled once by [`fingerprint`]).
    pub access_fp: Option<String>,
    pub refresh_fp: Option<String>,
    pub id_token_fp: Option<String>,
}

impl TokenResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status) && self.error.is_none() && self.access_token.is_some()
    }
}

/// A request to the token endpoint and its answer.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Token endpoint URL (no query).
    pub endpoint: String,
    pub grant: Grant,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub auth: ClientAuth,
    /// Basic credentials as sent (before form-decoding), to check their encoding.
    pub basic_raw: Option<(String, String)>,
    /// The Basic credential's parts hold characters that form-encoding would have
    /// escaped (from the raw header, or a redacted HAR's hints).
    pub basic_unencoded: bool,
    /// Whether the verifier matches the challenge, as a redacted HAR's hints tell it
    /// (the verifier itself is masked there).
    pub pkce_hint: Option<bool>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub refresh_token: Option<String>,
    pub code_verifier: Option<String>,
    pub scope: Option<String>,
    pub params: Params,
    /// Parameters that came in the URL's query rather than the body.
    pub query: Params,
    pub response: Option<TokenResponse>,
    /// Fingerprints of the code, refresh token and client secret sent (filled once by
    /// [`fingerprint`]).
    pub code_fp: Option<String>,
    pub refresh_fp: Option<String>,
    pub secret_fp: Option<String>,
    /// The device code polled with (device flow).
    pub device_code_fp: Option<String>,
}

/// An authorization request (the user's browser to the AS).
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub endpoint: String,
    pub params: Params,
    /// A code (or error) issued in the redirect's `Location`, when the response is captured.
    pub redirect: Option<Params>,
    /// Pushed authorization requests (RFC 9126): on the push, the `request_uri` the server
    /// issued; on the browser's authorize request, the one it carries (its parameters are
    /// the pushed ones).
    pub request_uri: Option<String>,
    /// This is the push itself (the back-channel POST), not the browser's request.
    pub pushed: bool,
}

/// A device authorization (RFC 8628): the codes issued and how the client must poll.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub endpoint: String,
    pub client_id: Option<String>,
    pub device_code: Option<String>,
    /// Seconds between polls (RFC 8628 §3.2: 5 when the answer names none).
    pub interval: f64,
    /// How long the device code lives, in seconds.
    pub expires_in: Option<f64>,
    pub error: Option<String>,
    /// The device code's fingerprint (filled once by [`fingerprint`]).
    pub device_code_fp: Option<String>,
}

/// Where an API call carried its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Header,
    Query,
    Body,
    /// `Authorization: Bearer` with nothing after the scheme.
    Empty,
    None,
}

/// A call to a resource server.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub placement: Placement,
    /// The credential's scheme as sent (`Bearer`, `bearer`, `Token`, `` for bare).
    pub scheme: Option<String>,
    pub token: Option<String>,
    /// The token's fingerprint (filled once by [`fingerprint`]).
    pub token_fp: Option<String>,
    pub status: Option<u16>,
    pub challenges: Vec<Challenge>,
}

/// What an exchange means in an OAuth flow.
#[derive(Debug, Clone)]
pub enum Step {
    Authorize(AuthorizeRequest),
    Callback(Params),
    Token(Box<TokenRequest>),
    Discovery(serde_json::Map<String, serde_json::Value>),
    /// The provider's public keys (`jwks_uri`).
    Jwks(super::jws::JwkSet),
    /// A device authorization request (RFC 8628 §3.1) and its answer.
    Device(DeviceAuthorization),
    Revocation {
        token: Option<String>,
    },
    Introspection {
        token: Option<String>,
    },
    UserInfo(ApiCall),
    ApiCall(ApiCall),
    Other,
}

impl Step {
    /// Short name for display and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Authorize(_) => "authorize",
            Step::Callback(_) => "callback",
            Step::Token(t) => match t.grant {
                Grant::AuthorizationCode => "token:authorization_code",
                Grant::RefreshToken => "token:refresh",
                Grant::ClientCredentials => "token:client_credentials",
                Grant::Password => "token:password",
                Grant::DeviceCode => "token:device_code",
                Grant::TokenExchange => "token:exchange",
                Grant::JwtBearer => "token:jwt_bearer",
                Grant::Other(_) => "token:other",
            },
            Step::Discovery(_) => "discovery",
            Step::Jwks(_) => "jwks",
            Step::Device(_) => "device_authorization",
            Step::Revocation { .. } => "revocation",
            Step::Introspection { .. } => "introspection",
            Step::UserInfo(_) => "userinfo",
            Step::ApiCall(_) => "api",
            Step::Other => "other",
        }
    }

    pub fn api_call(&self) -> Option<&ApiCall> {
        match self {
            Step::ApiCall(a) | Step::UserInfo(a) => Some(a),
            _ => None,
        }
    }
}

/// What earlier exchanges taught about the endpoints (from discovery and token use).
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// Origins where access tokens were sent: later calls there without one are API calls.
    pub api_origins: HashSet<String>,
    pub userinfo_endpoints: HashSet<String>,
    pub revocation_endpoints: HashSet<String>,
    pub introspection_endpoints: HashSet<String>,
    /// `jwks_uri` of the discovery documents seen.
    pub jwks_endpoints: HashSet<String>,
    /// `device_authorization_endpoint` of the discovery documents seen.
    pub device_endpoints: HashSet<String>,
    /// Pushed authorization requests (RFC 9126): `request_uri` → the parameters pushed.
    pub pushed: std::collections::HashMap<String, Params>,
}

fn form_body(ex: &Exchange) -> Option<Params> {
    let body = ex.request.body.as_text()?;
    let ct = ex
        .request
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.contains("json") {
        let obj = json_object(body)?;
        return Some(Params(
            obj.into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    serde_json::Value::Number(n) => Some((k, n.to_string())),
                    _ => None,
                })
                .collect(),
        ));
    }
    if ct.contains("x-www-form-urlencoded") || (!ct.contains("multipart") && body.contains('=')) {
        let p = Params(parse_form(body.trim()));
        return (!p.is_empty()).then_some(p);
    }
    None
}

/// Classify one exchange.
pub fn classify(ex: &Exchange, known: &Known) -> Step {
    let query = query_params(&ex.request.url);
    let body = form_body(ex).unwrap_or_default();
    let base = url_base(&ex.request.url).to_string();

    if let Some(g) = body.get("grant_type").or_else(|| query.get("grant_type")) {
        return Step::Token(Box::new(token_request(
            ex,
            base,
            Grant::parse(g),
            body,
            query,
        )));
    }
    if let Some(meta) = discovery_document(ex) {
        return Step::Discovery(meta);
    }
    if let Some(set) = jwk_set(ex, known.jwks_endpoints.contains(&base)) {
        return Step::Jwks(set);
    }
    if let Some(d) = device_authorization(ex, &base, &body, known) {
        return Step::Device(d);
    }
    if query.has("response_type") || body.has("response_type") {
        let params = if query.has("response_type") {
            query
        } else {
            body
        };
        // A browser request naming a pushed request: the pushed parameters count.
        let params = match params.get("request_uri").and_then(|u| known.pushed.get(u)) {
            Some(pushed) if ex.request.method == "GET" => pushed.clone(),
            _ => params,
        };
        let redirect = authorize_redirect(ex);
        let request_uri = response_json(ex).and_then(|o| {
            o.get("request_uri")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        return Step::Authorize(AuthorizeRequest {
            endpoint: base,
            pushed: request_uri.is_some() && ex.request.method == "POST",
            params,
            redirect,
            request_uri,
        });
    }
    // The browser's half of a pushed authorization request: `client_id` and `request_uri`.
    if let Some(uri) = query.get("request_uri").filter(|_| query.has("client_id")) {
        let params = known
            .pushed
            .get(uri)
            .cloned()
            .unwrap_or_else(|| query.clone());
        return Step::Authorize(AuthorizeRequest {
            endpoint: base,
            params,
            redirect: authorize_redirect(ex),
            request_uri: Some(uri.to_string()),
            pushed: false,
        });
    }
    let credentials = ex
        .request
        .header("authorization")
        .and_then(parse_authorization);
    if (body.has("token") && !body.has("access_token"))
        && (known.revocation_endpoints.contains(&base)
            || known.introspection_endpoints.contains(&base)
            || ex.request.method == "POST")
    {
        let token = body.get("token").map(str::to_string);
        let introspection = known.introspection_endpoints.contains(&base)
            || response_json(ex).is_some_and(|o| o.contains_key("active"));
        return if introspection {
            Step::Introspection { token }
        } else {
            Step::Revocation { token }
        };
    }
    if (query.has("code") || (query.has("error") && query.has("state")))
        && !matches!(credentials, Some(Credentials::Scheme { .. }))
    {
        return Step::Callback(query);
    }
    let api = api_call(ex, credentials, &query, &body);
    let origin = url_origin(&ex.request.url);
    let is_userinfo = known.userinfo_endpoints.contains(&base);
    match api {
        Some(a) if is_userinfo => Step::UserInfo(a),
        Some(a) => Step::ApiCall(a),
        None => {
            // No credentials, but the API asked for a bearer token (RFC 6750 §3), or the
            // origin is one the flow's tokens went to.
            let status = ex.response.as_ref().map(|r| r.status);
            let challenges = challenges(ex);
            let asked = status == Some(401)
                && challenges
                    .iter()
                    .any(|c| c.scheme.eq_ignore_ascii_case("bearer"));
            if !asked && !known.api_origins.contains(&origin) {
                return Step::Other;
            }
            let call = ApiCall {
                placement: Placement::None,
                scheme: None,
                token: None,
                token_fp: None,
                status,
                challenges,
            };
            if is_userinfo {
                Step::UserInfo(call)
            } else {
                Step::ApiCall(call)
            }
        }
    }
}

fn challenges(ex: &Exchange) -> Vec<Challenge> {
    ex.response
        .as_ref()
        .map(|r| {
            r.headers
                .iter()
                .filter(|h| h.name().eq_ignore_ascii_case("www-authenticate"))
                .flat_map(|h| parse_www_authenticate(h.value()))
                .collect()
        })
        .unwrap_or_default()
}

fn api_call(
    ex: &Exchange,
    credentials: Option<Credentials>,
    query: &Params,
    body: &Params,
) -> Option<ApiCall> {
    let status = ex.response.as_ref().map(|r| r.status);
    let mk = |placement, scheme: Option<String>, token: Option<String>| ApiCall {
        placement,
        scheme,
        token,
        token_fp: None,
        status,
        challenges: challenges(ex),
    };
    match credentials {
        Some(Credentials::Scheme { scheme, value })
            if crate::capture::redact::masked_fp(&value).is_some() =>
        {
            return Some(mk(Placement::Header, Some(scheme), Some(value)));
        }
        Some(Credentials::Scheme { scheme, value }) => {
            // `Bearer Bearer x`: the token is the last word.
            let token = value
                .split_whitespace()
                .last()
                .unwrap_or(&value)
                .to_string();
            let scheme = if value.split_whitespace().count() > 1 {
                format!("{scheme} {}", value.split_whitespace().next().unwrap_or(""))
            } else {
                scheme
            };
            return Some(mk(Placement::Header, Some(scheme), Some(token)));
        }
        // `Authorization: Bearer ` with no token.
        Some(Credentials::Bare(t)) if t.eq_ignore_ascii_case("bearer") => {
            return Some(mk(Placement::Empty, Some(t), None));
        }
        Some(Credentials::Bare(t)) => {
            return Some(mk(Placement::Header, Some(String::new()), Some(t)));
        }
        _ => {}
    }
    if let Some(t) = query.get("access_token") {
        return Some(mk(Placement::Query, None, Some(t.to_string())));
    }
    if let Some(t) = body.get("access_token") {
        return Some(mk(Placement::Body, None, Some(t.to_string())));
    }
    None
}

fn response_json(ex: &Exchange) -> Option<serde_json::Map<String, serde_json::Value>> {
    ex.response.as_ref()?.body.as_text().and_then(json_object)
}

fn discovery_document(ex: &Exchange) -> Option<serde_json::Map<String, serde_json::Value>> {
    let r = ex.response.as_ref()?;
    if !(200..300).contains(&r.status) {
        return None;
    }
    let obj = r.body.as_text().and_then(json_object)?;
    let is_meta = obj.contains_key("token_endpoint")
        || (obj.contains_key("issuer") && obj.contains_key("jwks_uri"))
        || obj.contains_key("authorization_endpoint");
    is_meta.then_some(obj)
}

/// The parameters of an authorize response's redirect (`Location` query and fragment).
fn authorize_redirect(ex: &Exchange) -> Option<Params> {
    ex.response
        .as_ref()
        .filter(|r| (300..400).contains(&r.status))
        .and_then(|r| r.header("location"))
        .map(|loc| {
            let mut p = query_params(loc);
            p.0.extend(super::parse::fragment_params(loc).0);
            p
        })
}

/// A device authorization request: a POST answered with a `device_code` and a
/// `user_code`, or refused at an endpoint named for it.
fn device_authorization(
    ex: &Exchange,
    base: &str,
    body: &Params,
    known: &Known,
) -> Option<DeviceAuthorization> {
    let r = ex.response.as_ref()?;
    if ex.request.method != "POST" {
        return None;
    }
    let path = base.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    let named = known.device_endpoints.contains(base)
        || matches!(
            path.as_str(),
            "device_authorization" | "devicecode" | "device" | "device_code"
        );
    let text = r.body.as_text()?;
    // Cheap before parsing: every answer that issues codes names `user_code`.
    if !named && !text.contains("\"user_code\"") {
        return None;
    }
    let obj = json_object(text).unwrap_or_default();
    let issued = obj.contains_key("device_code") && obj.contains_key("user_code");
    let named = named && obj.contains_key("error");
    if !issued && !named {
        return None;
    }
    let num = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
    };
    Some(DeviceAuthorization {
        endpoint: base.to_string(),
        client_id: body.get("client_id").map(str::to_string),
        device_code: obj
            .get("device_code")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        interval: num("interval").filter(|i| *i > 0.0).unwrap_or(5.0),
        expires_in: num("expires_in"),
        error: obj
            .get("error")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        device_code_fp: None,
    })
}

/// A provider's public keys: a successful GET answered with a JWK set (at a discovery
/// document's `jwks_uri`, or any JSON object whose first member is `keys`).
fn jwk_set(ex: &Exchange, named: bool) -> Option<super::jws::JwkSet> {
    let r = ex.response.as_ref()?;
    if ex.request.method != "GET" || !(200..300).contains(&r.status) {
        return None;
    }
    let text = r.body.as_text()?;
    let keys_first = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"keys\""));
    if !named && !keys_first {
        return None;
    }
    super::jws::JwkSet::from_json(&json_object(text)?)
}

fn token_request(
    ex: &Exchange,
    endpoint: String,
    grant: Grant,
    body: Params,
    query: Params,
) -> TokenRequest {
    let all = |name: &str| {
        body.get(name)
            .or_else(|| query.get(name))
            .map(str::to_string)
    };
    let mut client_id = all("client_id");
    let mut client_secret = all("client_secret");
    let mut basic_raw = None;
    let mut auth = if client_secret.is_some() {
        ClientAuth::Post
    } else if let Some(a) = body.get("client_assertion") {
        let alg = super::jws::header(a)
            .map(|(alg, _)| alg)
            .unwrap_or_default();
        if client_id.is_none() {
            // RFC 7523 §3: the assertion's `sub` is the client id.
            client_id =
                super::parse::decode_jwt(a).and_then(|j| j.claim_str("sub").map(str::to_string));
        }
        if alg.starts_with("HS") {
            ClientAuth::SecretJwt
        } else {
            ClientAuth::Assertion
        }
    } else if ex.client_cert.is_some() && client_id.is_some() {
        ClientAuth::Tls
    } else {
        ClientAuth::None
    };
    if let Some(Credentials::Basic {
        user,
        password,
        encoded_user,
        encoded_password,
    }) = ex
        .request
        .header("authorization")
        .and_then(parse_authorization)
    {
        auth = ClientAuth::Basic;
        client_id = Some(user);
        client_secret = Some(password);
        basic_raw = Some((encoded_user, encoded_password));
    }
    let hints = ex.hints.as_deref();
    let basic_masked = ex
        .request
        .header("authorization")
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, rest)| {
            scheme.eq_ignore_ascii_case("basic")
                && crate::capture::redact::masked_fp(rest.trim()).is_some()
        });
    if let Some(h) =
        hints.filter(|h| basic_masked && h.client_auth.as_deref() == Some(ClientAuth::Basic.name()))
    {
        auth = ClientAuth::Basic;
        client_id = h.client_id.clone();
        client_secret = h
            .basic_secret_fp
            .as_ref()
            .map(|fp| format!("[redacted fp:{fp}]"));
    }
    let basic_unencoded = match &basic_raw {
        Some((u, p)) => {
            super::parse::needs_form_encoding(u) || super::parse::needs_form_encoding(p)
        }
        None => hints.is_some_and(|h| h.basic_not_form_encoded),
    };
    TokenRequest {
        endpoint,
        grant,
        client_id,
        client_secret,
        auth,
        basic_raw,
        basic_unencoded,
        pkce_hint: hints.and_then(|h| h.pkce_matches),
        code: all("code"),
        redirect_uri: all("redirect_uri"),
        refresh_token: all("refresh_token"),
        code_verifier: all("code_verifier"),
        scope: all("scope"),
        params: body,
        query,
        response: ex.response.as_ref().map(|_| token_response(ex)),
        code_fp: None,
        refresh_fp: None,
        secret_fp: None,
        device_code_fp: None,
    }
}

impl TokenRequest {
    /// Does the code verifier match `challenge` (sent with `method`)? `None` when it
    /// cannot be told (no challenge, no verifier, or a masked one without a hint).
    pub fn pkce_matches(&self, challenge: Option<&str>, method: Option<&str>) -> Option<bool> {
        let challenge = challenge?;
        let verifier = self.code_verifier.as_deref()?;
        if crate::capture::redact::masked_fp(verifier).is_some() {
            return self.pkce_hint;
        }
        let method = method.unwrap_or("plain");
        let expected = if method.eq_ignore_ascii_case("S256") {
            super::parse::s256(verifier)
        } else {
            verifier.to_string()
        };
        Some(expected == challenge)
    }
}

/// Fingerprint, once, the secrets a step carries that the flow state and the analyzers
/// key on (codes, refresh tokens, client secrets, issued and presented tokens).
pub fn fingerprint(step: &mut Step, fpr: &Fingerprinter) {
    let fp = |v: &Option<String>| v.as_deref().map(|v| fpr.fp(v));
    match step {
        Step::Token(t) => {
            t.code_fp = fp(&t.code);
            t.refresh_fp = fp(&t.refresh_token);
            t.secret_fp = fp(&t.client_secret);
            t.device_code_fp = t.params.get("device_code").map(|v| fpr.fp(v));
            if let Some(r) = t.response.as_mut() {
                r.access_fp = fp(&r.access_token);
                r.refresh_fp = fp(&r.refresh_token);
                r.id_token_fp = fp(&r.id_token);
            }
        }
        Step::ApiCall(c) | Step::UserInfo(c) => c.token_fp = fp(&c.token),
        Step::Device(d) => d.device_code_fp = fp(&d.device_code),
        _ => {}
    }
}

/// Read a token endpoint's answer, tolerating the variants seen in the wild.
pub fn token_response(ex: &Exchange) -> TokenResponse {
    let Some(r) = ex.response.as_ref() else {
        return TokenResponse::default();
    };
    let ct = r.header("content-type").unwrap_or("").to_ascii_lowercase();
    let no_store = r
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("cache-control"))
        .any(|h| h.value().to_ascii_lowercase().contains("no-store"));
    let mut out = TokenResponse {
        status: r.status,
        content_type: ct.clone(),
        no_store,
        ..TokenResponse::default()
    };
    let text = r.body.as_text().unwrap_or("").trim();
    if text.is_empty() {
        out.format = Some(BodyFormat::Empty);
        return out;
    }
    if let Some(obj) = json_object(text) {
        out.format = Some(BodyFormat::Json);
        let s = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let num = |k: &str| -> (Option<f64>, bool) {
            match obj.get(k) {
                Some(serde_json::Value::Number(n)) => (n.as_f64(), false),
                Some(serde_json::Value::String(s)) => (s.trim().parse().ok(), true),
                _ => (None, false),
            }
        };
        out.access_token = s("access_token");
        out.token_type = s("token_type");
        (out.expires_in, out.expires_in_is_string) = num("expires_in");
        out.refresh_token = s("refresh_token");
        out.refresh_token_expires_in = num("refresh_token_expires_in")
            .0
            .or_else(|| num("refresh_expires_in").0);
        out.id_token = s("id_token");
        out.scope = s("scope");
        out.issued_token_type = s("issued_token_type");
        out.issued_at_ms = num("issued_at").0.map(|v| v as i64);
        out.error = s("error");
        out.error_description = s("error_description");
        out.access_jwt = out
            .access_token
            .as_deref()
            .and_then(|t| super::hints::access_jwt(t, ex.hints.as_deref()));
        out.error_codes = obj
            .get("error_codes")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|c| c.as_i64()).take(8).collect())
            .unwrap_or_default();
        return out;
    }
    let form = Params(parse_form(text));
    if form.has("access_token") || form.has("error") {
        out.format = Some(BodyFormat::Form);
        let s = |k: &str| form.get(k).map(str::to_string);
        out.access_token = s("access_token");
        out.token_type = s("token_type");
        out.expires_in = form.get("expires_in").and_then(|v| v.parse().ok());
        out.expires_in_is_string = out.expires_in.is_some();
        out.refresh_token = s("refresh_token");
        out.refresh_token_expires_in = form
            .get("refresh_token_expires_in")
            .and_then(|v| v.parse().ok());
        out.scope = s("scope");
        out.error = s("error");
        out.error_description = s("error_description");
        return out;
    }
    out.format = Some(BodyFormat::Other(ct));
    out
}

#[cfg(test)]
mod tests;
