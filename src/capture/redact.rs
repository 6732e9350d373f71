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

/// Headers whose values are credentials and are masked whenever shown (see
/// [`super::secrets`], the one policy).
pub fn is_secret_header(name: &str) -> bool {
    super::secrets::is_secret_header(name)
}

/// Mask a credential header value, keeping its scheme visible (`Bearer [redacted fp:..]`);
/// URLs and text in other headers by the same policy.
pub fn mask_header_value(fpr: &Fingerprinter, name: &str, value: &str) -> String {
    super::secrets::Policy::new(fpr).header(name, value, false)
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates, marks):
/// they reorder what a reader sees (`U+202E` turns `gpj.exe` into `exe.jpg`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Make captured text safe for a terminal: control characters (escape sequences among
/// them) become visible `\xNN` escapes, bidirectional controls `\u{NNNN}`.
pub fn sanitize_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else if is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
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
    fn terminal_text_shows_control_and_bidi_characters_escaped() {
        let s = sanitize_for_terminal("a\x1b[31mb\u{202e}gpj.exe\u{2066}");
        assert_eq!(s, "a\\x1b[31mb\\u{202e}gpj.exe\\u{2066}");
    }

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

/// Whether a parameter of this name holds a secret (see [`super::secrets`]).
pub fn is_secret_param(name: &str) -> bool {
    super::secrets::is_secret_name(name)
}

/// Mask secrets inside free text (log lines, error messages): secret `name=value` pairs
/// wherever they appear, credentials after a scheme, userinfo, JWTs.
pub fn redact_text(fpr: &Fingerprinter, text: &str) -> String {
    super::secrets::Policy::new(fpr).text(text)
}

/// Mask the secrets in a URL (query, fragment, userinfo); the rest stays as it is.
pub fn redact_url(fpr: &Fingerprinter, url: &str) -> String {
    super::secrets::Policy::new(fpr).url(url, false)
}

/// Like [`redact_url`], but the mask is percent-encoded so the result is still a valid URI
/// (for HAR files); it decodes back to `[redacted fp:xxxxxxxx]`.
pub fn redact_url_safe(fpr: &Fingerprinter, url: &str) -> String {
    super::secrets::Policy::new(fpr).url(url, true)
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
