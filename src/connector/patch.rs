//! A connector definition pointed at the gateway: the token URL, the refresh URL and the
//! API host move to the gateway's public URL, every other byte of each file stays as it
//! was (values are replaced where they stand in the text, not re-serialised). The
//! authorization URL stays the provider's own: the browser signs in there directly.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::ConnectorError;
use super::spans::string_spans;

/// One changed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub file: String,
    /// JSON path of the value (`properties.connectionParameters.token...tokenUrl.value`).
    pub path: String,
    /// `None` when the key was added.
    pub old: Option<String>,
    pub new: String,
}

/// One file of the definition and its patched text.
#[derive(Debug, Clone)]
pub struct PatchedFile {
    pub source: PathBuf,
    pub text: String,
}

/// What pointing a definition at the gateway takes.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// `(prefix, origin)`: the routes the gateway needs.
    pub routes: Vec<(String, String)>,
    pub files: Vec<PatchedFile>,
    pub changes: Vec<Change>,
    /// What could not be moved, and why.
    pub notes: Vec<String>,
    /// Whether `source` was a folder (the patched copy is one too).
    pub folder: bool,
}

/// Plan the routes and the patched copy of the definition at `source` (a folder, or one
/// file) for a gateway at `public` (an origin) under `secret`.
pub fn plan(source: &Path, secret: &str, public: &str) -> Result<Plan, ConnectorError> {
    let io = |path: &Path, source: std::io::Error| ConnectorError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let folder = source.is_dir();
    if folder {
        for e in std::fs::read_dir(source)
            .map_err(|e| io(source, e))?
            .flatten()
        {
            let n = e.file_name().to_string_lossy().to_ascii_lowercase();
            if n == "apiproperties.json" || n == "apidefinition.swagger.json" {
                files.push(e.path());
            }
        }
        files.sort();
    } else {
        files.push(source.to_path_buf());
    }
    let mut docs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| io(f, e))?;
        let spans = string_spans(&text).ok_or_else(|| ConnectorError::Field {
            file: f.display().to_string(),
            path: String::new(),
            message: "not a JSON document (only JSON definitions can be patched)".into(),
        })?;
        docs.push(Doc {
            path: f.clone(),
            text,
            spans,
            edits: Vec::new(),
        });
    }
    let mut p = Planner {
        secret,
        public: public.trim_end_matches('/'),
        plan: Plan {
            folder,
            ..Plan::default()
        },
    };
    // Token URLs first: their origin is the one `/idp` names.
    for d in docs.iter_mut() {
        p.oauth_urls(d);
    }
    for d in docs.iter_mut() {
        p.api_host(d);
    }
    for d in docs {
        p.plan.files.push(PatchedFile {
            source: d.path.clone(),
            text: d.apply(),
        });
    }
    if p.plan.routes.is_empty() {
        return Err(ConnectorError::Field {
            file: source.display().to_string(),
            path: String::new(),
            message: format!(
                "nothing to route: no token URL, refresh URL or API host found{}",
                if p.plan.notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p.plan.notes.join("; "))
                }
            ),
        });
    }
    Ok(p.plan)
}

/// Where the patched copy goes by default: `NAME.gateway.EXT` beside a file,
/// `DIR.gateway/` beside a folder.
pub fn default_destination(source: &Path) -> PathBuf {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "connector".into());
    let new = if source.is_dir() {
        format!("{name}.gateway")
    } else {
        match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.gateway.{ext}"),
            None => format!("{name}.gateway"),
        }
    };
    source.with_file_name(new)
}

