//! token-response-format, token-response-cacheable, token-error: what the token endpoint
//! answered and whether a client can use it.

use super::{Analyzer, Cx, Findings, Provider, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::{BodyFormat, Grant};

pub struct Responses;

impl Analyzer for Responses {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Step::Token(t) = cx.step else { return };
        let Some(r) = &t.response else { return };
        let id = cx.ex.id;
        let provider = cx.provider();
        if let Some(error) = &r.error {
            // RFC 8628 §3.5: the answers a device-flow poll waits through, not failures.
            if t.grant == Grant::DeviceCode
                && matches!(error.as_str(), "authorization_pending" | "slow_down")
            {
                return;
            }
            // RFC 9449 §8: a server asking for a DPoP nonce; dpop-nonce-ignored judges
            // whether the client followed.
            if error == "use_dpop_nonce" && cx.ex.request.header("dpop").is_some() {
                return;
            }
            token_error(
                cx,
                error,
                r.error_description.as_deref(),
                r.status,
                &t.endpoint,
                out,
            );
            return;
        }
        if !(200..300).contains(&r.status) {
            out.add(
                format!("status {} {}", r.status, t.endpoint),
                finding(
                    &rules::TOKEN_ERROR,
                    vec![id],
                    format!("token endpoint answered {} without an OAuth error", r.status),
                    format!("{} answered HTTP {} with no `error` field, so the client cannot tell why.", t.endpoint, r.status),
                    "Check the token URL (a wrong path often gives 404 or an HTML login page) and the request method (POST).",
                )
                .at_step(if t.grant == Grant::RefreshToken { "3" } else { "1" }),
            );
            return;
        }
        let mut problems: Vec<String> = Vec::new();
        match &r.format {
            Some(BodyFormat::Form) => {
                let gh = if provider == Some(Provider::GitHub) {
                    " GitHub answers form-encoded unless the request sends `Accept: application/json`."
                } else {
                    ""
                };
                problems.push(format!(
                    "the body is form-encoded (`{}`), not JSON as RFC 6749 §5.1 requires.{gh}",
                    r.content_type
                ));
            }
            Some(BodyFormat::Other(ct)) => problems.push(format!(
                "the body is not a token response at all (content type `{ct}`)"
            )),
            Some(BodyFormat::Empty) => problems.push("the body is empty".into()),
            _ => {}
        }
        if r.format == Some(BodyFormat::Json) || r.format == Some(BodyFormat::Form) {
            if r.access_token.is_none() {
                problems.push("`access_token` is missing".into());
            }
            match r.token_type.as_deref() {
                None => problems.push("`token_type` is missing".into()),
                Some(tt)
                    if !tt.eq_ignore_ascii_case("bearer")
                        && !tt.eq_ignore_ascii_case("dpop")
                        && !tt.eq_ignore_ascii_case("n_a") =>
                {
                    problems.push(format!("`token_type` is `{tt}`, not `Bearer`"))
                }
                _ => {}
            }
            if r.expires_in_is_string && r.format == Some(BodyFormat::Json) {
                let ms = if provider == Some(Provider::Microsoft) {
                    " (the Microsoft v1 endpoint does this; v2.0 sends a number)"
                } else {
                    ""
                };
                problems.push(format!("`expires_in` is a JSON string, not a number{ms}"));
            }
        }
        if !problems.is_empty() {
            out.add(
                format!("{} {}", t.endpoint, problems.join("|")),
                finding(
                    &rules::TOKEN_RESPONSE_FORMAT,
                    vec![id],
                    "token response a strict client cannot read",
                    format!("The token response from {}: {}.", t.endpoint, problems.join("; ")),
                    if provider == Some(Provider::GitHub) {
                        "Send `Accept: application/json` with the token request."
                    } else {
                        "The token endpoint must answer `application/json` with `access_token` and `token_type` (and `expires_in` as a number); if it cannot, configure the connector for this provider's format."
                    },
                ),
            );
        }
        if let Some(e) = r.expires_in.filter(|e| *e <= 0.0 && r.is_success()) {
            out.add(
                format!("expires-in {}", t.endpoint),
                finding(
                    &rules::EXPIRES_IN_INVALID,
                    vec![id],
                    format!("token response says `expires_in: {e}`"),
                    format!(
                        "The token response from {} gives the access token a lifetime of {e} s: read as RFC 6749 §5.1 says, it expired when it was issued, so its real lifetime is unknown.",
                        t.endpoint
                    ),
                    rules::EXPIRES_IN_INVALID.fix,
                ),
            );
        }
        if r.access_token.is_some() && !r.no_store {
            out.add(
                t.endpoint.clone(),
                finding(
                    &rules::TOKEN_RESPONSE_CACHEABLE,
                    vec![id],
                    "token response may be cached",
                    format!("The token response from {} has no `Cache-Control: no-store`, so intermediaries may keep a copy of the tokens.", t.endpoint),
                    "The authorization server should send `Cache-Control: no-store` (and `Pragma: no-cache`) with token responses (RFC 6749 §5.1).",
                ),
            );
        }
    }
}

