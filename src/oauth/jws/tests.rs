//! Tests of the parent module: every algorithm with keys generated here.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::json;

use super::*;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// A signer and the public JWK it publishes.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn jwk(&self, kid: &str) -> Value {
        match self {
            Signer::Rsa(k) => json!({
                "kty": "RSA", "kid": kid,
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            Signer::Ec(k) => {
                let p = k.public_key().as_ref();
                let half = (p.len() - 1) / 2;
                let crv = if half == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "kid": kid, "crv": crv,
                       "x": b64(&p[1..1 + half]), "y": b64(&p[1 + half..])})
            }
            Signer::Ed(k) => json!({"kty": "OKP", "kid": kid, "crv": "Ed25519",
                                    "x": b64(k.public_key().as_ref())}),
        }
    }

    fn sign(&self, alg: &str, kid: Option<&str>, claims: &Value) -> String {
        let mut h = json!({"alg": alg, "typ": "JWT"});
        if let Some(k) = kid {
            h["kid"] = k.into();
        }
        let input = format!(
            "{}.{}",
            b64(h.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Signer::Rsa(k) => {
                let enc: &dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, input.as_bytes(), &mut sig).unwrap();
                sig
            }
            Signer::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Signer::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }
}

fn rsa() -> Signer {
    Signer::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
}

fn set(keys: &[Value]) -> JwkSet {
    let doc = json!({ "keys": keys });
    JwkSet::from_json(doc.as_object().unwrap()).unwrap()
}

fn claims() -> Value {
    json!({"iss": "https://as.example", "aud": "app", "sub": "u1", "exp": 2_000_000_000})
}

#[test]
fn every_algorithm_verifies_with_its_key_and_fails_with_another() {
    let rsa_key = rsa();
    let signers = [
        ("RS256", &rsa_key),
        ("RS384", &rsa_key),
        ("RS512", &rsa_key),
        ("PS256", &rsa_key),
        ("PS384", &rsa_key),
        ("PS512", &rsa_key),
    ];
    let other_rsa = rsa();
    let es256 =
        Signer::Ec(EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap());
    let es384 =
        Signer::Ec(EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap());
    let ed = Signer::Ed(Ed25519KeyPair::generate().unwrap());
    let good = set(&[
        rsa_key.jwk("r1"),
        es256.jwk("e1"),
        es384.jwk("e2"),
        ed.jwk("d1"),
    ]);
    let wrong = set(&[
        other_rsa.jwk("r1"),
        rsa().jwk("e1"),
        ed.jwk("e2"),
        es256.jwk("d1"),
    ]);
    let all: Vec<(&str, &Signer, &str)> = signers
        .iter()
        .map(|(a, s)| (*a, *s, "r1"))
        .chain([
            ("ES256", &es256, "e1"),
            ("ES384", &es384, "e2"),
            ("EdDSA", &ed, "d1"),
        ])
        .collect();
    for (alg, signer, kid) in all {
        let token = signer.sign(alg, Some(kid), &claims());
        assert_eq!(
            check(&token, &good),
            Check::Verified {
                kid: Some(kid.into())
            },
            "{alg}"
        );
        assert_eq!(
            check(&token, &wrong),
            Check::Invalid {
                kid: Some(kid.into())
            },
            "{alg}"
        );
        // The payload changed after signing.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = b64(json!({"iss": "https://as.example", "aud": "evil"})
            .to_string()
            .as_bytes());
        assert_eq!(
            check(&parts.join("."), &good),
            Check::Invalid {
                kid: Some(kid.into())
            },
            "{alg}"
        );
    }
}

#[test]
fn a_token_without_kid_is_tried_against_every_key() {
    let a = rsa();
    let b = rsa();
    let token = b.sign("RS256", None, &claims());
    assert_eq!(
        check(&token, &set(&[a.jwk("a"), b.jwk("b")])),
        Check::Verified {
            kid: Some("b".into())
        }
    );
    assert_eq!(
        check(&token, &set(&[a.jwk("a")])),
        Check::Invalid { kid: None }
    );
}

