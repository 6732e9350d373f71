//! HAR 1.2: import (streaming, forgiving: what browsers, Fiddler, Charles, Insomnia and
//! mitmproxy really write) and export (complete HAR 1.2, redacted unless asked not to,
//! with `_oauthscope` fields per entry).
//!
//! Import reads entries one at a time, so memory follows the largest entry, not the file.

mod export;
mod import;
#[cfg(test)]
mod tests;

pub use export::*;
pub use import::*;

/// Does this look like a HAR (a JSON object whose first key is `log`, BOM allowed)?
pub fn looks_like_har(head: &[u8]) -> bool {
    let s = String::from_utf8_lossy(head);
    let t = s.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('{') && t[1..].trim_start().starts_with("\"log\"")
}

/// The salt an oauthscope `--no-redact` export carries near its start, if any.
pub fn salt_in_head(head: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(head);
    const KEY: &str = "\"_oauthscope\":{\"salt\":\"";
    let i = s.find(KEY)? + KEY.len();
    let rest = &s[i..];
    let end = rest.find('"')?;
    let salt = &rest[..end];
    salt.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| salt.to_string())
}
