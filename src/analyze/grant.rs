//! grant-unsupported, code-reused, state-missing, pkce-missing: the shape of the grant.

use super::{Analyzer, Cx, Findings, Severity, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::Grant;
use crate::oauth::display::human_duration;

/// Codes older than this when exchanged are flagged.
const CODE_MAX_AGE_SECS: f64 = 600.0;

#[derive(Default)]
pub struct Grants;

impl Analyzer for Grants {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        match cx.step {
            Step::Authorize(a) => {
                let rt = a.params.get("response_type").unwrap_or("");
                if rt.split(' ').any(|t| t == "token") {
                    unsupported(cx, "implicit (response_type=token)", out);
                }
                if rt.split(' ').any(|t| t == "code") {
                    authorize_checks(cx, a, out);
                }
            }
            Step::Callback(p) => callback_state(cx, p, out),
            Step::Token(t) => {
                match &t.grant {
                    // The grants of headless and server-to-server clients (device flow,
                    // token exchange, JWT bearer) are read on their own terms.
                    Grant::AuthorizationCode
                    | Grant::RefreshToken
                    | Grant::DeviceCode
                    | Grant::TokenExchange
                    | Grant::JwtBearer => {}
                    g => unsupported(cx, g.name(), out),
                }
                if t.grant == Grant::AuthorizationCode {
                    code_checks(cx, t, out);
                }
            }
            _ => {}
        }
    }
}

fn unsupported(cx: &Cx<'_>, grant: &str, out: &mut Findings) {
    out.add(
        grant.to_string(),
        finding(
            &rules::GRANT_UNSUPPORTED,
            vec![cx.ex.id],
            format!("grant `{grant}` is not the authorization code grant"),
            format!(
                "The flow uses `{grant}`. Custom connectors (and many integration platforms) support only the authorization code grant with refresh tokens; other grants fail or cannot be configured."
            ),
            "Register the application for the authorization code grant and use it (with PKCE and offline access for a refresh token).",
        ),
    );
}

fn authorize_checks(cx: &Cx<'_>, a: &crate::oauth::classify::AuthorizeRequest, out: &mut Findings) {
    let id = cx.ex.id;
    let client = a.params.get("client_id").unwrap_or("?").to_string();
    if !a.params.has("state") {
        out.add(
            format!("nostate {client}"),
            finding(
                &rules::STATE_MISSING,
                vec![id],
                "authorize request without `state`",
                "The authorization request carries no `state`, so the callback cannot be tied to the session that started it (CSRF on the redirect, RFC 6749 §10.12).",
                "Send an unguessable `state` on every authorize request and check it on the callback.",
            ),
        );
    }
    match (a.params.get("code_challenge"), a.params.get("code_challenge_method")) {
        (None, _) => out.add(
            format!("nopkce {client}"),
            finding(
                &rules::PKCE_MISSING,
                vec![id],
                "authorization code flow without PKCE",
                "The authorize request has no `code_challenge`: an intercepted code can be redeemed by anyone holding the client's credentials (RFC 7636; RFC 9700 requires PKCE).",
                "Send `code_challenge=BASE64URL(SHA256(verifier))` with `code_challenge_method=S256`, and the verifier on the token request.",
            ),
        ),
        (Some(_), m) if m.is_none_or(|m| m.eq_ignore_ascii_case("plain")) => out.add(
            format!("plain {client}"),
            finding(
                &rules::PKCE_MISSING,
                vec![id],
                "PKCE with the `plain` method",
                "The code challenge is sent with method `plain` (or none, which means plain): the challenge is the verifier itself, so PKCE protects nothing against an observer.",
                "Use `code_challenge_method=S256`.",
            ),
        ),
        _ => {}
    }
}

fn callback_state(cx: &Cx<'_>, p: &crate::oauth::parse::Params, out: &mut Findings) {
    let code_fp = p.get("code").map(|c| cx.fpr.fp(c));
    let Some(auth) = cx.state.authorize_for(code_fp.as_deref(), None) else {
        return;
    };
    let Some(sent) = auth.state.as_deref() else {
        return;
    };
    let problem = match p.get("state") {
        None => "the callback carries no `state`".to_string(),
        Some(got) if got != sent => {
            "the callback's `state` differs from the one sent on the authorize request".to_string()
        }
        _ => return,
    };
    out.add(
        format!("cb {}", auth.id),
        finding(
            &rules::STATE_MISSING,
            vec![auth.id, cx.ex.id],
            "callback `state` does not match",
            format!("{problem}: the response cannot be tied to the request that started the flow."),
            "Return to the redirect URI with the exact `state` received; the client must reject callbacks whose state it did not issue.",
        ),
    );
}

