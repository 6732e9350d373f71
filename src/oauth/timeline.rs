//! The flow state built as a stream: grants, tokens keyed by fingerprint with their
//! lineage (issued by, issued at, expiry, superseded by, uses and outcomes), and the
//! events of the flow with times relative to the first exchange.
//!
//! Memory follows live tokens and token families, not exchanges: events are kept only
//! when a timeline is asked for.
//!
//! Long on purpose: the flow state and how each step changes it are one data model.

use std::collections::HashMap;

use serde::Serialize;

use super::classify::{AuthorizeRequest, Grant, Known, Step, TokenRequest};
use super::parse::{Params, url_base, url_origin};
use crate::capture::Exchange;
use crate::capture::redact::Fingerprinter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// Claims of a JWT access token that matter for analysis.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JwtSummary {
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub aud: Vec<String>,
    pub iss: Option<String>,
    pub scope: Option<String>,
    /// `cnf.x5t#S256`: the thumbprint of the client certificate the token is bound to
    /// (RFC 8705).
    pub cnf_x5t: Option<String>,
    /// `cnf.jkt`: the thumbprint of the DPoP key the token is bound to (RFC 9449).
    pub cnf_jkt: Option<String>,
}

/// One token and its lineage.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub fp: String,
    pub kind: TokenKind,
    /// Family (sign-in) this token belongs to.
    pub family: usize,
    pub issued_by: u64,
    /// Unix seconds (capture clock).
    pub issued_at: f64,
    /// Lifetime in seconds, from `expires_in` (or JWT `exp` - issue time).
    pub lifetime: Option<f64>,
    /// Unix seconds.
    pub expires_at: Option<f64>,
    pub jwt: Option<JwtSummary>,
    pub superseded_by: Option<String>,
    pub superseded_at: Option<f64>,
    pub revoked_at: Option<f64>,
    /// The exchange that revoked it (RFC 7009).
    pub revoked_by: Option<u64>,
    /// The introspection (RFC 7662) that answered `active: false` for it: id, time.
    pub inactive: Option<(u64, f64)>,
    pub uses: u64,
    pub failures: u64,
    /// First API call answered 401 with this token: (exchange id, unix seconds).
    pub first_401: Option<(u64, f64)>,
    pub last_use: Option<f64>,
    /// The `token_type` the response that issued it said, as written.
    pub token_type: Option<String>,
    /// The client certificate (`x5t#S256`) the request that issued it presented.
    pub issued_with_cert: Option<String>,
    /// The DPoP key (JWK thumbprint) it is bound to: its `cnf.jkt`, else the key of the
    /// proof of the request that issued it as `token_type: DPoP`.
    pub dpop_jkt: Option<String>,
    /// The resources (RFC 8707 `resource`, or `audience`) the token request that issued
    /// it named; `None` when it named none (it may still come from the authorize request
    /// or the grant being refreshed).
    pub requested_resources: Option<Vec<String>>,
}

impl TokenInfo {
    /// A token just issued by exchange `issued_by`.
    pub fn new(
        fp: String,
        kind: TokenKind,
        family: usize,
        issued_by: u64,
        issued_at: f64,
        lifetime: Option<f64>,
        jwt: Option<JwtSummary>,
    ) -> Self {
        TokenInfo {
            fp,
            kind,
            family,
            issued_by,
            issued_at,
            lifetime,
            expires_at: lifetime.map(|l| issued_at + l),
            jwt,
            superseded_by: None,
            superseded_at: None,
            revoked_at: None,
            revoked_by: None,
            inactive: None,
            uses: 0,
            failures: 0,
            first_401: None,
            last_use: None,
            token_type: None,
            issued_with_cert: None,
            dpop_jkt: None,
            requested_resources: None,
        }
    }
}

/// A grant request as remembered for consistency checks (secrets as fingerprints).
#[derive(Debug, Clone, Serialize)]
pub struct GrantRecord {
    pub id: u64,
    pub at: f64,
    pub grant: String,
    pub endpoint: String,
    pub client_id: Option<String>,
    pub secret_fp: Option<String>,
    pub auth: &'static str,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
}

