//! The one secret policy: what counts as a secret, wherever it appears, and how it is
//! masked in everything shown or exported (terminal, logs, reports, HAR).
//!
//! A value is a secret
//! - by its **name**, compared without case or separators (`access_token`, `Access_Token`,
//!   `accessToken`, `ACCESS-TOKEN`, `access%5Ftoken` are one name): the OAuth parameters,
//!   anything ending in `token`, `secret`, `password`, `apikey`, `assertion`, vendor key
//!   headers (`Ocp-Apim-Subscription-Key`, `X-Amz-Security-Token`, `Private-Token`, ...),
//!   `key`, `sig`, `SAMLResponse`, `id_token_hint`; in query strings, form bodies, JSON
//!   (at any depth, every leaf under a secret key), multipart fields, HTML form fields
//!   (`form_post`), XML elements (WS-Trust, SAML), URL userinfo, and `name=value` text;
//! - by its **shape**: JWTs (`eyJ...`) wherever they are;
//! - by **recognition**: a value once found as a secret is masked wherever it appears
//!   again (an error page echoing it, a redirect, a `form_post`), see [`Known`].
//!
//! What cannot be parsed is not passed through: a body that says JSON but does not parse
//! (cut at `--max-body`, nested too deep) is masked by the text rules, which find the
//! same `"name": "value"` pairs.
//!
//! Long on purpose: this is the one secret policy (names, headers, URLs, forms, JSON,
//! free text, JWTs, values once recognised), kept in one file so no output path can
//! drift from the others.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::redact::{Fingerprinter, masked_fp};

/// `Access_Token`, `accessToken`, `access-token`, `access%5Ftoken` → `accesstoken`.
pub fn normalize_name(name: &str) -> String {
    let decoded = if name.contains('%') {
        crate::wire::form_decode(name)
    } else {
        name.to_string()
    };
    decoded
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

const EXACT: [&str; 34] = [
    "code",
    "password",
    "passwd",
    "pwd",
    "secret",
    "assertion",
    "codeverifier",
    "devicecode",
    "key",
    "sig",
    "signature",
    "samlresponse",
    "samlart",
    "idtokenhint",
    "otp",
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "credential",
    "credentials",
    "privatekey",
    "sessionid",
    "session",
    "jsessionid",
    "phpsessid",
    "sid",
    "xapikey",
    "apikey",
    "accesskey",
    "secretkey",
    "subscriptionkey",
    "ocpapimsubscriptionkey",
    "xgoogapikey",
];

/// Whether a parameter, JSON key, form field, XML element or header of this name holds a
/// secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = normalize_name(name);
    if n.is_empty() {
        return false;
    }
    EXACT.contains(&n.as_str())
        || [
            "token",
            "secret",
            "password",
            "apikey",
            "assertion",
            "accesskey",
        ]
        .iter()
        .any(|s| n.ends_with(s))
        || n.ends_with("subscriptionkey")
        || n.ends_with("securitytoken")
}

/// Secrets that have no business in a URL: credentials a client sends in a body or a
/// header (RFC 6749 §2.3.1, §3.2; RFC 6750 §2.3). A subset of the secret names above:
/// a `code` or a SAS `sig` is a secret that legitimately travels in a URL, so being a
/// secret alone does not make a query parameter a finding.
pub const NEVER_IN_URL: [&str; 7] = [
    "client_secret",
    "refresh_token",
    "code_verifier",
    "password",
    "client_assertion",
    "id_token",
    "access_token",
];

/// Headers shown as they are even though their names look secret: a challenge or a
/// header naming other headers holds no credential.
fn is_public_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "www-authenticate"
            | "proxy-authenticate"
            | "access-control-allow-headers"
            | "access-control-expose-headers"
            | "access-control-request-headers"
            | "vary"
    )
}

/// Whether a header's value is a credential (masked whole, scheme kept).
pub fn is_secret_header(name: &str) -> bool {
    !is_public_header(name) && is_secret_name(name)
}

/// A JWT (JWS or JWE compact form) anywhere in text.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?")
        .expect("static regex")
});

/// `name=value` pairs in text (query strings, forms, logs), the name possibly
/// percent-encoded.
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)([A-Za-z0-9_.%-]+)=([^&\s"'#,;<>=?]+)"#).expect("static regex")
});

