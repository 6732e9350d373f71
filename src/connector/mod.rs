//! Connector definitions: what the connector declares about its OAuth settings, read from
//! a Power Platform custom connector (`apiProperties.json`, `apiDefinition.swagger.json`,
//! or the folder holding them), an OpenAPI 3 document (JSON), or a TOML profile of ours.
//! [`lint`] checks a definition on its own; [`analyzer::ConnectorCheck`] compares it with
//! the wire.

pub mod analyzer;
pub mod lint;
mod load;
pub mod patch;
mod spans;

pub use load::{load, parse};

/// Where a setting came from: the file and the JSON path (or TOML key) inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub file: String,
    pub path: String,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}", self.file, self.path)
    }
}

/// One declared value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<T> {
    pub value: T,
    pub source: Source,
}

/// The OAuth settings a connector declares. Every field is optional: definitions
/// exported from the portal usually leave the client secret out, for one.
#[derive(Debug, Clone, Default)]
pub struct Connector {
    /// What kind of file it was (for messages).
    pub kind: &'static str,
    pub identity_provider: Option<Field<String>>,
    pub client_id: Option<Field<String>>,
    /// The secret itself, from the environment variable the profile names (never a flag).
    pub client_secret: Option<Field<String>>,
    pub authorization_url: Option<Field<String>>,
    pub token_url: Option<Field<String>>,
    pub refresh_url: Option<Field<String>>,
    pub redirect_url: Option<Field<String>>,
    pub redirect_mode: Option<Field<String>>,
    pub scopes: Option<Field<Vec<String>>>,
    pub scope_delimiter: Option<Field<String>>,
    /// The flow (`accessCode`, `implicit`, `application`, `password`, or our grant names).
    pub flow: Option<Field<String>>,
    /// `oauth2generic` templates by their key (`tokenBodyTemplate`, `refreshBodyTemplate`,
    /// `*UrlTemplate`, `*QueryStringTemplate`).
    pub templates: Vec<(String, Field<String>)>,
    /// Things noticed while reading (unknown identity provider, ...).
    pub notes: Vec<String>,
    /// The API the Swagger/OpenAPI document describes (for `walk`'s calls).
    pub api: Option<Api>,
}

/// The API of a Swagger 2.0 or OpenAPI 3 document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Api {
    /// `scheme://host[:port]/basePath` (Swagger) or the first server URL (OpenAPI),
    /// without a trailing slash.
    pub base: String,
    /// In document order.
    pub operations: Vec<Operation>,
}

/// One operation of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Upper case.
    pub method: String,
    /// The path as written (`/users/{id}`).
    pub path: String,
    pub operation_id: Option<String>,
    /// It has a required parameter (path, query, header or body).
    pub needs_parameters: bool,
}

impl Api {
    /// The operation called `id` (operationId, compared without case).
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| {
            o.operation_id
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(id))
        })
    }

    /// The first GET operation that needs no parameter (what `walk` calls by default).
    pub fn first_plain_get(&self) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|o| o.method == "GET" && !o.needs_parameters && !o.path.contains('{'))
    }

    pub fn url_of(&self, op: &Operation) -> String {
        format!("{}{}", self.base, op.path)
    }
}

impl Connector {
    /// The refresh URL in effect: the refresh URL when set, else the token URL.
    pub fn effective_refresh_url(&self) -> Option<&Field<String>> {
        self.refresh_url
            .as_ref()
            .filter(|f| !f.value.trim().is_empty())
            .or(self.token_url.as_ref())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// Only the parser's message, not its display: that quotes the offending line,
    /// which in a TOML profile may hold the client secret.
    #[error("{path}: invalid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("{path}: not a connector definition we know ({hint})")]
    Unknown { path: String, hint: String },
    #[error("{file} at {path}: {message}")]
    Field {
        file: String,
        path: String,
        message: String,
    },
    #[error("{path}: environment variable {var} (client_secret_env) is not set")]
    MissingEnv { path: String, var: String },
}

/// The finding for a flow other than the authorization code flow.
pub fn flow_finding(flow: &str) -> crate::analyze::Finding {
    crate::analyze::finding(
        &crate::analyze::rules::GRANT_UNSUPPORTED,
        Vec::new(),
        format!("the connector declares the `{flow}` flow"),
        format!(
            "Custom connectors support only the authorization code flow (`accessCode`) for OAuth 2.0; `{flow}` cannot work."
        ),
        "Declare `flow: accessCode` with authorizationUrl and tokenUrl, and register the app for the authorization code grant.",
    )
}
