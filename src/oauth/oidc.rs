//! OpenID Connect: what an ID token's claims must say about the sign-in it answers
//! (OpenID Connect Core §3.1.3.7 and §3.3.2.11): `aud` names the client, `azp` the client
//! when there are several audiences, `iss` the provider's issuer, `nonce` echoes the
//! authorize request's, `exp` lies after `iat`, `at_hash` / `c_hash` match the access
//! token / code issued with it. The signature is checked against the provider's JWK set
//! when the capture holds it ([`signature_problem`]), before or after the ID token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::classify::TokenRequest;
use super::jws::{Check, JwkSet, check, header};
use super::parse::Jwt;
use super::timeline::FlowState;
use crate::capture::SignatureHint;
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

/// What is wrong with the ID token a code exchange returned, one sentence each (empty:
/// nothing the wire can show).
pub fn problems(t: &TokenRequest, id: &Jwt, state: &FlowState, fpr: &Fingerprinter) -> Vec<String> {
    let mut out = Vec::new();
    let claims = &id.claims;
    let alg = id.header["alg"].as_str().unwrap_or("");
    if alg.eq_ignore_ascii_case("none") {
        out.push("it is unsigned (`alg: none`)".to_string());
    }
    let aud = id.audiences();
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

type Metadata = serde_json::Map<String, Value>;

/// The discovery document (and its key in the flow state) whose issuer shares `url`'s
/// origin.
fn metadata_at<'a>(state: &'a FlowState, url: &str) -> Option<(&'a String, &'a Metadata)> {
    let origin = crate::wire::url_origin(url);
    state
        .metadata
        .iter()
        .find(|(k, _)| crate::wire::url_origin(k) == origin)
}

/// Where the keys for an ID token from `token_endpoint` are filed: the provider's
/// issuer when its discovery document is known, else the endpoint's origin.
pub fn keys_for_token(state: &FlowState, token_endpoint: &str) -> String {
    metadata_at(state, token_endpoint)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| crate::wire::url_origin(token_endpoint))
}

/// Where a JWK set fetched from `url` is filed: the issuer whose discovery document names
/// it as `jwks_uri` (Google serves its keys from another host), else its origin.
pub fn keys_for_jwks(state: &FlowState, url: &str) -> String {
    let base = crate::wire::url_base(url);
    state
        .metadata
        .iter()
        .find(|(_, doc)| {
            doc.get("jwks_uri")
                .and_then(Value::as_str)
                .is_some_and(|u| crate::wire::url_base(u) == base)
        })
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| crate::wire::url_origin(url))
}

/// The metadata filed under `key` (see [`keys_for_token`]).
pub fn metadata_for<'a>(state: &'a FlowState, key: &str) -> Option<&'a Metadata> {
    state
        .metadata
        .get(key)
        .or_else(|| metadata_at(state, key).map(|(_, m)| m))
}

/// What is wrong with an ID token's algorithm (against the provider's
/// `id_token_signing_alg_values_supported`) or signature (against its JWK set), one
/// sentence; `None` when nothing is, or nothing can be told (`HS256` needs the client's
/// secret; `alg: none` is the claims check's).
pub fn signature_problem(
    raw: &str,
    keys: Option<&JwkSet>,
    meta: Option<&Metadata>,
) -> Option<String> {
    let (alg, _) = match header(raw) {
        Ok(h) => h,
        Err(why) => return Some(format!("it is not a well-formed signed JWT: {why}")),
    };
    if alg.eq_ignore_ascii_case("none") {
        return None;
    }
    let allowed: Option<Vec<&str>> = meta
        .and_then(|m| m.get("id_token_signing_alg_values_supported"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    if let Some(allowed) = allowed.filter(|a| !a.is_empty()) {
        if !allowed.contains(&alg.as_str()) {
            return Some(format!(
                "its `alg` `{alg}` is not one the provider's discovery document allows (`id_token_signing_alg_values_supported`: {allowed:?})"
            ));
        }
    }
    let keys = keys?;
    match check(raw, keys) {
        Check::Invalid { kid: Some(kid) } => Some(format!(
            "its `{alg}` signature does not verify with the key `{kid}` of the provider's JWK set: it was altered after signing, or signed with another key"
        )),
        Check::Invalid { kid: None } => Some(format!(
            "its `{alg}` signature verifies with none of the {} keys of the provider's JWK set",
            keys.keys.len()
        )),
        Check::UnknownKid { kid } => Some(format!(
            "its `kid` `{kid}` names no key of the provider's JWK set, which holds {}: it was signed with a key the provider does not publish (a retired or not yet published key)",
            match keys.kids() {
                k if k.is_empty() => "keys without a kid".to_string(),
                k => format!("{k:?}"),
            }
        )),
        Check::Malformed(why) => Some(format!("it is not a well-formed signed JWT: {why}")),
        Check::Verified { .. }
        | Check::Unsigned
        | Check::Symmetric { .. }
        | Check::Unsupported { .. } => None,
    }
}

/// What is wrong with the signature of the ID token a token request got, as far as the
/// flow state knows its provider's keys and metadata now.
pub fn id_token_signature(state: &FlowState, t: &TokenRequest) -> Option<String> {
    let id = t.response.as_ref()?.id_token.as_deref()?;
    if masked_fp(id).is_some() {
        return None;
    }
    let key = keys_for_token(state, &t.endpoint);
    signature_problem(id, state.jwks.get(&key), metadata_for(state, &key))
}

/// What a JWK set fetched from `url` settles: each ID token that was waiting for its
/// provider's keys, with what is wrong with its signature.
pub fn settled_by_jwks(state: &FlowState, url: &str, set: &JwkSet) -> Vec<SignatureHint> {
    let key = keys_for_jwks(state, url);
    let mut keys = state.jwks.get(&key).cloned().unwrap_or_default();
    keys.merge(set);
    let meta = metadata_for(state, &key);
    state
        .pending_id_tokens
        .iter()
        .filter(|p| p.keys == key)
        .filter_map(|p| {
            Some(SignatureHint {
                fp: p.fp.clone(),
                by: p.by,
                problem: signature_problem(p.raw.as_deref()?, Some(&keys), meta),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_the_metadata_does_not_allow_and_unreadable_headers() {
        let b64 = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let token = |alg: &str| {
            format!(
                "{}.{}.c2ln",
                b64(&format!(r#"{{"alg":"{alg}"}}"#)),
                b64("{}")
            )
        };
        let meta: Metadata =
            serde_json::from_str(r#"{"id_token_signing_alg_values_supported":["RS256"]}"#).unwrap();
        let said = signature_problem(&token("HS256"), None, Some(&meta)).unwrap();
        assert!(
            said.contains("`HS256` is not one the provider's discovery document allows"),
            "{said}"
        );
        // Allowed, and no keys to check it with: nothing can be said.
        assert_eq!(signature_problem(&token("RS256"), None, Some(&meta)), None);
        // `none` is the claims check's, not repeated here.
        assert_eq!(signature_problem(&token("none"), None, Some(&meta)), None);
        let said = signature_problem("%%%.e30.c2ln", None, None).unwrap();
        assert!(said.contains("not a well-formed signed JWT"), "{said}");
    }

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