/// Write the patched copy to `dest` (a folder for a folder definition); never over the
/// original.
pub fn write(plan: &Plan, dest: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if plan.folder {
        std::fs::create_dir_all(dest)?;
    }
    for f in &plan.files {
        let target = if plan.folder {
            dest.join(f.source.file_name().unwrap_or_default())
        } else {
            dest.to_path_buf()
        };
        if same_file(&target, &f.source) {
            return Err(std::io::Error::other(format!(
                "refusing to overwrite the original definition {}",
                f.source.display()
            )));
        }
        std::fs::write(&target, &f.text)?;
        written.push(target);
    }
    Ok(written)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

struct Doc {
    path: PathBuf,
    text: String,
    spans: Vec<(Vec<String>, Range<usize>)>,
    /// (byte range to replace, replacement text).
    edits: Vec<(Range<usize>, String)>,
}

impl Doc {
    /// String values whose path matches `pattern` (`*` any one segment; keys compared
    /// without case).
    fn find(&self, pattern: &[&str]) -> Vec<(String, Range<usize>, String)> {
        self.spans
            .iter()
            .filter(|(path, _)| {
                path.len() == pattern.len()
                    && path
                        .iter()
                        .zip(pattern)
                        .all(|(k, p)| *p == "*" || k.eq_ignore_ascii_case(p))
            })
            .filter_map(|(path, span)| {
                let raw = &self.text[span.clone()];
                let value: String = serde_json::from_str(raw).ok()?;
                Some((path.join("."), span.clone(), value))
            })
            .collect()
    }

    fn apply(mut self) -> String {
        self.edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        for (r, new) in self.edits {
            self.text.replace_range(r, &new);
        }
        self.text
    }
}

struct Planner<'a> {
    secret: &'a str,
    public: &'a str,
    plan: Plan,
}

