//! Comparing a connector definition with the wire (step 5 of Microsoft's "Troubleshoot OAuth 2.0" checklist): client id, client
//! secret (by fingerprint), token and refresh URLs, redirect URL, scopes and grant. The
//! findings reuse the catalog's ids, and name the definition's file and field.

use super::{Connector, Field};
use crate::analyze::{Analyzer, Cx, Finding, Findings, finding, rules};
use crate::capture::redact::Fingerprinter;
use crate::oauth::Step;
use crate::oauth::classify::Grant;
use crate::oauth::parse::{url_base, url_origin};
use crate::oauth::timeline::FlowState;

pub struct ConnectorCheck {
    pub connector: Connector,
}

fn with_def<T>(mut f: Finding, field: &Field<T>) -> Finding {
    f.definition = Some(field.source.to_string());
    f
}

/// Compare two endpoint URLs: scheme and host case-insensitively, default ports dropped,
/// path and the rest byte for byte.
pub fn same_url(a: &str, b: &str) -> bool {
    fn norm(u: &str) -> String {
        let base = url_base(u.trim());
        let origin = url_origin(base);
        let origin = origin
            .strip_suffix(":443")
            .filter(|_| origin.starts_with("https://"))
            .or_else(|| {
                origin
                    .strip_suffix(":80")
                    .filter(|_| origin.starts_with("http://"))
            })
            .unwrap_or(&origin)
            .to_string();
        let path = base
            .split_once("://")
            .map(|(_, r)| r)
            .and_then(|r| r.find('/').map(|i| &r[i..]))
            .unwrap_or("/");
        format!("{origin}{path}")
    }
    norm(a) == norm(b)
}

fn is_template(s: &str) -> bool {
    s.contains('{')
}

impl ConnectorCheck {
    fn check_client(&self, cx: &Cx<'_>, sent: Option<&str>, what: &str, out: &mut Findings) {
        let Some(decl) = &self.connector.client_id else {
            return;
        };
        if is_template(&decl.value) {
            return;
        }
        if let Some(sent) = sent.filter(|s| *s != decl.value) {
            out.add(
                format!("def client {sent}"),
                with_def(
                    finding(
                        &rules::CLIENT_ID_MISMATCH,
                        vec![cx.ex.id],
                        "client id differs from the connector's",
                        format!("The {what} sent client_id `{sent}`; the connector declares `{}`.", decl.value),
                        "Put the client id of the app registration that works into the connector (or fix the client).",
                    ),
                    decl,
                ),
            );
        }
    }
}

impl ConnectorCheck {
    /// The redirect_uri a request sent against the connector's redirect URL.
    fn check_redirect(&self, cx: &Cx<'_>, sent: Option<&str>, what: &str, out: &mut Findings) {
        let (Some(decl), Some(sent)) = (&self.connector.redirect_url, sent) else {
            return;
        };
        if is_template(&decl.value) || sent == decl.value {
            return;
        }
        out.add(
            format!("def redirect {what}"),
            with_def(
                finding(
                    &rules::REDIRECT_URI_MISMATCH,
                    vec![cx.ex.id],
                    "redirect_uri differs from the connector's redirect URL",
                    format!("The {what} sent `{sent}`; the connector declares `{}`. The provider's app registration must list the URL the connector really uses.", decl.value),
                    "Use one redirect URL everywhere: the connector's, registered with the provider (for Power Platform: the per-connector redirect URI on the connector's Security tab).",
                ),
                decl,
            ),
        );
    }
}

