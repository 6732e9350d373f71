//! bearer-missing, bearer-scheme, token-in-url, api-rejected, revoked-token-used: how API
//! calls present their access token, and what the API says back.

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::{ApiCall, Placement};
use crate::oauth::parse::{url_base, url_origin};
use crate::oauth::timeline::TokenKind;

pub struct Bearer;

impl Analyzer for Bearer {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let call = match cx.step {
            Step::ApiCall(call) | Step::UserInfo(call) => call,
            // Not recognisably an API call, but it may carry an issued token somewhere
            // the API does not look (a custom header, a cookie).
            Step::Other => {
                if let Some(elsewhere) = token_elsewhere(cx) {
                    bearer_missing(cx, None, Some(elsewhere), out);
                }
                return;
            }
            _ => return,
        };
        let url = &cx.ex.request.url;
        let id = cx.ex.id;
        match call.placement {
            Placement::None | Placement::Empty => {
                let elsewhere = token_elsewhere(cx);
                let challenged = call.status == Some(401)
                    && call
                        .challenges
                        .iter()
                        .any(|c| c.scheme.eq_ignore_ascii_case("bearer"));
                if call.placement == Placement::Empty
                    || elsewhere.is_some()
                    || challenged
                    || cx.state.holds_access_token(cx.at)
                {
                    bearer_missing(cx, Some(call), elsewhere, out);
                }
            }
            Placement::Header => {
                let scheme = call.scheme.clone().unwrap_or_default();
                if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("dpop") {
                    let shown = if scheme.is_empty() {
                        "no scheme (a bare token)".to_string()
                    } else {
                        format!("`{scheme}`")
                    };
                    out.add(
                        format!("{} {}", scheme.to_ascii_lowercase(), url_origin(url)),
                        finding(
                            &rules::BEARER_SCHEME,
                            vec![id],
                            "access token sent with the wrong Authorization scheme",
                            format!(
                                "{} {} sent the token with {shown} instead of `Bearer`. APIs that follow RFC 6750 reject it with 401.",
                                cx.ex.request.method,
                                url_base(url)
                            ),
                            "Send exactly `Authorization: Bearer <access token>`: one `Bearer` prefix, one space, the token.",
                        ),
                    );
                } else if scheme != "Bearer" && scheme.eq_ignore_ascii_case("bearer") {
                    scheme_case(cx, call, &scheme, out);
                }
            }
            Placement::Query | Placement::Body => {
                let place = if call.placement == Placement::Query {
                    "URL query (`?access_token=`)"
                } else {
                    "form body"
                };
                out.add(
                    format!("{place} {}", url_origin(url)),
                    finding(
                        &rules::TOKEN_IN_URL,
                        vec![id],
                        "access token sent outside the Authorization header",
                        format!(
                            "{} {} carried the access token in the {place}. Tokens in URLs leak into logs and history, and many APIs ignore them.",
                            cx.ex.request.method,
                            url_base(url)
                        ),
                        "Send the token in `Authorization: Bearer <token>` (RFC 6750 §2.1; §2.2 and §5.3 advise against query parameters).",
                    ),
                );
            }
        }
        if let Some(fp) = &call.token_fp {
            if let Some(info) = cx.state.tokens.get(fp) {
                let ended = match (info.revoked_at.filter(|r| *r <= cx.at), info.inactive) {
                    (Some(rev), _) => Some((
                        info.revoked_by,
                        "revoked",
                        format!(
                            "The token was revoked{} (RFC 7009) {} before;",
                            info.revoked_by
                                .map(|b| format!(" by #{b}"))
                                .unwrap_or_default(),
                            crate::oauth::display::human_duration(cx.at - rev)
                        ),
                    )),
                    (None, Some((by, at))) if at <= cx.at => Some((
                        Some(by),
                        "reported inactive",
                        format!(
                            "Introspection #{by} (RFC 7662) answered `active: false` for the token {} before;",
                            crate::oauth::display::human_duration(cx.at - at)
                        ),
                    )),
                    _ => None,
                };
                if let Some((by, how, said)) = ended {
                    let mut evidence: Vec<u64> = by.into_iter().collect();
                    evidence.push(id);
                    let answer = call
                        .status
                        .map(|s| format!("; the API answered {s}"))
                        .unwrap_or_default();
                    out.add(
                        info.fp.clone(),
                        finding(
                            &rules::REVOKED_TOKEN_USED,
                            evidence,
                            format!("token fp:{} used after it was {how}", info.fp),
                            format!("{said} #{id} sent it again{answer}."),
                            "After revoking a token, or when introspection says it is no longer active, drop it from the connection's cache and refresh (or sign in again).",
                        ),
                    );
                }
            }
        }
        if matches!(call.status, Some(401) | Some(403)) {
            api_rejected(cx, call, out);
        }
    }
}

