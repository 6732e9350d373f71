//! Secret fingerprints and masking: what is shown instead of a secret.
//!
//! A fingerprint is the first 8 hex digits of HMAC-SHA256 keyed by the capture's random
//! salt: equal secrets compare equal within one capture, and nothing about the value leaks.

use aws_lc_rs::hmac;

/// Computes fingerprints for one capture.
#[derive(Clone)]
pub struct Fingerprinter {
    key: hmac::Key,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter")
    }
}

impl Fingerprinter {
    /// A fingerprinter keyed by the capture header's hex salt (any string works as a key).
    pub fn new(salt: &str) -> Self {
        let key_bytes = hex_decode(salt).unwrap_or_else(|| salt.as_bytes().to_vec());
        Fingerprinter {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key_bytes),
        }
    }

    /// First 8 hex digits of HMAC-SHA256(salt, value). A value that is already masked
    /// (`[redacted fp:xxxxxxxx]`, from a redacted export) keeps its fingerprint.
    pub fn fp(&self, value: &str) -> String {
        if let Some(fp) = masked_fp(value) {
            return fp.to_string();
        }
        let tag = hmac::sign(&self.key, value.as_bytes());
        hex_encode(&tag.as_ref()[..4])
    }

    /// The text shown in place of a secret.
    pub fn mask(&self, value: &str) -> String {
        format!("[redacted fp:{}]", self.fp(value))
    }
}

/// The fingerprint inside a masked value (`[redacted fp:xxxxxxxx]`), if it is one.
pub fn masked_fp(value: &str) -> Option<&str> {
    let fp = value.strip_prefix("[redacted fp:")?.strip_suffix(']')?;
    (fp.len() == 8 && fp.bytes().all(|b| b.is_ascii_hexdigit())).then_some(fp)
}

/// A fresh random salt, 16 bytes as hex.
pub fn random_salt() -> String {
    let mut buf = [0u8; 16];
    aws_lc_rs::rand::fill(&mut buf).expect("system random source");
    hex_encode(&buf)
}

pub fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Headers whose values are credentials and are masked whenever shown.
pub fn is_secret_header(name: &str) -> bool {
    const SECRET: [&str; 6] = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
    ];
    SECRET.iter().any(|s| name.eq_ignore_ascii_case(s))
}

/// Mask a credential header value, keeping its scheme visible (`Bearer [redacted fp:..]`).
pub fn mask_header_value(fpr: &Fingerprinter, name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization")
    {
        if let Some((scheme, rest)) = value.split_once(' ') {
            if !rest.trim().is_empty() && scheme.len() < 20 {
                return format!("{scheme} {}", fpr.mask(rest.trim()));
            }
        }
    }
    fpr.mask(value)
}

/// Make captured text safe for a terminal: control characters (escape sequences among
/// them) become visible `\xNN` escapes.
pub fn sanitize_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_per_salt() {
        let a = Fingerprinter::new("00112233");
        let b = Fingerprinter::new("00112233");
        let c = Fingerprinter::new("ffeeddcc");
        assert_eq!(a.fp("secret"), b.fp("secret"));
        assert_ne!(a.fp("secret"), a.fp("secret2"));
        assert_ne!(a.fp("secret"), c.fp("secret"));
        assert_eq!(a.fp("secret").len(), 8);
    }

    #[test]
    fn masking_hides_the_value_and_keeps_the_scheme() {
        let f = Fingerprinter::new(&random_salt());
        let m = mask_header_value(&f, "Authorization", "Bearer abc.def");
        assert!(m.starts_with("Bearer [redacted fp:"));
        assert!(!m.contains("abc.def"));
        assert!(!mask_header_value(&f, "Cookie", "sid=1").contains("sid=1"));
    }

    #[test]
    fn secrets_in_free_text_are_masked() {
        let f = Fingerprinter::new("00");
        let line = "uri=https://h/cb?code=abc123&state=s1 authorization: Bearer eyJ.x-y_z \
                    then refresh_token=rt%2F9; Basic Y2xpZW50OnNlY3JldA==";
        let out = redact_text(&f, line);
        for secret in ["abc123", "eyJ.x-y_z", "rt%2F9", "Y2xpZW50OnNlY3JldA=="] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(out.contains("state=s1") && out.contains("uri=https://h/cb?code=[redacted fp:"));
    }

    #[test]
    fn terminal_escapes_are_neutralised() {
        assert_eq!(sanitize_for_terminal("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(sanitize_for_terminal("é ok"), "é ok");
    }
}

/// Query and form parameter names whose values are secrets.
pub const SECRET_PARAMS: [&str; 12] = [
    "code",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "code_verifier",
    "assertion",
    "client_assertion",
    "token",
    "subject_token",
    "device_code",
];

pub fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p))
}