fn token_error(
    cx: &Cx<'_>,
    error: &str,
    desc: Option<&str>,
    status: u16,
    endpoint: &str,
    out: &mut Findings,
) {
    let by_assertion = matches!(
        cx.step,
        Step::Token(t) if matches!(t.auth, crate::oauth::classify::ClientAuth::Assertion | crate::oauth::classify::ClientAuth::SecretJwt)
    );
    let (meaning, fix) = match error {
        "invalid_client" if by_assertion => (
            "the client could not be authenticated: the server refused its client assertion (its claims, its signature, or a key it does not hold for this client)",
            "Check the assertion's claims (`iss` = `sub` = client id, `aud` = token endpoint, a near `exp`, a new `jti`) and that the app registration holds the client's current public key.",
        ),
        "invalid_client" => (
            "the client could not be authenticated: wrong client id or secret, or the secret was sent the wrong way (Basic vs body)",
            "Check the client id and secret against the provider's app registration, and the authentication method it expects.",
        ),
        "invalid_grant" => (
            "the code or refresh token is invalid, expired, revoked, already used, or was issued to another client or redirect URI",
            "For a code: exchange it once, quickly, with the same redirect_uri as the authorize request. For a refresh token: use the newest one, and sign in again if it expired.",
        ),
        "unauthorized_client" => (
            "this client is not allowed to use this grant type",
            "Enable the grant (authorization code, refresh token) in the provider's app registration.",
        ),
        "unsupported_grant_type" => (
            "the server does not support this grant_type",
            "Use grant_type=authorization_code and refresh_token; check the spelling and that the body is form-encoded.",
        ),
        "invalid_scope" => (
            "a requested scope is unknown, malformed or not allowed",
            "Request only scopes the provider documents, separated by spaces.",
        ),
        "invalid_request" => (
            "a parameter is missing, repeated or malformed",
            "Compare the request body with the provider's documentation; send it form-encoded.",
        ),
        "expired_token" => (
            "the device code expired before the user approved the sign-in (RFC 8628 §3.5)",
            "Start the device flow again and let the user approve within the code's `expires_in`; do not poll with the expired code.",
        ),
        "access_denied" => (
            "the user or the authorization server declined the authorization",
            "Ask the user to approve the sign-in, or check the app's permissions with the provider.",
        ),
        "bad_verification_code" => (
            "GitHub: the code is wrong or expired (GitHub sends this error with HTTP 200)",
            "Exchange the code once, within 10 minutes, with the same redirect_uri.",
        ),
        _ => (
            "the authorization server refused the request",
            "Read the provider's documentation for this error code.",
        ),
    };
    let mut detail = format!("{endpoint} answered `error={error}`");
    if let Some(d) = desc {
        detail.push_str(&format!(" (\"{d}\")"));
    }
    detail.push_str(&format!(": {meaning}."));
    let mut codes: Vec<String> = desc.and_then(aadsts_code).into_iter().collect();
    if let Step::Token(t) = cx.step {
        for c in t.response.iter().flat_map(|r| &r.error_codes) {
            let c = format!("AADSTS{c}");
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
    }
    for code in &codes {
        detail.push_str(&format!(" {}", explain_aadsts(code)));
    }
    if (200..300).contains(&status) {
        detail.push_str(&format!(" The error came with HTTP {status}: clients that only check the status take it for success."));
    }
    let refresh = matches!(cx.step, Step::Token(t) if t.grant == Grant::RefreshToken);
    out.add(
        format!("{endpoint} {error}"),
        finding(
            &rules::TOKEN_ERROR,
            vec![cx.ex.id],
            if codes.is_empty() {
                format!("token endpoint refused: {error}")
            } else {
                format!("token endpoint refused: {error} ({})", codes.join(", "))
            },
            detail,
            fix,
        )
        .at_step(if refresh { "3" } else { "1" })
        .tagged(Some(error)),
    );
}

fn aadsts_code(desc: &str) -> Option<String> {
    let i = desc.find("AADSTS")?;
    let code: String = desc[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(code)
}

/// What a Microsoft identity platform error code means, and what a connector owner does
/// about it.
pub fn explain_aadsts(code: &str) -> String {
    let what = match code.trim_start_matches("AADSTS") {
        "50011" | "50148" => {
            "the redirect URI sent does not match any reply URL of the app registration: add the connector's redirect URL to the registration (exactly, trailing slash included)"
        }
        "50076" => {
            "the tenant requires multi-factor authentication for this sign-in: the user must sign in interactively again (a refresh cannot satisfy it); ask the tenant admin about Conditional Access for the connector"
        }
        "50158" => {
            "an external security challenge (Conditional Access) was not satisfied: the user must sign in interactively; the tenant admin can review the policy for this app"
        }
        "50173" => {
            "the grant expired because the user's password changed or sessions were revoked: the user must sign in again to create a new connection"
        }
        "54005" => "the authorization code was already redeemed: exchange each code once",
        "65001" => {
            "the user or an administrator has not consented to the requested permissions: grant consent (admin consent for application permissions) and sign in again"
        }
        "70000" => {
            "the grant (code or refresh token) is invalid or was issued for another client, scope or resource: sign in again and make sure the same client id and scopes are used"
        }
        "70008" => {
            "the authorization code or refresh token expired (codes live minutes; refresh tokens expire after inactivity): sign in again"
        }
        "700016" => {
            "the application (client id) was not found in this tenant: check the client id and the tenant in the token URL (use `organizations` or `common` for multi-tenant apps)"
        }
        "700082" => {
            "the refresh token expired through inactivity (90 days by default): the user must sign in again; refresh more often than that"
        }
        "7000215" => {
            "the client secret is invalid: the secret's ID was used instead of its value, or the secret expired; create a new secret and update the connector"
        }
        "90009" => {
            "the request names the application by its own id as the resource: request a scope of the API instead (`api://<app-id>/.default`)"
        }
        "9002313" => {
            "the request is malformed (often a missing or wrongly encoded parameter in the token request body): compare the body with Microsoft's documentation"
        }
        _ => "see Microsoft's AADSTS error reference",
    };
    format!(
        "Microsoft AADSTS{}: {what}.",
        code.trim_start_matches("AADSTS")
    )
}
