//! `oauthscope replay CAPTURE`: walk the captured flow again against the real service,
//! the way the seed's manual procedure does: token endpoint, API with the token, refresh,
//! API with the new token. It knows what may not be re-sent (a code is single-use), takes
//! the newest refresh token, puts freshly issued tokens into later calls, records the
//! replay as a new capture and compares then with now.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::capture::decode::RawBody;
use crate::capture::redact::masked_fp;
use crate::capture::{Exchange, Header, Response};
use crate::oauth::Step;
use crate::oauth::classify::{Grant, classify_response_json};

/// What to replay and with which secrets.
pub struct ReplayOptions {
    pub only_oauth: bool,
    pub filter: Option<regex::Regex>,
    pub force: bool,
    /// Send authorize requests and callbacks too (the demo plays the browser).
    pub browser_steps: bool,
    /// Keep the captured pauses between requests (up to 5 s each).
    pub pace: bool,
    pub refresh_token: Option<String>,
    pub client_secret: Option<String>,
}

/// One replayed (or skipped) exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: u64,
    pub step: &'static str,
    pub method: String,
    pub url: String,
    pub then_status: Option<u16>,
    pub now_status: Option<u16>,
    /// `same`, `changed: ...`, `skipped: why`, `failed: why`.
    pub verdict: String,
}

/// The seed's checklist as the replay saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub step: u8,
    pub what: &'static str,
    pub result: &'static str,
    pub why: String,
}

fn json_keys(body: &[u8]) -> Option<Vec<String>> {
    match serde_json::from_slice::<serde_json::Value>(body).ok()? {
        serde_json::Value::Object(m) => {
            let mut k: Vec<String> = m.keys().cloned().collect();
            k.sort();
            Some(k)
        }
        _ => None,
    }
}

fn shape_change(then: &Option<Response>, now_status: u16, now_body: &[u8]) -> String {
    let Some(t) = then else {
        return format!("changed: no response then, {now_status} now");
    };
    if t.status != now_status {
        return format!("changed: status {} then, {now_status} now", t.status);
    }
    match (json_keys(&t.body.bytes()), json_keys(now_body)) {
        (Some(a), Some(b)) if a != b => {
            let missing: Vec<&String> = a.iter().filter(|k| !b.contains(k)).collect();
            let added: Vec<&String> = b.iter().filter(|k| !a.contains(k)).collect();
            format!("changed: JSON keys missing {missing:?}, added {added:?}")
        }
        (Some(_), None) => "changed: JSON then, not JSON now".into(),
        _ => "same".into(),
    }
}

/// Replace a form parameter's value (or add it).
fn set_form(body: &str, key: &str, value: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut found = false;
    let mut parts: Vec<String> = body
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k == key => {
                found = true;
                format!("{k}={}", enc(value))
            }
            _ => p.to_string(),
        })
        .collect();
    if !found {
        parts.push(format!("{key}={}", enc(value)));
    }
    parts.join("&")
}

