//! OpenID Connect: what an ID token's claims must say about the sign-in it answers
//! (OpenID Connect Core §3.1.3.7 and §3.3.2.11): `aud` names the client, `azp` the client
//! when there are several audiences, `iss` the provider's issuer, `nonce` echoes the
//! authorize request's, `exp` lies after `iat`, `at_hash` / `c_hash` match the access
//! token / code issued with it. The signature is not checked here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::classify::TokenRequest;
use super::parse::Jwt;
use super::timeline::FlowState;
use crate::capture::redact::{Fingerprinter, masked_fp};

/// The fingerprint of a token value, whether it is in clear or already masked.
pub fn token_fp(fpr: &Fingerprinter, value: &str) -> String {
    masked_fp(value).map_or_else(|| fpr.fp(value), str::to_string)
}

/// The left half of the hash of `value` that `alg` implies, base64url (`at_hash`, `c_hash`).
fn half_hash(alg: &str, value: &str) -> Option<String> {
    use aws_lc_rs::digest;
    let algorithm = match alg.get(2..) {
        Some("256") => &digest::SHA256,
        Some("384") => &digest::SHA384,
        Some("512") => &digest::SHA512,
        _ => return None,
    };
    let d = digest::digest(algorithm, value.as_bytes());
    let bytes = d.as_ref();
    Some(URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2]))
}

fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// What is wrong with the ID token a code exchange returned, one sentence each (empty:
/// nothing the wire can show).
pub fn problems(t: &TokenRequest, id: &Jwt, state: &FlowState, fpr: &Fingerprinter) -> Vec<String> {
    let mut out = Vec::new();
    let claims = &id.claims;
    let alg = id.header["alg"].as_str().unwrap_or("");
    if alg.eq_ignore_ascii_case("none") {
        out.push("it is unsigned (`alg: none`)".to_string());
    }
    let aud = audiences(claims);
    if let Some(client) = t.client_id.as_deref() {
        if !aud.is_empty() && !aud.iter().any(|a| a == client) {
            out.push(format!(
                "`aud` {aud:?} does not name the client id `{client}`"
            ));
        } else if aud.len() > 1 {
            match claims["azp"].as_str() {
                Some(azp) if azp == client => {}
                Some(azp) => out.push(format!(
                    "it has several audiences and `azp` `{azp}` is not the client id `{client}`"
                )),
                None => out.push(format!(
                    "it has several audiences {aud:?} but no `azp` naming the client id `{client}`"
                )),
            }
        }
    }
    let origin = crate::wire::url_origin(&t.endpoint);
    let issuer = state
        .metadata
        .iter()
        .find(|(k, _)| crate::wire::url_origin(k) == origin)
        .and_then(|(_, doc)| doc.get("issuer").and_then(Value::as_str));
    if let (Some(want), Some(got)) = (issuer, claims["iss"].as_str()) {
        if want.trim_end_matches('/') != got.trim_end_matches('/') {
            out.push(format!(
                "`iss` `{got}` is not the issuer `{want}` of the provider's discovery document"
            ));
        }
    }
    let code_fp = t.code.as_deref().map(|c| token_fp(fpr, c));
    let authorize = state
        .authorizes
        .iter()
        .rev()
        .find(|a| a.code_fp.is_some() && a.code_fp == code_fp);
    if let Some(sent) = authorize.and_then(|a| a.nonce.as_deref()) {
        match claims["nonce"].as_str() {
            Some(n) if n == sent => {}
            Some(n) => out.push(format!(
                "`nonce` `{n}` is not the `{sent}` the authorize request (#{}) sent",
                authorize.map_or(0, |a| a.id)
            )),
            None => out.push(format!(
                "it has no `nonce`, though the authorize request (#{}) sent one",
                authorize.map_or(0, |a| a.id)
            )),
        }
    }
    if let (Some(exp), Some(iat)) = (id.claim_i64("exp"), id.claim_i64("iat")) {
        if exp <= iat {
            out.push(format!("`exp` ({exp}) is not after `iat` ({iat})"));
        }
    }
    let access = t.response.as_ref().and_then(|r| r.access_token.as_deref());
    for (claim, value, what) in [
        ("at_hash", access, "the access token issued with it"),
        ("c_hash", t.code.as_deref(), "the code it was exchanged for"),
    ] {
        let (Some(got), Some(v)) = (claims[claim].as_str(), value) else {
            continue;
        };
        if masked_fp(v).is_some() {
            continue;
        }
        if half_hash(alg, v).is_some_and(|h| h != got) {
            out.push(format!("`{claim}` does not match {what}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_hashes_follow_the_algorithm() {
        // OpenID Connect Core's example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y".
        assert_eq!(
            half_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
        assert_eq!(half_hash("ES384", "x").map(|h| h.len()), Some(32));
        assert_eq!(half_hash("none", "x"), None);
    }
}