/// Mask secrets inside free text (log lines, error messages): the values of secret
/// parameters (`code=`, `access_token=`, ...) wherever they appear, and `Bearer` / `Basic`
/// credentials.
pub fn redact_text(fpr: &Fingerprinter, text: &str) -> String {
    use std::sync::LazyLock;
    static PARAM: LazyLock<regex::Regex> = LazyLock::new(|| {
        let names = SECRET_PARAMS.join("|");
        regex::Regex::new(&format!(r#"(?i)\b({names}|code_challenge)=([^&\s"'#,;]+)"#))
            .expect("static regex")
    });
    static SCHEME: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=-]{4,})").expect("static regex")
    });
    let text = PARAM.replace_all(text, |c: &regex::Captures| {
        format!(
            "{}=[redacted fp:{}]",
            &c[1],
            fpr.fp(&crate::oauth::parse::form_decode(&c[2]))
        )
    });
    SCHEME
        .replace_all(&text, |c: &regex::Captures| {
            format!("{} [redacted fp:{}]", &c[1], fpr.fp(&c[2]))
        })
        .into_owned()
}

/// Mask the values of secret query parameters in a URL; the rest stays as it is.
pub fn redact_url(fpr: &Fingerprinter, url: &str) -> String {
    redact_url_with(fpr, url, false)
}

/// Like [`redact_url`], but the mask is percent-encoded so the result is still a valid URI
/// (for HAR files); it decodes back to `[redacted fp:xxxxxxxx]`.
pub fn redact_url_safe(fpr: &Fingerprinter, url: &str) -> String {
    redact_url_with(fpr, url, true)
}

fn redact_url_with(fpr: &Fingerprinter, url: &str, safe: bool) -> String {
    let (before, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before, None),
    };
    // With PKCE `plain` (the default method), the challenge is the verifier itself.
    let plain_pkce = !query
        .unwrap_or("")
        .split('&')
        .any(|p| p.eq_ignore_ascii_case("code_challenge_method=S256"));
    let mask_pairs = |s: &str| -> String {
        s.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v))
                    if (is_secret_param(k) || (plain_pkce && k == "code_challenge"))
                        && !v.is_empty() =>
                {
                    let fp = fpr.fp(&crate::oauth::parse::form_decode(v));
                    if safe {
                        format!("{k}=%5Bredacted+fp%3A{fp}%5D")
                    } else {
                        format!("{k}=[redacted fp:{fp}]")
                    }
                }
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut out = base.to_string();
    if let Some(q) = query {
        out.push('?');
        out.push_str(&mask_pairs(q));
    }
    if let Some(f) = fragment {
        out.push('#');
        // Implicit-grant redirects carry tokens in the fragment.
        out.push_str(&if f.contains('=') {
            mask_pairs(f)
        } else {
            f.to_string()
        });
    }
    out
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn secret_query_values_are_masked() {
        let f = Fingerprinter::new("ab");
        let u = redact_url(&f, "https://a/cb?code=SECRET&state=xyz");
        assert!(!u.contains("SECRET"));
        assert!(u.contains("state=xyz"));
        assert!(u.contains("code=[redacted fp:"));
        assert_eq!(redact_url(&f, "https://a/b"), "https://a/b");
        let plain = redact_url(
            &f,
            "https://a/authorize?code_challenge=VERIFIER&code_challenge_method=plain",
        );
        assert!(!plain.contains("VERIFIER"), "{plain}");
        let s256 = redact_url(
            &f,
            "https://a/authorize?code_challenge=HASH&code_challenge_method=S256",
        );
        assert!(s256.contains("HASH"));
        let frag = redact_url(&f, "https://app/cb#access_token=TOKEN&token_type=Bearer");
        assert!(
            !frag.contains("TOKEN") && frag.contains("token_type=Bearer"),
            "{frag}"
        );
        let safe = redact_url_safe(&f, "https://a/cb?code=SECRET");
        assert!(!safe.contains(' ') && !safe.contains('['), "{safe}");
        assert_eq!(redact_url_safe(&f, &safe), safe, "masking is idempotent");
    }
}