impl Analyzer for ConnectorCheck {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let c = &self.connector;
        match cx.step {
            Step::Authorize(a) => {
                self.check_client(cx, a.params.get("client_id"), "authorize request", out);
                self.check_redirect(cx, a.params.get("redirect_uri"), "authorize request", out);
                let declared = c.scopes.as_ref().filter(|s| !s.value.is_empty());
                if let (Some(decl), Some(sent)) = (declared, a.params.get("scope")) {
                    let delim = c
                        .scope_delimiter
                        .as_ref()
                        .map(|d| d.value.as_str())
                        .filter(|d| !d.is_empty())
                        .unwrap_or(" ");
                    let sent: Vec<&str> = sent.split(delim).filter(|s| !s.is_empty()).collect();
                    let missing: Vec<&String> = decl
                        .value
                        .iter()
                        .filter(|s| !sent.contains(&s.as_str()))
                        .collect();
                    let extra: Vec<&&str> = sent
                        .iter()
                        .filter(|s| !decl.value.iter().any(|d| d == *s))
                        .collect();
                    if !missing.is_empty() || !extra.is_empty() {
                        out.add(
                            "def scope",
                            with_def(
                                finding(
                                    &rules::SCOPE_CHANGE,
                                    vec![cx.ex.id],
                                    "scopes differ from the connector's",
                                    format!("The authorize request asked for {sent:?}; the connector declares {:?} (missing {missing:?}, extra {extra:?}, delimiter {delim:?}).", decl.value),
                                    "Make the connector's scope list what the working flow requests, with the provider's delimiter.",
                                ),
                                decl,
                            ),
                        );
                    }
                }
            }
            Step::Token(t) => {
                let (decl, rule, what) = match t.grant {
                    Grant::AuthorizationCode => (
                        c.token_url.as_ref(),
                        &rules::TOKEN_URL_MISMATCH,
                        "token URL",
                    ),
                    Grant::RefreshToken => (
                        c.effective_refresh_url(),
                        &rules::REFRESH_URL_MISMATCH,
                        "refresh URL",
                    ),
                    _ => (None, &rules::TOKEN_URL_MISMATCH, ""),
                };
                if let Some(decl) = decl.filter(|d| !is_template(&d.value)) {
                    if !same_url(&decl.value, &t.endpoint) {
                        out.add(
                            format!("def {} {}", rule.id, t.endpoint),
                            with_def(
                                finding(
                                    rule,
                                    vec![cx.ex.id],
                                    format!("{what} differs from the connector's"),
                                    format!(
                                        "The {} request went to {}; the connector's {what} is {}.",
                                        t.grant.name(),
                                        t.endpoint,
                                        decl.value
                                    ),
                                    format!(
                                        "Set the connector's {what} to the URL that works ({}).",
                                        t.endpoint
                                    ),
                                ),
                                decl,
                            ),
                        );
                    }
                }
                self.check_client(
                    cx,
                    t.client_id.as_deref(),
                    &format!("{} request", t.grant.name()),
                    out,
                );
                if let (Some(decl), Some(sent)) = (&c.client_secret, &t.client_secret) {
                    let (a, b) = (cx.fpr.fp(&decl.value), cx.fpr.fp(sent));
                    if a != b {
                        out.add(
                            format!("def secret {b}"),
                            with_def(
                                finding(
                                    &rules::CLIENT_SECRET_MISMATCH,
                                    vec![cx.ex.id],
                                    "client secret differs from the connector's",
                                    format!("The {} request sent client secret fp:{b}; the connector's secret is fp:{a}.", t.grant.name()),
                                    "Copy the current secret value (not its id) from the app registration into the connector.",
                                ),
                                decl,
                            ),
                        );
                    }
                }
                if t.grant == Grant::AuthorizationCode {
                    self.check_redirect(cx, t.redirect_uri.as_deref(), "code exchange", out);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, state: &FlowState, _fpr: &Fingerprinter, out: &mut Findings) {
        let c = &self.connector;
        if let Some(flow) = &c.flow {
            let f = flow.value.to_ascii_lowercase();
            if !matches!(
                f.as_str(),
                "accesscode" | "authorizationcode" | "authorization_code"
            ) {
                out.add("def flow", with_def(super::flow_finding(&flow.value), flow));
            }
        }
        // oauth2generic: will the refresh body carry the secret the wire shows is needed?
        if let Some((_, tpl)) = c.templates.iter().find(|(k, _)| k == "refreshBodyTemplate") {
            let posted = state
                .families
                .iter()
                .find(|f| f.origin.auth == "client_secret_post");
            if let Some(fam) = posted {
                if !tpl.value.contains("{ClientSecret}") {
                    out.add(
                        "def refresh body",
                        with_def(
                            finding(
                                &rules::CLIENT_SECRET_MISMATCH,
                                vec![fam.origin.id],
                                "the connector's refresh body will not carry the client secret",
                                format!("The code exchange authenticated with client_secret in the body, but refreshBodyTemplate `{}` has no {{ClientSecret}}: the refresh will fail with invalid_client (Salesforce requires client_secret on refresh).", tpl.value),
                                "Add `&client_secret={ClientSecret}` to refreshBodyTemplate.",
                            ),
                            tpl,
                        ),
                    );
                }
            }
        }
    }
}
