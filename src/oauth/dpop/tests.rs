//! Tests of the parent module: proofs made here with an ES256 key.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::json;

use super::*;
use crate::capture::fixtures::{exchange, respond};
use crate::capture::redact::Fingerprinter;
use crate::oauth::classify::{Known, classify, fingerprint};

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

struct Client(EcdsaKeyPair);

impl Client {
    fn new() -> Self {
        Client(EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    fn jwk(&self) -> serde_json::Value {
        let p = self.0.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..])})
    }

    fn proof(&self, header: serde_json::Value, claims: serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.0.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    fn good(&self, htm: &str, htu: &str, iat: i64, jti: &str, ath: Option<&str>) -> String {
        let mut c = json!({"htm": htm, "htu": htu, "iat": iat, "jti": jti});
        if let Some(a) = ath {
            c["ath"] = a.into();
        }
        self.proof(
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()}),
            c,
        )
    }
}

/// 2027-01-01T00:00:10Z, the time of `exchange(_, 10, ..)`.
const AT: i64 = 1_798_761_610;

fn check_call(proof: &str, method: &str, url: &str, token: &str, state: &DpopState) -> Verdict {
    check_bound_call(proof, method, url, token, state, None)
}

/// [`check_call`] for a token bound to the key `bound_to` (thumbprint, issuing exchange).
fn check_bound_call(
    proof: &str,
    method: &str,
    url: &str,
    token: &str,
    state: &DpopState,
    bound_to: Option<(&str, u64)>,
) -> Verdict {
    let auth = format!("DPoP {token}");
    let ex = respond(
        exchange(
            7,
            10,
            method,
            url,
            &[("authorization", &auth), ("dpop", proof)],
            "",
        ),
        200,
        &[],
        b"{}",
    );
    let mut step = classify(&ex, &Known::default());
    fingerprint(&mut step, &Fingerprinter::new("00"));
    verdict(&ex, &step, AT as f64, state, bound_to).unwrap()
}

#[test]
fn a_fitting_proof_passes_and_each_wrong_claim_is_named() {
    let c = Client::new();
    let token = "at-0123456789abcdef";
    let url = "https://api.example/v1/me?x=1";
    let state = DpopState::default();
    let ok = c.good(
        "GET",
        "https://API.example:443/v1/me",
        AT - 2,
        "j1",
        Some(&token_hash(token)),
    );
    assert_eq!(
        check_call(&ok, "GET", url, token, &state),
        Verdict::default()
    );

    let cases = [
        (c.good("POST", "https://api.example/v1/me", AT, "j2", Some(&token_hash(token))), "`htm` `POST`"),
        (c.good("GET", "https://api.example/v1/other", AT, "j3", Some(&token_hash(token))), "`htu`"),
        (c.good("GET", "https://api.example/v1/me", AT - 3600, "j4", Some(&token_hash(token))), "`iat` is 1 h before"),
        (c.good("GET", "https://api.example/v1/me", AT, "j5", None), "no `ath`"),
        (c.good("GET", "https://api.example/v1/me", AT, "j6", Some(&token_hash("another"))), "`ath` is not the hash"),
        (
            c.proof(json!({"typ": "JWT", "alg": "ES256", "jwk": c.jwk()}), json!({"htm": "GET", "htu": "https://api.example/v1/me", "iat": AT, "jti": "j7", "ath": token_hash(token)})),
            "`typ` is `JWT`",
        ),
        (
            c.proof(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": Client::new().jwk()}), json!({"htm": "GET", "htu": "https://api.example/v1/me", "iat": AT, "jti": "j8", "ath": token_hash(token)})),
            "does not verify with the `jwk` in its own header",
        ),
        (
            c.proof(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "secret"}}), json!({"htm": "GET"})),
            "holds private key material",
        ),
        ("not-a-jwt".to_string(), "not a JWT"),
    ];
    for (proof, said) in cases {
        let v = check_call(&proof, "GET", url, token, &state);
        assert!(v.proof.iter().any(|p| p.contains(said)), "{said}: {v:?}");
        assert!(
            !v.proof.iter().any(|p| p.contains("secret")),
            "no key material printed: {v:?}"
        );
    }
}

#[test]
fn a_reused_jti_and_an_ignored_nonce_are_remembered_across_exchanges() {
    let c = Client::new();
    let token = "at-0123456789abcdef";
    let url = "https://api.example/v1/me";
    let mut state = DpopState::default();
    let first = c.good("GET", url, AT, "same", Some(&token_hash(token)));
    let auth = format!("DPoP {token}");
    // The API asks for a nonce.
    let asked = respond(
        exchange(
            1,
            10,
            "GET",
            url,
            &[("authorization", &auth), ("dpop", &first)],
            "",
        ),
        401,
        &[
            ("www-authenticate", "DPoP error=\"use_dpop_nonce\""),
            ("dpop-nonce", "n-42"),
        ],
        b"",
    );
    state.apply(&asked);
    let again = c.good("GET", url, AT, "same", Some(&token_hash(token)));
    let v = check_call(&again, "GET", url, token, &state);
    assert_eq!(v.nonce_ignored, Some(1));
    assert!(
        v.proof
            .iter()
            .any(|p| p.contains("already used by the proof of #1")),
        "{v:?}"
    );
    // With the nonce and a new jti, all is well.
    let mut claims = json!({"htm": "GET", "htu": url, "iat": AT, "jti": "fresh", "ath": token_hash(token), "nonce": "n-42"});
    let fixed = c.proof(
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": c.jwk()}),
        claims.clone(),
    );
    assert_eq!(
        check_call(&fixed, "GET", url, token, &state),
        Verdict::default()
    );
    claims["nonce"] = "n-old".into();
    let stale = c.proof(
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": c.jwk()}),
        claims,
    );
    assert_eq!(
        check_call(&stale, "GET", url, token, &state).nonce_ignored,
        Some(1)
    );
}

#[test]
fn jwk_thumbprints_follow_rfc_7638() {
    // RFC 7638 §3.1's example RSA key and its thumbprint.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    assert_eq!(
        jwk_thumbprint(&jwk).as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    // Members outside the required ones, and their order, do not change it.
    let c = Client::new();
    let mut extra = c.jwk();
    extra["use"] = "sig".into();
    assert_eq!(jwk_thumbprint(&extra), jwk_thumbprint(&c.jwk()));
    // A key type it does not know, or a member missing: no thumbprint, no panic.
    assert_eq!(jwk_thumbprint(&json!({"kty": "XYZ"})), None);
    assert_eq!(jwk_thumbprint(&json!({"kty": "EC", "crv": "P-256"})), None);
    assert_eq!(jwk_thumbprint(&json!({"kty": 5})), None);
}

#[test]
fn a_proof_signed_by_another_key_than_the_token_is_bound_to_is_named() {
    let issued = Client::new();
    let other = Client::new();
    let token = "tok-1";
    let url = "https://api.example/v1/me";
    let bound = jwk_thumbprint(&issued.jwk()).unwrap();
    let with = |c: &Client, jti: &str| {
        let proof = c.good("GET", url, AT, jti, Some(&token_hash(token)));
        check_bound_call(
            &proof,
            "GET",
            url,
            token,
            &DpopState::default(),
            Some((&bound, 3)),
        )
    };
    assert!(with(&issued, "j1").proof.is_empty());
    let v = with(&other, "j2");
    assert_eq!(v.proof.len(), 1, "{v:?}");
    assert!(
        v.proof[0].contains("another key")
            && v.proof[0].contains(&bound)
            && v.proof[0].contains("#3"),
        "{v:?}"
    );
}