impl GrantRecord {
    fn from(t: &TokenRequest, id: u64, at: f64) -> Self {
        GrantRecord {
            id,
            at,
            grant: t.grant.name().to_string(),
            endpoint: t.endpoint.clone(),
            client_id: t.client_id.clone(),
            secret_fp: t.secret_fp.clone(),
            auth: t.auth.name(),
            redirect_uri: t.redirect_uri.clone(),
            scope: t.scope.clone(),
        }
    }
}

/// An authorization request as remembered.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizeRecord {
    pub id: u64,
    pub at: f64,
    pub endpoint: String,
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    /// OpenID Connect's `nonce`, which the ID token must echo.
    pub nonce: Option<String>,
    /// Not shown: with the `plain` method it is the verifier itself.
    #[serde(skip)]
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// Asked for offline access in a provider's way (offline_access scope, access_type,
    /// token_access_type).
    pub offline_requested: bool,
    /// Code issued in the redirect, as a fingerprint.
    pub code_fp: Option<String>,
    /// The redirect back to the client (the authorize response's `Location`, or the
    /// callback request), once seen: its `state`, and the exchange that showed it.
    pub returned: Option<(Option<String>, u64)>,
}

impl AuthorizeRecord {
    /// The `state` came back different from (or without) the one sent.
    pub fn state_mismatch(&self) -> Option<(&str, Option<&str>, u64)> {
        let sent = self.state.as_deref()?;
        let (got, id) = self.returned.as_ref()?;
        (got.as_deref() != Some(sent)).then_some((sent, got.as_deref(), *id))
    }
}

impl AuthorizeRecord {
    fn from(a: &AuthorizeRequest, id: u64, at: f64, fpr: &Fingerprinter) -> Self {
        let p = &a.params;
        let s = |k: &str| p.get(k).map(str::to_string);
        AuthorizeRecord {
            id,
            at,
            endpoint: a.endpoint.clone(),
            client_id: s("client_id"),
            response_type: s("response_type"),
            redirect_uri: s("redirect_uri"),
            scope: s("scope"),
            state: s("state"),
            nonce: s("nonce"),
            code_challenge: s("code_challenge"),
            code_challenge_method: s("code_challenge_method"),
            offline_requested: offline_requested(p),
            code_fp: a
                .redirect
                .as_ref()
                .and_then(|r| r.get("code"))
                .map(|c| fpr.fp(c)),
            returned: a
                .redirect
                .as_ref()
                .filter(|r| r.has("code") || r.has("error"))
                .map(|r| (r.get("state").map(str::to_string), id)),
        }
    }
}

/// Did these parameters ask for a refresh token in some provider's way?
pub fn offline_requested(p: &Params) -> bool {
    p.get("scope").is_some_and(|s| {
        s.split([' ', '+', ','])
            .any(|x| x == "offline_access" || x == "offline")
    }) || p.get("access_type") == Some("offline")
        || p.get("token_access_type") == Some("offline")
}

/// One sign-in and everything that descends from it (refreshes, their tokens).
#[derive(Debug, Clone, Serialize)]
pub struct Family {
    pub index: usize,
    pub as_origin: String,
    pub client_id: Option<String>,
    /// The grant that started it (usually the code exchange).
    pub origin: GrantRecord,
    pub authorize: Option<AuthorizeRecord>,
    pub newest_access: Option<String>,
    pub newest_refresh: Option<String>,
    pub refreshes: u64,
    pub refresh_token_issued: bool,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: u64,
    /// Seconds since the first exchange.
    pub t: f64,
    pub step: &'static str,
    pub method: String,
    /// URL with secret values masked.
    pub url: String,
    pub status: Option<u16>,
    pub facts: Vec<String>,
    pub findings: Vec<&'static str>,
}

