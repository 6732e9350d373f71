//! Diagnosis by cause: each symptom finding (a refused token request, a rejected API
//! call, a connection that dies after a fixed time) is linked to the cause finding that
//! explains its exchanges; each cause lists the failures it explains (`consequences`)
//! and is at least as severe as they are. The verdict then names the root cause.
//!
//! A cause explains a failed exchange when it cites that very exchange and is one of the
//! causes that can produce that failure (by error code: `invalid_client` is explained by
//! the client's credentials, not by a reused code). A connection that dies after a fixed
//! time is explained by what kept the client from a fresh token.

use super::{Finding, rules};

/// The causes that can explain a token endpoint's refusal, most specific first, for one
/// error code (`None`: an answer with no OAuth error, a 404 say).
fn token_error_causes(error: Option<&str>) -> &'static [&'static str] {
    match error {
        Some("invalid_client" | "unauthorized_client") => &[
            "client-assertion",
            "client-secret-mismatch",
            "basic-not-form-encoded",
            "client-auth-method-mismatch",
            "client-id-mismatch",
            "refresh-url-mismatch",
            "token-url-mismatch",
            "metadata-mismatch",
        ],
        Some("invalid_grant") => &[
            "code-reused",
            "refresh-race",
            "refresh-rotation-ignored",
            "pkce-missing",
            "redirect-uri-mismatch",
            "client-id-mismatch",
            "client-secret-mismatch",
            "refresh-url-mismatch",
        ],
        Some("invalid_scope") => &["scope-change"],
        Some("expired_token") => &["device-code-expired"],
        Some("unsupported_grant_type") => &["grant-unsupported", "refresh-url-mismatch"],
        Some(_) => &[
            "token-exchange-request",
            "code-reused",
            "refresh-race",
            "refresh-rotation-ignored",
            "pkce-missing",
            "redirect-uri-mismatch",
            "client-secret-mismatch",
            "client-id-mismatch",
            "client-auth-method-mismatch",
            "basic-not-form-encoded",
            "refresh-url-mismatch",
            "token-url-mismatch",
            "scope-change",
        ],
        None => &[
            "refresh-url-mismatch",
            "token-url-mismatch",
            "plain-http",
            "metadata-mismatch",
        ],
    }
}

/// The causes that can explain an API's 401 or 403, most specific first.
const API_CAUSES: &[&str] = &[
    "id-token-as-bearer",
    "resource-mismatch",
    "bearer-missing",
    "bearer-scheme",
    "token-type-case",
    "dpop-bound-as-bearer",
    "dpop-proof",
    "dpop-nonce-ignored",
    "mtls-bound-token",
    "token-in-url",
    "revoked-token-used",
    "stale-token-used",
    "jwt-claims",
    "clock-skew",
    "token-expired-used",
    "scope-change",
];

/// What keeps a client from going on with a fresh token, most specific first: the
/// causes of a connection that fails a fixed time after each sign-in.
const INTERVAL_CAUSES: &[&str] = &[
    "stale-token-used",
    "refresh-rotation-ignored",
    "refresh-race",
    "refresh-url-mismatch",
    "client-secret-mismatch",
    "client-id-mismatch",
    "client-auth-method-mismatch",
    "basic-not-form-encoded",
    "scope-change",
    "refresh-token-absent",
    "token-expired-used",
];

/// Causes that are themselves explained by a deeper cause when both are present (an
/// expired token was used *because* no refresh token was issued, or every refresh failed).
const CAUSE_CHAINS: &[(&str, &[&str])] = &[(
    "token-expired-used",
    &[
        "refresh-token-absent",
        "refresh-url-mismatch",
        "refresh-rotation-ignored",
        "client-secret-mismatch",
        "client-id-mismatch",
        "client-auth-method-mismatch",
        "basic-not-form-encoded",
    ],
)];

