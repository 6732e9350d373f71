//! `oauthscope replay CAPTURE`: walk the captured flow again against the real service,
//! the way Microsoft's "Troubleshoot OAuth 2.0" checklist for custom connectors does by
//! hand: token endpoint, API with the token, refresh, API with the new token. It knows what
//! may not be re-sent (a code is single-use), puts this run's tokens where the captured
//! ones went (see [`super::lineage`]), records the replay as a new capture and compares
//! then with now.
//!
//! Long on purpose: the replay walk (what to send, in which order, with which token,
//! and what to record) is one loop.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::checklist::{Check, Checklist, Role};
use super::lineage::{Issued, Lineage, Policy, captured_issue};
use crate::capture::decode::RawBody;
use crate::capture::redact::masked_fp;
use crate::capture::{Exchange, Header, Response};
use crate::oauth::Step;
use crate::oauth::classify::{ClientAuth, Grant};
use crate::oauth::parse::{parse_form, url_origin};

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
    /// Fresh (replay) or mirror (demo): see [`Policy`].
    pub policy: Policy,
    /// Send to other origins (staging): `--target [FROM=]TO`.
    pub targets: Targets,
    /// The client certificate the replay offers (`--client-identity`), recorded on each
    /// exchange it sends.
    pub client_cert: Option<crate::capture::ClientCert>,
}

/// `--target` rules: requests to FROM (or to any origin) go to TO instead.
#[derive(Debug, Clone, Default)]
pub struct Targets(Vec<(Option<String>, String)>);

impl Targets {
    /// Parse `https://staging.example` or `https://api.example=https://staging.example`.
    pub fn parse(specs: &[String]) -> Result<Self, String> {
        let origin = |s: &str| -> Result<String, String> {
            let u: http::Uri = s
                .trim()
                .parse()
                .map_err(|e| format!("--target {s:?}: not a URL ({e})"))?;
            match (u.scheme_str(), u.authority()) {
                (Some(scheme @ ("http" | "https")), Some(a))
                    if u.path() == "/" || u.path().is_empty() =>
                {
                    Ok(format!("{scheme}://{a}"))
                }
                _ => Err(format!(
                    "--target {s:?}: give an origin such as https://staging.example:8443"
                )),
            }
        };
        let mut rules = Vec::new();
        for spec in specs {
            match spec.split_once('=') {
                Some((from, to)) => rules.push((Some(origin(from)?), origin(to)?)),
                None => rules.push((None, origin(spec)?)),
            }
        }
        Ok(Targets(rules))
    }

    /// The URL to send to.
    pub fn apply(&self, url: &str) -> String {
        let from = url_origin(url);
        for (f, to) in &self.0 {
            if f.as_deref().is_none_or(|f| f.eq_ignore_ascii_case(&from)) {
                return format!("{to}{}", &url[from.len().min(url.len())..]);
            }
        }
        url.to_string()
    }
}

/// One replayed (or skipped) exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: u64,
    /// Sent ahead of its place in the capture (a refresh before the first API call).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub early: bool,
    pub step: &'static str,
    pub method: String,
    pub url: String,
    pub then_status: Option<u16>,
    pub now_status: Option<u16>,
    /// Serialized as `same`, `changed: ...`, `skipped: why`, `failed: why`.
    pub verdict: Verdict,
}

