use super::*;
use crate::proxy::gateway::routes::parse_routes;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn gw(routes: &[&str]) -> Gateway {
    let routes: Vec<String> = routes.iter().map(|s| s.to_string()).collect();
    Gateway::new(
        parse_routes(&routes).unwrap(),
        SECRET.into(),
        "https://gw.example.com/".into(),
        0,
        4,
    )
}

#[test]
fn the_longest_prefix_wins_and_the_rest_of_the_path_and_query_are_kept() {
    let g = gw(&[
        "/api=https://api.example.com",
        "/api/v2=https://v2.example.com:8443/",
        "/idp=http://login.example.com:80",
    ]);
    let r = |p: &str| g.resolve(&format!("/{SECRET}{p}")).map(|t| t.url);
    assert_eq!(
        r("/api/v2/users?x=1&y=%20"),
        Ok("https://v2.example.com:8443/users?x=1&y=%20".into())
    );
    assert_eq!(r("/api/v2"), Ok("https://v2.example.com:8443/".into()));
    assert_eq!(r("/api/v22/x"), Ok("https://api.example.com/v22/x".into()));
    assert_eq!(r("/idp/token"), Ok("http://login.example.com/token".into()));
    // A prefix matches whole segments only.
    assert_eq!(r("/apix/y"), Err(Refusal::Unrouted));
    assert_eq!(r("/other"), Err(Refusal::Unrouted));
    assert_eq!(r(""), Err(Refusal::Unrouted));
}

#[test]
fn a_request_without_the_exact_secret_is_refused() {
    let g = gw(&["/=https://api.example.com"]);
    assert!(g.resolve(&format!("/{SECRET}/x")).is_ok());
    for path in [
        "/x".to_string(),
        "/".to_string(),
        format!("/{}/x", &SECRET[..31]),
        format!("/{SECRET}0/x"),
        format!("/{}/x", SECRET.to_uppercase()),
        format!("//{SECRET}/x"),
        format!("/x/{SECRET}/x"),
    ] {
        assert_eq!(g.resolve(&path), Err(Refusal::NoSecret), "{path}");
    }
    g.refuse(Refusal::NoSecret);
    g.refuse(Refusal::NoSecret);
    g.refuse(Refusal::Connect);
    assert_eq!(
        g.refusals(),
        vec![(Refusal::NoSecret, 2), (Refusal::Connect, 1)]
    );
}

#[test]
fn bad_routes_are_refused_with_a_reason() {
    let e = |v: &[&str]| {
        parse_routes(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap_err()
            .to_string()
    };
    assert!(e(&["/idp=login.example.com"]).contains("no scheme"));
    assert!(e(&["/idp=https://login.example.com/oauth2"]).contains("no path"));
    assert!(e(&["/idp=ftp://login.example.com"]).contains("https or http"));
    assert!(e(&["idp=https://login.example.com"]).contains("must start with /"));
    assert!(e(&["/idp"]).contains("expected /PREFIX="));
    assert!(
        e(&["/idp=https://a.example.com", "/idp/=https://b.example.com"])
            .contains("two routes have the prefix /idp")
    );
    assert!(e(&[]).contains("no route"));
}

#[test]
fn locations_on_a_routed_upstream_move_to_the_gateway() {
    let g = gw(&[
        "/idp=https://login.example.com",
        "/api=https://api.example.com",
    ]);
    let api = g.routes().iter().position(|r| r.prefix == "/api").unwrap();
    assert_eq!(
        g.rewrite_location("https://LOGIN.example.com:443/cb?code=1", api)
            .as_deref(),
        Some(format!("https://gw.example.com/{SECRET}/idp/cb?code=1").as_str())
    );
    // An absolute path is relative to the route's own upstream.
    assert_eq!(
        g.rewrite_location("/next/page", api).as_deref(),
        Some(format!("https://gw.example.com/{SECRET}/api/next/page").as_str())
    );
    // The provider's own sign-in page (not routed) and other hosts stay as they are.
    assert_eq!(g.rewrite_location("https://elsewhere.example/x", api), None);
    assert_eq!(g.rewrite_location("//login.example.com/x", api), None);
    assert_eq!(g.rewrite_location("http://login.example.com/x", api), None);
}

#[test]
fn discovery_endpoints_move_to_the_gateway_but_the_issuer_stays() {
    let g = gw(&["/idp=https://login.example.com"]);
    let doc = br#"{"issuer":"https://login.example.com","token_endpoint":"https://login.example.com/token",
        "authorization_endpoint":"https://login.example.com/authorize","jwks_uri":"https://keys.example.net/jwks",
        "mtls_endpoint_aliases":{"token_endpoint":"https://login.example.com/mtls/token"},"scopes_supported":["openid"]}"#;
    let out: serde_json::Value =
        serde_json::from_slice(&g.rewrite_discovery(doc).unwrap()).unwrap();
    assert_eq!(out["issuer"], "https://login.example.com");
    assert_eq!(
        out["token_endpoint"],
        format!("https://gw.example.com/{SECRET}/idp/token")
    );
    assert_eq!(
        out["mtls_endpoint_aliases"]["token_endpoint"],
        format!("https://gw.example.com/{SECRET}/idp/mtls/token")
    );
    assert_eq!(out["jwks_uri"], "https://keys.example.net/jwks");
    assert_eq!(out["scopes_supported"][0], "openid");
    assert!(g.rewrite_discovery(b"not json").is_none());
    assert!(
        g.rewrite_discovery(br#"{"issuer":"https://login.example.com"}"#)
            .is_none()
    );
    assert!(is_discovery_path(
        "/t/v2.0/.well-known/openid-configuration?x"
    ));
    assert!(!is_discovery_path("/token"));
}

#[test]
fn the_rate_limit_allows_a_burst_then_refuses() {
    let g = Gateway::new(
        parse_routes(&["/=https://a.example".to_string()]).unwrap(),
        SECRET.into(),
        "http://127.0.0.1:1".into(),
        5,
        1,
    );
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "192.0.2.2".parse().unwrap();
    let admitted = (0..40).filter(|_| g.admit(a)).count();
    // A burst of 4 × 5, plus what refilled while the loop ran.
    assert!((20..=21).contains(&admitted), "{admitted}");
    assert!(g.admit(b), "another client has its own bucket");
    let unlimited = gw(&["/=https://a.example"]);
    assert!((0..1000).all(|_| unlimited.admit(a)));
}

#[test]
fn chosen_secrets_must_be_long_and_path_safe() {
    assert!(check_secret("short").unwrap_err().contains("at least 16"));
    assert!(
        check_secret("0123456789abcdef/x")
            .unwrap_err()
            .contains("only letters")
    );
    assert!(check_secret("0123456789abcdef-_.~").is_ok());
    let s = random_secret();
    assert_eq!(s.len(), 32);
    assert!(check_secret(&s).is_ok());
    assert_ne!(s, random_secret());
}