#[test]
fn unknown_kid_none_symmetric_and_pinned_algorithms() {
    let k = rsa();
    let s = set(&[k.jwk("k1")]);
    assert_eq!(
        check(&k.sign("RS256", Some("k9"), &claims()), &s),
        Check::UnknownKid { kid: "k9".into() }
    );
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims().to_string().as_bytes())
    );
    assert_eq!(check(&none, &s), Check::Unsigned);
    let hs = format!("{}.{}.c2ln", b64(br#"{"alg":"HS256"}"#), b64(b"{}"));
    assert_eq!(
        check(&hs, &s),
        Check::Symmetric {
            alg: "HS256".into()
        }
    );
    let odd = format!("{}.{}.c2ln", b64(br#"{"alg":"RSA-OAEP"}"#), b64(b"{}"));
    assert_eq!(
        check(&odd, &s),
        Check::Unsupported {
            alg: "RSA-OAEP".into()
        }
    );
    // A key the set pins to RS256 does not verify a PS256 signature.
    let mut pinned = k.jwk("k1");
    pinned["alg"] = "RS256".into();
    assert_eq!(
        check(&k.sign("PS256", Some("k1"), &claims()), &set(&[pinned])),
        Check::Invalid {
            kid: Some("k1".into())
        }
    );
}

#[test]
fn malformed_tokens_and_sets_are_reasons_not_panics() {
    let s = set(&[rsa().jwk("k1")]);
    for (token, why) in [
        ("a.b", "it does not have three parts"),
        ("a.b.c.d.e", "it does not have three parts"),
        ("!!!.e30.c2ln", "its header is not base64url"),
        (
            &format!("{}.e30.c2ln", b64(b"not json")) as &str,
            "its header is not JSON",
        ),
        (
            &format!("{}.e30.c2ln", b64(br#"{"typ":"JWT"}"#)),
            "its header has no `alg`",
        ),
        (
            &format!("{}.e30.***", b64(br#"{"alg":"RS256","kid":"k1"}"#)),
            "its signature is not base64url",
        ),
    ] {
        assert_eq!(check(token, &s), Check::Malformed(why), "{token}");
    }
    // A DPoP proof or any JWT signed by a key the set does not hold is simply invalid.
    let garbage_sig = format!(
        "{}.e30.{}",
        b64(br#"{"alg":"ES256","kid":"k1"}"#),
        b64(&[0u8; 64])
    );
    assert_eq!(
        check(&garbage_sig, &s),
        Check::Invalid {
            kid: Some("k1".into())
        }
    );

    // Not sets: no keys array, an empty one, members without kty.
    for doc in [
        json!({}),
        json!({"keys": []}),
        json!({"keys": [{"n": "x"}]}),
        json!({"keys": "x"}),
    ] {
        assert!(
            JwkSet::from_json(doc.as_object().unwrap()).is_none(),
            "{doc}"
        );
    }
    // Broken members are skipped, a huge x5c chain is never read, the key count is capped.
    let huge = vec![Value::String("A".repeat(10_000)); 200];
    let mut keys = vec![
        json!({"kty": "RSA", "kid": "bad", "n": "***", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "long", "n": "A".repeat(100_000), "e": "AQAB"}),
        json!({"kty": "EC", "kid": "no-y", "crv": "P-256", "x": "AAAA"}),
        json!({"kty": "oct", "kid": "shared", "k": "c2VjcmV0"}),
    ];
    let mut with_chain = rsa().jwk("chain");
    with_chain["x5c"] = Value::Array(huge);
    keys.push(with_chain);
    keys.extend((0..300).map(
        |i| json!({"kty": "OKP", "crv": "Ed25519", "kid": format!("e{i}"), "x": b64(&[1u8; 32])}),
    ));
    let parsed = JwkSet::from_json(json!({ "keys": keys }).as_object().unwrap()).unwrap();
    assert_eq!(parsed.kids()[..2], ["shared", "chain"]);
    assert!(parsed.keys.len() <= MAX_KEYS);
    assert!(
        format!("{parsed:?}").len() < 200_000,
        "the chain is not kept"
    );
}