/// Run the replay; `record` receives each new exchange (for the replay capture).
pub async fn replay<C>(
    mut exchanges: Vec<(Exchange, Step)>,
    opts: &ReplayOptions,
    connector: C,
    bar: &indicatif::ProgressBar,
    mut record: impl FnMut(Exchange, RawBody, RawBody),
) -> (Vec<Outcome>, Vec<Check>)
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let client: Client<C, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    // The newest refresh token of the capture (or the one given).
    let mut refresh_token = opts.refresh_token.clone().or_else(|| {
        exchanges.iter().rev().find_map(|(_, s)| match s {
            Step::Token(t) => t
                .response
                .as_ref()
                .and_then(|r| r.refresh_token.clone())
                .filter(|r| masked_fp(r).is_none()),
            _ => None,
        })
    });
    // The code exchange cannot be replayed, and the captured access token may be revoked
    // by now: refresh first so the API calls run with a token issued today.
    let is_api = |s: &Step| matches!(s, Step::ApiCall(_) | Step::UserInfo(_));
    let is_refresh = |s: &Step| matches!(s, Step::Token(t) if t.grant == Grant::RefreshToken);
    let first_api = exchanges.iter().position(|(_, s)| is_api(s));
    let first_refresh = exchanges.iter().position(|(_, s)| is_refresh(s));
    if let (Some(api), Some(refresh), Some(_)) = (first_api, first_refresh, &refresh_token) {
        if api < refresh && !opts.force {
            let early = exchanges[refresh].clone();
            exchanges.insert(api, early);
        }
    }
    let mut access_token: Option<String> = None;
    let mut outcomes = Vec::new();
    let mut checks: Vec<Check> = Vec::new();
    let mut api_before_refresh: Option<bool> = None;
    let mut refreshed = false;
    let mut api_after_refresh: Option<bool> = None;
    let mut next_id = 1u64;
    bar.set_length(exchanges.len() as u64);
    let mut last_start: Option<f64> = None;
    for (ex, step) in exchanges {
        bar.inc(1);
        if opts.pace {
            let at = crate::oauth::timeline::unix_seconds(&ex.started);
            if let (Some(prev), Some(at)) = (last_start, at) {
                let gap = (at - prev).clamp(0.0, 5.0);
                tokio::time::sleep(std::time::Duration::from_secs_f64(gap)).await;
            }
            last_start = at.or(last_start);
        }
        let base = Outcome {
            id: ex.id,
            step: step.name(),
            method: ex.request.method.clone(),
            url: crate::capture::redact::redact_url(
                &crate::capture::redact::Fingerprinter::new("00"),
                &ex.request.url,
            ),
            then_status: ex.response.as_ref().map(|r| r.status),
            now_status: None,
            verdict: String::new(),
        };
        let skip = |why: &str| Outcome {
            verdict: format!("skipped: {why}"),
            ..base.clone()
        };
        if opts.only_oauth && matches!(step, Step::Other) {
            continue;
        }
        if let Some(f) = &opts.filter {
            if !f.is_match(&ex.request.url) {
                continue;
            }
        }
        let mut headers: Vec<Header> = ex
            .request
            .headers
            .iter()
            .filter(|h| {
                ![
                    "host",
                    "content-length",
                    "connection",
                    "proxy-connection",
                    "proxy-authorization",
                    "keep-alive",
                    "te",
                    "transfer-encoding",
                    "upgrade",
                ]
                .contains(&h.0.to_ascii_lowercase().as_str())
            })
            .cloned()
            .collect();
        let mut body = ex.request.body.bytes();
        let mut url = ex.request.url.clone();
        match &step {
            Step::Callback(_) | Step::Authorize(_) if !opts.browser_steps => {
                outcomes.push(skip("a browser step: the user signs in, not a replay"));
                continue;
            }
            Step::Token(t) if t.grant == Grant::AuthorizationCode && !opts.force => {
                outcomes.push(skip(
                    "an authorization code is single-use; --force sends it anyway",
                ));
                continue;
            }
            Step::Token(t) if t.grant == Grant::RefreshToken => {
                let Some(rt) = refresh_token.clone() else {
                    outcomes.push(skip(
                        "no refresh token in clear: pass --refresh-token-env VAR",
                    ));
                    continue;
                };
                let mut text = set_form(&String::from_utf8_lossy(&body), "refresh_token", &rt);
                if t.client_secret
                    .as_deref()
                    .is_some_and(|s| masked_fp(s).is_some())
                {
                    match &opts.client_secret {
                        Some(s) if t.auth == crate::oauth::classify::ClientAuth::Post => {
                            text = set_form(&text, "client_secret", s)
                        }
                        Some(s) => {
                            use base64::Engine;
                            let id = t.client_id.clone().unwrap_or_default();
                            let basic = base64::engine::general_purpose::STANDARD
                                .encode(format!("{id}:{s}"));
                            headers.retain(|h| !h.0.eq_ignore_ascii_case("authorization"));
                            headers.push(Header("authorization".into(), format!("Basic {basic}")));
                        }
                        None => {
                            outcomes.push(skip(
                                "the client secret is redacted: pass --client-secret-env VAR",
                            ));
                            continue;
                        }
                    }
                }
                body = text.into_bytes();
            }
            Step::ApiCall(_) | Step::UserInfo(_) => {
                if let Some(at) = &access_token {
                    // The new token, placed where and how the client placed the old one.
                    for h in headers
                        .iter_mut()
                        .filter(|h| h.0.eq_ignore_ascii_case("authorization"))
                    {
                        h.1 = match h.1.rsplit_once(' ') {
                            Some((scheme, _)) => format!("{scheme} {at}"),
                            None => at.clone(),
                        };
                    }
                    if let Some((base, q)) = url.split_once('?') {
                        if q.split('&').any(|p| p.starts_with("access_token=")) {
                            let q: Vec<String> = q
                                .split('&')
                                .map(|p| {
                                    if p.starts_with("access_token=") {
                                        format!("access_token={at}")
                                    } else {
                                        p.to_string()
                                    }
                                })
                                .collect();
                            url = format!("{base}?{}", q.join("&"));
                        }
                    }
                } else if headers.iter().any(|h| {
                    h.0.eq_ignore_ascii_case("authorization")
                        && masked_fp(h.1.split_whitespace().last().unwrap_or("")).is_some()
                }) {
                    outcomes.push(skip(
                        "the access token is redacted and no refresh was replayed before this call",
                    ));
                    continue;
                }
            }
            _ => {}
        }
        let mut req = hyper::Request::builder()
            .method(ex.request.method.as_str())
            .uri(url.as_str());
        for h in &headers {
            req = req.header(h.0.as_str(), h.1.as_str());
        }
        let Ok(req) = req.body(Full::new(Bytes::from(body.clone()))) else {
            outcomes.push(Outcome {
                verdict: "failed: the captured request cannot be rebuilt".into(),
                ..base
            });
            continue;
        };
        let started = crate::capture::now_rfc3339();
        let t0 = Instant::now();
        let (status, resp_headers, resp_body, error) = match client.request(req).await {
            Ok(res) => {
                let status = res.status().as_u16();
                let hs: Vec<Header> = res
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        Header(
                            n.to_string(),
                            crate::capture::header_value_string(v.as_bytes()),
                        )
                    })
                    .collect();
                let body = res
                    .into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes().to_vec())
                    .unwrap_or_default();
                (Some(status), hs, body, None)
            }
            Err(e) => (
                None,
                Vec::new(),
                Vec::new(),
                Some(crate::proxy::handler::classify_upstream_error(&e)),
            ),
        };
        let elapsed = t0.elapsed().as_secs_f64() * 1000.0;
        // Learn the new tokens.
        if let (Step::Token(_), Some(s)) = (&step, status) {
            if (200..300).contains(&s) {
                if let Some((at, rt)) = classify_response_json(&resp_body) {
                    if at.is_some() {
                        access_token = at;
                    }
                    if rt.is_some() {
                        refresh_token = rt;
                    }
                }
            }
        }
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        match &step {
            Step::Token(t) if t.grant == Grant::RefreshToken => {
                refreshed = true;
                checks.push(Check {
                    step: 3,
                    what: "refresh returns a new access token",
                    result: if ok && access_token.is_some() {
                        "passed"
                    } else {
                        "failed"
                    },
                    why: format!(
                        "refresh answered {}",
                        status
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "nothing".into())
                    ),
                });
            }
            Step::Token(_) => checks.push(Check {
                step: 1,
                what: "the token endpoint returns an access token",
                result: if ok { "passed" } else { "failed" },
                why: format!(
                    "answered {}",
                    status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "nothing".into())
                ),
            }),
            Step::ApiCall(_) | Step::UserInfo(_) => {
                if refreshed {
                    api_after_refresh.get_or_insert(ok);
                } else {
                    api_before_refresh.get_or_insert(ok);
                }
            }
            _ => {}
        }
        let verdict = match (&error, status) {
            (Some(e), _) => format!("failed: {}", e.message),
            (None, Some(s)) => shape_change(&ex.response, s, &resp_body),
            _ => "failed".into(),
        };
        let mut now = ex.clone();
        now.id = next_id;
        next_id += 1;
        now.started = started;
        now.timings = crate::capture::Timings {
            request_sent: None,
            response_start: None,
            end: Some(elapsed),
        };
        now.request.headers = headers;
        now.response = status.map(|s| Response {
            status: s,
            version: "HTTP/1.1".into(),
            headers: resp_headers,
            body: Default::default(),
        });
        now.error = error;
        let req_raw = RawBody {
            size: body.len() as u64,
            bytes: body,
            ..RawBody::default()
        };
        let resp_raw = RawBody {
            size: resp_body.len() as u64,
            bytes: resp_body,
            ..RawBody::default()
        };
        record(now, req_raw, resp_raw);
        outcomes.push(Outcome {
            now_status: status,
            verdict,
            ..base
        });
    }
    let tri = |v: Option<bool>| match v {
        Some(true) => "passed",
        Some(false) => "failed",
        None => "skipped",
    };
    if !checks.iter().any(|c| c.step == 1) {
        checks.push(Check {
            step: 1,
            what: "the token endpoint returns an access token",
            result: if refreshed { "passed" } else { "skipped" },
            why: if refreshed {
                "shown by the refresh (the code exchange is single-use)".into()
            } else {
                "no token request could be replayed".into()
            },
        });
    }
    checks.push(Check {
        step: 2,
        what: "an API call with the token in Authorization: Bearer works",
        result: tri(api_before_refresh.or(api_after_refresh)),
        why: "first API call of the replay".into(),
    });
    if !refreshed {
        checks.push(Check {
            step: 3,
            what: "refresh returns a new access token",
            result: "skipped",
            why: "no refresh could be replayed".into(),
        });
    }
    checks.push(Check {
        step: 4,
        what: "the API works with the new access token",
        result: if refreshed {
            tri(api_after_refresh)
        } else {
            "skipped"
        },
        why: "API calls after the refresh, with its token".into(),
    });
    checks.sort_by_key(|c| c.step);
    (outcomes, checks)
}
