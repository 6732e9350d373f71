//! What a redacted HAR keeps of an exchange's secrets so it analyzes like its capture
//! ([`Hints`]): computed at export from the classified step and the flow state, read back
//! by classification when the secrets themselves are masked.

use super::classify::{ClientAuth, Step};
use super::parse::decode_jwt;
use super::timeline::FlowState;
use crate::capture::redact::{Fingerprinter, masked_fp};
use crate::capture::{DpopHint, Exchange, Hints, JwtHint};

/// JWT header fields kept (never the signature).
const JWT_HEADER: [&str; 3] = ["alg", "typ", "kid"];
/// Registered claims kept as they are (`cnf` holds thumbprints of public keys and
/// certificates, no secret); `sub` is kept as a fingerprint, personal claims
/// (email, name, ...) are dropped.
const JWT_CLAIMS: [&str; 10] = [
    "cnf",
    "iss",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "scope",
    "scp",
    "client_id",
];

/// The claims of a client assertion RFC 7523 §3 checks (none personal: `iss` and `sub`
/// are the client id).
const ASSERTION_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];

/// The members of `v` named in `keys`.
fn pick(v: &serde_json::Value, keys: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            m.insert(k.to_string(), x.clone());
        }
    }
    m
}

/// The hints for `step` (of `ex`, at unix time `at`), seen against the flow as it was before it; `None` when the step
/// has none to keep.
pub fn of(
    ex: &Exchange,
    step: &Step,
    at: f64,
    state: &FlowState,
    fpr: &Fingerprinter,
) -> Option<Hints> {
    let mut h = match step {
        Step::Token(_) => token(step, state, fpr),
        Step::UserInfo(_) => userinfo_sub(ex).map(|sub| Hints {
            userinfo_sub_fp: Some(fpr.fp(&sub)),
            ..Hints::default()
        }),
        _ => jwks(&ex.request.url, step, state),
    };
    if let Some(v) =
        super::dpop::verdict(ex, step, at, &state.dpop, super::dpop::binding(step, state))
            .filter(|v| !v.is_empty())
    {
        h.get_or_insert_with(Hints::default).dpop = Some(DpopHint {
            proof: v.proof,
            nonce_ignored: v.nonce_ignored,
        });
    }
    h
}

/// A token request's hints.
fn token(step: &Step, state: &FlowState, fpr: &Fingerprinter) -> Option<Hints> {
    let Step::Token(t) = step else { return None };
    let mut h = Hints {
        client_id: t.client_id.clone(),
        client_auth: Some(t.auth.name().to_string()),
        ..Hints::default()
    };
    if t.auth == ClientAuth::Basic {
        h.basic_user_fp = t.client_id.as_deref().map(|v| fpr.fp(v));
        h.basic_secret_fp = t.secret_fp.clone();
        h.basic_not_form_encoded = t.basic_unencoded;
    }
    if let Some(fp) = t.code_fp.as_deref() {
        if let Some(a) = state
            .authorize_for(Some(fp), t.client_id.as_deref())
            .filter(|a| a.code_fp.as_deref() == Some(fp))
        {
            h.pkce_method = a.code_challenge_method.clone();
            h.pkce_matches = t.pkce_matches(
                a.code_challenge.as_deref(),
                a.code_challenge_method.as_deref(),
            );
        }
    }
    h.id_token_problems = t
        .response
        .as_ref()
        .and_then(|r| r.id_token.as_deref())
        .and_then(super::parse::decode_jwt)
        .map(|jwt| super::oidc::problems(t, &jwt, state, fpr));
    h.id_token_signature = super::oidc::id_token_signature(state, t);
    h.id_token_sub_fp = t
        .response
        .as_ref()
        .and_then(|r| r.id_token.as_deref())
        .and_then(decode_jwt)
        .and_then(|j| j.claim_str("sub").map(|s| fpr.fp(s)));
    h.client_assertion = t
        .params
        .get("client_assertion")
        .filter(|a| masked_fp(a).is_none())
        .and_then(decode_jwt)
        .map(|j| JwtHint {
            header: pick(&j.header, &JWT_HEADER).into(),
            claims: pick(&j.claims, &ASSERTION_CLAIMS).into(),
        });
    h.access_jwt = t
        .response
        .as_ref()
        .and_then(|r| r.access_jwt.as_ref())
        .map(|j| {
            let mut claims = pick(&j.claims, &JWT_CLAIMS);
            if let Some(sub) = j.claims.get("sub").and_then(|s| s.as_str()) {
                claims.insert(
                    "sub".into(),
                    format!("[redacted fp:{}]", fpr.fp(sub)).into(),
                );
            }
            JwtHint {
                header: pick(&j.header, &JWT_HEADER).into(),
                claims: claims.into(),
            }
        });
    Some(h)
}

/// The `sub` a successful userinfo answer names.
pub fn userinfo_sub(ex: &Exchange) -> Option<String> {
    let r = ex.response.as_ref().filter(|r| r.status == 200)?;
    let o = r.body.as_text().and_then(super::parse::json_object)?;
    o.get("sub").and_then(|v| v.as_str()).map(str::to_string)
}

/// A JWK set's hints: the verdicts on the ID tokens it settles (their masked copies
/// cannot be checked again).
fn jwks(url: &str, step: &Step, state: &FlowState) -> Option<Hints> {
    let Step::Jwks(set) = step else { return None };
    let settled = super::oidc::settled_by_jwks(state, url, set);
    (!settled.is_empty()).then(|| Hints {
        signatures: Some(settled),
        ..Hints::default()
    })
}

/// The JWT a hint describes (header and claims only).
pub fn jwt_of(h: &JwtHint) -> super::parse::Jwt {
    super::parse::Jwt {
        header: h.header.clone(),
        claims: h.claims.clone(),
    }
}

/// Decode an access token, or take its claims from the hints when it is masked.
pub fn access_jwt(token: &str, hints: Option<&Hints>) -> Option<super::parse::Jwt> {
    if masked_fp(token).is_some() {
        return hints.and_then(|h| h.access_jwt.as_ref()).map(jwt_of);
    }
    decode_jwt(token)
}