impl Planner<'_> {
    /// The prefix routing to `origin`, added when new (`/idp` for the first, then
    /// `hint`).
    fn prefix_for(&mut self, origin: &str, hint: &str) -> String {
        if let Some((p, _)) = self.plan.routes.iter().find(|(_, o)| o == origin) {
            return p.clone();
        }
        let mut prefix = if self.plan.routes.is_empty() {
            "/idp".to_string()
        } else {
            hint.to_string()
        };
        let mut n = 2;
        while self.plan.routes.iter().any(|(p, _)| *p == prefix) {
            prefix = format!("{hint}{n}");
            n += 1;
        }
        self.plan.routes.push((prefix.clone(), origin.to_string()));
        prefix
    }

    fn gateway_url(&mut self, url: &str, hint: &str) -> Option<String> {
        let (origin, rest) = split_url(url)?;
        let prefix = self.prefix_for(&origin, hint);
        Some(format!("{}/{}{prefix}{rest}", self.public, self.secret))
    }

    fn replace(&mut self, d: &mut Doc, path: String, span: Range<usize>, old: String, new: String) {
        d.edits.push((span, json_string(&new)));
        self.plan.changes.push(Change {
            file: d.path.display().to_string(),
            path,
            old: Some(old),
            new,
        });
    }

    /// Token and refresh URLs: apiProperties (oauth2, oauth2generic templates), Swagger
    /// 2.0 and OpenAPI 3 security schemes.
    fn oauth_urls(&mut self, d: &mut Doc) {
        const SETTINGS: [&str; 4] = ["properties", "connectionParameters", "*", "oAuthSettings"];
        let set_path = |tail: &[&'static str]| -> Vec<&'static str> {
            let mut v = SETTINGS.to_vec();
            v.extend_from_slice(tail);
            v
        };
        let provider = d.find(&set_path(&["identityProvider"]));
        if let Some((_, _, p)) = provider.first() {
            if p.eq_ignore_ascii_case("aad") || p.eq_ignore_ascii_case("aadcertificate") {
                self.plan.notes.push(format!(
                    "identityProvider {p}: the token URL is built from loginUri and tenantId, \
                     like the authorization URL, so it cannot move alone; use the Generic \
                     OAuth 2 provider to send token and refresh requests through the gateway"
                ));
            }
        }
        let mut found: Vec<(String, Range<usize>, String, &str)> = Vec::new();
        for (key, hint) in [
            ("tokenUrl", "/idp"),
            ("refreshUrl", "/refresh"),
            ("tokenUrlTemplate", "/idp"),
            ("refreshUrlTemplate", "/refresh"),
        ] {
            for (path, span, value) in d.find(&set_path(&["customParameters", key, "value"])) {
                found.push((path, span, value, hint));
            }
        }
        for (path, span, value) in d.find(&["securityDefinitions", "*", "tokenUrl"]) {
            found.push((path, span, value, "/idp"));
        }
        for (key, hint) in [("tokenUrl", "/idp"), ("refreshUrl", "/refresh")] {
            for (path, span, value) in
                d.find(&["components", "securitySchemes", "*", "flows", "*", key])
            {
                found.push((path, span, value, hint));
            }
        }
        // Token URLs before refresh URLs, whatever their order in the file.
        found.sort_by_key(|(_, span, _, hint)| (*hint != "/idp", span.start));
        for (path, span, value, hint) in found {
            if value.trim().is_empty() {
                continue;
            }
            match self.gateway_url(&value, hint) {
                Some(new) => self.replace(d, path, span, value, new),
                None => self.plan.notes.push(format!(
                    "{path}: {value:?} is not an absolute URL with a fixed host; left as it is"
                )),
            }
        }
    }

    /// The API host: Swagger `host` + `basePath` (+ `schemes`), OpenAPI `servers[].url`.
    fn api_host(&mut self, d: &mut Doc) {
        if let Some((host_path, host_span, host)) = d.find(&["host"]).into_iter().next() {
            let schemes = d.find(&["schemes", "*"]);
            let scheme = if schemes.iter().any(|(_, _, s)| s == "https") || schemes.is_empty() {
                "https"
            } else {
                "http"
            };
            let origin = format!("{scheme}://{}", host.to_ascii_lowercase());
            let prefix = self.prefix_for(&origin, "/api");
            let public_host = split_url(self.public)
                .map(|(o, _)| o[o.find("://").map_or(0, |i| i + 3)..].to_string())
                .unwrap_or_default();
            let public_scheme = self.public.split("://").next().unwrap_or("https");
            if !schemes.is_empty() && !schemes.iter().any(|(_, _, s)| s == public_scheme) {
                self.plan.notes.push(format!(
                    "schemes lists {:?} but the gateway is reached over {public_scheme}: add it",
                    schemes
                        .iter()
                        .map(|(_, _, s)| s.as_str())
                        .collect::<Vec<_>>()
                ));
            }
            self.replace(d, host_path, host_span.clone(), host, public_host);
            let base = format!("/{}{prefix}", self.secret);
            match d.find(&["basePath"]).into_iter().next() {
                Some((path, span, old)) => {
                    let new = format!("{base}{}", old.trim_end_matches('/'));
                    let new = if new.is_empty() { "/".into() } else { new };
                    self.replace(d, path, span, old, new);
                }
                None => {
                    d.edits.push((
                        host_span.end..host_span.end,
                        format!(", \"basePath\": {}", json_string(&base)),
                    ));
                    self.plan.changes.push(Change {
                        file: d.path.display().to_string(),
                        path: "basePath".into(),
                        old: None,
                        new: base,
                    });
                }
            }
        }
        for (path, span, value) in d.find(&["servers", "*", "url"]) {
            match self.gateway_url(&value, "/api") {
                Some(new) => self.replace(d, path, span, value, new),
                None => self.plan.notes.push(format!(
                    "{path}: {value:?} is not an absolute URL; left as it is"
                )),
            }
        }
    }
}

/// `https://Host:1/x?y` → (`https://host:1`, `/x?y`); `None` without a fixed host.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    if host.is_empty() || host.contains(['{', '}', '@', ' ']) {
        return None;
    }
    Some((
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        ),
        rest[end..].to_string(),
    ))
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_refuses_templates() {
        assert_eq!(
            split_url("https://Login.Example.com:8443/t/oauth2/token?x=1"),
            Some((
                "https://login.example.com:8443".into(),
                "/t/oauth2/token?x=1".into()
            ))
        );
        assert_eq!(split_url("https://{tenant}.example.com/token"), None);
        assert_eq!(split_url("/relative"), None);
    }
}