/// `"name": "value"` (or a number / literal) in JSON-like text that did not parse.
static JSON_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""([^"\\]{1,100})"\s*:\s*("(?:[^"\\]|\\.)*"?|-?[0-9][0-9.eE+-]*)"#)
        .expect("static regex")
});

/// `Bearer x`, `Basic x`, and other schemes with a token-like credential.
static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(bearer|basic|token|dpop|mac|negotiate)\s+([A-Za-z0-9._~+/-]{4,}=*)("?)"#)
        .expect("static regex")
});

/// `scheme://user:password@host`.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s?#]*)@").expect("static regex")
});

/// HTML form fields: `<input name="code" value="...">` in either attribute order.
static HTML_INPUT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?is)<input\b[^>]*>"#).expect("static regex"));
static HTML_ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)\b(name|value)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#)
        .expect("static regex")
});

/// XML elements with a secret local name: `<wsse:Password ...>value</wsse:Password>`.
static XML_ELEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)<((?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*))(\s[^>]*)?>([^<]+)</"#)
        .expect("static regex")
});

/// Multipart fields: `name="password"` ... blank line, value.
static MULTIPART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)content-disposition:[^\r\n]*\bname="([^"]*)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([^\r\n]*)"#)
        .expect("static regex")
});

/// Values recognised as secrets, masked wherever they appear again. Bounded: the oldest
/// are forgotten past [`Known::CAP`].
#[derive(Debug, Default, Clone)]
pub struct Known {
    set: HashSet<String>,
    order: std::collections::VecDeque<String>,
}

impl Known {
    pub const CAP: usize = 20_000;
    /// Shorter values are too likely to occur by chance.
    pub const MIN_LEN: usize = 8;

    /// Remember `value` (and its form-decoded and JSON-unescaped spellings).
    pub fn add(&mut self, value: &str) {
        let v = value.trim();
        if v.len() < Self::MIN_LEN || masked_fp(v).is_some() || v.starts_with("[redacted") {
            return;
        }
        if self.set.insert(v.to_string()) {
            self.order.push_back(v.to_string());
            if self.order.len() > Self::CAP {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn contains(&self, value: &str) -> bool {
        self.set.contains(value)
    }

    /// Mask every known value in `text`. Values are found as whole runs of token
    /// characters (letters, digits, `-._~+/=%`), raw or form-decoded, so the cost is
    /// linear in the text whatever the number of known values.
    pub fn mask_in(&self, fpr: &Fingerprinter, text: &str) -> String {
        if self.set.is_empty() {
            return text.to_string();
        }
        let is_tok = |c: char| c.is_ascii_alphanumeric() || "-._~+/=%".contains(c);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_tok) {
            out.push_str(&rest[..start]);
            let run_len = rest[start..]
                .find(|c: char| !is_tok(c))
                .unwrap_or(rest.len() - start);
            let run = &rest[start..start + run_len];
            out.push_str(&self.mask_run(fpr, run));
            rest = &rest[start + run_len..];
        }
        out.push_str(rest);
        out
    }

    /// A run of token characters: the whole run, or its part after a `name=`, or its
    /// form-decoded spelling, may be a known value.
    fn mask_run(&self, fpr: &Fingerprinter, run: &str) -> String {
        if run.len() < Self::MIN_LEN {
            return run.to_string();
        }
        if self.set.contains(run) {
            return fpr.mask(run);
        }
        if run.contains('%') || run.contains('+') {
            let decoded = crate::wire::form_decode(run);
            if self.set.contains(&decoded) {
                return fpr.mask(&decoded);
            }
        }
        if let Some((name, value)) = run.split_once('=') {
            if value.len() >= Self::MIN_LEN {
                let masked = self.mask_run(fpr, value);
                if masked != value {
                    return format!("{name}={masked}");
                }
            }
        }
        // Trailing punctuation (`token.` at the end of a sentence).
        let trimmed = run.trim_end_matches(['.', '=', '/']);
        if trimmed.len() != run.len() && self.set.contains(trimmed) {
            return format!("{}{}", fpr.mask(trimmed), &run[trimmed.len()..]);
        }
        run.to_string()
    }
}

/// Masks secrets in whatever is shown, and (optionally) collects the values it masked.
pub struct Policy<'a> {
    pub fpr: &'a Fingerprinter,
    /// Values to mask wherever they occur.
    pub known: Option<&'a Known>,
    /// Receives every value masked by name or shape.
    pub found: Option<&'a mut Known>,
}

impl<'a> Policy<'a> {
    pub fn new(fpr: &'a Fingerprinter) -> Self {
        Policy {
            fpr,
            known: None,
            found: None,
        }
    }