/// Where a request carried an issued access token other than `Authorization`: a custom
/// header or a cookie (`"the `X-Access-Token` header"`), with the token's fingerprint.
fn token_elsewhere(cx: &Cx<'_>) -> Option<(String, String)> {
    const ORDINARY: [&str; 14] = [
        "authorization",
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-type",
        "content-length",
        "connection",
        "cache-control",
        "referer",
        "origin",
        "traceparent",
        "dpop",
    ];
    if cx.state.tokens.is_empty() {
        return None;
    }
    let is_access = |v: &str| {
        let v = v.trim();
        if crate::capture::redact::masked_fp(v).is_some() {
            // A redacted HAR: the mask is the token's fingerprint.
            return cx
                .state
                .token(v, cx.fpr)
                .filter(|t| t.kind == TokenKind::Access)
                .map(|t| t.fp.clone());
        }
        let v = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if v.len() < 16 || v.contains(' ') {
            return None;
        }
        cx.state
            .token(v, cx.fpr)
            .filter(|t| t.kind == TokenKind::Access)
            .map(|t| t.fp.clone())
    };
    for h in &cx.ex.request.headers {
        let name = h.name().to_ascii_lowercase();
        if name == "cookie" {
            for pair in h.value().split(';') {
                let (k, v) = pair.split_once('=').unwrap_or(("", pair));
                if let Some(fp) = is_access(v) {
                    return Some((format!("the cookie `{}`", k.trim()), fp));
                }
            }
        } else if !ORDINARY.contains(&name.as_str()) && !name.starts_with("sec-") {
            if let Some(fp) = is_access(h.value()) {
                return Some((format!("the `{}` header", h.name()), fp));
            }
        }
    }
    None
}

/// bearer-missing: each sentence says only what this exchange shows.
fn bearer_missing(
    cx: &Cx<'_>,
    call: Option<&ApiCall>,
    elsewhere: Option<(String, String)>,
    out: &mut Findings,
) {
    let url = &cx.ex.request.url;
    let req = format!("{} {}", cx.ex.request.method, url_base(url));
    let mut detail = match (&elsewhere, call.map(|c| c.placement)) {
        (Some((place, fp)), _) => format!(
            "{req} carried the access token fp:{fp} in {place} and no `Authorization: Bearer` header; APIs that follow RFC 6750 read the token only from the Authorization header."
        ),
        (None, Some(Placement::Empty)) => {
            format!("{req} sent `Authorization: Bearer` with no token after the scheme.")
        }
        (None, _) => format!("{req} carried no Authorization header."),
    };
    if elsewhere.is_none() && cx.state.holds_access_token(cx.at) {
        detail.push_str(" An access token had been issued and was still valid.");
    }
    let status = call
        .and_then(|c| c.status)
        .or(cx.ex.response.as_ref().map(|r| r.status));
    let challenge = call.and_then(|c| {
        c.challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
    });
    match (status, challenge) {
        (Some(401), Some(ch)) => match ch.get("error") {
            None => detail.push_str(
                " The API answered 401 with a `WWW-Authenticate: Bearer` challenge and no `error=`: what an API says when no credentials arrived at all (RFC 6750 §3.1).",
            ),
            Some(e) => detail.push_str(&format!(
                " The API answered 401 with `WWW-Authenticate: Bearer error=\"{e}\"`; with no token sent, that error is about the missing token, not an expired one."
            )),
        },
        (Some(s), _) => detail.push_str(&format!(" The API answered {s}.")),
        _ => {}
    }
    let place = elsewhere
        .as_ref()
        .map(|(p, _)| p.clone())
        .unwrap_or_default();
    out.add(
        format!("{} {place}", url_origin(url)),
        finding(
            &rules::BEARER_MISSING,
            vec![cx.ex.id],
            if elsewhere.is_some() {
                "access token sent in another header instead of `Authorization: Bearer`"
            } else {
                "API call sent without the access token"
            },
            detail,
            "Send `Authorization: Bearer <access token>` on every API request (RFC 6750 §2.1). In a custom connector, check that the security definition applies to this operation and that no policy renames or drops the header.",
        ),
    );
}

