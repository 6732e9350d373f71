//! What the walk runs with: the connector definition's settings, overridden by the
//! options, and the API calls for steps 2 and 4.

use std::time::Duration;

use serde::Serialize;

use super::WalkError;
use crate::connector::Connector;

/// `(method, URL)` of each API call.
pub type Calls = Vec<(String, String)>;

/// How the client credentials travel to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// `Authorization: Basic` (client_secret_basic).
    Basic,
    /// In the form body (client_secret_post).
    Post,
}

impl Auth {
    pub fn name(self) -> &'static str {
        match self {
            Auth::Basic => "client_secret_basic",
            Auth::Post => "client_secret_post",
        }
    }

    pub(super) fn other(self) -> Auth {
        match self {
            Auth::Basic => Auth::Post,
            Auth::Post => Auth::Basic,
        }
    }
}

/// What the user asked for beside the definition.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub redirect_uri: Option<String>,
    pub token_url: Option<String>,
    pub refresh_url: Option<String>,
    /// `METHOD URL_OR_OPERATION_ID`.
    pub calls: Vec<String>,
    pub client_auth: Option<Auth>,
    pub browser: Option<String>,
    pub timeout: Duration,
    pub wait_expiry: bool,
    pub max_wait: Duration,
}

/// The settings the walk runs with: the definition's, overridden by the options.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub authorize_url: String,
    pub token_url: String,
    pub refresh_url: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub delimiter: String,
    pub calls: Vec<(String, String)>,
    pub auth: Auth,
    /// Why there is no API call to make (steps 2 and 4 are skipped then).
    pub no_calls: Option<String>,
}

impl Settings {
    pub fn resolve(c: &Connector, o: &WalkOptions) -> Result<Settings, WalkError> {
        let missing = |what: &str, flag: &str| {
            WalkError::at(
                "settings",
                format!("the definition has no {what}"),
                &format!("add it to the connector, or pass {flag}"),
            )
        };
        let value = |f: &Option<crate::connector::Field<String>>| {
            f.as_ref()
                .map(|f| f.value.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let client_id = value(&c.client_id).ok_or_else(|| {
            WalkError::at(
                "settings",
                "the definition has no client id".into(),
                "add clientId to the connector's oAuthSettings (or client_id to the profile)",
            )
        })?;
        let authorize_url = value(&c.authorization_url).ok_or_else(|| {
            WalkError::at(
                "settings",
                "the definition has no authorization URL".into(),
                "add it to the connector",
            )
        })?;
        let token_url = o
            .token_url
            .clone()
            .or_else(|| value(&c.token_url))
            .ok_or_else(|| missing("token URL", "--token-url"))?;
        let refresh_url = o
            .refresh_url
            .clone()
            .or_else(|| value(&c.refresh_url))
            .unwrap_or_else(|| token_url.clone());
        let redirect_uri = o
            .redirect_uri
            .clone()
            .or_else(|| value(&c.redirect_url))
            .ok_or_else(|| missing("redirect URL", "--redirect-uri"))?;
        for (what, url) in [
            ("authorization URL", &authorize_url),
            ("token URL", &token_url),
            ("refresh URL", &refresh_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('{') {
                return Err(WalkError::at(
                    "settings",
                    format!("the {what} {url:?} is not an absolute URL with a fixed host"),
                    "pass the URL the connector ends up calling (--token-url, --refresh-url)",
                ));
            }
        }
        let scopes = o
            .scopes
            .clone()
            .or_else(|| c.scopes.as_ref().map(|s| s.value.clone()))
            .unwrap_or_default();
        let delimiter = c
            .scope_delimiter
            .as_ref()
            .map(|d| d.value.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| " ".into());
        let auth = o.client_auth.unwrap_or_else(|| {
            // A generic provider's token body template says where the secret goes.
            match c.templates.iter().find(|(k, _)| k == "tokenBodyTemplate") {
                Some((_, t)) if !t.value.contains("{ClientSecret}") => Auth::Basic,
                _ => Auth::Post,
            }
        });
        let (calls, no_calls) = calls(c, &o.calls)?;
        Ok(Settings {
            client_id,
            client_secret: o.client_secret.clone().or_else(|| value(&c.client_secret)),
            authorize_url,
            token_url,
            refresh_url,
            redirect_uri,
            scopes,
            delimiter,
            calls,
            auth,
            no_calls,
        })
    }
}

/// The API calls: `--call` (a URL, a path under the API's base, or an operationId),
/// else the definition's first GET operation that needs no parameter.
fn calls(c: &Connector, specs: &[String]) -> Result<(Calls, Option<String>), WalkError> {
    let bad = |spec: &str, why: String| {
        WalkError::at(
            "settings",
            format!("--call {spec:?}: {why}"),
            "write --call \"GET https://api.example.com/me\" or --call \"GET OperationId\"",
        )
    };
    let mut out = Vec::new();
    for spec in specs {
        let (method, target) = spec
            .trim()
            .split_once(char::is_whitespace)
            .map(|(m, t)| (m.to_ascii_uppercase(), t.trim().to_string()))
            .ok_or_else(|| bad(spec, "expected METHOD and a URL or operationId".into()))?;
        if http::Method::from_bytes(method.as_bytes()).is_err() {
            return Err(bad(spec, format!("{method} is not an HTTP method")));
        }
        let url = if target.starts_with("https://") || target.starts_with("http://") {
            target
        } else if target.starts_with('/') {
            let api = c
                .api
                .as_ref()
                .ok_or_else(|| bad(spec, "a path needs the Swagger's host; give a URL".into()))?;
            format!("{}{target}", api.base)
        } else {
            let api = c.api.as_ref().ok_or_else(|| {
                bad(
                    spec,
                    "an operationId needs the Swagger/OpenAPI document".into(),
                )
            })?;
            let op = api
                .operation(&target)
                .ok_or_else(|| bad(spec, format!("no operation {target:?} in the definition")))?;
            if op.path.contains('{') {
                return Err(bad(
                    spec,
                    format!("{} {} needs parameters: give the URL", op.method, op.path),
                ));
            }
            api.url_of(op)
        };
        out.push((method, url));
    }
    if !out.is_empty() {
        return Ok((out, None));
    }
    match c.api.as_ref().map(|a| (a, a.first_plain_get())) {
        Some((api, Some(op))) => Ok((vec![("GET".into(), api.url_of(op))], None)),
        Some(_) => Ok((
            Vec::new(),
            Some("the definition has no GET operation without parameters: pass --call".into()),
        )),
        None => Ok((
            Vec::new(),
            Some("no API to call: pass --call \"GET https://...\" (or the Swagger file)".into()),
        )),
    }
}
