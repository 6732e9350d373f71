//! client-id-mismatch, client-secret-mismatch, client-auth-method-mismatch,
//! basic-not-form-encoded, redirect-uri-mismatch, scope-change, refresh-url-mismatch,
//! token-url-mismatch, metadata-mismatch: does each request match what worked before
//! (and what the authorization server's metadata says)?

use super::{Analyzer, Cx, Findings, Provider, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::{Grant, TokenRequest};
use crate::oauth::parse::{url_base, url_origin};

pub struct Clients;

impl Analyzer for Clients {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        match cx.step {
            Step::Token(t) => {
                basic_encoding(cx, t, out);
                metadata_checks(cx, t, out);
                match t.grant {
                    Grant::RefreshToken => refresh_consistency(cx, t, out),
                    Grant::AuthorizationCode => code_consistency(cx, t, out),
                    _ => {}
                }
            }
            Step::Authorize(a) => {
                // A pushed request (RFC 9126) goes to its own endpoint.
                let field = if a.pushed {
                    "pushed_authorization_request_endpoint"
                } else {
                    "authorization_endpoint"
                };
                for meta in cx.state.metadata.values() {
                    let Some(ep) = meta.get(field).and_then(|v| v.as_str()) else {
                        continue;
                    };
                    if url_origin(ep) == url_origin(&a.endpoint) && url_base(ep) != a.endpoint {
                        out.add(
                            format!("authz {}", a.endpoint),
                            finding(
                                &rules::METADATA_MISMATCH,
                                vec![cx.ex.id],
                                "authorize URL differs from the discovery document",
                                format!("The authorize request went to {} but the server's metadata names {ep} as its `{field}`.", a.endpoint),
                                "Use the endpoints from the provider's discovery document.",
                            ),
                        );
                    }
                    if let (Some(m), Some(list)) = (
                        a.params.get("code_challenge_method"),
                        meta.get("code_challenge_methods_supported")
                            .and_then(|v| v.as_array()),
                    ) {
                        if !list.iter().any(|v| v.as_str() == Some(m)) {
                            out.add(
                                format!("pkcemethod {m}"),
                                finding(
                                    &rules::METADATA_MISMATCH,
                                    vec![cx.ex.id],
                                    format!("PKCE method `{m}` not listed by the server"),
                                    format!("The server's metadata lists code_challenge_methods_supported {list:?}; the client used `{m}`."),
                                    "Use a PKCE method the server supports (S256).",
                                ),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn refresh_consistency(cx: &Cx<'_>, t: &TokenRequest, out: &mut Findings) {
    let Some(family) = cx.state.family_of_refresh(t) else {
        return;
    };
    let o = &family.origin;
    let ev = vec![o.id, cx.ex.id];
    let key = format!("fam {}", family.index);
    if o.grant == "authorization_code" && o.endpoint != t.endpoint {
        out.add(
            key.clone(),
            finding(
                &rules::REFRESH_URL_MISMATCH,
                ev.clone(),
                "refresh sent to a different URL than the code exchange",
                format!(
                    "The code was exchanged at {} but the refresh went to {}. The refresh URL must be the token URL unless the provider documents another.",
                    o.endpoint, t.endpoint
                ),
                "Set the connector's refresh URL to the token URL (or leave it empty so the token URL is used).",
            ),
        );
    }
    if let (Some(a), b) = (&o.client_id, &t.client_id) {
        if b.as_deref() != Some(a.as_str()) {
            let now = b
                .as_deref()
                .map(|b| format!("`{b}`"))
                .unwrap_or_else(|| "no client_id".into());
            out.add(
                key.clone(),
                finding(
                    &rules::CLIENT_ID_MISMATCH,
                    ev.clone(),
                    "client id differs between code exchange and refresh",
                    format!("The code exchange used client_id `{a}`; the refresh sent {now}. Refresh tokens are bound to the client they were issued to. {}", super::outcome(t, "refresh", "invalid_grant or invalid_client")),
                    "Use the same client id (and secret) for the code exchange and every refresh.",
                ),
            );
        }
    }
    let secret_now = t.secret_fp.clone();
    if let Some(first) = &o.secret_fp {
        let problem = match &secret_now {
            None => Some(format!(
                "the code exchange sent a client secret (fp:{first}) but the refresh sent none"
            )),
            Some(now) if now != first => Some(format!(
                "the refresh sent client secret fp:{now}, the code exchange fp:{first}"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            let sf = if cx.provider() == Some(Provider::Salesforce) {
                " Salesforce requires `client_secret` in the refresh body."
            } else {
                ""
            };
            out.add(
                key.clone(),
                finding(
                    &rules::CLIENT_SECRET_MISMATCH,
                    ev.clone(),
                    "client secret differs between code exchange and refresh",
                    format!("{problem}. {}{sf}", super::outcome(t, "refresh", "invalid_client")),
                    "Send the same client secret, the same way, on the refresh as on the code exchange.",
                ),
            );
        }
    }
    let auth_now = t.auth.name();
    if o.auth != auth_now && !(o.auth == "none" || auth_now == "none") {
        out.add(
            key,
            finding(
                &rules::CLIENT_AUTH_METHOD_MISMATCH,
                ev,
                "client authenticates differently on refresh",
                format!("The code exchange used {} and the refresh {auth_now}. {}", o.auth, super::outcome(t, "refresh", "invalid_client")),
                "Authenticate the same way on every token request (the method the app is registered for).",
            ),
        );
    }
    // Scope on refresh must not widen the original grant.
    if let (Some(orig), Some(now)) = (
        family
            .authorize
            .as_ref()
            .and_then(|a| a.scope.clone())
            .or(o.scope.clone()),
        &t.scope,
    ) {
        let wider: Vec<&str> = now
            .split(' ')
            .filter(|s| !s.is_empty() && !orig.split(' ').any(|o| o == *s))
            .collect();
        if !wider.is_empty() {
            out.add(
                format!("fam {} scope", family.index),
                finding(
                    &rules::SCOPE_CHANGE,
                    vec![o.id, cx.ex.id],
                    "refresh asks for scopes the sign-in did not grant",
                    format!("The refresh requests {wider:?}, not in the original scope `{orig}`. A refresh may only narrow the scope (RFC 6749 §6). {}", super::outcome(t, "refresh", "invalid_scope")),
                    "Request every scope at sign-in; on refresh send the same scope or none.",
                ),
            );
        }
    }
}

fn code_consistency(cx: &Cx<'_>, t: &TokenRequest, out: &mut Findings) {
    let Some(a) = cx
        .state
        .authorize_for(t.code_fp.as_deref(), t.client_id.as_deref())
    else {
        return;
    };
    if let Some(sent) = &a.redirect_uri {
        if t.redirect_uri.as_deref() != Some(sent.as_str()) {
            let now = t
                .redirect_uri
                .as_deref()
                .map(|r| format!("`{r}`"))
                .unwrap_or_else(|| "none".into());
            out.add(
                format!("redir {}", a.id),
                finding(
                    &rules::REDIRECT_URI_MISMATCH,
                    vec![a.id, cx.ex.id],
                    "redirect_uri differs between authorize and token request",
                    format!("The authorize request used redirect_uri `{sent}`; the code exchange sent {now}. They must match byte for byte (RFC 6749 §4.1.3). {}", super::outcome(t, "code exchange", "invalid_grant")),
                    "Send the identical redirect_uri on the token request (same scheme, host, path, trailing slash and encoding).",
                ),
            );
        }
    }
    if let (Some(asked), Some(granted)) =
        (&a.scope, t.response.as_ref().and_then(|r| r.scope.clone()))
    {
        let missing: Vec<&str> = asked
            .split(' ')
            .filter(|s| {
                !s.is_empty()
                    && *s != "offline_access"
                    && *s != "openid"
                    && !granted.split(' ').any(|g| g == *s)
            })
            .collect();
        if !missing.is_empty() {
            out.add(
                format!("granted {}", a.id),
                finding(
                    &rules::SCOPE_CHANGE,
                    vec![a.id, cx.ex.id],
                    "fewer scopes granted than requested",
                    format!("The sign-in asked for `{asked}` but the token response grants `{granted}`: missing {missing:?}. API calls needing those scopes get 403 insufficient_scope."),
                    "Check the app registration allows these scopes (and that the user or admin consented).",
                ),
            );
        }
    }
}

fn basic_encoding(cx: &Cx<'_>, t: &TokenRequest, out: &mut Findings) {
    if !t.basic_unencoded {
        return;
    }
    let rejected = t
        .response
        .as_ref()
        .and_then(|r| r.error.as_deref())
        .is_some_and(|e| e == "invalid_client");
    let consequence = if rejected {
        " The server answered invalid_client."
    } else {
        ""
    };
    out.add(
        t.endpoint.clone(),
        finding(
            &rules::BASIC_NOT_FORM_ENCODED,
            vec![cx.ex.id],
            "Basic client credentials not form-encoded",
            format!("The client id or secret in `Authorization: Basic` holds reserved characters that were not form-urlencoded before base64 (RFC 6749 §2.3.1). Servers that decode them get a different secret.{consequence}"),
            "Form-urlencode the client id and secret, then join with `:` and base64; or send them in the body (client_secret_post) if the server allows.",
        ),
    );
}

fn metadata_checks(cx: &Cx<'_>, t: &TokenRequest, out: &mut Findings) {
    let origin = url_origin(&t.endpoint);
    for (issuer, meta) in &cx.state.metadata {
        let Some(token_ep) = meta.get("token_endpoint").and_then(|v| v.as_str()) else {
            continue;
        };
        if url_origin(token_ep) != origin && *issuer != origin {
            continue;
        }
        if url_base(token_ep) != t.endpoint {
            out.add(
                format!("{} {}", t.endpoint, token_ep),
                finding(
                    &rules::TOKEN_URL_MISMATCH,
                    vec![cx.ex.id],
                    "token request sent to a URL the discovery document does not name",
                    format!("The token request went to {}; the server's metadata ({issuer}) names {token_ep}.", t.endpoint),
                    "Use the token_endpoint from the provider's discovery document as the connector's token URL.",
                ),
            );
        }
        if let Some(list) = meta.get("grant_types_supported").and_then(|v| v.as_array()) {
            let g = match &t.grant {
                Grant::Other(s) => s.clone(),
                Grant::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code".into(),
                Grant::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange".into(),
                Grant::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                other => other.name().to_string(),
            };
            if !list.iter().any(|v| v.as_str() == Some(g.as_str())) {
                out.add(
                    format!("grant {g}"),
                    finding(
                        &rules::METADATA_MISMATCH,
                        vec![cx.ex.id],
                        format!("grant `{g}` not listed by the server"),
                        format!("The server's metadata lists grant_types_supported {list:?}; the client used `{g}`."),
                        "Use a grant the server supports.",
                    ),
                );
            }
        }
        if let Some(list) = meta
            .get("token_endpoint_auth_methods_supported")
            .and_then(|v| v.as_array())
        {
            let m = t.auth.name();
            // On the wire the two mutual-TLS methods look alike.
            let listed = |name: &str| list.iter().any(|v| v.as_str() == Some(name));
            let supported =
                listed(m) || (m == "tls_client_auth" && listed("self_signed_tls_client_auth"));
            if m != "none" && !supported {
                out.add(
                    format!("auth {m} {}", t.endpoint),
                    finding(
                        &rules::CLIENT_AUTH_METHOD_MISMATCH,
                        vec![cx.ex.id],
                        format!("client authentication `{m}` not supported by the server"),
                        format!("The server's metadata lists token_endpoint_auth_methods_supported {list:?}; the client used `{m}`, which fails with invalid_client."),
                        "Authenticate with a method the server lists (set the connector's client authentication accordingly).",
                    ),
                );
            }
        }
    }
}