    fn mask(&mut self, value: &str) -> String {
        if let Some(k) = self.found.as_deref_mut() {
            k.add(value);
        }
        self.fpr.mask(value)
    }

    /// Mask a value of the URL-safe kind (query strings in HARs must stay valid URIs).
    fn mask_safe(&mut self, value: &str, safe: bool) -> String {
        let m = self.mask(value);
        if safe {
            m.replace('[', "%5B")
                .replace(']', "%5D")
                .replace(' ', "+")
                .replace(':', "%3A")
        } else {
            m
        }
    }

    /// Free text: every rule (pairs, JSON pairs, schemes, userinfo, JWTs, HTML fields,
    /// XML elements, multipart fields, known values).
    pub fn text(&mut self, text: &str) -> String {
        let t = URL_IN_TEXT
            .replace_all(text, |c: &Captures| self.url_in_text(&c[0], false))
            .into_owned();
        let t = self.structured_text(&t);
        let t = self.pairs(&t, false);
        let t = self.schemes(&t);
        let t = self.userinfo(&t, false);
        let t = self.jwts(&t);
        self.known_values(&t)
    }

    /// A URL found in text. One cut short by a mask already in it (`...?code=[redacted
    /// fp:..]`: the pattern stops at the mask's space) keeps the mask as it is.
    fn url_in_text(&mut self, url: &str, safe: bool) -> String {
        let lower = url.to_ascii_lowercase();
        for mark in ["[redacted", "%5bredacted"] {
            if let Some(head) = lower.strip_suffix(mark).map(|h| &url[..h.len()]) {
                return format!("{}{}", self.url(head, safe), &url[head.len()..]);
            }
        }
        self.url(url, safe)
    }

    /// The rules for markup and field syntaxes inside text.
    fn structured_text(&mut self, text: &str) -> String {
        let mut t = text.to_string();
        if t.contains('"') && t.contains(':') {
            t = self.json_pairs(&t);
        }
        if t.contains('<') {
            t = self.html_inputs(&t);
            t = self.xml_elements(&t);
        }
        if t.to_ascii_lowercase().contains("content-disposition") {
            t = self.multipart(&t);
        }
        t
    }

    fn pairs(&mut self, text: &str, safe: bool) -> String {
        PAIR.replace_all(text, |c: &Captures| {
            let (name, value) = (&c[1], &c[2]);
            // Already masked (`[redacted fp:..]` holds a space the pattern stops at).
            let rest = &text[c.get(2).map_or(0, |m| m.start())..];
            if rest.starts_with("[redacted fp:") || rest.starts_with("%5Bredacted") {
                return c[0].to_string();
            }
            if is_secret_name(name) && masked_fp(&crate::wire::form_decode(value)).is_none() {
                let v = crate::wire::form_decode(value);
                format!("{name}={}", self.mask_safe(&v, safe))
            } else {
                c[0].to_string()
            }
        })
        .into_owned()
    }

    fn json_pairs(&mut self, text: &str) -> String {
        JSON_PAIR
            .replace_all(text, |c: &Captures| {
                let (name, raw) = (&c[1], &c[2]);
                if !is_secret_name(name) {
                    return c[0].to_string();
                }
                let value = raw.trim_matches('"');
                if masked_fp(value).is_some() {
                    return c[0].to_string();
                }
                format!("\"{name}\": \"{}\"", self.mask(value))
            })
            .into_owned()
    }

    fn schemes(&mut self, text: &str) -> String {
        SCHEME
            .replace_all(text, |c: &Captures| {
                // `Bearer realm="api"`: a challenge's parameter, not a credential.
                if &c[3] == "\"" || masked_fp(&c[2]).is_some() {
                    return c[0].to_string();
                }
                // A sentence's full stop is not part of the credential.
                let cred = c[2].trim_end_matches('.');
                let dots = &c[2][cred.len()..];
                format!("{} {}{dots}", &c[1], self.mask(cred))
            })
            .into_owned()
    }

    fn userinfo(&mut self, text: &str, safe: bool) -> String {
        USERINFO
            .replace_all(text, |c: &Captures| {
                let info = &c[2];
                if info.is_empty() || masked_fp(info).is_some() || info.contains("%5Bredacted") {
                    return c[0].to_string();
                }
                format!("{}{}@", &c[1], self.mask_safe(info, safe))
            })
            .into_owned()
    }

