//! Tests of the parent module.

use super::*;

fn fpr() -> Fingerprinter {
    Fingerprinter::new("0011")
}

#[test]
fn names_in_every_spelling() {
    for n in [
        "access_token",
        "Access_Token",
        "ID_TOKEN",
        "accessToken",
        "refreshToken",
        "idToken",
        "clientSecret",
        "access%5Ftoken",
        "Ocp-Apim-Subscription-Key",
        "X-Auth-Token",
        "X-Amz-Security-Token",
        "Private-Token",
        "X-Goog-Api-Key",
        "X-Vault-Token",
        "X-Subject-Token",
        "subject_token",
        "actor_token",
        "id_token_hint",
        "api_key",
        "apikey",
        "key",
        "sig",
        "SAMLResponse",
        "password",
    ] {
        assert!(is_secret_name(n), "{n}");
    }
    for n in [
        "token_type",
        "expires_in",
        "state",
        "client_id",
        "scope",
        "token_endpoint",
        "code_challenge_method",
        "grant_type",
        "token_type_hint",
    ] {
        assert!(!is_secret_name(n), "{n}");
    }
    assert!(!is_secret_header("WWW-Authenticate"));
}

#[test]
fn every_syntax_is_masked_and_values_are_collected() {
    let f = fpr();
    let mut found = Known::default();
    let mut p = Policy {
        fpr: &f,
        known: None,
        found: Some(&mut found),
    };
    let cases = [
        (
            "application/json",
            r#"{"Access_Token":"S1-aaaaaaaa","nested":{"deep":[{"refreshToken":"S2-bbbbbbbb"}]}}"#,
            vec!["S1-aaaaaaaa", "S2-bbbbbbbb"],
        ),
        (
            "application/json",
            "\u{feff}{\"access_token\":\"S3-cccccccc\"}",
            vec!["S3-cccccccc"],
        ),
        (
            "application/json",
            r#"{"access_token":"S4-dddddddd","refresh_token":"S5-eeee"#,
            vec!["S4-dddddddd", "S5-eeee"],
        ),
        (
            "text/html",
            r#"<form method="post"><input type="hidden" name="code" value="S6-ffffffff"/><input value='S7-gggggggg' name='id_token'></form>"#,
            vec!["S6-ffffffff", "S7-gggggggg"],
        ),
        (
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nS8-hhhhhhhh\r\n--x--",
            vec!["S8-hhhhhhhh"],
        ),
        (
            "text/xml",
            "<s:Envelope><wsse:Password Type=\"t\">S9-iiiiiiii</wsse:Password><wsse:BinarySecurityToken>S10-jjjjjjj</wsse:BinarySecurityToken></s:Envelope>",
            vec!["S9-iiiiiiii", "S10-jjjjjjj"],
        ),
        (
            "application/x-www-form-urlencoded",
            "SAMLResponse=S11-kkkkkkk&RelayState=r",
            vec!["S11-kkkkkkk"],
        ),
        (
            "text/plain",
            "token eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln here",
            vec!["eyJhbGciOiJub25lIn0"],
        ),
    ];
    for (ct, body, secrets) in cases {
        let out = p.body(ct, body);
        for s in secrets {
            assert!(!out.contains(s), "{ct}: {out}");
        }
        assert!(out.contains("[redacted fp:"), "{ct}: {out}");
    }
    let deep = format!(
        "{}\"token\":\"S12-llllllll\"{}",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(!p.body("application/json", &deep).contains("S12-llllllll"));
    // Masking is idempotent in every syntax.
    for (ct, body) in [
        (
            "application/x-www-form-urlencoded",
            "code=S13-mmmmmmmm&state=s",
        ),
        (
            "text/plain",
            "log: code=S13-mmmmmmmm token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln",
        ),
        ("application/json", r#"{"access_token":"S13-mmmmmmmm"}"#),
    ] {
        let once = p.body(ct, body);
        assert_eq!(p.body(ct, &once), once, "{ct}");
    }
    let _ = p;
    assert!(found.len() >= 10, "{found:?}");
}

#[test]
fn urls_and_headers() {
    let f = fpr();
    let mut p = Policy::new(&f);
    let u = p.url(
        "https://user:S1-pass@h.example/cb?access%5Ftoken=S2-aaaaaaa&id_token_hint=S3-bbbbbbb&api_key=S4-ccccccc&sig=S5-ddddddd&state=keep",
        false,
    );
    for s in [
        "S1-pass",
        "S2-aaaaaaa",
        "S3-bbbbbbb",
        "S4-ccccccc",
        "S5-ddddddd",
    ] {
        assert!(!u.contains(s), "{u}");
    }
    assert!(
        u.contains("state=keep") && u.contains("h.example/cb"),
        "{u}"
    );
    let safe = p.url("https://h/cb?code=S6-eeeeeee", true);
    assert!(
        !safe.contains(' ') && !safe.contains('[') && !safe.contains("S6"),
        "{safe}"
    );
    let link = p.header("Link", "<https://h/next?code=S7-fffffff>; rel=next", false);
    assert!(!link.contains("S7"), "{link}");
    let refresh = p.header("Refresh", "0; url=https://h/cb?code=S8-ggggggg", false);
    assert!(!refresh.contains("S8"), "{refresh}");
    let key = p.header("Ocp-Apim-Subscription-Key", "S9-hhhhhhh", false);
    assert!(!key.contains("S9"), "{key}");
    let auth = p.header("Authorization", "Bearer S10-iiiiii", false);
    assert!(auth.starts_with("Bearer [redacted fp:"), "{auth}");
    let challenge = r#"Bearer realm="api", error="invalid_token""#;
    assert_eq!(p.header("WWW-Authenticate", challenge, false), challenge);
}

#[test]
fn known_values_are_masked_wherever_they_appear_again() {
    let f = fpr();
    let mut known = Known::default();
    known.add("rt-echoed-123456");
    known.add("a+b/c=d-99");
    let mut p = Policy {
        fpr: &f,
        known: Some(&known),
        found: None,
    };
    let out = p.body(
        "text/html",
        "<p>The token rt-echoed-123456. is not valid</p>",
    );
    assert!(!out.contains("rt-echoed-123456"), "{out}");
    assert!(
        out.contains(&f.mask("rt-echoed-123456")),
        "same fingerprint"
    );
    let out = p.body("text/plain", "echo=a%2Bb%2Fc%3Dd-99&x=1");
    assert!(!out.contains("a%2Bb"), "{out}");
}

#[test]
fn names_never_in_a_url_are_secret_names() {
    for name in NEVER_IN_URL {
        assert!(is_secret_name(name), "{name} is not in the secret policy");
    }
    // A secret that does travel in URLs is not in the list.
    assert!(is_secret_name("code") && !NEVER_IN_URL.contains(&"code"));
}

#[test]
fn a_masked_url_in_text_is_not_masked_again() {
    let f = fpr();
    let mut p = Policy {
        fpr: &f,
        known: None,
        found: None,
    };
    let once = p.text("Redirecting to https://as.example/cb?code=c0de-Value-123&amp;state=s.");
    assert!(!once.contains("c0de-Value-123"), "{once}");
    let twice = p.text(&once);
    assert_eq!(once, twice, "masking is idempotent");
}

#[test]
fn cookie_values_are_masked_and_their_names_kept() {
    let f = fpr();
    let mut p = Policy {
        fpr: &f,
        known: None,
        found: None,
    };
    let set = p.header(
        "Set-Cookie",
        "_session=s3cr3t-value-1; Path=/; HttpOnly",
        false,
    );
    assert!(
        set.starts_with("_session=[redacted fp:") && set.ends_with("; Path=/; HttpOnly"),
        "{set}"
    );
    let sent = p.header("Cookie", "a=one-secret-value; b=two-secret-value", false);
    assert!(
        !sent.contains("secret-value")
            && sent.contains("a=[redacted")
            && sent.contains("; b=[redacted"),
        "{sent}"
    );
    // Masking again changes nothing.
    assert_eq!(p.header("Set-Cookie", &set, false), set);
    assert_eq!(p.header("Cookie", &sent, false), sent);
}