fn code_checks(cx: &Cx<'_>, t: &crate::oauth::classify::TokenRequest, out: &mut Findings) {
    let Some(fp) = &t.code_fp else { return };
    if let Some(auth) = cx
        .state
        .authorize_for(Some(fp), None)
        .filter(|a| a.code_fp.as_deref() == Some(fp.as_str()))
    {
        if let Some((_, got, back)) = auth.state_mismatch() {
            let got = match got {
                Some(_) => "another `state` than the one the authorize request sent",
                None => "no `state` although the authorize request sent one",
            };
            out.add(
                format!("exchanged {}", auth.id),
                finding(
                    &rules::STATE_MISSING,
                    vec![auth.id, back, cx.ex.id],
                    "code from a redirect with the wrong `state` exchanged anyway",
                    format!(
                        "The redirect back (#{back}) carried {got}, and the client exchanged its code (#{}) instead of rejecting it. That is the opening a login CSRF needs: an attacker's code would be accepted the same way (RFC 6749 §10.12).",
                        cx.ex.id
                    ),
                    "Keep the `state` sent with each authorize request and refuse the callback (do not exchange its code) when the returned `state` differs or is missing.",
                )
                .at_least(Severity::High),
            );
        }
    }
    if let Some((first, at)) = cx.state.codes_used.get(fp) {
        out.add(
            format!("reuse {fp}"),
            finding(
                &rules::CODE_REUSED,
                vec![*first, cx.ex.id],
                format!("authorization code fp:{fp} exchanged twice"),
                format!(
                    "The same code was sent to the token endpoint again {} after its first use. Codes are single-use (Microsoft answers AADSTS54005), and servers may revoke the tokens of the first exchange. {}",
                    human_duration(cx.at - at),
                    super::outcome(t, "second exchange", "invalid_grant")
                ),
                "Exchange each code once; do not retry the code exchange on a timeout without a new authorization.",
            ),
        );
    }
    let auth = cx.state.authorize_for(Some(fp), t.client_id.as_deref());
    if let Some(a) = auth.filter(|a| a.code_fp.as_deref() == Some(fp.as_str())) {
        let age = cx.at - a.at;
        if age > CODE_MAX_AGE_SECS {
            out.add(
                format!("late {fp}"),
                finding(
                    &rules::CODE_REUSED,
                    vec![a.id, cx.ex.id],
                    "authorization code exchanged long after it was issued",
                    format!("The code was exchanged {} after it was issued; codes live minutes (RFC 6749 §4.1.2 recommends at most 10).", human_duration(age)),
                    "Exchange the code as soon as the callback arrives.",
                ),
            );
        }
    }
    if let Some(a) = auth {
        let masked = t
            .code_verifier
            .as_deref()
            .is_some_and(|v| crate::capture::redact::masked_fp(v).is_some());
        let method = a.code_challenge_method.as_deref().unwrap_or("plain");
        let matches = t.pkce_matches(
            a.code_challenge.as_deref(),
            a.code_challenge_method.as_deref(),
        );
        if matches == Some(false) {
            {
                out.add(
                    format!("verifier {}", a.id),
                    finding(
                        &rules::PKCE_MISSING,
                        vec![a.id, cx.ex.id],
                        "PKCE verifier does not match the challenge",
                        format!("{method}(code_verifier) differs from the `code_challenge` sent on the authorize request. {}", super::outcome(t, "code exchange", "invalid_grant")),
                        "Send the verifier generated with the challenge of this authorization (keep it per flow, not per client).",
                    )
                    .at_step("1"),
                );
            }
        } else if a.code_challenge.is_some() && t.code_verifier.is_none() && !masked {
            out.add(
                format!("noverifier {}", a.id),
                finding(
                    &rules::PKCE_MISSING,
                    vec![a.id, cx.ex.id],
                    "PKCE challenge sent but no verifier on the token request",
                    format!("The authorize request had a `code_challenge`, but the code exchange carries no `code_verifier`. {}", super::outcome(t, "code exchange", "invalid_grant")),
                    "Send `code_verifier` with the authorization code on the token request.",
                )
                .at_step("1"),
            );
        }
    }
}