    fn jwts(&mut self, text: &str) -> String {
        JWT.replace_all(text, |c: &Captures| self.mask(&c[0]))
            .into_owned()
    }

    fn known_values(&mut self, text: &str) -> String {
        match self.known {
            Some(k) => k.mask_in(self.fpr, text),
            None => text.to_string(),
        }
    }

    fn html_inputs(&mut self, text: &str) -> String {
        HTML_INPUT
            .replace_all(text, |c: &Captures| {
                let tag = &c[0];
                let mut name = None;
                for a in HTML_ATTR.captures_iter(tag) {
                    if a[1].eq_ignore_ascii_case("name") {
                        name = a
                            .get(2)
                            .or(a.get(3))
                            .or(a.get(4))
                            .map(|m| m.as_str().to_string());
                    }
                }
                if !name.as_deref().is_some_and(is_secret_name) {
                    return tag.to_string();
                }
                HTML_ATTR
                    .replace_all(tag, |a: &Captures| {
                        if a[1].eq_ignore_ascii_case("value") {
                            let v = a
                                .get(2)
                                .or(a.get(3))
                                .or(a.get(4))
                                .map_or("", |m| m.as_str());
                            format!("value=\"{}\"", self.mask(v))
                        } else {
                            a[0].to_string()
                        }
                    })
                    .into_owned()
            })
            .into_owned()
    }

    fn xml_elements(&mut self, text: &str) -> String {
        XML_ELEMENT
            .replace_all(text, |c: &Captures| {
                let local = &c[2];
                let secret = is_secret_name(local)
                    || ["binarysecuritytoken", "signaturevalue", "cipherValue"]
                        .iter()
                        .any(|n| local.eq_ignore_ascii_case(n));
                let value = c[4].trim();
                if !secret || value.is_empty() || masked_fp(value).is_some() {
                    return c[0].to_string();
                }
                format!(
                    "<{}{}>{}</",
                    &c[1],
                    c.get(3).map_or("", |m| m.as_str()),
                    self.mask(value)
                )
            })
            .into_owned()
    }

    fn multipart(&mut self, text: &str) -> String {
        MULTIPART
            .replace_all(text, |c: &Captures| {
                if !is_secret_name(&c[1]) || c[2].is_empty() {
                    return c[0].to_string();
                }
                let whole = &c[0];
                let value = &c[2];
                let head = &whole[..whole.len() - value.len()];
                format!("{head}{}", self.mask(value))
            })
            .into_owned()
    }

