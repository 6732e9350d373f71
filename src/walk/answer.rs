//! What a token endpoint answered, and the sentences that explain a refusal.

use super::Settings;
use crate::replay::send::Sent;

/// What a token endpoint answered.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    Issued {
        access: String,
        refresh: Option<String>,
        expires_in: Option<u64>,
    },
    /// An OAuth error (JSON with `error`).
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// Not a token response (HTML, text, JSON without a token).
    Other { status: u16, what: String },
    /// No answer at all.
    Unreachable(String),
}

impl Answer {
    /// Read with the same token-response parser the analysis uses (JSON, or a form body
    /// as GitHub sends without `Accept: application/json`).
    pub(super) fn of(sent: &Sent) -> Answer {
        use crate::oauth::classify::{BodyFormat, token_response};
        if let Some(e) = &sent.error {
            return Answer::Unreachable(e.message.clone());
        }
        let status = sent.status.unwrap_or(0);
        let mut ex = super::blank();
        ex.response = Some(crate::capture::Response {
            status,
            version: "HTTP/1.1".into(),
            headers: sent.headers.clone(),
            body: crate::capture::Body::from_bytes(&sent.plain, sent.plain.len() as u64, false),
        });
        let r = token_response(&ex);
        let parsed = matches!(r.format, Some(BodyFormat::Json | BodyFormat::Form));
        match (r.access_token, r.error) {
            (Some(access), None) if parsed => Answer::Issued {
                access,
                refresh: r.refresh_token.filter(|t| !t.is_empty()),
                expires_in: r.expires_in.filter(|e| *e >= 0.0).map(|e| e as u64),
            },
            (_, Some(error)) if parsed => Answer::Refused {
                status,
                error,
                description: r.error_description,
            },
            _ if r.format == Some(BodyFormat::Json) => Answer::Other {
                status,
                what: "JSON without an access token".into(),
            },
            _ => Answer::Other {
                status,
                what: format!(
                    "{}, not JSON",
                    sent.header("content-type").unwrap_or("no content type")
                ),
            },
        }
    }

    pub(super) fn says(&self) -> String {
        match self {
            Answer::Issued { .. } => "issued tokens".into(),
            Answer::Refused {
                status,
                error,
                description,
            } => format!(
                "{status} {error}{}",
                description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            Answer::Other { status, what } => format!("{status} with {what}"),
            Answer::Unreachable(m) => format!("no answer: {m}"),
        }
    }
}

/// A sentence on the missing refresh token when the scopes lack the provider's
/// offline-access scope.
pub(super) fn offline_hint(
    s: &Settings,
    meta: Option<&serde_json::Map<String, serde_json::Value>>,
) -> String {
    if s.scopes.iter().any(|x| x == "offline_access") {
        return String::new();
    }
    let listed = meta
        .and_then(|m| m.get("scopes_supported"))
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("offline_access")));
    let host = crate::wire::url_host(&s.authorize_url);
    let known = ["microsoftonline.com", "okta.com", "auth0.com"]
        .iter()
        .any(|h| host.ends_with(h));
    if listed || known {
        format!(
            ". The provider {} offline_access and the scopes ({}) do not ask for it: add offline_access to the connector's scopes",
            if listed {
                "lists in its metadata"
            } else {
                "issues refresh tokens only for"
            },
            if s.scopes.is_empty() {
                "none".to_string()
            } else {
                s.scopes.join(" ")
            }
        )
    } else {
        String::new()
    }
}

/// What an `AADSTS` code in an error description means, when there is one.
pub(super) fn aadsts_hint(a: &Answer) -> String {
    let Answer::Refused {
        description: Some(d),
        ..
    } = a
    else {
        return String::new();
    };
    let code = d
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.starts_with("AADSTS"));
    match code {
        Some(c) => {
            let e = crate::analyze::explain_aadsts(c.trim_start_matches("AADSTS"));
            if e.is_empty() {
                String::new()
            } else {
                format!(": {e}")
            }
        }
        None => String::new(),
    }
}