/// Then versus now, for one replayed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same status and JSON shape.
    Same,
    /// Another status or JSON shape: what changed.
    Changed(String),
    /// Not sent: why.
    Skipped(String),
    /// Sent, and no answer (or the request could not be rebuilt): why.
    Failed(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Same => f.write_str("same"),
            Verdict::Changed(w) => write!(f, "changed: {w}"),
            Verdict::Skipped(w) => write!(f, "skipped: {w}"),
            Verdict::Failed(w) if w.is_empty() => f.write_str("failed"),
            Verdict::Failed(w) => write!(f, "failed: {w}"),
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
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

fn shape_change(then: &Option<Response>, now_status: u16, now_body: &[u8]) -> Verdict {
    let Some(t) = then else {
        return Verdict::Changed(format!("no response then, {now_status} now"));
    };
    if t.status != now_status {
        return Verdict::Changed(format!("status {} then, {now_status} now", t.status));
    }
    match (json_keys(&t.body.bytes()), json_keys(now_body)) {
        (Some(a), Some(b)) if a != b => {
            let missing: Vec<&String> = a.iter().filter(|k| !b.contains(k)).collect();
            let added: Vec<&String> = b.iter().filter(|k| !a.contains(k)).collect();
            Verdict::Changed(format!("JSON keys missing {missing:?}, added {added:?}"))
        }
        (Some(_), None) => Verdict::Changed("JSON then, not JSON now".into()),
        _ => Verdict::Same,
    }
}

/// Headers that belong to one connection, not to the request.
const HOP: [&str; 9] = [
    "host",
    "content-length",
    "connection",
    "proxy-connection",
    "proxy-authorization",
    "keep-alive",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// The request as it will be sent, or why it is not.
struct Prepared {
    url: String,
    headers: Vec<Header>,
    body: Vec<u8>,
}

/// A redacted value still in the request: which one, to say what to pass.
fn masked_left(p: &Prepared) -> Option<&'static str> {
    let mut values: Vec<(String, String)> = parse_form(&String::from_utf8_lossy(&p.body));
    values.extend(crate::oauth::parse::query_params(&p.url).0);
    for (k, v) in &values {
        if masked_fp(v).is_some() {
            return Some(match k.as_str() {
                "refresh_token" => "the refresh token is redacted: pass --refresh-token-env VAR",
                "client_secret" => "the client secret is redacted: pass --client-secret-env VAR",
                _ => "a secret in this request is redacted and no earlier step replaced it",
            });
        }
    }
    for h in &p.headers {
        let last = h.1.split_whitespace().last().unwrap_or("");
        if masked_fp(last).is_some() || masked_fp(&h.1).is_some() {
            return Some(if h.0.eq_ignore_ascii_case("authorization") {
                "the token is redacted and no earlier step of this replay issued a new one"
            } else {
                "a secret header is redacted in the capture"
            });
        }
    }
    None
}

/// Put the user's client secret (for a redacted capture) where the client sent it.
fn insert_client_secret(p: &mut Prepared, t: &crate::oauth::classify::TokenRequest, secret: &str) {
    let masked = t
        .client_secret
        .as_deref()
        .is_some_and(|s| masked_fp(s).is_some());
    if !masked {
        return;
    }
    if t.auth == ClientAuth::Post {
        let mask = t.client_secret.clone().unwrap_or_default();
        let body = String::from_utf8_lossy(&p.body).into_owned();
        let encoded = crate::wire::form_encode(&mask);
        p.body = body
            .replace(&encoded, &crate::wire::form_encode(secret))
            .replace(&mask, &crate::wire::form_encode(secret))
            .into_bytes();
    } else {
        use base64::Engine;
        let enc = crate::wire::form_encode;
        let id = t.client_id.clone().unwrap_or_default();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(&id),
            enc(secret)
        ));
        p.headers
            .retain(|h| !h.0.eq_ignore_ascii_case("authorization"));
        p.headers
            .push(Header("authorization".into(), format!("Basic {basic}")));
    }
}

/// Whether the request carries a credential (anything an attacker could use).
fn carries_credentials(p: &Prepared, step: &Step) -> bool {
    let secret_header = p.headers.iter().any(|h| {
        crate::capture::redact::is_secret_header(&h.0) || h.0.eq_ignore_ascii_case("cookie")
    });
    let secret_param = parse_form(&String::from_utf8_lossy(&p.body))
        .iter()
        .chain(crate::oauth::parse::query_params(&p.url).0.iter())
        .any(|(k, _)| crate::capture::redact::is_secret_param(k));
    secret_header || secret_param || matches!(step, Step::Token(_))
}

/// Put the first refresh ahead of the first API call, when the API calls come first: the
/// captured access token may have expired or been revoked by now. Returns the flow with
/// each entry marked early or not.
fn order(exchanges: Vec<(Exchange, Step)>, opts: &ReplayOptions) -> Vec<(Exchange, Step, bool)> {
    let is_api = |s: &Step| matches!(s, Step::ApiCall(_) | Step::UserInfo(_));
    let is_refresh = |s: &Step| matches!(s, Step::Token(t) if t.grant == Grant::RefreshToken);
    let first_api = exchanges.iter().position(|(_, s)| is_api(s));
    let first_refresh = exchanges.iter().position(|(_, s)| is_refresh(s));
    let mut flow: Vec<(Exchange, Step, bool)> =
        exchanges.into_iter().map(|(e, s)| (e, s, false)).collect();
    if opts.policy == Policy::Fresh && !opts.force {
        if let (Some(api), Some(refresh)) = (first_api, first_refresh) {
            if api < refresh {
                let (e, s, _) = flow[refresh].clone();
                flow.insert(api, (e, s, true));
            }
        }
    }
    flow
}