    /// A URL: secret query and fragment parameters (names compared by the policy, also
    /// percent-encoded), userinfo, JWTs and known values. `safe` keeps the result a valid
    /// URI (HAR files).
    pub fn url(&mut self, url: &str, safe: bool) -> String {
        let (before, fragment) = match url.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (url, None),
        };
        let (base, query) = match before.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (before, None),
        };
        // With PKCE `plain` (the default method), the challenge is the verifier itself.
        let plain_pkce = !query.unwrap_or("").split('&').any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                normalize_name(k) == "codechallengemethod" && v.eq_ignore_ascii_case("S256")
            })
        });
        let mask_pairs = |this: &mut Self, s: &str| -> String {
            s.split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, v))
                        if (is_secret_name(k)
                            || (plain_pkce && normalize_name(k) == "codechallenge"))
                            && !v.is_empty() =>
                    {
                        let value = crate::wire::form_decode(v);
                        if masked_fp(&value).is_some() {
                            return pair.to_string();
                        }
                        format!("{k}={}", this.mask_safe(&value, safe))
                    }
                    _ => pair.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&")
        };
        let mut out = self.userinfo(base, safe);
        if let Some(q) = query {
            out.push('?');
            out.push_str(&mask_pairs(self, q));
        }
        if let Some(f) = fragment {
            out.push('#');
            // Implicit-grant redirects carry tokens in the fragment.
            let f = if f.contains('=') {
                mask_pairs(self, f)
            } else {
                f.to_string()
            };
            out.push_str(&f);
        }
        let out = self.jwts(&out);
        let out = self.known_values(&out);
        if safe { out.replace(' ', "+") } else { out }
    }

    /// A header value: credentials masked whole (scheme kept), URLs (Location, Link,
    /// Refresh, ...) and free text by the text rules.
    pub fn header(&mut self, name: &str, value: &str, safe_urls: bool) -> String {
        if is_secret_header(name) {
            if masked_fp(value).is_some() {
                return value.to_string();
            }
            // A scheme with no credential after it (`Bearer `) holds nothing secret, and
            // masking it would make it look like a bare token.
            let bare = value.trim();
            if ["bearer", "basic", "dpop"]
                .iter()
                .any(|s| bare.eq_ignore_ascii_case(s))
            {
                return value.to_string();
            }
            let lower = name.to_ascii_lowercase();
            if lower == "cookie" || lower == "set-cookie" {
                return self.cookie_header(&lower, value);
            }
            if lower.ends_with("authorization") {
                if let Some((scheme, rest)) = value.split_once(' ') {
                    let rest = rest.trim();
                    if !rest.is_empty() && scheme.len() < 20 {
                        if masked_fp(rest).is_some() {
                            return value.to_string();
                        }
                        return format!("{scheme} {}", self.mask(rest));
                    }
                }
            }
            return self.mask(value);
        }
        let lower = name.to_ascii_lowercase();
        if matches!(lower.as_str(), "location" | "content-location" | "referer") {
            return self.url(value, safe_urls);
        }
        // Link: <url>; rel=..., Refresh: 0; url=...: URLs inside text.
        let t = URL_IN_TEXT
            .replace_all(value, |c: &Captures| self.url_in_text(&c[0], safe_urls))
            .into_owned();
        self.text(&t)
    }

    /// `Cookie: a=1; b=2` and `Set-Cookie: a=1; Path=/; HttpOnly`: every cookie value
    /// masked, names and attributes kept (they say which cookie, not what it holds).
    fn cookie_header(&mut self, name: &str, value: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (i, part) in value.split(';').enumerate() {
            let is_value = name == "cookie" || i == 0;
            match part.split_once('=') {
                Some((k, v)) if is_value => {
                    let v = v.trim();
                    let v = if masked_fp(v).is_some() {
                        v.to_string()
                    } else {
                        self.mask(v)
                    };
                    parts.push(format!("{k}={v}"));
                }
                // A cookie with no `=` is all value.
                None if is_value && !part.trim().is_empty() => {
                    let p = part.trim();
                    parts.push(if masked_fp(p).is_some() {
                        p.to_string()
                    } else {
                        self.mask(p)
                    });
                }
                _ => parts.push(part.to_string()),
            }
        }
        parts.join(";")
    }

    /// A body as text: JSON by structure when it parses (after a BOM), forms by
    /// parameter, everything else (and JSON that does not parse) by the text rules.
    pub fn body(&mut self, content_type: &str, text: &str) -> String {
        let ct = content_type.to_ascii_lowercase();
        let unbommed = text.trim_start_matches('\u{feff}');
        let trimmed = unbommed.trim_start();
        if ct.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
            if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(unbommed) {
                self.json(&mut v, false);
                let s = v.to_string();
                // Strings that hold secrets by shape or recognition.
                let s = self.jwts(&s);
                return self.known_values(&s);
            }
            return self.text(text);
        }
        let form_like = ct.contains("x-www-form-urlencoded")
            || (text.contains('=') && !text.contains(' ') && !text.contains('<'));
        if form_like {
            let t = self.pairs(text, false);
            let t = self.jwts(&t);
            return self.known_values(&t);
        }
        self.text(text)
    }

    /// Mask JSON values under secret keys (every leaf below one), and JWTs anywhere.
    pub fn json(&mut self, v: &mut serde_json::Value, under_secret: bool) {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                for (k, val) in m.iter_mut() {
                    self.json(val, under_secret || is_secret_name(k));
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.json(x, under_secret)),
            Value::String(s) if under_secret && masked_fp(s).is_none() && !s.is_empty() => {
                *s = self.mask(s);
            }
            Value::String(_) if under_secret => {}
            Value::Number(n) if under_secret => {
                *v = Value::String(self.mask(&n.to_string()));
            }
            Value::String(s) => {
                // Strings that are URLs carry secrets in their queries; JWTs by shape.
                if s.contains("://") && s.contains('?') {
                    *s = self.url(s, false);
                } else if JWT.is_match(s) {
                    *s = self.jwts(s);
                }
            }
            _ => {}
        }
    }
}

/// URLs inside header values or text.
static URL_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s<>"',;]+"#).expect("static regex")
});

#[cfg(test)]
mod tests;
