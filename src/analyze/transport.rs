//! plain-http, secret-in-url: what the transport exposes.

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::ClientAuth;
use crate::oauth::parse::{query_params, url_base, url_host, url_origin};

pub struct Transport;

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The field and issuer of an HTTPS discovery document that names `base` as an endpoint.
fn discovery_naming(cx: &Cx<'_>, base: &str) -> Option<(String, String)> {
    cx.state.metadata.iter().find_map(|(issuer, doc)| {
        if !issuer.starts_with("https://") {
            return None;
        }
        doc.iter().find_map(|(k, v)| {
            (k.ends_with("_endpoint") && v.as_str() == Some(base))
                .then(|| (k.clone(), issuer.clone()))
        })
    })
}

impl Analyzer for Transport {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let url = &cx.ex.request.url;
        let oauth_step = match cx.step {
            Step::Authorize(_) => Some("authorization"),
            Step::Token(_) => Some("token"),
            Step::ApiCall(a) | Step::UserInfo(a) if a.token.is_some() => Some("API"),
            _ => None,
        };
        if let Some(kind) = oauth_step {
            // An endpoint named by a discovery document served over HTTPS: a downgrade
            // whatever the host (also on loopback, where plain HTTP is otherwise fine).
            let named_by = url
                .starts_with("http://")
                .then(|| discovery_naming(cx, url_base(url)))
                .flatten();
            if url.starts_with("http://") && (named_by.is_some() || !is_loopback(&url_host(url))) {
                let what = match cx.step {
                    Step::Token(t) if t.auth == ClientAuth::Basic => {
                        "the client id and secret (HTTP Basic), the code or refresh token and the tokens issued cross the network in clear"
                    }
                    Step::Token(_) => {
                        "the client's credentials, the code or refresh token and the tokens issued cross the network in clear"
                    }
                    Step::ApiCall(_) | Step::UserInfo(_) => {
                        "the access token crosses the network in clear"
                    }
                    _ => "the authorization request and its answer cross the network in clear",
                };
                let source = named_by
                    .map(|(field, issuer)| {
                        format!(" The discovery document of the https:// issuer {issuer} names this URL as its `{field}`: the client followed it down to plain HTTP.")
                    })
                    .unwrap_or_default();
                out.add(
                    url_origin(url),
                    finding(
                        &rules::PLAIN_HTTP,
                        vec![cx.ex.id],
                        format!("{kind} endpoint over plain http://"),
                        format!(
                            "{} {} was called without TLS: {what}, readable and replayable by anyone on the path.{source}",
                            cx.ex.request.method,
                            url_base(url)
                        ),
                        "Use the https:// URL of the endpoint (RFC 6749 §3.1 requires TLS); fix the URL in the connector's settings, and the provider's discovery document if it names http:// endpoints.",
                    ),
                );
            }
        }
        // Secrets in a query string end up in logs, proxies and browser history.
        let q = query_params(url);
        for name in crate::capture::secrets::NEVER_IN_URL {
            if !q.has(name) {
                continue;
            }
            // An access token in the query of an API call is token-in-url's business.
            if name == "access_token" && matches!(cx.step, Step::ApiCall(_) | Step::UserInfo(_)) {
                continue;
            }
            out.add(
                format!("{name} {}", url_origin(url)),
                finding(
                    &rules::SECRET_IN_URL,
                    vec![cx.ex.id],
                    format!("`{name}` sent in a URL query string"),
                    format!(
                        "A request to {} carries `{name}` in its URL. URLs are written to server and proxy logs and browser history, so the secret leaks.",
                        url_origin(url)
                    ),
                    format!("Send `{name}` in the POST body (application/x-www-form-urlencoded), or the client secret in HTTP Basic (RFC 6749 §2.3.1)."),
                ),
            );
        }
    }
}
