//! token-exchange-request: a token exchange (RFC 8693) whose request or answer breaks the
//! protocol: no `subject_token` or `subject_token_type`, a token type that is not one of
//! the registered URIs, `actor_token` and `actor_token_type` not together, an answer
//! without `issued_token_type`; a refused exchange whose actor token names another party
//! than the subject token's `may_act` allows (RFC 8693 §4.4).

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::Grant;

pub struct TokenExchange;

/// The token type identifiers RFC 8693 §3 registers (others must be absolute URIs).
const REGISTERED: [&str; 6] = [
    "urn:ietf:params:oauth:token-type:access_token",
    "urn:ietf:params:oauth:token-type:refresh_token",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml1",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:oauth:token-type:jwt",
];

/// A token type value RFC 8693 accepts: a registered one or another absolute URI.
fn well_formed(t: &str) -> bool {
    REGISTERED.contains(&t) || (t.contains(':') && !t.contains(' '))
}

impl Analyzer for TokenExchange {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Step::Token(t) = cx.step else { return };
        if t.grant != Grant::TokenExchange {
            return;
        }
        let p = &t.params;
        let mut problems = Vec::new();
        if !p.has("subject_token") {
            problems.push("it has no `subject_token`".to_string());
        }
        for name in [
            "subject_token_type",
            "actor_token_type",
            "requested_token_type",
        ] {
            match p.get(name) {
                None if name == "subject_token_type" => {
                    problems.push("it has no `subject_token_type`".to_string())
                }
                Some(v) if !well_formed(v) => problems.push(format!(
                    "its `{name}` `{v}` is not a token type URI (say `urn:ietf:params:oauth:token-type:{}`)",
                    v.trim_start_matches("urn:ietf:params:oauth:token-type:")
                )),
                _ => {}
            }
        }
        match (p.has("actor_token"), p.has("actor_token_type")) {
            (true, false) => {
                problems.push("it sends `actor_token` without `actor_token_type`".to_string())
            }
            (false, true) => {
                problems.push("it sends `actor_token_type` without an `actor_token`".to_string())
            }
            _ => {}
        }
        if t.response.as_ref().is_some_and(|r| r.error.is_some()) {
            problems.extend(may_act_problem(p));
        }
        let resp = t.response.as_ref();
        let answer_problem = resp
            .filter(|r| r.is_success())
            .and_then(|r| r.issued_token_type.is_none().then_some(()))
            .map(|()| "the token endpoint's answer has no `issued_token_type` (RFC 8693 §2.2.1 requires it)".to_string());
        let answer_problem_found = answer_problem.is_some();
        problems.extend(answer_problem);
        if problems.is_empty() {
            return;
        }
        // The server's answer, when the request itself is at fault.
        let answer = if problems.len() > usize::from(answer_problem_found) {
            format!(
                " {}",
                super::outcome(t, "token exchange", "invalid_request")
            )
        } else {
            String::new()
        };
        out.add(
            format!("exchange {}", cx.ex.id),
            finding(
                &rules::TOKEN_EXCHANGE_REQUEST,
                vec![cx.ex.id],
                "token exchange that RFC 8693 does not allow",
                format!(
                    "The token exchange sent to {}: {}.{answer}",
                    t.endpoint,
                    problems.join("; ")
                ),
                rules::TOKEN_EXCHANGE_REQUEST.fix,
            ),
        );
    }
}

/// RFC 8693 §4.4: a subject token (JWT) whose `may_act` names the party allowed to act
/// for its subject, and an actor token (JWT) for another party (`sub`, and `iss` when
/// `may_act` names one). Opaque tokens tell nothing; the values are not printed (they
/// may name people).
fn may_act_problem(p: &crate::wire::Params) -> Option<String> {
    use crate::oauth::parse::decode_jwt;
    let subject = decode_jwt(p.get("subject_token")?)?;
    let may = subject.claims.get("may_act")?;
    let actor = decode_jwt(p.get("actor_token")?)?;
    let claim = |v: &serde_json::Value, name: &str| {
        v.get(name).and_then(|c| c.as_str()).map(str::to_string)
    };
    let other_sub = claim(may, "sub")? != claim(&actor.claims, "sub")?;
    let other_iss = claim(may, "iss").is_some_and(|i| Some(i) != claim(&actor.claims, "iss"));
    let differ = match (other_sub, other_iss) {
        (true, true) => "`sub` and `iss`",
        (true, false) => "`sub`",
        (false, true) => "`iss`",
        (false, false) => return None,
    };
    Some(format!(
        "the subject token's `may_act` allows another party to act for its subject than the actor token names (their {differ} differ)"
    ))
}
