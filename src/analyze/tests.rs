//! Rule checks on hand-built exchanges, for what loopback recordings cannot show
//! (plain http to a remote host, provider-specific answers).

use super::Engine;
use crate::capture::Exchange;
use crate::capture::fixtures::{self, respond};

fn ex(id: u64, secs: u32, method: &str, url: &str, req: &[(&str, &str)], body: &str) -> Exchange {
    fixtures::exchange(id, secs, method, url, req, body)
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

fn rules(exchanges: &[Exchange]) -> Vec<(&'static str, String)> {
    let mut e = Engine::new("00ff", false);
    for x in exchanges {
        e.push(x);
    }
    let f = e.finish().findings;
    f.into_iter().map(|f| (f.rule, f.detail)).collect()
}

#[test]
fn plain_http_to_a_remote_token_endpoint_is_critical() {
    let t = respond(
        ex(
            1,
            0,
            "POST",
            "http://auth.example.com/token",
            &[FORM, ("authorization", "Basic Y2k6Y3M=")],
            "grant_type=client_credentials",
        ),
        200,
        &[JSON, ("cache-control", "no-store")],
        br#"{"access_token":"a","token_type":"Bearer"}"#,
    );
    let r = rules(&[t]);
    assert!(r.iter().any(|(id, _)| *id == "plain-http"), "{r:?}");
    let local = respond(
        ex(
            1,
            0,
            "POST",
            "http://127.0.0.1:9/token",
            &[FORM, ("authorization", "Basic Y2k6Y3M=")],
            "grant_type=authorization_code&code=c",
        ),
        200,
        &[JSON, ("cache-control", "no-store")],
        br#"{"access_token":"a","token_type":"Bearer","refresh_token":"r"}"#,
    );
    assert!(!rules(&[local]).iter().any(|(id, _)| *id == "plain-http"));
}

#[test]
fn microsoft_errors_and_string_expiry_are_explained() {
    let err = respond(
        ex(1, 0, "POST", "https://login.microsoftonline.com/t/oauth2/token", &[FORM], "grant_type=refresh_token&refresh_token=r1&client_id=c&client_secret=s"),
        400,
        &[JSON],
        br#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity."}"#,
    );
    let r = rules(&[err]);
    let detail = &r.iter().find(|(id, _)| *id == "token-error").unwrap().1;
    assert!(
        detail.contains("AADSTS700082") && detail.contains("inactivity"),
        "{detail}"
    );
    let v1 = respond(
        ex(
            1,
            0,
            "POST",
            "https://login.microsoftonline.com/t/oauth2/token",
            &[FORM],
            "grant_type=authorization_code&code=c&client_id=c&client_secret=s&scope=offline_access",
        ),
        200,
        &[JSON, ("cache-control", "no-store")],
        br#"{"access_token":"a","token_type":"Bearer","expires_in":"3599","refresh_token":"r"}"#,
    );
    let r = rules(&[v1]);
    let d = &r
        .iter()
        .find(|(id, _)| *id == "token-response-format")
        .unwrap()
        .1;
    assert!(d.contains("Microsoft v1"), "{d}");
}

#[test]
fn github_errors_with_200_and_salesforce_refresh_without_secret() {
    let gh = respond(
        ex(
            1,
            0,
            "POST",
            "https://github.com/login/oauth/access_token",
            &[FORM],
            "grant_type=authorization_code&code=c&client_id=i&client_secret=s",
        ),
        200,
        &[("content-type", "application/x-www-form-urlencoded")],
        b"error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
    );
    let r = rules(&[gh]);
    let d = &r.iter().find(|(id, _)| *id == "token-error").unwrap().1;
    assert!(d.contains("HTTP 200"), "{d}");
    let sf = "https://login.salesforce.com/services/oauth2/token";
    let code = respond(
        ex(1, 0, "POST", sf, &[FORM], "grant_type=authorization_code&code=c&client_id=i&client_secret=s&redirect_uri=https%3A%2F%2Fapp"),
        200,
        &[JSON, ("cache-control", "no-store")],
        br#"{"access_token":"a1","refresh_token":"r1","token_type":"Bearer","issued_at":"1798761600000","instance_url":"https://x.my.salesforce.com"}"#,
    );
    let refresh = respond(
        ex(
            2,
            30,
            "POST",
            sf,
            &[FORM],
            "grant_type=refresh_token&refresh_token=r1&client_id=i",
        ),
        400,
        &[JSON],
        br#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
    );
    let r = rules(&[code, refresh]);
    let d = &r
        .iter()
        .find(|(id, _)| *id == "client-secret-mismatch")
        .unwrap()
        .1;
    assert!(d.contains("Salesforce") && d.contains("sent none"), "{d}");
}

#[test]
fn garbage_never_panics() {
    let bodies: [&[u8]; 5] = [
        b"\xff\xfe\x00garbage",
        b"{\"access_token\":",
        b"access_token=eyJ.eyJ.x&token_type=bearer",
        br#"{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOiJub3QgYSBudW1iZXIifQ.","token_type":"Bearer","expires_in":-5}"#,
        br#"{"access_token":"...","expires_in":1e308,"refresh_token":null}"#,
    ];
    let mut all = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        all.push(respond(
            ex(
                i as u64 + 1,
                i as u32,
                "POST",
                "https://as.example/t",
                &[FORM, ("authorization", "Basic !!!")],
                "grant_type=authorization_code&code=%zz",
            ),
            200,
            &[JSON, ("www-authenticate", "Bearer error=\"unterminated")],
            b,
        ));
        all.push(respond(
            ex(
                i as u64 + 100,
                i as u32,
                "GET",
                "https://api.example/x",
                &[("authorization", "Bearer eyJ.eyJ.x")],
                "",
            ),
            401,
            &[("www-authenticate", "=,\"\\"), ("date", "not a date")],
            b,
        ));
    }
    let _ = rules(&all);
}

