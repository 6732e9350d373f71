//! Tests of the parent module.

use super::*;
use crate::capture::fixtures::{self, exchange};

fn ex(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
    exchange(1, 0, method, url, headers, body)
}

fn respond(e: Exchange, status: u16, headers: &[(&str, &str)], body: &str) -> Exchange {
    fixtures::respond(e, status, headers, body.as_bytes())
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

#[test]
fn token_requests_by_content_not_path() {
    let e = respond(
        ex(
            "POST",
            "https://as.example/whatever",
            &[FORM, ("authorization", "Basic Y2lkOnNlYw==")],
            "grant_type=authorization_code&code=c1&redirect_uri=https%3A%2F%2Fapp%2Fcb",
        ),
        200,
        &[("content-type", "application/json")],
        r#"{"access_token":"a1","token_type":"Bearer","expires_in":"3600"}"#,
    );
    let Step::Token(t) = classify(&e, &Known::default()) else {
        panic!()
    };
    assert_eq!(t.grant, Grant::AuthorizationCode);
    assert_eq!(t.auth, ClientAuth::Basic);
    assert_eq!(t.client_id.as_deref(), Some("cid"));
    assert_eq!(t.redirect_uri.as_deref(), Some("https://app/cb"));
    let r = t.response.unwrap();
    assert_eq!(r.expires_in, Some(3600.0));
    assert!(r.expires_in_is_string);
    assert!(r.refresh_token.is_none());
}

#[test]
fn github_style_form_responses_and_errors_with_200() {
    let e = respond(
        ex(
            "POST",
            "https://gh/login/oauth/access_token",
            &[FORM],
            "grant_type=authorization_code&code=x&client_id=i&client_secret=s",
        ),
        200,
        &[("content-type", "application/x-www-form-urlencoded")],
        "error=bad_verification_code&error_description=The+code+passed+is+incorrect",
    );
    let Step::Token(t) = classify(&e, &Known::default()) else {
        panic!()
    };
    assert_eq!(t.auth, ClientAuth::Post);
    let r = t.response.unwrap();
    assert_eq!(r.format, Some(BodyFormat::Form));
    assert_eq!(r.error.as_deref(), Some("bad_verification_code"));
    assert!(!r.is_success());
}

#[test]
fn other_steps() {
    let k = Known::default();
    let a = respond(
        ex(
            "GET",
            "https://as/authorize?response_type=code&client_id=c&state=s",
            &[],
            "",
        ),
        302,
        &[("location", "https://app/cb?code=C1&state=s")],
        "",
    );
    match classify(&a, &k) {
        Step::Authorize(a) => assert_eq!(a.redirect.unwrap().get("code"), Some("C1")),
        s => panic!("{s:?}"),
    }
    let cb = ex("GET", "https://app/cb?code=C1&state=s", &[], "");
    assert!(matches!(classify(&cb, &k), Step::Callback(_)));
    let api = ex(
        "GET",
        "https://api/x",
        &[("authorization", "Token abc")],
        "",
    );
    match classify(&api, &k) {
        Step::ApiCall(a) => {
            assert_eq!(a.scheme.as_deref(), Some("Token"));
            assert_eq!(a.token.as_deref(), Some("abc"));
        }
        s => panic!("{s:?}"),
    }
    let dbl = ex(
        "GET",
        "https://api/x",
        &[("authorization", "Bearer Bearer abc")],
        "",
    );
    assert_eq!(
        classify(&dbl, &k).api_call().unwrap().scheme.as_deref(),
        Some("Bearer Bearer")
    );
    let q = ex("GET", "https://api/x?access_token=t", &[], "");
    assert_eq!(
        classify(&q, &k).api_call().unwrap().placement,
        Placement::Query
    );
    let meta = respond(
        ex(
            "GET",
            "https://as/.well-known/openid-configuration",
            &[],
            "",
        ),
        200,
        &[],
        r#"{"issuer":"https://as","token_endpoint":"https://as/token","jwks_uri":"https://as/jwks"}"#,
    );
    assert!(matches!(classify(&meta, &k), Step::Discovery(_)));
    let rev = ex(
        "POST",
        "https://as/revoke",
        &[FORM],
        "token=r1&token_type_hint=refresh_token",
    );
    assert!(matches!(classify(&rev, &k), Step::Revocation { .. }));
    let bare = ex("GET", "https://api/x", &[], "");
    assert!(matches!(classify(&bare, &k), Step::Other));
    let mut known = Known::default();
    known.api_origins.insert("https://api".into());
    assert_eq!(
        classify(&bare, &known).api_call().unwrap().placement,
        Placement::None
    );
    let garbage = ex(
        "POST",
        "https://x",
        &[("content-type", "application/json")],
        "{not json",
    );
    assert!(matches!(classify(&garbage, &k), Step::Other));
}
