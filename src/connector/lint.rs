//! `oauthscope lint-connector`: problems a connector definition has on its own, before any
//! traffic. Rule ids are the catalog's where one fits; two are lint-only:
//! `connector-template` (broken or unknown `oauth2generic` placeholders) and
//! `redirect-mode` (redirect URI notes).

use super::{Connector, Field};
use crate::analyze::{Finding, Findings, finding, rules};
use crate::oauth::parse::url_host;

/// Placeholders `oauth2generic` templates may use.
pub const PLACEHOLDERS: [&str; 7] = [
    "ClientId",
    "ClientSecret",
    "RedirectUrl",
    "Scopes",
    "State",
    "Code",
    "RefreshToken",
];

fn def<T>(mut f: Finding, field: &Field<T>) -> Finding {
    f.definition = Some(field.source.to_string());
    f
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Placeholders in a template that are unknown or broken.
pub fn bad_placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        if rest.as_bytes()[i] == b'}' {
            out.push("unmatched `}`".to_string());
            rest = &rest[i + 1..];
            continue;
        }
        let after = &rest[i + 1..];
        match after.find(['}', '{']) {
            Some(j) if after.as_bytes()[j] == b'}' => {
                let name = &after[..j];
                if !PLACEHOLDERS.contains(&name) {
                    out.push(format!("{{{name}}}"));
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push("unclosed `{`".to_string());
                rest = after;
            }
        }
    }
    out
}

