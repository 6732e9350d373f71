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
    pub(super) fn of(sent: &Sent) -> Answer {
        if let Some(e) = &sent.error {
            return Answer::Unreachable(e.message.clone());
        }
        let status = sent.status.unwrap_or(0);
        let text = String::from_utf8_lossy(&sent.plain);
        let json = crate::oauth::parse::json_object(&text);
        let content_type = sent.header("content-type").unwrap_or("no content type");
        match json {
            Some(o) if o.get("access_token").and_then(|v| v.as_str()).is_some() => Answer::Issued {
                access: o["access_token"].as_str().unwrap_or_default().to_string(),
                refresh: o
                    .get("refresh_token")
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                expires_in: o.get("expires_in").and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                }),
            },
            Some(o) if o.get("error").and_then(|v| v.as_str()).is_some() => Answer::Refused {
                status,
                error: o["error"].as_str().unwrap_or_default().to_string(),
                description: o
                    .get("error_description")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            },
            Some(_) => Answer::Other {
                status,
                what: "JSON without an access token".into(),
            },
            None => Answer::Other {
                status,
                what: format!("{content_type}, not JSON"),
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
