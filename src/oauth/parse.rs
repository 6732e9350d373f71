//! Parsers for what OAuth puts on the wire: form and query strings, Basic and Bearer
//! credentials, `WWW-Authenticate` challenges, JWTs (no signature check) and JSON bodies.
//! Every parser is total: bad input gives `None` or an empty result, never a panic.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

pub use crate::wire::{
    Params, form_decode, fragment_params, parse_form, query_params, url_base, url_host, url_origin,
};

/// Credentials in an `Authorization` header.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// `Basic` with form-decoded user and password (RFC 6749 §2.3.1). `raw_reserved` is
    /// true when the decoded user or password holds characters that should have been
    /// form-encoded before base64 but evidently were not.
    Basic {
        user: String,
        password: String,
        encoded_user: String,
        encoded_password: String,
    },
    /// Any other scheme (`Bearer`, `Token`, `OAuth`, ...) and its parameter.
    Scheme { scheme: String, value: String },
    /// A value with no scheme at all (a bare token).
    Bare(String),
}

/// Parse an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Option<Credentials> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Some(Credentials::Bare(value.to_string()));
    };
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())?;
        let (u, p) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return Some(Credentials::Basic {
            user: form_decode(u),
            password: form_decode(p),
            encoded_user: u.to_string(),
            encoded_password: p.to_string(),
        });
    }
    Some(Credentials::Scheme {
        scheme: scheme.to_string(),
        value: rest.to_string(),
    })
}

/// Does this Basic credential part hold characters that form-encoding would have escaped?
/// (`%` followed by two hex digits is taken as already encoded.)
pub fn needs_form_encoding(part: &str) -> bool {
    part.chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*' | '%' | '+')))
}

/// One challenge of a `WWW-Authenticate` header: scheme and auth-params.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `WWW-Authenticate` (RFC 9110 §11.6.1, RFC 6750 §3): one or more challenges.
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t' || chars[*i] == ',') {
            *i += 1;
        }
    };
    while i < chars.len() {
        skip_ws(&mut i);
        let start = i;
        while i < chars.len() && !matches!(chars[i], ' ' | '=' | ',') {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        if token.is_empty() {
            break;
        }
        // token followed by '=' is a param of the current challenge
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' && !out.is_empty() {
            i = j + 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let mut val = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    val.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && chars[i] != ',' {
                    val.push(chars[i]);
                    i += 1;
                }
                val = val.trim().to_string();
            }
            if let Some(c) = out.last_mut() {
                c.params.push((token.to_ascii_lowercase(), val));
            }
        } else {
            out.push(Challenge {
                scheme: token,
                params: Vec::new(),
            });
        }
    }
    out
}

/// A decoded JWT (header and claims; the signature is not checked).
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
}

impl Jwt {
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name)?.as_str()
    }
    /// A member of the confirmation claim (`cnf`, RFC 7800): `x5t#S256`, `jkt`.
    pub fn cnf(&self, member: &str) -> Option<String> {
        let v = self.claims.get("cnf")?.get(member)?.as_str()?;
        Some(v.chars().take(128).collect())
    }
    /// `aud` as a list (it may be a string or an array).
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Decode a compact JWS (three base64url parts whose first two are JSON objects).
pub fn decode_jwt(token: &str) -> Option<Jwt> {
    let mut parts = token.split('.');
    let (h, c, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None; // JWE (5 parts) is opaque to us
    }
    let dec = |p: &str| -> Option<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.is_object().then_some(v)
    };
    Some(Jwt {
        header: dec(h)?,
        claims: dec(c)?,
    })
}

/// Parse a body as a JSON object.
pub fn json_object(body: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str::<serde_json::Value>(body.trim_start_matches('\u{feff}')) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub fn s256(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        assert_eq!(form_decode("a+b%20c%2Fd"), "a b c/d");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        let p = parse_form("grant_type=refresh_token&refresh_token=r%2B1&&flag");
        assert_eq!(
            p,
            vec![
                ("grant_type".into(), "refresh_token".into()),
                ("refresh_token".into(), "r+1".into()),
                ("flag".into(), "".into())
            ]
        );
        assert_eq!(query_params("https://a/b?x=1#y=2").get("x"), Some("1"));
        assert_eq!(
            fragment_params("https://a/cb#access_token=t").get("access_token"),
            Some("t")
        );
    }

    #[test]
    fn urls() {
        assert_eq!(url_base("https://a.b/c?d#e"), "https://a.b/c");
        assert_eq!(url_origin("HTTPS://A.b:8443/c"), "https://a.b:8443");
        assert_eq!(url_host("https://a.b:8443/c"), "a.b");
        assert_eq!(url_host("https://[::1]:8443/c"), "::1");
        assert_eq!(url_host("garbage"), "");
    }

    #[test]
    fn credentials() {
        let b = parse_authorization("Basic Y2xpZW50JTNBaWQ6cyUyNWVjcmV0").unwrap();
        match b {
            Credentials::Basic { user, password, .. } => {
                assert_eq!(user, "client:id");
                assert_eq!(password, "s%ecret");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_authorization("Bearer abc"),
            Some(Credentials::Scheme {
                scheme: "Bearer".into(),
                value: "abc".into()
            })
        );
        assert_eq!(
            parse_authorization("abc"),
            Some(Credentials::Bare("abc".into()))
        );
        assert_eq!(parse_authorization("Basic !!!"), None);
        assert!(needs_form_encoding("a:b"));
        assert!(!needs_form_encoding("abc%3A"));
    }

    #[test]
    fn www_authenticate() {
        let c = parse_www_authenticate(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired", Basic realm="x""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(c[0].get("error"), Some("invalid_token"));
        assert_eq!(
            c[0].get("error_description"),
            Some("The access token expired")
        );
        assert_eq!(c[1].scheme, "Basic");
        let c = parse_www_authenticate("Bearer error=insufficient_scope, scope=\"a b\"");
        assert_eq!(c[0].get("scope"), Some("a b"));
        assert!(parse_www_authenticate("").is_empty());
        let _ = parse_www_authenticate("=,\"=\"\\");
    }

    #[test]
    fn jwts() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let c = URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000,"aud":["a","b"],"iss":"https://as"}"#);
        let jwt = decode_jwt(&format!("{h}.{c}.sig")).unwrap();
        assert_eq!(jwt.claim_i64("exp"), Some(1_700_000_000));
        assert_eq!(jwt.audiences(), vec!["a", "b"]);
        assert!(decode_jwt("not.a.jwt").is_none());
        assert!(decode_jwt("opaque-token").is_none());
        assert!(decode_jwt(&format!("{h}.{c}")).is_none());
    }

    #[test]
    fn pkce() {
        // RFC 7636 appendix B
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