/// Link symptoms to causes, in place: sets `caused_by`, `consequences` and raises a
/// cause's severity to that of what it led to; an unexplained symptom says so.
pub fn link(findings: &mut [Finding]) {
    let position = |fs: &[Finding], rule: &str| fs.iter().position(|f| f.rule == rule);
    let symptoms: Vec<usize> = (0..findings.len())
        .filter(|&i| findings[i].role == rules::Role::Symptom)
        .collect();
    // First the failures a cause cites itself (token errors, API rejections) ...
    for &s in &symptoms {
        let candidates: &[&str] = match findings[s].rule {
            "token-error" => token_error_causes(findings[s].tag.as_deref()),
            "api-rejected" => API_CAUSES,
            _ => continue,
        };
        let mut votes: Vec<(usize, Vec<u64>)> = Vec::new();
        for &id in &findings[s].failures().to_vec() {
            let best = candidates.iter().find_map(|rule| {
                findings
                    .iter()
                    .position(|f| f.rule == *rule && f.exchanges.contains(&id))
            });
            if let Some(c) = best {
                match votes.iter_mut().find(|(i, _)| *i == c) {
                    Some((_, ids)) => ids.push(id),
                    None => votes.push((c, vec![id])),
                }
            }
        }
        attach(findings, s, votes);
    }
    // ... then the connection that dies after a fixed time: the cause of its failed
    // calls, or what kept the client from a fresh token.
    if let Some(s) = position(findings, "fails-after-interval") {
        let cited: Vec<u64> = findings[s].exchanges.clone();
        let failed: Vec<u64> = findings[s].failures().to_vec();
        let by_evidence = INTERVAL_CAUSES.iter().find_map(|rule| {
            findings
                .iter()
                .position(|f| f.rule == *rule && f.exchanges.iter().any(|id| cited.contains(id)))
        });
        // A refused refresh's cause stops every renewal.
        let by_refresh = || {
            findings
                .iter()
                .filter(|f| f.rule == "token-error" && f.step == Some("3"))
                .find_map(|f| f.caused_by)
                .and_then(|rule| position(findings, rule))
        };
        let by_presence = || {
            INTERVAL_CAUSES
                .iter()
                .find_map(|rule| position(findings, rule))
        };
        if let Some(c) = by_evidence.or_else(by_refresh).or_else(by_presence) {
            attach(findings, s, vec![(c, failed)]);
        }
    }
    // Causes explained by deeper causes.
    for (shallow, deeper) in CAUSE_CHAINS {
        let Some(i) = position(findings, shallow) else {
            continue;
        };
        if let Some(d) = deeper.iter().find_map(|r| position(findings, r)) {
            if findings[i].caused_by.is_none() {
                findings[i].caused_by = Some(findings[d].rule);
                let moved = findings[i].consequences.clone();
                let sev = findings[i].severity;
                let deep = &mut findings[d];
                deep.severity = deep.severity.max(sev);
                for id in moved {
                    if !deep.consequences.contains(&id) {
                        deep.consequences.push(id);
                    }
                }
            }
        }
    }
    // A symptom nothing explains says so, and where to look next.
    for &s in &symptoms {
        if findings[s].caused_by.is_none() {
            let next = match findings[s].rule {
                "token-error" => {
                    "Compare this request with the provider's documentation for the error, and with a token request that works (client id, secret and how it is sent, redirect URI, code or refresh token, token URL)."
                }
                "api-rejected" => {
                    "Decode the access token (its `aud`, `exp`, `scp` or `roles` claims) and compare them with what this API expects; check the API's own logs for the reason."
                }
                _ => {
                    "Check whether the client refreshes before the access token expires, with which result, and that it then sends the new token."
                }
            };
            let f = &mut findings[s];
            f.detail.push_str(&format!(
                " No cause for this was found in the capture. {next}"
            ));
        }
    }
}

/// Record that `votes` (cause index → failed exchanges it explains) explain symptom `s`.
fn attach(findings: &mut [Finding], s: usize, votes: Vec<(usize, Vec<u64>)>) {
    let Some((main, _)) = votes
        .iter()
        .max_by_key(|(c, ids)| (ids.len(), usize::MAX - c))
    else {
        return;
    };
    findings[s].caused_by = Some(findings[*main].rule);
    let sev = findings[s].severity;
    for (c, ids) in votes {
        let cause = &mut findings[c];
        cause.severity = cause.severity.max(sev);
        for id in ids {
            if !cause.consequences.contains(&id) {
                cause.consequences.push(id);
            }
        }
        cause.consequences.sort_unstable();
    }
}

/// The cause the verdict names: a root cause (explained by nothing deeper) that explains
/// failures, worst and widest first; else `None`.
pub fn root_cause(findings: &[Finding]) -> Option<&Finding> {
    findings
        .iter()
        .filter(|f| f.role == rules::Role::Cause && f.caused_by.is_none())
        .filter(|f| !f.consequences.is_empty())
        .max_by(|a, b| {
            let led = |f: &Finding| {
                findings
                    .iter()
                    .filter(|s| s.caused_by == Some(f.rule) && s.role == rules::Role::Symptom)
                    .map(|s| s.severity)
                    .max()
            };
            (led(a), a.severity, a.consequences.len())
                .cmp(&(led(b), b.severity, b.consequences.len()))
                .then(b.exchanges.first().cmp(&a.exchanges.first()))
        })
}