/// Run the replay; `record` receives each new exchange (for the replay capture).
pub async fn replay<C>(
    exchanges: Vec<(Exchange, Step)>,
    opts: &ReplayOptions,
    connector: C,
    bar: &indicatif::ProgressBar,
    mut record: impl FnMut(Exchange, RawBody, RawBody),
) -> (Vec<Outcome>, Vec<Check>)
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let client: Client<C, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut lineage = Lineage::new(
        opts.policy,
        exchanges.iter().map(|(e, s)| (e, s)),
        opts.refresh_token.clone(),
    );
    let flow = order(exchanges, opts);
    let mut outcomes = Vec::new();
    let mut checklist = Checklist::default();
    let mut next_id = 1u64;
    // The replay sends, not the captured client.
    let sender = super::send::Sender {
        name: "oauthscope replay",
        cert: opts.client_cert.clone(),
    };
    bar.set_length(flow.len() as u64);
    let mut last_start: Option<f64> = None;
    let shown_fpr = crate::capture::redact::Fingerprinter::new("00");
    for (ex, step, early) in flow {
        bar.inc(1);
        if opts.only_oauth && matches!(step, Step::Other) {
            continue;
        }
        if let Some(f) = &opts.filter {
            if !f.is_match(&ex.request.url) {
                continue;
            }
        }
        if opts.pace {
            let at = crate::oauth::timeline::unix_seconds(&ex.started);
            if let (Some(prev), Some(at)) = (last_start, at) {
                let gap = (at - prev).clamp(0.0, 5.0);
                tokio::time::sleep(std::time::Duration::from_secs_f64(gap)).await;
            }
            last_start = at.or(last_start);
        }
        let target = opts.targets.apply(&ex.request.url);
        let base = Outcome {
            id: ex.id,
            early,
            step: step.name(),
            method: ex.request.method.clone(),
            url: crate::capture::redact::redact_url(&shown_fpr, &target),
            then_status: ex.response.as_ref().map(|r| r.status),
            now_status: None,
            verdict: Verdict::Same,
        };
        let skip = |why: &str| Outcome {
            verdict: Verdict::Skipped(why.to_string()),
            ..base.clone()
        };
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
            _ => {}
        }
        let mut p = Prepared {
            url: ex.request.url.clone(),
            headers: ex
                .request
                .headers
                .iter()
                .filter(|h| !HOP.contains(&h.0.to_ascii_lowercase().as_str()))
                .cloned()
                .collect(),
            body: ex.request.body.bytes(),
        };
        lineage.substitute(&mut p.headers, &mut p.url, &mut p.body);
        if let (Step::Token(t), Some(secret)) = (&step, &opts.client_secret) {
            insert_client_secret(&mut p, t, secret);
        }
        if let Some(why) = masked_left(&p) {
            outcomes.push(skip(why));
            continue;
        }
        p.url = opts.targets.apply(&p.url);
        // A credential never travels over a weaker scheme than it was captured on.
        let downgraded = ex.request.url.starts_with("https://") && p.url.starts_with("http://");
        if downgraded && carries_credentials(&p, &step) {
            outcomes.push(skip(
                "it carries credentials captured over HTTPS and would go over plain HTTP",
            ));
            continue;
        }
        let out = super::send::Outgoing {
            method: ex.request.method.clone(),
            url: p.url.clone(),
            headers: p.headers,
            body: p.body,
        };
        let sent = match super::send::send(&client, &out).await {
            Ok(s) => s,
            Err(_) => {
                outcomes.push(Outcome {
                    verdict: Verdict::Failed("the captured request cannot be rebuilt".into()),
                    ..base
                });
                continue;
            }
        };
        let status = sent.status;
        // Learn what this answer issued in place of the captured one.
        let now_issued = match &step {
            Step::Token(_) if status.is_some_and(|s| (200..300).contains(&s)) => {
                Issued::from_token_body(&sent.plain)
            }
            Step::Token(_) => Issued::default(),
            _ => Issued::from_location(sent.header("location")),
        };
        lineage.learn(
            &url_origin(&ex.request.url),
            &captured_issue(&ex, &step),
            &now_issued,
        );
        let role = match &step {
            Step::Token(t) if t.grant == Grant::RefreshToken => Some(Role::Refresh),
            Step::Token(_) => Some(Role::Token),
            Step::ApiCall(_) | Step::UserInfo(_) => Some(Role::Api),
            _ => None,
        };
        if let Some(role) = role {
            checklist.saw(role, ex.id, status, now_issued.access.is_some());
        }
        let verdict = match (&sent.error, status) {
            (Some(e), _) => Verdict::Failed(e.message.clone()),
            (None, Some(s)) => shape_change(&ex.response, s, &sent.plain),
            _ => Verdict::Failed(String::new()),
        };
        let (now, req_raw, resp_raw) = super::send::record(&ex, next_id, out, sent, &sender);
        next_id += 1;
        record(now, req_raw, resp_raw);
        outcomes.push(Outcome {
            now_status: status,
            verdict,
            ..base
        });
    }
    (outcomes, checklist.finish())
}

#[cfg(test)]
mod tests;
