//! DPoP (RFC 9449): the proof a client sends in the `DPoP` header, checked against the
//! request it rides on (`htm`, `htu`, `iat`, a fresh `jti`, `ath` for the access token,
//! the server's `DPoP-Nonce`) and against its own public key (the signature); and the
//! tokens it binds (`token_type: DPoP`), which must not travel as `Bearer`.

use std::collections::{HashMap, HashSet, VecDeque};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::classify::Step;
use super::jws::{Check, JwkSet, check};
use super::parse::decode_jwt;
use crate::capture::Exchange;
use crate::wire::{url_base, url_origin};

/// Proofs older or newer than this (seconds from the exchange) are stale.
pub const MAX_AGE_SECS: f64 = 300.0;
/// Proof `jti` values remembered (the oldest are forgotten past it).
const MAX_JTIS: usize = 10_000;

/// What the flow remembers of DPoP: proof ids seen, and the nonce each server asked for.
#[derive(Debug, Default)]
pub struct DpopState {
    jtis: HashMap<String, u64>,
    order: VecDeque<String>,
    /// Origin → (nonce, the exchange whose answer asked for it).
    pub nonces: HashMap<String, (String, u64)>,
    /// Origins whose last answer asked for a new nonce (`use_dpop_nonce`).
    challenged: HashSet<String>,
}

/// What is wrong with one exchange's DPoP use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// The proof's problems, one phrase each.
    pub proof: Vec<String>,
    /// The exchange whose answer asked for a nonce this proof does not carry.
    pub nonce_ignored: Option<u64>,
}

impl Verdict {
    pub fn is_empty(&self) -> bool {
        self.proof.is_empty() && self.nonce_ignored.is_none()
    }
}

/// The key a DPoP-bound access token an API call presents is bound to: its JWK
/// thumbprint (the token's `cnf.jkt`, else the key of the proof its token request
/// carried) and the exchange that issued it.
pub fn binding<'a>(step: &Step, state: &'a super::timeline::FlowState) -> Option<(&'a str, u64)> {
    let info = state.tokens.get(step.api_call()?.token_fp.as_ref()?)?;
    Some((info.dpop_jkt.as_deref()?, info.issued_by))
}

/// The JWK thumbprint (RFC 7638) of the key a request's DPoP proof carries.
pub fn proof_key_thumbprint(ex: &Exchange) -> Option<String> {
    let jwt = decode_jwt(ex.request.header("dpop")?.trim())?;
    jwk_thumbprint(jwt.header.get("jwk")?)
}

/// RFC 7638: base64url(SHA-256) of the key's required members, in lexicographic order,
/// as JSON without whitespace. `None` for a key type it does not define.
pub fn jwk_thumbprint(jwk: &serde_json::Value) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, m) in members.iter().enumerate() {
        let v = jwk.get(*m)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&serde_json::to_string(m).ok()?);
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(v).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