/// Check a definition on its own.
pub fn lint(c: &Connector) -> Vec<Finding> {
    let mut out = Findings::default();
    if let Some(flow) = &c.flow {
        let f = flow.value.to_ascii_lowercase();
        if !matches!(
            f.as_str(),
            "accesscode" | "authorizationcode" | "authorization_code"
        ) {
            out.add("flow", def(super::flow_finding(&flow.value), flow));
        }
    }
    let provider = c
        .identity_provider
        .as_ref()
        .map(|p| p.value.to_ascii_lowercase());
    let is_aad = matches!(provider.as_deref(), Some("aad") | Some("aadcertificate"));
    let from_portal = c.kind.contains("apiProperties") || c.kind.contains("folder");
    match (&c.refresh_url, &c.token_url) {
        (Some(r), Some(t))
            if !r.value.trim().is_empty() && !super::analyzer::same_url(&r.value, &t.value) =>
        {
            out.add(
                "refresh differs",
                def(
                    finding(
                        &rules::REFRESH_URL_MISMATCH,
                        Vec::new(),
                        "refresh URL differs from the token URL",
                        format!("The refresh URL is {} but the token URL is {}. Providers refresh at the token endpoint unless they document otherwise.", r.value, t.value),
                        "Set the refresh URL to the token URL.",
                    ),
                    r,
                ),
            );
        }
        (r, Some(t))
            if from_portal && !is_aad && r.as_ref().is_none_or(|r| r.value.trim().is_empty()) =>
        {
            out.add(
                "refresh empty",
                def(
                    finding(
                        &rules::REFRESH_URL_MISMATCH,
                        Vec::new(),
                        "refresh URL is empty",
                        format!("The connector has no refresh URL; with the generic OAuth 2.0 provider the refresh then fails and the connection dies when the first access token expires. The token URL is {}.", t.value),
                        "Set the refresh URL to the token URL.",
                    ),
                    t,
                ),
            );
        }
        _ => {}
    }
    let urls = [
        &c.authorization_url,
        &c.token_url,
        &c.refresh_url,
        &c.redirect_url,
    ];
    for f in urls.into_iter().flatten() {
        if f.value.starts_with("http://") && !is_loopback(&url_host(&f.value)) {
            out.add(
                format!("http {}", f.source),
                def(
                    finding(
                        &rules::PLAIN_HTTP,
                        Vec::new(),
                        "connector URL uses plain http://",
                        format!("{} is not TLS-protected: codes, tokens and secrets would cross the network in clear.", f.value),
                        "Use the https:// URL.",
                    ),
                    f,
                ),
            );
        }
    }
    let auth_host = c
        .authorization_url
        .as_ref()
        .or(c.token_url.as_ref())
        .map(|f| url_host(&f.value))
        .unwrap_or_default();
    let scopes: Vec<&str> = c
        .scopes
        .as_ref()
        .map(|s| s.value.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let templates_text: String = c
        .templates
        .iter()
        .map(|(_, f)| f.value.as_str())
        .chain(c.authorization_url.iter().map(|f| f.value.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    let offline_missing = if auth_host.ends_with("microsoftonline.com") && !is_aad {
        (!scopes.contains(&"offline_access")).then_some("Microsoft issues a refresh token only for the `offline_access` scope; it is not in the connector's scopes.")
    } else if auth_host.ends_with("google.com") {
        (!templates_text.contains("access_type=offline")).then_some("Google issues a refresh token only with `access_type=offline` (and `prompt=consent` to get one again); the authorization URL does not carry it.")
    } else if auth_host.ends_with("okta.com") || auth_host.ends_with("auth0.com") {
        (!scopes.contains(&"offline_access")).then_some("Okta and Auth0 issue a refresh token only for the `offline_access` scope; it is not in the connector's scopes.")
    } else if auth_host.ends_with("dropbox.com") {
        (!templates_text.contains("token_access_type=offline"))
            .then_some("Dropbox issues a refresh token only with `token_access_type=offline`.")
    } else {
        None
    };
    if let Some(why) = offline_missing {
        let anchor = c
            .scopes
            .as_ref()
            .map(|s| s.source.clone())
            .or(c.authorization_url.as_ref().map(|a| a.source.clone()));
        let mut f = finding(
            &rules::OFFLINE_ACCESS_MISSING,
            Vec::new(),
            "the connector never asks for a refresh token",
            format!("{why} Without one the connection fails when the first access token expires."),
            "Add the provider's offline-access scope or parameter to the connector.",
        );
        f.definition = anchor.map(|s| s.to_string());
        out.add("offline", f);
    }
    for (key, tpl) in &c.templates {
        let bad = bad_placeholders(&tpl.value);
        if !bad.is_empty() {
            out.add(
                format!("tpl {key}"),
                def(
                    finding(
                        &rules::CONNECTOR_TEMPLATE,
                        Vec::new(),
                        format!("{key} has placeholders that will not be filled"),
                        format!(
                            "`{}`: {}. Known placeholders: {}.",
                            tpl.value,
                            bad.join(", "),
                            PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
                        ),
                        "Fix the placeholder names (they are case-sensitive) and braces.",
                    ),
                    tpl,
                ),
            );
        }
    }
    if from_portal {
        let mode = c
            .redirect_mode
            .as_ref()
            .map(|m| m.value.as_str())
            .unwrap_or("Global");
        if mode.eq_ignore_ascii_case("global") {
            let mut f = finding(
                &rules::REDIRECT_MODE,
                Vec::new(),
                "the connector uses the shared global redirect URI",
                "redirectMode is Global (the shared https://global.consent.azure-apim.net/redirect). Microsoft moved custom connectors to per-connector redirect URIs; the shared one is being retired.",
                "Set redirectMode to GlobalPerConnector and register the connector's own redirect URI with the provider.",
            );
            f.definition = c.redirect_mode.as_ref().map(|m| m.source.to_string());
            out.add("redirect-mode", f);
        }
    }
    out.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert!(
            bad_placeholders(
                "grant_type=refresh_token&refresh_token={RefreshToken}&client_id={ClientId}"
            )
            .is_empty()
        );
        assert_eq!(bad_placeholders("a={clientid}"), vec!["{clientid}"]);
        assert_eq!(bad_placeholders("a={Code"), vec!["unclosed `{`"]);
        assert_eq!(bad_placeholders("a=Code}"), vec!["unmatched `}`"]);
        assert_eq!(bad_placeholders("{{Code}"), vec!["unclosed `{`"]);
    }
}