/// The whole flow state.
#[derive(Debug, Default)]
pub struct FlowState {
    pub t0: Option<f64>,
    pub tokens: HashMap<String, TokenInfo>,
    pub families: Vec<Family>,
    pub authorizes: Vec<AuthorizeRecord>,
    pub known: Known,
    /// Discovery documents by issuer origin.
    pub metadata: HashMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Code fingerprint → (first token request id, time).
    pub codes_used: HashMap<String, (u64, f64)>,
    /// Refresh token fingerprint → last refresh request (id, start, end, succeeded).
    pub last_refresh: HashMap<String, (u64, f64, f64, bool)>,
    /// Grants that stand alone (client credentials, password, ...) by issuer, client and
    /// grant type → their family: repeating such a grant continues one lineage, whose new
    /// token supersedes the last.
    pub repeat_grants: HashMap<(String, Option<String>, String), usize>,
    pub exchanges: u64,
    /// Providers' public keys by issuer (see [`super::oidc::keys_for_jwks`]), merged as
    /// sets are fetched again.
    pub jwks: HashMap<String, super::jws::JwkSet>,
    /// ID tokens issued before their provider's keys were seen, checked when they come.
    pub pending_id_tokens: Vec<PendingIdToken>,
    /// Device authorizations (RFC 8628) by device code fingerprint.
    pub devices: HashMap<String, DeviceRecord>,
    /// DPoP proof ids seen and the nonces servers asked for.
    pub dpop: super::dpop::DpopState,
    /// Pushed authorization requests (RFC 9126) by `request_uri`.
    pub pushes: HashMap<String, PushRecord>,
    /// The latest time any issued access token is good until (`INFINITY` for one that
    /// does not expire); `None` before the first. Keeps [`FlowState::holds_access_token`]
    /// constant-time.
    access_held_until: Option<f64>,
    /// Token count at which settled tokens are next looked for: when the live ones alone
    /// exceed [`MAX_TOKENS`], the search waits for a tenth more, so its cost stays linear.
    forget_at: usize,
}

/// A pushed authorization request (RFC 9126) and the browser requests that named it.
#[derive(Debug, Clone, Serialize)]
pub struct PushRecord {
    /// The push, and when.
    pub pushed_by: u64,
    pub at: f64,
    /// `expires_in` of the push's answer, seconds.
    pub expires_in: Option<f64>,
    /// The first browser request that named it, and when.
    pub used: Option<(u64, f64)>,
}

/// A device authorization and how its device code has been polled.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecord {
    /// The exchange that issued the device code, and when.
    pub issued_by: u64,
    pub at: f64,
    /// Seconds the client must wait between polls now (5 more after each `slow_down`).
    pub interval: f64,
    pub expires_at: Option<f64>,
    /// The last poll: exchange id, time, and the error it was answered with.
    pub last_poll: Option<(u64, f64, Option<String>)>,
    /// The poll that ended the flow (tokens issued, `expired_token`, `access_denied`).
    pub ended: Option<(u64, String)>,
}

/// Device authorizations kept (the oldest are dropped past it).
pub const MAX_DEVICES: usize = 1_000;

/// An ID token waiting for its provider's JWK set.
#[derive(Clone)]
pub struct PendingIdToken {
    pub fp: String,
    /// The exchange that issued it.
    pub by: u64,
    /// Where its keys are filed ([`super::oidc::keys_for_token`]).
    pub keys: String,
    /// The token itself (`None` when it was read masked).
    pub raw: Option<String>,
}

impl std::fmt::Debug for PendingIdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingIdToken(fp:{}, by #{})", self.fp, self.by)
    }
}

/// ID tokens kept waiting for keys (the oldest are dropped past it).
pub const MAX_PENDING_ID_TOKENS: usize = 256;

/// Tokens kept in the flow state; past it, the oldest settled ones (superseded, revoked
/// or long expired) are forgotten, so memory stays bounded on endless captures.
pub const MAX_TOKENS: usize = 10_000;