/// What a checklist step asks, for the verdict's parenthesis.
pub fn step_text(rule: &Finding) -> Option<String> {
    let specific = match rule.rule {
        "refresh-url-mismatch" => Some("the refresh URL must be the token URL"),
        "token-url-mismatch" => Some("the token URL must be the one the provider names"),
        "client-id-mismatch" => Some("the client id must match what works"),
        "client-secret-mismatch" | "basic-not-form-encoded" | "client-auth-method-mismatch" => {
            Some("the client secret, sent the way the provider expects, must match what works")
        }
        "redirect-uri-mismatch" => Some("the redirect URL must match the one registered"),
        // A DPoP proof sent to the token endpoint belongs to step 1.
        "dpop-proof" | "dpop-nonce-ignored" if rule.step == Some("1") => Some(
            "the token endpoint must return an access token: with DPoP, to a request carrying a fresh proof with the nonce the server last sent (`DPoP-Nonce`)",
        ),
        // Sender-constrained tokens travel otherwise than `Bearer` (step 2 in their terms).
        "dpop-bound-as-bearer" | "dpop-proof" | "dpop-nonce-ignored" => Some(
            "every API call must carry the access token as it was issued: a DPoP-bound token as `Authorization: DPoP <access token>` with a fresh proof",
        ),
        "resource-mismatch" => Some(
            "every API call must carry `Authorization: Bearer <access token>` with a token issued for that API",
        ),
        "device-poll-too-fast" | "device-poll-after-end" | "device-code-expired" => Some(
            "the token endpoint must return an access token: in the device flow, once the user approves, to polls spaced by `interval`",
        ),
        "mtls-bound-token" => Some(
            "every API call must carry the access token over a connection that presents the client certificate the token is bound to",
        ),
        _ => None,
    };
    let text = match rule.step? {
        "1" => specific.unwrap_or(
            "the token endpoint must return an access token, and a refresh token when the access token expires",
        ),
        "2" => {
            specific.unwrap_or("every API call must carry `Authorization: Bearer <access token>`")
        }
        "3" => "a refresh must return a new access token (and the new refresh token must be kept)",
        "4" => "the API must work with the newest access token",
        "5" => specific
            .unwrap_or("client id, client secret, token URL and refresh URL must match what works"),
        "a" => "symptom (a): a connection that fails after a consistent time",
        "b" => "symptom (b): 401 Unauthorized",
        "limitation" => "limitation: only the authorization code grant is supported",
        _ => return None,
    };
    Some(match rule.step? {
        "a" | "b" | "limitation" => format!("checklist {text}"),
        s => format!("checklist step {s}: {text}"),
    })
}

/// Findings in the order a report shows them: each root cause that led to failures
/// (worst first), followed by what it explains; then every other finding, worst first.
pub fn order(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.exchanges.first().cmp(&b.exchanges.first()))
    });
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut taken = vec![false; findings.len()];
    let mut roots: Vec<usize> = (0..findings.len())
        .filter(|&i| {
            let f = &findings[i];
            f.role == rules::Role::Cause && f.caused_by.is_none() && !f.consequences.is_empty()
        })
        .collect();
    if let Some(main) = root_cause(&findings) {
        if let Some(p) = roots.iter().position(|&i| std::ptr::eq(&findings[i], main)) {
            let m = roots.remove(p);
            roots.insert(0, m);
        }
    }
    for r in roots {
        taken[r] = true;
        out.push(findings[r].clone());
        let mut frontier = vec![findings[r].rule];
        while let Some(rule) = frontier.pop() {
            for i in 0..findings.len() {
                if !taken[i] && findings[i].caused_by == Some(rule) {
                    taken[i] = true;
                    out.push(findings[i].clone());
                    frontier.push(findings[i].rule);
                }
            }
        }
    }
    for (i, f) in findings.into_iter().enumerate() {
        if !taken[i] {
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::finding;

    fn text(rule: &'static rules::Rule, step: Option<&'static str>) -> String {
        let mut f = finding(rule, vec![1], "t", "d", rule.fix);
        if let Some(s) = step {
            f = f.at_step(s);
        }
        step_text(&f).expect("a checklist step")
    }

    #[test]
    fn a_dpop_finding_names_the_step_of_the_request_it_was_found_on() {
        let at_token = text(&rules::DPOP_NONCE_IGNORED, Some("1"));
        assert!(
            at_token.starts_with("checklist step 1: the token endpoint"),
            "{at_token}"
        );
        assert!(at_token.contains("DPoP-Nonce"), "{at_token}");
        let at_api = text(&rules::DPOP_NONCE_IGNORED, Some("2"));
        assert!(
            at_api.starts_with("checklist step 2: every API call"),
            "{at_api}"
        );
        assert!(at_api.contains("Authorization: DPoP"), "{at_api}");
    }

    #[test]
    fn device_flow_findings_speak_of_polling_and_others_keep_the_general_text() {
        let device = text(&rules::DEVICE_CODE_EXPIRED, None);
        assert!(device.contains("polls spaced by `interval`"), "{device}");
        let absent = text(&rules::REFRESH_TOKEN_ABSENT, None);
        assert!(
            absent.contains("a refresh token when the access token expires"),
            "{absent}"
        );
    }
}
