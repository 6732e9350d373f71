//! OpenID Connect: ID tokens that do not fit their sign-in, ID tokens whose signature the
//! provider's keys do not verify (checked when the keys come, before or after the token),
//! and ID tokens sent to an API in place of the access token.

use std::collections::HashMap;

use super::rules;
use super::{Analyzer, Cx, Findings, finding};
use crate::oauth::Step;
use crate::oauth::oidc::{id_token_signature, problems, settled_by_jwks, token_fp};

/// An ID token the flow saw issued: by which exchange, beside which access token.
struct Issued {
    by: u64,
    access_fp: Option<String>,
}

/// The ID token issued beside an access token: by which exchange, for which subject.
struct Subject {
    by: u64,
    id_fp: String,
    sub_fp: String,
    /// Read from a redacted HAR's hints: comparable only with hinted fingerprints.
    hinted: bool,
}

#[derive(Default)]
pub struct Oidc {
    id_tokens: HashMap<String, Issued>,
    /// Access token fingerprint → the subject of the ID token issued with it.
    subjects: HashMap<String, Subject>,
}

/// The most ID tokens remembered (the oldest are forgotten past it).
const MAX_ID_TOKENS: usize = 10_000;

impl Analyzer for Oidc {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        match cx.step {
            Step::Token(t) => {
                let Some(resp) = t.response.as_ref().filter(|r| r.is_success()) else {
                    return;
                };
                let Some(id_token) = resp.id_token.as_deref() else {
                    return;
                };
                let fp = token_fp(cx.fpr, id_token);
                let found = cx
                    .ex
                    .hints
                    .as_ref()
                    .and_then(|h| h.id_token_problems.clone())
                    .or_else(|| {
                        crate::oauth::parse::decode_jwt(id_token)
                            .map(|jwt| problems(t, &jwt, cx.state, cx.fpr))
                    })
                    .unwrap_or_default();
                if !found.is_empty() {
                    out.add(
                        format!("id-token {fp}"),
                        finding(
                            &rules::ID_TOKEN_CLAIMS,
                            vec![cx.ex.id],
                            format!("ID token fp:{fp} does not fit this sign-in"),
                            format!(
                                "The ID token issued by #{}: {}. OpenID Connect requires the client to validate the ID token and to reject one that fails these checks.",
                                cx.ex.id,
                                found.join("; ")
                            ),
                            "Register the client id the provider puts in `aud`, send the same `nonce` the client checks, and take `iss` from the provider's discovery document; if the provider issues it wrong, report it to the provider.",
                        ),
                    );
                }
                let signature = match cx.ex.hints.as_ref() {
                    Some(h) => h.id_token_signature.clone(),
                    None => id_token_signature(cx.state, t),
                };
                if let Some(problem) = signature {
                    out.add(
                        format!("id-sig {fp}"),
                        signature_finding(&fp, problem, vec![cx.ex.id], cx.ex.id),
                    );
                }
                if self.id_tokens.len() >= MAX_ID_TOKENS {
                    self.id_tokens.clear();
                    self.subjects.clear();
                }
                let sub_fp = match cx.ex.hints.as_ref() {
                    Some(h) => h.id_token_sub_fp.clone(),
                    None => crate::oauth::parse::decode_jwt(id_token)
                        .and_then(|j| j.claim_str("sub").map(|s| cx.fpr.fp(s))),
                };
                if let (Some(access), Some(sub_fp)) = (resp.access_fp.clone(), sub_fp) {
                    self.subjects.insert(
                        access,
                        Subject {
                            by: cx.ex.id,
                            id_fp: fp.clone(),
                            sub_fp,
                            hinted: cx.ex.hints.is_some(),
                        },
                    );
                }
                self.id_tokens.insert(
                    fp,
                    Issued {
                        by: cx.ex.id,
                        access_fp: resp.access_token.as_deref().map(|a| token_fp(cx.fpr, a)),
                    },
                );
            }
            Step::Jwks(set) => {
                let settled = cx
                    .ex
                    .hints
                    .as_ref()
                    .and_then(|h| h.signatures.clone())
                    .unwrap_or_else(|| settled_by_jwks(cx.state, &cx.ex.request.url, set));
                for s in settled {
                    if let Some(problem) = s.problem {
                        let f = signature_finding(&s.fp, problem, vec![s.by, cx.ex.id], s.by);
                        out.add(format!("id-sig {}", s.fp), f);
                    }
                }
            }
            Step::UserInfo(a) if a.status == Some(200) => {
                let Some(s) = a.token_fp.as_ref().and_then(|fp| self.subjects.get(fp)) else {
                    return;
                };
                let answered = match (cx.ex.hints.as_ref(), s.hinted) {
                    (Some(h), _) => h.userinfo_sub_fp.clone(),
                    (None, true) => None,
                    (None, false) => {
                        crate::oauth::hints::userinfo_sub(cx.ex).map(|v| cx.fpr.fp(&v))
                    }
                };
                let Some(answered) = answered.filter(|f| *f != s.sub_fp) else {
                    return;
                };
                out.add(
                    format!("userinfo-sub {}", s.id_fp),
                    finding(
                        &rules::USERINFO_SUB_MISMATCH,
                        vec![s.by, cx.ex.id],
                        "userinfo answered for another subject than the ID token",
                        format!(
                            "The ID token fp:{} issued by #{} names `sub` fp:{}; the userinfo answer #{} (to the access token issued with it) names `sub` fp:{answered}. OpenID Connect requires the client to check they are equal and to discard the userinfo answer when they are not.",
                            s.id_fp, s.by, s.sub_fp, cx.ex.id
                        ),
                        rules::USERINFO_SUB_MISMATCH.fix,
                    ),
                );
            }
            Step::ApiCall(a) | Step::UserInfo(a) => {
                let Some(token) = a.token.as_deref() else {
                    return;
                };
                let fp = token_fp(cx.fpr, token);
                let Some(issued) = self.id_tokens.get(&fp) else {
                    return;
                };
                let answer = match a.status {
                    Some(s) => format!("The API answered {s}."),
                    None => "The API did not answer.".to_string(),
                };
                let access = issued
                    .access_fp
                    .as_deref()
                    .map(|a| format!("the access token fp:{a} issued with it"))
                    .unwrap_or_else(|| "the access token".into());
                let f = finding(
                    &rules::ID_TOKEN_AS_BEARER,
                    vec![issued.by, cx.ex.id],
                    format!("ID token fp:{fp} sent to the API as the bearer token"),
                    format!(
                        "#{} carried the ID token issued by #{} in `Authorization`. An ID token tells the client who signed in; it is not meant for APIs, which expect {access}. {answer}",
                        cx.ex.id, issued.by
                    ),
                    "Send the `access_token` of the token response, not the `id_token`; in a custom connector, check which field the connector reads.",
                );
                out.add(format!("id-as-bearer {fp}"), f);
            }
            _ => {}
        }
    }
}

/// The finding for an ID token whose signature or algorithm is wrong (`by`: the exchange
/// that issued it).
fn signature_finding(fp: &str, problem: String, evidence: Vec<u64>, by: u64) -> super::Finding {
    finding(
        &rules::ID_TOKEN_SIGNATURE,
        evidence,
        format!("ID token fp:{fp} fails its signature check"),
        format!(
            "The ID token issued by #{by}: {problem}. A client that validates the ID token, as OpenID Connect requires, rejects this sign-in."
        ),
        rules::ID_TOKEN_SIGNATURE.fix,
    )
}