/// Check the `DPoP` header of `ex` (taken at unix time `at`) against the request and
/// what `state` remembers, and against the key the presented token is bound to
/// (`bound_to`: thumbprint and the exchange that issued the token); `None` when the request
/// carries no proof.
pub fn verdict(
    ex: &Exchange,
    step: &Step,
    at: f64,
    state: &DpopState,
    bound_to: Option<(&str, u64)>,
) -> Option<Verdict> {
    let proof = ex.request.header("dpop")?.trim();
    let mut v = Verdict::default();
    let origin = url_origin(&ex.request.url);
    let Some(jwt) = decode_jwt(proof) else {
        v.proof.push("the `DPoP` header is not a JWT".into());
        return Some(v);
    };
    let h = &jwt.header;
    if h["typ"].as_str().map(str::to_ascii_lowercase).as_deref() != Some("dpop+jwt") {
        v.proof.push(format!(
            "its `typ` is {}, not `dpop+jwt`",
            h["typ"]
                .as_str()
                .map_or("missing".to_string(), |t| format!("`{t}`"))
        ));
    }
    match h.get("jwk").filter(|k| k.is_object()) {
        None => v
            .proof
            .push("its header carries no `jwk` (the public key it is signed with)".into()),
        Some(jwk)
            if ["d", "p", "q", "dp", "dq", "qi", "k"]
                .iter()
                .any(|m| jwk.get(m).is_some()) =>
        {
            v.proof.push("its `jwk` holds private key material: the key is disclosed to every server it is sent to".into());
        }
        Some(jwk) => {
            let doc = serde_json::json!({ "keys": [jwk] });
            match doc.as_object().and_then(JwkSet::from_json) {
                Some(set) => match check(proof, &set) {
                    Check::Invalid { .. } => v.proof.push(
                        "its signature does not verify with the `jwk` in its own header".into(),
                    ),
                    Check::Unsigned | Check::Symmetric { .. } => v.proof.push(format!(
                        "it is not signed with an asymmetric key (`alg` `{}`)",
                        h["alg"].as_str().unwrap_or("")
                    )),
                    Check::Malformed(why) => {
                        v.proof.push(format!("it is not a well-formed JWS: {why}"))
                    }
                    Check::Verified { .. }
                    | Check::UnknownKid { .. }
                    | Check::Unsupported { .. } => {}
                },
                None => v.proof.push("its `jwk` is not a public key".into()),
            }
        }
    }
    let c = &jwt.claims;
    match c["htm"].as_str() {
        Some(m) if m == ex.request.method => {}
        Some(m) => v.proof.push(format!(
            "its `htm` `{m}` is not the request's method `{}`",
            ex.request.method
        )),
        None => v.proof.push("it has no `htm`".into()),
    }
    let target = url_base(&ex.request.url);
    match c["htu"].as_str() {
        Some(u) if u.contains(['?', '#']) => v.proof.push(format!(
            "its `htu` `{u}` keeps the query or fragment, which the proof must leave out"
        )),
        Some(u) if same_target(u, target) => {}
        Some(u) => v.proof.push(format!(
            "its `htu` `{u}` is not the request's URL `{target}`"
        )),
        None => v.proof.push("it has no `htu`".into()),
    }
    match jwt.claim_i64("iat").map(|i| i as f64) {
        None => v.proof.push("it has no `iat`".into()),
        Some(iat) if (at - iat).abs() > MAX_AGE_SECS => v.proof.push(format!(
            "its `iat` is {} {} the request (servers accept a few minutes at most)",
            super::display::human_duration((at - iat).abs()),
            if iat < at { "before" } else { "after" }
        )),
        _ => {}
    }
    match c["jti"].as_str() {
        None => v.proof.push("it has no `jti`".into()),
        Some(j) => {
            if let Some(first) = state.jtis.get(j) {
                v.proof.push(format!(
                    "its `jti` was already used by the proof of #{first}: a proof is good for one request"
                ));
            }
        }
    }
    if let Some(call) = step.api_call() {
        let bound = call
            .scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("dpop"));
        if bound {
            match (c["ath"].as_str(), call.token.as_deref()) {
                (None, _) => v
                    .proof
                    .push("it has no `ath` (the hash of the access token it presents)".into()),
                (Some(ath), Some(token))
                    if crate::capture::redact::masked_fp(token).is_none()
                        && ath != token_hash(token) =>
                {
                    v.proof
                        .push("its `ath` is not the hash of the access token sent with it".into());
                }
                _ => {}
            }
            let key = h.get("jwk").and_then(jwk_thumbprint);
            if let (Some((want, issued_by)), Some(key)) = (bound_to, key) {
                if key != want {
                    v.proof.push(format!(
                        "it is signed with another key (JWK thumbprint {key}) than the one the access token is bound to ({want}, issued by #{issued_by})"
                    ));
                }
            }
        }
    }
    if let Some((nonce, asked_by)) = state.nonces.get(&origin) {
        if state.challenged.contains(&origin) && c["nonce"].as_str() != Some(nonce.as_str()) {
            v.nonce_ignored = Some(*asked_by);
        }
    }
    Some(v)
}

/// `htu` compares without query and fragment, scheme and host in any case, default
/// ports dropped (RFC 9449 §4.3).
fn same_target(htu: &str, target: &str) -> bool {
    let norm = |u: &str| {
        let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = host.to_ascii_lowercase();
        let host = match scheme.to_ascii_lowercase().as_str() {
            "https" => host.trim_end_matches(":443").to_string(),
            "http" => host.trim_end_matches(":80").to_string(),
            _ => host,
        };
        let path = if path.is_empty() { "/" } else { path };
        format!("{}://{host}{path}", scheme.to_ascii_lowercase())
    };
    norm(htu) == norm(target)
}

/// `ath`: base64url(SHA-256(access token)).
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

impl DpopState {
    /// Remember what `ex` showed: its proof's `jti`, the nonce its answer asks for.
    pub fn apply(&mut self, ex: &Exchange) {
        let proof = ex.request.header("dpop");
        if let Some(jti) = proof
            .and_then(|p| decode_jwt(p.trim()))
            .and_then(|j| j.claim_str("jti").map(str::to_string))
        {
            if !self.jtis.contains_key(&jti) {
                if self.order.len() >= MAX_JTIS {
                    if let Some(old) = self.order.pop_front() {
                        self.jtis.remove(&old);
                    }
                }
                self.jtis.insert(jti.clone(), ex.id);
                self.order.push_back(jti);
            }
        }
        let Some(r) = ex.response.as_ref() else {
            return;
        };
        let nonce = r.header("dpop-nonce");
        // Most exchanges carry neither a proof nor a nonce: nothing to do, nothing built.
        if nonce.is_none() && (proof.is_none() || self.challenged.is_empty()) {
            return;
        }
        let origin = url_origin(&ex.request.url);
        if let Some(nonce) = nonce {
            self.nonces
                .insert(origin.clone(), (nonce.trim().to_string(), ex.id));
            // RFC 9449 §8, §9: `use_dpop_nonce` comes with the nonce to use.
            let asks = r.status >= 400
                && (r
                    .header("www-authenticate")
                    .is_some_and(|w| w.contains("use_dpop_nonce"))
                    || r.body
                        .as_text()
                        .is_some_and(|t| t.contains("use_dpop_nonce")));
            if asks {
                self.challenged.insert(origin);
                return;
            }
        }
        if proof.is_some() && r.status < 400 {
            // A proof the server took: the nonce is followed (or not needed) from here.
            self.challenged.remove(&origin);
        }
    }
}

#[cfg(test)]
mod tests;
