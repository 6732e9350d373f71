//! client-assertion: a JWT client assertion (`private_key_jwt`, `client_secret_jwt`,
//! RFC 7523 §3, OpenID Connect Core §9) that the token endpoint must refuse: `iss` and
//! `sub` not the client id, `aud` neither the token endpoint nor the issuer, no `exp`,
//! expired or living too long, `jti` missing or used before.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::{ClientAuth, TokenRequest};
use crate::oauth::display::human_duration;
use crate::oauth::parse::{Jwt, decode_jwt};

/// An assertion whose `exp` lies further than this after it was sent is flagged.
const MAX_LIFETIME_SECS: f64 = 3600.0;
/// Clock slack for an `exp` already past.
const SLACK_SECS: f64 = 60.0;
/// `jti` values remembered (the oldest are forgotten past it).
const MAX_JTIS: usize = 10_000;

#[derive(Default)]
pub struct Assertions {
    /// (client id, jti) → the exchange that first sent it.
    seen: HashMap<(String, String), u64>,
    order: VecDeque<(String, String)>,
}

impl Analyzer for Assertions {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Step::Token(t) = cx.step else { return };
        if !matches!(t.auth, ClientAuth::Assertion | ClientAuth::SecretJwt) {
            return;
        }
        let jwt = match cx
            .ex
            .hints
            .as_ref()
            .and_then(|h| h.client_assertion.as_ref())
        {
            Some(h) => Some(crate::oauth::hints::jwt_of(h)),
            None => t.params.get("client_assertion").and_then(decode_jwt),
        };
        let Some(jwt) = jwt else {
            return;
        };
        let mut problems = claim_problems(cx, t, &jwt);
        let mut evidence = vec![cx.ex.id];
        if let Some(jti) = jwt.claim_str("jti") {
            let key = (t.client_id.clone().unwrap_or_default(), jti.to_string());
            match self.seen.get(&key) {
                Some(first) => {
                    problems.push(format!(
                        "its `jti` `{jti}` was already used by the assertion of #{first}: an assertion is good for one request"
                    ));
                    evidence.insert(0, *first);
                }
                None => {
                    if self.order.len() >= MAX_JTIS {
                        if let Some(old) = self.order.pop_front() {
                            self.seen.remove(&old);
                        }
                    }
                    self.seen.insert(key.clone(), cx.ex.id);
                    self.order.push_back(key);
                }
            }
        }
        if problems.is_empty() {
            return;
        }
        let answer = format!(" {}", super::outcome(t, "token request", "invalid_client"));
        out.add(
            format!("assertion {}", cx.ex.id),
            finding(
                &rules::CLIENT_ASSERTION,
                evidence,
                format!(
                    "client assertion ({}) the token endpoint must refuse",
                    t.auth.name()
                ),
                format!(
                    "The client assertion sent to {}: {}.{answer}",
                    t.endpoint,
                    problems.join("; ")
                ),
                rules::CLIENT_ASSERTION.fix,
            ),
        );
    }
}

/// What the assertion's claims get wrong, one phrase each.
fn claim_problems(cx: &Cx<'_>, t: &TokenRequest, jwt: &Jwt) -> Vec<String> {
    let mut out = Vec::new();
    let client = t.client_id.as_deref();
    for claim in ["iss", "sub"] {
        match (jwt.claim_str(claim), client) {
            (None, _) => out.push(format!("it has no `{claim}` (it must be the client id)")),
            (Some(v), Some(c)) if v != c => {
                out.push(format!("its `{claim}` `{v}` is not the client id `{c}`"))
            }
            _ => {}
        }
    }
    let aud = jwt.audiences();
    let issuer = crate::oauth::oidc::metadata_for(
        cx.state,
        &crate::oauth::oidc::keys_for_token(cx.state, &t.endpoint),
    )
    .and_then(|m| m.get("issuer").and_then(Value::as_str));
    let fits = |a: &str| {
        let a = a.trim_end_matches('/');
        a == t.endpoint.trim_end_matches('/')
            || issuer.is_some_and(|i| a == i.trim_end_matches('/'))
    };
    if aud.is_empty() {
        out.push("it has no `aud`".to_string());
    } else if !aud.iter().any(|a| fits(a)) {
        let wanted = match issuer {
            Some(i) => format!("the token endpoint `{}` nor the issuer `{i}`", t.endpoint),
            None => format!("the token endpoint `{}`", t.endpoint),
        };
        out.push(format!("its `aud` {aud:?} names neither {wanted}"));
    }
    match jwt.claim_i64("exp").map(|e| e as f64) {
        None => out.push("it has no `exp`".to_string()),
        Some(exp) if exp + SLACK_SECS < cx.at => out.push(format!(
            "it expired {} before it was sent",
            human_duration(cx.at - exp)
        )),
        Some(exp) if exp - cx.at > MAX_LIFETIME_SECS => out.push(format!(
            "its `exp` lies {} after it was sent (an assertion is meant for one request, minutes at most)",
            human_duration(exp - cx.at)
        )),
        _ => {}
    }
    if jwt.claim_str("jti").is_none() {
        out.push(
            "it has no `jti` (OpenID Connect requires one, so the server can refuse a replay)"
                .to_string(),
        );
    }
    out
}