#[test]
fn flow_state_stays_bounded_on_endless_grants() {
    use crate::oauth::timeline::MAX_TOKENS;
    let mut e = Engine::new("00ff", false);
    let n = MAX_TOKENS as u64 * 3;
    for i in 1..=n {
        let grant = respond(
            ex(
                i,
                (i % 60) as u32,
                "POST",
                "https://auth.example.com/token",
                &[FORM, ("authorization", "Basic Y2k6Y3M=")],
                "grant_type=client_credentials",
            ),
            200,
            &[JSON, ("cache-control", "no-store")],
            format!(r#"{{"access_token":"at-{i}","token_type":"Bearer","expires_in":3600}}"#)
                .as_bytes(),
        );
        e.push(&grant);
    }
    // Repeated client-credentials grants are one lineage, each token superseding the last.
    let state = &e.flow.state;
    assert_eq!(state.families.len(), 1);
    assert!(state.tokens.len() <= MAX_TOKENS, "{}", state.tokens.len());
    // The newest token is still known and live; the oldest was forgotten.
    let fpr = crate::capture::redact::Fingerprinter::new("00ff");
    let newest = state.token(&format!("at-{n}"), &fpr).expect("newest kept");
    assert!(newest.superseded_by.is_none());
    assert!(state.token("at-1", &fpr).is_none());
}

#[test]
fn a_token_in_a_cookie_or_custom_header_is_bearer_missing_and_github_200_errors_are_refusals() {
    let token = "at-cookie-0123456789abcdef";
    let issue = respond(
        ex(
            1,
            0,
            "POST",
            "https://auth.example.com/token",
            &[FORM],
            "grant_type=authorization_code&code=c&client_id=ci&client_secret=cs",
        ),
        200,
        &[JSON, ("cache-control", "no-store")],
        format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}}"#).as_bytes(),
    );
    let cookie = respond(
        ex(
            2,
            5,
            "GET",
            "https://api.example.com/me",
            &[("cookie", &format!("theme=dark; session_token={token}"))],
            "",
        ),
        401,
        &[("www-authenticate", r#"Bearer realm="api""#)],
        b"",
    );
    let r = rules(&[issue.clone(), cookie]);
    let (_, detail) = r
        .iter()
        .find(|(id, _)| *id == "bearer-missing")
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(detail.contains("the cookie `session_token`"), "{detail}");
    assert!(
        !detail.contains(token),
        "the token is shown by fingerprint only"
    );
    // GitHub answers a bad code with 200 and an `error` body.
    let gh = respond(
        ex(
            3,
            6,
            "POST",
            "https://github.com/login/oauth/access_token",
            &[FORM, ("accept", "application/json")],
            "client_id=ci&client_secret=cs&code=bad&grant_type=authorization_code",
        ),
        200,
        &[JSON],
        br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
    );
    let r = rules(&[gh]);
    let (_, detail) = r
        .iter()
        .find(|(id, _)| *id == "token-error")
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(detail.contains("HTTP 200"), "{detail}");
}

/// A token request over mutual TLS (certificate `issued_with`) answered with a JWT access
/// token bound to `bound`, then an API call presenting `presented`.
fn mtls_flow(
    issued_with: Option<&str>,
    bound: &str,
    presented: Option<crate::capture::ClientCert>,
) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let at = format!(
        "{}.{}.sig",
        b64(r#"{"alg":"RS256","typ":"at+jwt"}"#),
        b64(&format!(
            r#"{{"iss":"https://as.example","aud":"https://api.example","exp":4102444800,"cnf":{{"x5t#S256":"{bound}"}}}}"#
        ))
    );
    let mut t = respond(
        ex(
            1,
            0,
            "POST",
            "https://as.example/token",
            &[FORM, ("authorization", "Basic Y2k6Y3M=")],
            "grant_type=client_credentials",
        ),
        200,
        &[JSON, ("cache-control", "no-store")],
        format!(r#"{{"access_token":"{at}","token_type":"Bearer","expires_in":3600}}"#).as_bytes(),
    );
    t.client_cert = issued_with.map(|s| crate::capture::ClientCert {
        sha256: s.into(),
        subject: None,
        forwarded: true,
    });
    let mut call = respond(
        ex(
            2,
            5,
            "GET",
            "https://api.example/v1/me",
            &[("authorization", &format!("Bearer {at}"))],
            "",
        ),
        401,
        &[("www-authenticate", r#"Bearer error="invalid_token""#)],
        b"",
    );
    call.client_cert = presented;
    rules(&[t, call])
        .into_iter()
        .filter(|(id, _)| *id == "mtls-bound-token")
        .collect()
}

#[test]
fn certificate_bound_tokens_need_their_certificate() {
    let cert = |s: &str, forwarded: bool| crate::capture::ClientCert {
        sha256: s.into(),
        subject: Some("CN=other".into()),
        forwarded,
    };
    // Sent with no certificate, where the token request shows one.
    let r = mtls_flow(Some("AAA"), "AAA", None);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].1.contains("came without a client certificate"),
        "{r:?}"
    );
    assert!(r[0].1.contains("x5t#S256 AAA"), "{r:?}");
    // Sent with another certificate.
    let r = mtls_flow(Some("AAA"), "AAA", Some(cert("BBB", true)));
    assert!(
        r[0].1
            .contains("another client certificate (x5t#S256 BBB, CN=other)"),
        "{r:?}"
    );
    // The right certificate, but the proxy could not present it upstream.
    let r = mtls_flow(Some("AAA"), "AAA", Some(cert("AAA", false)));
    assert!(r[0].1.contains("no --client-identity"), "{r:?}");
    // The right certificate, presented: nothing to say.
    assert!(mtls_flow(Some("AAA"), "AAA", Some(cert("AAA", true))).is_empty());
    // A capture that records no certificates says nothing about a missing one.
    assert!(mtls_flow(None, "AAA", None).is_empty());
}

#[test]
fn a_pushed_request_uri_is_good_once_and_until_it_expires() {
    let uri = "urn:ietf:params:oauth:request_uri:abc";
    let push = respond(
        ex(
            1,
            0,
            "POST",
            "https://as.example/par",
            &[FORM, ("authorization", "Basic Y2k6Y3M=")],
            "response_type=code&client_id=ci&redirect_uri=https%3A%2F%2Fapp%2Fcb&state=s&code_challenge=x&code_challenge_method=S256",
        ),
        201,
        &[JSON],
        format!(r#"{{"request_uri":"{uri}","expires_in":60}}"#).as_bytes(),
    );
    let open = |id: u64, secs: u32, status: u16| {
        respond(
            ex(
                id,
                secs,
                "GET",
                &format!(
                    "https://as.example/authorize?client_id=ci&request_uri={}",
                    crate::wire::form_encode(uri)
                ),
                &[],
                "",
            ),
            status,
            &[("content-type", "text/plain")],
            if status == 400 {
                b"invalid_request_uri"
            } else {
                b""
            },
        )
    };
    let par = |exs: &[Exchange]| -> Vec<String> {
        rules(exs)
            .into_iter()
            .filter(|(id, _)| *id == "par-request-uri")
            .map(|(_, d)| d)
            .collect()
    };
    // Once, in time: nothing.
    assert!(par(&[push.clone(), open(2, 5, 302)]).is_empty());
    // Twice.
    let twice = par(&[push.clone(), open(2, 5, 302), open(3, 9, 400)]);
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert!(
        twice[0].contains("#1 pushed and #2 already used")
            && twice[0].contains("answered 400 (`invalid_request_uri`)"),
        "{twice:?}"
    );
    // Too late.
    let late = par(&[push.clone(), open(2, 75, 400)]);
    assert!(late[0].contains("expired after 1 min"), "{late:?}");
    // A request_uri the capture never saw pushed: nothing to say.
    assert!(par(&[open(2, 5, 400)]).is_empty());
}

#[test]
fn an_api_naming_its_resource_is_compared_with_the_token_audience() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let run = |aud: &str, hint: &str| {
        let at = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256"}"#),
            b64(&format!(r#"{{"aud":"{aud}","exp":4102444800}}"#))
        );
        let t = respond(
            ex(1, 0, "POST", "https://login.example/token", &[FORM], "grant_type=authorization_code&code=c&client_id=ci&client_secret=s&redirect_uri=https%3A%2F%2Fapp%2Fcb"),
            200,
            &[JSON, ("cache-control", "no-store")],
            format!(r#"{{"access_token":"{at}","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}}"#).as_bytes(),
        );
        let call = respond(
            ex(
                2,
                5,
                "GET",
                "https://org.crm.example/api/data/v9.2/accounts",
                &[("authorization", &format!("Bearer {at}"))],
                "",
            ),
            401,
            &[("www-authenticate", hint)],
            b"",
        );
        rules(&[t, call])
            .into_iter()
            .filter(|(id, _)| *id == "resource-mismatch")
            .map(|(_, d)| d)
            .collect::<Vec<_>>()
    };
    let hint = r#"Bearer authorization_uri=https://login.example/authorize, resource_id=https://org.crm.example/"#;
    let r = run("https://graph.example", hint);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].contains("`https://org.crm.example/`")
            && r[0].contains("`https://graph.example` (its `aud`)"),
        "{r:?}"
    );
    // The right audience (a trailing slash apart): nothing.
    assert!(run("https://org.crm.example", hint).is_empty());
    // No resource named by the API: nothing this rule can say.
    assert!(run("https://graph.example", r#"Bearer error="invalid_token""#).is_empty());
}

#[test]
fn mutual_tls_client_authentication_is_told_apart_from_a_public_client() {
    let disco = respond(
        ex(1, 0, "GET", "https://as.example/.well-known/openid-configuration", &[], ""),
        200,
        &[JSON],
        br#"{"issuer":"https://as.example","token_endpoint":"https://as.example/token","token_endpoint_auth_methods_supported":["self_signed_tls_client_auth"]}"#,
    );
    let token = |cert: bool| {
        let mut t = respond(
            ex(
                2,
                1,
                "POST",
                "https://as.example/token",
                &[FORM],
                "grant_type=authorization_code&code=c&client_id=ci&redirect_uri=https%3A%2F%2Fapp%2Fcb",
            ),
            200,
            &[JSON, ("cache-control", "no-store")],
            br#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}"#,
        );
        t.client_cert = cert.then(|| crate::capture::ClientCert {
            sha256: "AAA".into(),
            subject: None,
            forwarded: true,
        });
        t
    };
    let step = crate::oauth::classify::classify(&token(true), &Default::default());
    let crate::oauth::Step::Token(t) = step else {
        panic!("{step:?}")
    };
    assert_eq!(t.auth.name(), "tls_client_auth");
    let step = crate::oauth::classify::classify(&token(false), &Default::default());
    let crate::oauth::Step::Token(t) = step else {
        panic!("{step:?}")
    };
    assert_eq!(t.auth.name(), "none");
    // The metadata's self-signed variant covers it: no mismatch.
    let r = rules(&[disco, token(true)]);
    assert!(
        !r.iter().any(|(id, _)| *id == "client-auth-method-mismatch"),
        "{r:?}"
    );
}

#[test]
fn an_expired_device_code_says_only_what_the_polls_show() {
    let authorize = respond(
        ex(
            1,
            0,
            "POST",
            "https://as.example/device_authorization",
            &[FORM],
            "client_id=tv&scope=openid",
        ),
        200,
        &[JSON],
        br#"{"device_code":"dc-1","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device","expires_in":60,"interval":5}"#,
    );
    let poll = |id: u64, secs: u32, error: &str| {
        respond(
            ex(
                id,
                secs,
                "POST",
                "https://as.example/token",
                &[FORM],
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc-1&client_id=tv",
            ),
            400,
            &[JSON],
            format!(r#"{{"error":"{error}"}}"#).as_bytes(),
        )
    };
    let expired = |exs: &[Exchange]| -> Vec<String> {
        rules(exs)
            .into_iter()
            .filter(|(id, _)| *id == "device-code-expired")
            .map(|(_, d)| d)
            .collect()
    };
    // Polled on time, still pending, then expired: the user had not approved.
    let pending = expired(&[
        authorize.clone(),
        poll(2, 50, "authorization_pending"),
        poll(3, 61, "expired_token"),
    ]);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(
        pending[0].contains("gave its device code 1 min to live")
            && pending[0].contains("The poll before, #2, was answered `authorization_pending`"),
        "{pending:?}"
    );
    // The client's first poll came after the lifetime: no claim about the user.
    let late = expired(&[authorize.clone(), poll(2, 70, "expired_token")]);
    assert!(
        late[0].contains("first poll, made after the code's lifetime")
            && !late[0].contains("approved"),
        "{late:?}"
    );
    // A poll that is not answered expired_token is not this finding.
    assert!(expired(&[authorize, poll(2, 10, "authorization_pending")]).is_empty());
}

#[test]
fn a_refused_exchange_for_an_actor_the_subject_token_does_not_allow_says_so() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = |claims: &str| format!("{}.{}.c2ln", b64(r#"{"alg":"RS256"}"#), b64(claims));
    let subject = jwt(
        r#"{"sub":"user-7","iss":"https://as.example","may_act":{"sub":"svc-billing","iss":"https://as.example"}}"#,
    );
    let exchange = |actor_sub: &str, status: u16, answer: &str| {
        let actor = jwt(&format!(
            r#"{{"sub":"{actor_sub}","iss":"https://as.example"}}"#
        ));
        respond(
            ex(
                1,
                0,
                "POST",
                "https://as.example/token",
                &[FORM, ("authorization", "Basic Y2k6Y3M=")],
                &format!(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={subject}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&actor_token={actor}&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"
                ),
            ),
            status,
            &[JSON],
            answer.as_bytes(),
        )
    };
    let found = |e: Exchange| -> Vec<String> {
        rules(&[e])
            .into_iter()
            .filter(|(id, _)| *id == "token-exchange-request")
            .map(|(_, d)| d)
            .collect()
    };
    let refused = found(exchange(
        "svc-reports",
        400,
        r#"{"error":"invalid_request"}"#,
    ));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("`may_act` allows another party")
            && refused[0].contains("their `sub` differ")
            && refused[0].contains("refused this token exchange with `invalid_request`"),
        "{refused:?}"
    );
    // Neither party's name is printed.
    assert!(!refused[0].contains("svc-"), "{refused:?}");
    // The allowed actor, refused for another reason: not this.
    assert!(
        found(exchange(
            "svc-billing",
            400,
            r#"{"error":"invalid_request"}"#
        ))
        .is_empty()
    );
    // Accepted: the server decided; nothing to say about may_act.
    assert!(
        found(exchange(
            "svc-reports",
            200,
            r#"{"access_token":"x","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#
        ))
        .is_empty()
    );
}
