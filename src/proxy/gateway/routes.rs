//! Gateway routes: `--route /prefix=https://origin`, checked at start-up.

/// An upstream origin: scheme, host and port (default ports left out), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
}

impl Origin {
    /// `https://host[:port]`, nothing after it but an optional `/`.
    pub fn parse(s: &str) -> Result<Origin, RouteError> {
        let bad = |why: &str| RouteError::Upstream {
            value: s.to_string(),
            why: why.to_string(),
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme (write https://host)"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad("the scheme must be https or http"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(bad(
                "an upstream is an origin only, with no path (the prefix is stripped and the \
                 rest of the path kept)",
            ));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the upstream URL are not supported"));
        }
        let parsed: http::uri::Authority = authority
            .parse()
            .map_err(|_| bad("the host is not valid"))?;
        if parsed.host().is_empty() {
            return Err(bad("the host is empty"));
        }
        let default = if scheme == "https" { 443 } else { 80 };
        let port = parsed.port_u16().filter(|p| *p != default);
        Ok(Origin {
            scheme,
            host: parsed.host().to_ascii_lowercase(),
            port,
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}://{}:{p}", self.scheme, self.host),
            None => write!(f, "{}://{}", self.scheme, self.host),
        }
    }
}

/// One route: requests under `prefix` go to `upstream`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `/idp`, `/api/v2`; empty for `/` (every path).
    pub prefix: String,
    pub upstream: Origin,
}

impl Route {
    /// Does `path` (what follows the secret) fall under this route's prefix, on a segment
    /// boundary?
    pub fn matches(&self, path: &str) -> bool {
        match path.strip_prefix(self.prefix.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

impl std::str::FromStr for Route {
    type Err = RouteError;

    /// `/prefix=https://origin`.
    fn from_str(s: &str) -> Result<Route, RouteError> {
        let (prefix, upstream) = s.split_once('=').ok_or_else(|| RouteError::Syntax {
            value: s.to_string(),
        })?;
        let prefix = prefix.trim();
        if !prefix.starts_with('/') {
            return Err(RouteError::Prefix {
                value: prefix.to_string(),
                why: "it must start with /".into(),
            });
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.contains(['?', '#', '%', ' ']) || prefix.contains("//") {
            return Err(RouteError::Prefix {
                value: prefix.to_string(),
                why: "it must be a plain path (no query, fragment, escapes or empty segments)"
                    .into(),
            });
        }
        Ok(Route {
            prefix: prefix.to_string(),
            upstream: Origin::parse(upstream.trim())?,
        })
    }
}

/// Parse every `--route`; two routes with one prefix are an error.
pub fn parse_routes(values: &[String]) -> Result<Vec<Route>, RouteError> {
    let mut routes: Vec<Route> = Vec::new();
    for v in values {
        let r: Route = v.parse()?;
        if let Some(other) = routes.iter().find(|o| o.prefix == r.prefix) {
            return Err(RouteError::Duplicate {
                prefix: if r.prefix.is_empty() {
                    "/".into()
                } else {
                    r.prefix.clone()
                },
                first: other.upstream.to_string(),
                second: r.upstream.to_string(),
            });
        }
        routes.push(r);
    }
    if routes.is_empty() {
        return Err(RouteError::None);
    }
    Ok(routes)
}

/// `https://host:1/x?y` → (`https://host:1`, `/x?y`).
pub fn split_origin(url: &str) -> Option<(&str, &str)> {
    let after = url.find("://")? + 3;
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    Some((&url[..end], &url[end..]))
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RouteError {
    #[error("--route {value:?}: expected /PREFIX=https://HOST[:PORT]")]
    Syntax { value: String },
    #[error("--route prefix {value:?}: {why}")]
    Prefix { value: String, why: String },
    #[error("--route upstream {value:?}: {why}")]
    Upstream { value: String, why: String },
    #[error("two routes have the prefix {prefix}: {first} and {second}")]
    Duplicate {
        prefix: String,
        first: String,
        second: String,
    },
    #[error("no route: pass --route /PREFIX=https://HOST (repeatable) or --connector")]
    None,
}
