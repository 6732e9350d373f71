//! bearer-missing, bearer-scheme, token-in-url, api-rejected, revoked-token-used: how API
//! calls present their access token, and what the API says back.

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::Placement;
use crate::oauth::parse::{url_base, url_origin};

pub struct Bearer;

impl Analyzer for Bearer {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let (Step::ApiCall(call) | Step::UserInfo(call)) = cx.step else {
            return;
        };
        let url = &cx.ex.request.url;
        let id = cx.ex.id;
        match call.placement {
            Placement::None if cx.state.holds_access_token(cx.at) => {
                let status = call
                    .status
                    .map(|s| format!(" The API answered {s}."))
                    .unwrap_or_default();
                out.add(
                    url_origin(url),
                    finding(
                        &rules::BEARER_MISSING,
                        vec![id],
                        "API call sent without the access token",
                        format!(
                            "{} {} carried no Authorization header although an access token had been issued.{status} \
                             A 401 without an `error=` in WWW-Authenticate is what an API says when no credentials arrived at all.",
                            cx.ex.request.method,
                            url_base(url)
                        ),
                        "Send `Authorization: Bearer <access token>` on every API request (RFC 6750 §2.1). In a custom connector, check the security definition is applied to this operation.",
                    ),
                );
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
            _ => {}
        }
        if let Some(tok) = &call.token {
            if let Some(info) = cx.state.token(tok, cx.fpr) {
                if let Some(rev) = info.revoked_at.filter(|r| *r <= cx.at) {
                    out.add(
                        info.fp.clone(),
                        finding(
                            &rules::REVOKED_TOKEN_USED,
                            vec![id],
                            format!("token fp:{} used after it was revoked", info.fp),
                            format!(
                                "The token was revoked {:.0} s into the capture (RFC 7009) and sent again at {:.0} s.",
                                cx.state.rel(rev),
                                cx.state.rel(cx.at)
                            ),
                            "After revoking a token, drop it from the connection's cache and sign in again (or refresh).",
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

fn api_rejected(cx: &Cx<'_>, call: &crate::oauth::classify::ApiCall, out: &mut Findings) {
    let Some(ch) = call
        .challenges
        .iter()
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer") && c.get("error").is_some())
    else {
        return;
    };
    let error = ch.get("error").unwrap_or_default();
    let desc = ch
        .get("error_description")
        .map(|d| format!(" (\"{d}\")"))
        .unwrap_or_default();
    let (meaning, fix) = match error {
        "invalid_token" => (
            "the token is expired, revoked, malformed or for another audience",
            "Refresh the access token (or sign in again) and retry; if a fresh token is rejected too, check its audience/resource matches this API.",
        ),
        "insufficient_scope" => (
            "the token lacks a scope this operation needs",
            "Request the scope named in WWW-Authenticate `scope=` on the authorize request (and in the connector's scope list), then sign in again.",
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
        ),
    );
}