/// Parse an RFC 3339 timestamp to unix seconds.
pub fn unix_seconds(s: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

impl FlowState {
    /// Seconds since the first exchange.
    pub fn rel(&self, t: f64) -> f64 {
        t - self.t0.unwrap_or(t)
    }

    pub fn token(&self, value: &str, fpr: &Fingerprinter) -> Option<&TokenInfo> {
        self.tokens.get(&fpr.fp(value))
    }

    /// Is any access token currently held (issued and not expired)?
    pub fn holds_access_token(&self, at: f64) -> bool {
        self.access_held_until.is_some_and(|until| until > at)
    }

    fn note_access_issued(&mut self, expires_at: Option<f64>) {
        let until = expires_at.unwrap_or(f64::INFINITY);
        self.access_held_until = Some(self.access_held_until.map_or(until, |u| u.max(until)));
    }

    /// The family a token request belongs to (by its refresh token's lineage).
    pub fn family_of_refresh(&self, t: &TokenRequest) -> Option<&Family> {
        let info = self.tokens.get(t.refresh_fp.as_deref()?)?;
        self.families.get(info.family)
    }

    /// The authorization request that issued the code of fingerprint `code_fp` (or the
    /// latest one for the client).
    pub fn authorize_for(
        &self,
        code_fp: Option<&str>,
        client_id: Option<&str>,
    ) -> Option<&AuthorizeRecord> {
        if let Some(fp) = code_fp {
            if let Some(a) = self
                .authorizes
                .iter()
                .rev()
                .find(|a| a.code_fp.as_deref() == Some(fp))
            {
                return Some(a);
            }
        }
        self.authorizes
            .iter()
            .rev()
            .find(|a| client_id.is_none() || a.client_id.as_deref() == client_id)
    }

    /// Apply one classified exchange to the state (after the analyzers saw it).
    pub fn apply(&mut self, ex: &Exchange, step: &Step, at: f64, fpr: &Fingerprinter) {
        self.exchanges += 1;
        self.dpop.apply(ex);
        if self.t0.is_none() {
            self.t0 = Some(at);
        }
        match step {
            Step::Authorize(a) if a.pushed => {
                // RFC 9126: remember what was pushed; the browser's request names it.
                if let Some(uri) = &a.request_uri {
                    if self.known.pushed.len() >= 1_000 {
                        self.known.pushed.clear();
                    }
                    self.known.pushed.insert(uri.clone(), a.params.clone());
                    if self.pushes.len() >= 1_000 {
                        self.pushes.clear();
                    }
                    let expires_in = ex
                        .response
                        .as_ref()
                        .and_then(|r| r.body.as_text())
                        .and_then(super::parse::json_object)
                        .and_then(|o| o.get("expires_in").and_then(|v| v.as_f64()));
                    self.pushes.insert(
                        uri.clone(),
                        PushRecord {
                            pushed_by: ex.id,
                            at,
                            expires_in,
                            used: None,
                        },
                    );
                }
            }
            Step::Authorize(a) => {
                if let Some(p) = a.request_uri.as_ref().and_then(|u| self.pushes.get_mut(u)) {
                    p.used.get_or_insert((ex.id, at));
                }
                self.authorizes
                    .push(AuthorizeRecord::from(a, ex.id, at, fpr));
                if self.authorizes.len() > 64 {
                    self.authorizes.remove(0);
                }
            }
            Step::Callback(p) => {
                let code_fp = p.get("code").map(|c| fpr.fp(c));
                let auth = match &code_fp {
                    Some(fp) => self
                        .authorizes
                        .iter_mut()
                        .rev()
                        .find(|a| a.code_fp.as_ref() == Some(fp)),
                    None => None,
                };
                let auth = match auth {
                    Some(a) => Some(a),
                    // The redirect was not captured: the latest authorize still waiting.
                    None => self
                        .authorizes
                        .iter_mut()
                        .rev()
                        .find(|a| a.returned.is_none()),
                };
                if let Some(a) = auth {
                    if a.code_fp.is_none() {
                        a.code_fp = code_fp;
                    }
                    a.returned
                        .get_or_insert((p.get("state").map(str::to_string), ex.id));
                }
            }
            Step::Token(t) => self.apply_token(ex, t, at),
            Step::Device(d) => {
                if let Some(fp) = &d.device_code_fp {
                    if self.devices.len() >= MAX_DEVICES {
                        let oldest = self.devices.iter().min_by(|a, b| a.1.at.total_cmp(&b.1.at));
                        if let Some(k) = oldest.map(|(k, _)| k.clone()) {
                            self.devices.remove(&k);
                        }
                    }
                    self.devices.insert(
                        fp.clone(),
                        DeviceRecord {
                            issued_by: ex.id,
                            at,
                            interval: d.interval,
                            expires_at: d.expires_in.map(|e| at + e),
                            last_poll: None,
                            ended: None,
                        },
                    );
                }
            }
            Step::Jwks(set) => {
                let key = super::oidc::keys_for_jwks(self, &ex.request.url);
                self.pending_id_tokens.retain(|p| p.keys != key);
                self.jwks.entry(key).or_default().merge(set);
            }
            Step::Discovery(meta) => {
                let origin = meta
                    .get("issuer")
                    .and_then(|v| v.as_str())
                    .map(url_origin)
                    .unwrap_or_else(|| url_origin(&ex.request.url));
                for (key, set) in [
                    ("userinfo_endpoint", &mut self.known.userinfo_endpoints),
                    ("revocation_endpoint", &mut self.known.revocation_endpoints),
                    ("jwks_uri", &mut self.known.jwks_endpoints),
                    (
                        "device_authorization_endpoint",
                        &mut self.known.device_endpoints,
                    ),
                    (
                        "introspection_endpoint",
                        &mut self.known.introspection_endpoints,
                    ),
                ] {
                    if let Some(u) = meta.get(key).and_then(|v| v.as_str()) {
                        set.insert(url_base(u).to_string());
                    }
                }
                self.metadata.insert(origin, meta.clone());
            }
            Step::Revocation { token: Some(tok) } => {
                let ok = ex.response.as_ref().is_some_and(|r| r.status == 200);
                if ok {
                    if let Some(info) = self.tokens.get_mut(&fpr.fp(tok)) {
                        info.revoked_at = Some(at);
                        info.revoked_by = Some(ex.id);
                    }
                }
            }
            Step::Introspection { token: Some(tok) } => {
                let inactive = ex
                    .response
                    .as_ref()
                    .filter(|r| r.status == 200)
                    .and_then(|r| r.body.as_text())
                    .and_then(super::parse::json_object)
                    .is_some_and(|o| o.get("active") == Some(&serde_json::Value::Bool(false)));
                if inactive {
                    if let Some(info) = self.tokens.get_mut(&fpr.fp(tok)) {
                        info.inactive.get_or_insert((ex.id, at));
                    }
                }
            }
            Step::ApiCall(call) | Step::UserInfo(call) => {
                if let Some(fp) = &call.token_fp {
                    self.known.api_origins.insert(url_origin(&ex.request.url));
                    if let Some(info) = self.tokens.get_mut(fp) {
                        info.uses += 1;
                        info.last_use = Some(at);
                        if call.status == Some(401) {
                            info.failures += 1;
                            info.first_401.get_or_insert((ex.id, at));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn apply_token(&mut self, ex: &Exchange, t: &TokenRequest, at: f64) {
        if let Some(d) = t
            .device_code_fp
            .as_ref()
            .and_then(|fp| self.devices.get_mut(fp))
        {
            let error = t.response.as_ref().and_then(|r| r.error.clone());
            match error.as_deref() {
                Some("slow_down") => d.interval += 5.0,
                Some("expired_token" | "access_denied") if d.ended.is_none() => {
                    d.ended = Some((
                        ex.id,
                        format!("with `error={}`", error.as_deref().unwrap_or("")),
                    ));
                }
                None if t.response.as_ref().is_some_and(|r| r.is_success())
                    && d.ended.is_none() =>
                {
                    d.ended = Some((ex.id, "with tokens".to_string()));
                }
                _ => {}
            }
            d.last_poll = Some((ex.id, at, error));
        }
        // A server that asks for a DPoP nonce first has not looked at the grant: the
        // retry with the nonce is the code's first real use (RFC 9449 §8).
        let nonce_asked = t
            .response
            .as_ref()
            .is_some_and(|r| r.error.as_deref() == Some("use_dpop_nonce"));
        if let Some(fp) = t.code_fp.as_ref().filter(|_| !nonce_asked) {
            self.codes_used.entry(fp.clone()).or_insert((ex.id, at));
        }
        let success = t.response.as_ref().is_some_and(|r| r.is_success());
        if let Some(rt) = &t.refresh_fp {
            let end = at + ex.timings.end.unwrap_or(0.0) / 1000.0;
            self.last_refresh
                .insert(rt.clone(), (ex.id, at, end, success));
            if let Some(info) = self.tokens.get_mut(rt) {
                info.uses += 1;
                info.last_use = Some(at);
                info.failures += u64::from(!success);
            }
        }
        let Some(resp) = t.response.as_ref().filter(|r| r.is_success()) else {
            return;
        };
        if let (Some(id), Some(fp)) = (&resp.id_token, &resp.id_token_fp) {
            let keys = super::oidc::keys_for_token(self, &t.endpoint);
            if !self.jwks.contains_key(&keys) {
                if self.pending_id_tokens.len() >= MAX_PENDING_ID_TOKENS {
                    self.pending_id_tokens.remove(0);
                }
                self.pending_id_tokens.push(PendingIdToken {
                    fp: fp.clone(),
                    by: ex.id,
                    keys,
                    raw: crate::capture::redact::masked_fp(id)
                        .is_none()
                        .then(|| id.clone()),
                });
            }
        }
        // Which family: a refresh continues its refresh token's family.
        let repeat_key =
            (!matches!(t.grant, Grant::AuthorizationCode | Grant::RefreshToken)).then(|| {
                (
                    url_origin(&t.endpoint),
                    t.client_id.clone(),
                    t.grant.name().to_string(),
                )
            });
        let repeated = repeat_key
            .as_ref()
            .and_then(|k| self.repeat_grants.get(k).copied());
        let family = match self.family_of_refresh(t).map(|f| f.index).or(repeated) {
            Some(i) => i,
            None => {
                let index = self.families.len();
                let authorize = if t.grant == Grant::AuthorizationCode {
                    self.authorize_for(t.code_fp.as_deref(), t.client_id.as_deref())
                        .cloned()
                } else {
                    None
                };
                self.families.push(Family {
                    index,
                    as_origin: url_origin(&t.endpoint),
                    client_id: t.client_id.clone(),
                    origin: GrantRecord::from(t, ex.id, at),
                    authorize,
                    newest_access: None,
                    newest_refresh: None,
                    refreshes: 0,
                    refresh_token_issued: false,
                });
                if let Some(k) = repeat_key {
                    self.repeat_grants.insert(k, index);
                }
                index
            }
        };
        if t.grant == Grant::RefreshToken {
            self.families[family].refreshes += 1;
        }
        // Issue time: Salesforce's issued_at (ms) when present, else the capture clock.
        let issued_at = resp
            .issued_at_ms
            .map(|ms| ms as f64 / 1000.0)
            .filter(|v| (v - at).abs() < 86_400.0)
            .unwrap_or(at);
        if let Some(fp) = resp.access_fp.clone() {
            let jwt = resp.access_jwt.as_ref().map(|j| JwtSummary {
                exp: j.claim_i64("exp"),
                nbf: j.claim_i64("nbf"),
                iat: j.claim_i64("iat"),
                aud: j.audiences(),
                iss: j.claim_str("iss").map(str::to_string),
                scope: j
                    .claim_str("scope")
                    .or_else(|| j.claim_str("scp"))
                    .map(str::to_string),
                cnf_x5t: j.cnf("x5t#S256"),
                cnf_jkt: j.cnf("jkt"),
            });
            // `expires_in` of zero or less says nothing usable (expires-in-invalid).
            let lifetime = resp.expires_in.filter(|e| *e > 0.0).or_else(|| {
                jwt.as_ref()
                    .and_then(|j| j.exp)
                    .map(|e| e as f64 - issued_at)
            });
            self.supersede(family, TokenKind::Access, &fp, at);
            self.note_access_issued(lifetime.map(|l| issued_at + l));
            let mut info = TokenInfo::new(
                fp.clone(),
                TokenKind::Access,
                family,
                ex.id,
                issued_at,
                lifetime,
                jwt,
            );
            info.token_type = resp.token_type.clone();
            info.issued_with_cert = ex.client_cert.as_ref().map(|c| c.sha256.clone());
            let asked: Vec<String> = t
                .params
                .0
                .iter()
                .filter(|(k, _)| k == "resource" || k == "audience")
                .map(|(_, v)| v.chars().take(256).collect())
                .take(8)
                .collect();
            info.requested_resources = (!asked.is_empty()).then_some(asked);
            info.dpop_jkt = info
                .jwt
                .as_ref()
                .and_then(|j| j.cnf_jkt.clone())
                .or_else(|| {
                    resp.token_type
                        .as_deref()
                        .filter(|t| t.eq_ignore_ascii_case("dpop"))
                        .and_then(|_| super::dpop::proof_key_thumbprint(ex))
                });
            self.tokens.insert(fp.clone(), info);
            self.families[family].newest_access = Some(fp);
        }
        if let Some(fp) = resp.refresh_fp.clone() {
            if t.refresh_fp.as_deref() != Some(fp.as_str()) {
                self.supersede(family, TokenKind::Refresh, &fp, at);
                let lifetime = resp.refresh_token_expires_in;
                self.tokens.insert(
                    fp.clone(),
                    TokenInfo::new(
                        fp.clone(),
                        TokenKind::Refresh,
                        family,
                        ex.id,
                        issued_at,
                        lifetime,
                        None,
                    ),
                );
                self.families[family].newest_refresh = Some(fp);
            }
            self.families[family].refresh_token_issued = true;
        }
        if self.tokens.len() > MAX_TOKENS.max(self.forget_at) {
            self.forget_settled_tokens(at);
            self.forget_at = if self.tokens.len() > MAX_TOKENS - MAX_TOKENS / 10 {
                self.tokens.len() + MAX_TOKENS / 10
            } else {
                0
            };
        }
    }

    /// Forget the oldest settled tokens (superseded, revoked, or expired over a day ago)
    /// until a tenth of [`MAX_TOKENS`] is free again; live tokens are always kept.
    fn forget_settled_tokens(&mut self, at: f64) {
        let mut settled: Vec<(f64, String)> = self
            .tokens
            .values()
            .filter(|t| {
                t.superseded_at.is_some()
                    || t.revoked_at.is_some()
                    || t.expires_at.is_some_and(|e| e + 86_400.0 < at)
            })
            .map(|t| (t.last_use.unwrap_or(t.issued_at), t.fp.clone()))
            .collect();
        let excess = self
            .tokens
            .len()
            .saturating_sub(MAX_TOKENS - MAX_TOKENS / 10);
        if settled.len() > excess {
            settled.select_nth_unstable_by(excess, |a, b| a.0.total_cmp(&b.0));
        }
        for (_, fp) in settled.into_iter().take(excess) {
            self.tokens.remove(&fp);
            self.last_refresh.remove(&fp);
        }
        if self.codes_used.len() > MAX_TOKENS {
            let mut codes: Vec<(f64, String)> = self
                .codes_used
                .iter()
                .map(|(k, v)| (v.1, k.clone()))
                .collect();
            codes.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (_, k) in codes.into_iter().take(MAX_TOKENS / 10) {
                self.codes_used.remove(&k);
            }
        }
    }

    fn supersede(&mut self, family: usize, kind: TokenKind, new_fp: &str, at: f64) {
        let f = &self.families[family];
        let old = match kind {
            TokenKind::Access => f.newest_access.clone(),
            TokenKind::Refresh => f.newest_refresh.clone(),
        };
        if let Some(old) = old {
            if let Some(info) = self.tokens.get_mut(&old) {
                if info.superseded_by.is_none() && old != new_fp {
                    info.superseded_by = Some(new_fp.to_string());
                    info.superseded_at = Some(at);
                }
            }
        }
    }
}
