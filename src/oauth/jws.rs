//! JWS signatures checked against a provider's JWK set (RFC 7515, RFC 7517, RFC 7518,
//! RFC 8037): RS256/384/512, PS256/384/512, ES256/384 and EdDSA (Ed25519), with the
//! crypto library the proxy already ships (aws-lc-rs).
//!
//! Only public keys are read (`kty`, `kid`, `n`/`e`, `crv`/`x`/`y`); `x5c` chains and
//! private members are never parsed, kept or printed. A set holds at most
//! [`MAX_KEYS`] keys; anything malformed is a reason, never a panic.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Keys read from one set (more are ignored).
pub const MAX_KEYS: usize = 100;
/// Longest key member read (an RSA modulus of 16,384 bits is 2,731 base64 characters).
const MAX_MEMBER: usize = 4096;

/// One public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The `alg` the set pins the key to, if any.
    pub alg: Option<String>,
    pub key: Key,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point (`0x04 || x || y`) on `crv`.
    Ec {
        crv: String,
        point: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
    /// A key type this module does not verify with (`oct`, `X25519`, ...).
    Other {
        kty: String,
    },
}

/// A JWK set (`{"keys": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Read a set from a JSON document; `None` when it is not one (no `keys` array of
    /// objects with a `kty`).
    pub fn from_json(doc: &serde_json::Map<String, Value>) -> Option<JwkSet> {
        let keys = doc.get("keys")?.as_array()?;
        if keys.is_empty()
            || !keys
                .iter()
                .all(|k| k.get("kty").is_some_and(Value::is_string))
        {
            return None;
        }
        Some(JwkSet {
            keys: keys
                .iter()
                .take(MAX_KEYS)
                .filter_map(Jwk::from_json)
                .collect(),
        })
    }

    /// Add the keys of `other` not already held (a provider's set changes as it rotates).
    pub fn merge(&mut self, other: &JwkSet) {
        for k in &other.keys {
            if self.keys.len() >= MAX_KEYS {
                break;
            }
            if !self.keys.contains(k) {
                self.keys.push(k.clone());
            }
        }
    }

    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }
}

fn member(k: &Value, name: &str) -> Option<Vec<u8>> {
    let s = k.get(name)?.as_str()?;
    if s.len() > MAX_MEMBER {
        return None;
    }
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

impl Jwk {
    fn from_json(k: &Value) -> Option<Jwk> {
        let kty = k.get("kty")?.as_str()?;
        let text = |name: &str| k.get(name).and_then(Value::as_str).map(str::to_string);
        let key = match kty {
            "RSA" => Key::Rsa {
                n: member(k, "n")?,
                e: member(k, "e")?,
            },
            "EC" => {
                let crv = text("crv")?;
                let (x, y) = (member(k, "x")?, member(k, "y")?);
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Key::Ec { crv, point }
            }
            "OKP" if text("crv").as_deref() == Some("Ed25519") => {
                Key::Ed25519 { x: member(k, "x")? }
            }
            other => Key::Other {
                kty: other.chars().take(16).collect(),
            },
        };
        Some(Jwk {
            kid: text("kid").map(|s| s.chars().take(200).collect()),
            alg: text("alg"),
            key,
        })
    }

    /// Does this key verify `sig` over `input` under `alg`? `None` when the key cannot
    /// be used with `alg` at all (another key type or curve).
    fn verifies(&self, alg: &str, input: &[u8], sig: &[u8]) -> Option<bool> {
        if self.alg.as_deref().is_some_and(|a| a != alg) {
            return None;
        }
        let ok = match (&self.key, alg) {
            (Key::Rsa { n, e }, _) => {
                let params = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                    "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                    "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                    "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return None,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, input, sig)
                    .is_ok()
            }
            (Key::Ec { crv, point }, _) => {
                let algorithm = match (alg, crv.as_str()) {
                    ("ES256", "P-256") => &signature::ECDSA_P256_SHA256_FIXED,
                    ("ES384", "P-384") => &signature::ECDSA_P384_SHA384_FIXED,
                    _ => return None,
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(input, sig)
                    .is_ok()
            }
            (Key::Ed25519 { x }, "EdDSA" | "Ed25519") => {
                UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(input, sig)
                    .is_ok()
            }
            _ => return None,
        };
        Some(ok)
    }
}

/// What checking one compact JWS against a set found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A key of the set verifies it.
    Verified { kid: Option<String> },
    /// No key of the set verifies it (the keys of its `kid`, or every usable key).
    Invalid { kid: Option<String> },
    /// Its `kid` names no key of the set.
    UnknownKid { kid: String },
    /// `alg: none`: not signed at all.
    Unsigned,
    /// Signed with a shared secret (`HS256`...): only the client can check it.
    Symmetric { alg: String },
    /// An algorithm this module does not verify.
    Unsupported { alg: String },
    /// Not a compact JWS: why.
    Malformed(&'static str),
}

/// The `alg` and `kid` of a compact JWS header.
pub fn header(token: &str) -> Result<(String, Option<String>), &'static str> {
    let h = token.split('.').next().unwrap_or("");
    let bytes = URL_SAFE_NO_PAD
        .decode(h.trim_end_matches('='))
        .map_err(|_| "its header is not base64url")?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| "its header is not JSON")?;
    let alg = v
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("its header has no `alg`")?;
    let kid = v.get("kid").and_then(Value::as_str).map(str::to_string);
    Ok((alg.chars().take(32).collect(), kid))
}

/// Check the signature of a compact JWS (`header.payload.signature`) against `set`.
pub fn check(token: &str, set: &JwkSet) -> Check {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Check::Malformed("it does not have three parts");
    }
    let (alg, kid) = match header(token) {
        Ok(h) => h,
        Err(why) => return Check::Malformed(why),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Check::Unsigned;
    }
    if alg.starts_with("HS") {
        return Check::Symmetric { alg };
    }
    if !matches!(
        alg.as_str(),
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "EdDSA"
    ) {
        return Check::Unsupported { alg };
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(parts[2].trim_end_matches('=')) else {
        return Check::Malformed("its signature is not base64url");
    };
    let input = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
    let candidates: Vec<&Jwk> = match &kid {
        Some(k) => set
            .keys
            .iter()
            .filter(|j| j.kid.as_deref() == Some(k.as_str()))
            .collect(),
        None => set.keys.iter().collect(),
    };
    if candidates.is_empty() {
        if let Some(kid) = kid {
            return Check::UnknownKid { kid };
        }
    }
    for key in candidates {
        if key.verifies(&alg, input, &sig) == Some(true) {
            return Check::Verified {
                kid: key.kid.clone(),
            };
        }
    }
    Check::Invalid { kid }
}

#[cfg(test)]
mod tests;
