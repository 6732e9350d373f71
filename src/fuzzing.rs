//! Entry points for the fuzz targets (`fuzz/`) and their regression tests
//! (`tests/fuzz_regressions.rs`): each takes arbitrary bytes and runs one reader or parser
//! to its end. Bad input must give an error or an empty result, never a panic, a hang or
//! unbounded memory.

use crate::analyze::Engine;
use crate::capture::har::{EntryFacts, HarOptions, exchange_to_entry, read_har, redact_body};
use crate::capture::redact::{Fingerprinter, redact_url, redact_url_safe, sanitize_for_terminal};
use crate::capture::{Body, CaptureReader, Exchange, Header, Request, Response};
use crate::oauth::{classify, parse};

const SALT: &str = "fuzz-salt";

/// The capture reader, then every exchange it yields through the analyzers.
pub fn capture_reader(data: &[u8]) {
    let Ok(reader) = CaptureReader::new(data, "fuzz") else {
        return;
    };
    let mut engine = Engine::new(SALT, true);
    for ex in reader.flatten() {
        engine.push(&ex);
    }
    let _ = engine.finish();
}

/// The streaming HAR import, then the analyzers.
pub fn har_import(data: &[u8]) {
    let mut engine = Engine::new(SALT, true);
    let _ = read_har(data, "fuzz", |ex| {
        engine.push(&ex);
    });
    let _ = engine.finish();
}

/// Connector definitions read as JSON (apiProperties, Swagger, OpenAPI) and as TOML, then
/// linted.
pub fn connector(data: &[u8]) {
    for toml in [false, true] {
        if let Ok(c) = crate::connector::parse(data, "fuzz", toml) {
            let _ = crate::connector::lint::lint(&c);
        }
    }
}

/// The header, URL, form, JSON and JWT parsers, and the redaction of what they parse.
pub fn parsers(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let fpr = Fingerprinter::new(SALT);
    let _ = parse::form_decode(&s);
    let _ = parse::parse_form(&s);
    let _ = parse::query_params(&s).get("code");
    let _ = parse::fragment_params(&s).get("access_token");
    let _ = (
        parse::url_base(&s),
        parse::url_origin(&s),
        parse::url_host(&s),
    );
    let _ = parse::parse_authorization(&s);
    for c in parse::parse_www_authenticate(&s) {
        let _ = c.get("error");
    }
    if let Some(jwt) = parse::decode_jwt(&s) {
        let _ = (jwt.claim_i64("exp"), jwt.claim_str("iss"), jwt.audiences());
    }
    if let Some(doc) = parse::json_object(&s) {
        let _ = crate::oauth::jws::JwkSet::from_json(&doc);
    }
    // A JWS of any shape against keys of every type: a reason, never a panic.
    let keys = serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "r", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
        {"kty": "EC", "kid": "e", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty": "OKP", "kid": "d", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    ]});
    if let Some(set) = keys
        .as_object()
        .and_then(crate::oauth::jws::JwkSet::from_json)
    {
        let _ = crate::oauth::jws::check(&s, &set);
    }
    let _ = parse::json_object(&s);
    let _ = parse::needs_form_encoding(&s);
    let _ = (redact_url(&fpr, &s), redact_url_safe(&fpr, &s));
    let _ = sanitize_for_terminal(&s);
    for ct in [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
    ] {
        let _ = redact_body(&fpr, ct, &s);
    }
}

/// An exchange built from the input (fields split at NUL bytes: method, URL, request
/// headers, request body, status, response headers, response body) through the classifier,
/// the token-response reader, the analyzers and the HAR export, redacted and not.
pub fn classification(data: &[u8]) {
    let ex = exchange_from(data);
    let _ = classify::token_response(&ex);
    let mut engine = Engine::new(SALT, true);
    let step = engine.push(&ex);
    let mut again = ex.clone();
    again.id += 1;
    engine.push(&again);
    let findings = engine.finish().findings;
    let facts = EntryFacts {
        hints: crate::oauth::hints::of(
            &ex,
            &step,
            0.0,
            &Default::default(),
            &Fingerprinter::new(SALT),
        ),
        step: step.name().to_string(),
        token_fps: crate::oauth::display::token_fps(&step, &Fingerprinter::new(SALT)),
        findings: findings.iter().map(|f| f.rule.to_string()).collect(),
    };
    for redact in [true, false] {
        let opts = HarOptions {
            redact: redact.then(|| Fingerprinter::new(SALT)),
            salt: None,
            known: None,
        };
        let _ = exchange_to_entry(&ex, &facts, &opts);
    }
}

fn exchange_from(data: &[u8]) -> Exchange {
    let mut f = data.split(|b| *b == 0);
    let mut text = || String::from_utf8_lossy(f.next().unwrap_or_default()).into_owned();
    let (method, url, req_headers, req_body) = (text(), text(), text(), text());
    let (status, res_headers, res_body) = (text(), text(), text());
    let headers = |s: &str| -> Vec<Header> {
        s.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| Header(n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect()
    };
    let body = |s: &str| Body::from_bytes(s.as_bytes(), s.len() as u64, false);
    Exchange {
        id: 1,
        conn: 1,
        kind: Default::default(),
        client: "127.0.0.1:1".into(),
        started: "2026-01-01T00:00:00.000000Z".into(),
        timings: Default::default(),
        request: Request {
            method,
            url,
            version: "HTTP/1.1".into(),
            headers: headers(&req_headers),
            body: body(&req_body),
        },
        response: status.trim().parse().ok().map(|status| Response {
            status,
            version: "HTTP/1.1".into(),
            headers: headers(&res_headers),
            body: body(&res_body),
        }),
        error: None,
        incomplete: false,
        relay: None,
        hints: None,
        client_cert: None,
    }
}