fn api_rejected(cx: &Cx<'_>, call: &crate::oauth::classify::ApiCall, out: &mut Findings) {
    // RFC 6750 §3 (`Bearer`) and RFC 9449 §7.1 (`DPoP`) challenges; `use_dpop_nonce` is
    // a step of the protocol (the client retries with the nonce), not a refusal.
    let Some(ch) = call.challenges.iter().find(|c| {
        (c.scheme.eq_ignore_ascii_case("bearer") || c.scheme.eq_ignore_ascii_case("dpop"))
            && c.get("error").is_some_and(|e| e != "use_dpop_nonce")
    }) else {
        return;
    };
    let error = ch.get("error").unwrap_or_default();
    let desc = ch
        .get("error_description")
        .map(|d| format!(" (\"{d}\")"))
        .unwrap_or_default();
    let (meaning, fix) = match error {
        "invalid_token" => (
            "the token is expired, revoked, malformed, for another audience, or bound to a key or certificate the call did not prove",
            "Refresh the access token (or sign in again) and retry; if a fresh token is rejected too, check its audience/resource matches this API.",
        ),
        "insufficient_scope" => (
            "the token lacks a scope this operation needs",
            "Request the scope named in WWW-Authenticate `scope=` on the authorize request (and in the connector's scope list), then sign in again.",
        ),
        "invalid_dpop_proof" => (
            "the DPoP proof does not fit the request, or is not signed with the key the token is bound to",
            "Send a fresh proof with each request, signed with the key the token was issued to, with `htm`, `htu` and `ath` for this request and token.",
        ),
        "invalid_request" => (
            "the request is malformed (missing or duplicated credentials, unsupported parameter)",
            "Send the token once, in `Authorization: Bearer`, and nowhere else.",
        ),
        _ => (
            "the API refused the token",
            "Read the error code's documentation for this API.",
        ),
    };
    let scope = ch
        .get("scope")
        .map(|s| format!(" Required scope: `{s}`."))
        .unwrap_or_default();
    out.add(
        format!("{error} {}", url_origin(&cx.ex.request.url)),
        finding(
            &rules::API_REJECTED,
            vec![cx.ex.id],
            format!("API rejected the call: {error}"),
            format!(
                "{} {} answered {} with `error={error}`{desc}: {meaning}.{scope}",
                cx.ex.request.method,
                url_base(&cx.ex.request.url),
                call.status.unwrap_or(0)
            ),
            fix,
        )
        .tagged(Some(error)),
    );
}

/// token-type-case: the scheme spelled `bearer` (say) and the API answered 401; the token
/// response that issued the token said `token_type` in that spelling.
fn scheme_case(
    cx: &Cx<'_>,
    call: &crate::oauth::classify::ApiCall,
    scheme: &str,
    out: &mut Findings,
) {
    if call.status != Some(401) {
        return;
    }
    let info = call
        .token_fp
        .as_ref()
        .and_then(|fp| cx.state.tokens.get(fp));
    let copied = info.filter(|i| i.token_type.as_deref() == Some(scheme));
    let (evidence, source) = match copied {
        Some(i) => (
            vec![i.issued_by, cx.ex.id],
            format!(
                "The token response (#{}) said `token_type: {scheme}`, and the client copied it into the header as written. ",
                i.issued_by
            ),
        ),
        None => (vec![cx.ex.id], String::new()),
    };
    out.add(
        format!("scheme-case {}", url_origin(&cx.ex.request.url)),
        finding(
            &rules::TOKEN_TYPE_CASE,
            evidence,
            format!("API refused `Authorization: {scheme} …`"),
            format!(
                "{source}{} {} sent `Authorization: {scheme} <token>` and was answered 401. The scheme is case-insensitive by RFC 9110, but strict APIs and gateways accept only `Bearer`.",
                cx.ex.request.method,
                url_base(&cx.ex.request.url)
            ),
            rules::TOKEN_TYPE_CASE.fix,
        ),
    );
}
