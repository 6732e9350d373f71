//! One exchange in detail, for the web view and `oauthscope show`: headers, bodies
//! pretty-printed (JSON, form), the JWTs it carries decoded (header and claims, expiry
//! in local time and relative to the exchange), and the tokens it carries with where each
//! came from and went. Secrets are masked unless `reveal` is asked for.

use serde_json::{Value, json};

use crate::capture::redact::Fingerprinter;
use crate::capture::secrets::{Known, Policy};
use crate::capture::{Body, Exchange, Header};
use crate::oauth::timeline::{FlowState, unix_seconds};

/// What the detail needs of the flow.
pub struct Context<'a> {
    pub state: &'a FlowState,
    pub fpr: &'a Fingerprinter,
    pub known: &'a Known,
    pub step: &'a str,
    /// Show secrets in clear.
    pub reveal: bool,
}

/// Masks what is shown, unless the values are to be revealed.
struct Shown<'a> {
    pol: Policy<'a>,
    reveal: bool,
}

impl Shown<'_> {
    fn url(&mut self, u: &str) -> String {
        if self.reveal {
            u.into()
        } else {
            self.pol.url(u, false)
        }
    }
    fn header(&mut self, name: &str, v: &str) -> String {
        if self.reveal {
            v.into()
        } else {
            self.pol.header(name, v, false)
        }
    }
    fn body(&mut self, content_type: &str, t: &str) -> String {
        if self.reveal {
            t.into()
        } else {
            self.pol.body(content_type, t)
        }
    }
    fn text(&mut self, t: &str) -> String {
        if self.reveal {
            t.into()
        } else {
            self.pol.text(t)
        }
    }
    fn headers(&mut self, hs: &[Header]) -> Vec<Value> {
        hs.iter()
            .map(|h| json!([h.0, self.header(&h.0, &h.1)]))
            .collect()
    }
}

/// The exchange as the web view's detail pane and `show` render it.
pub fn detail(ex: &Exchange, cx: &Context<'_>) -> Value {
    let mut shown = Shown {
        pol: Policy {
            fpr: cx.fpr,
            known: Some(cx.known),
            found: None,
        },
        reveal: cx.reveal,
    };
    let url = shown.url(&ex.request.url);
    let req_headers = shown.headers(&ex.request.headers);
    let req_ct = ex.request.header("content-type").unwrap_or("").to_string();
    let req_body = body_view(&ex.request.body, &req_ct, &mut shown);
    let response = ex.response.as_ref().map(|r| {
        let ct = r.header("content-type").unwrap_or("").to_string();
        json!({
            "status": r.status,
            "version": r.version,
            "headers": shown.headers(&r.headers),
            "body": body_view(&r.body, &ct, &mut shown),
        })
    });
    let error = ex.error.as_ref().map(|e| {
        json!({
            "kind": e.kind.name(),
            "message": shown.text(&e.message),
            "hint": e.hint.as_deref().map(|h| shown.text(h)),
        })
    });
    let at = unix_seconds(&ex.started);
    let (jwts, tokens) = tokens_of(ex, cx, at);
    json!({
        "id": ex.id,
        "started": ex.started,
        "kind": ex.kind,
        "client": ex.client,
        "client_cert": ex.client_cert,
        "step": cx.step,
        "duration_ms": ex.timings.end,
        "request": {
            "method": ex.request.method,
            "url": url,
            "version": ex.request.version,
            "headers": req_headers,
            "body": req_body,
        },
        "response": response,
        "error": error,
        "jwts": jwts,
        "tokens": tokens,
        "revealed": cx.reveal,
    })
}

/// A body as the view shows it: JSON pretty-printed, a form one field a line.
fn body_view(b: &Body, content_type: &str, shown: &mut Shown<'_>) -> Value {
    let (kind, pretty) = match b.as_text() {
        None if b.size == 0 => ("empty", String::new()),
        None => ("binary", String::new()),
        Some(t) => {
            let masked = shown.body(content_type, t);
            let trimmed = masked.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                match serde_json::from_str::<Value>(&masked) {
                    Ok(v) => ("json", serde_json::to_string_pretty(&v).unwrap_or(masked)),
                    Err(_) => ("text", masked),
                }
            } else if content_type.contains("x-www-form-urlencoded") {
                let lines: Vec<String> = crate::wire::parse_form(&masked)
                    .into_iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                ("form", lines.join("\n"))
            } else {
                ("text", masked)
            }
        }
    };
    json!({
        "size": b.size,
        "truncated": b.truncated,
        "content_type": content_type,
        "kind": kind,
        "text": pretty,
        "decoded_from": b.decoded.as_ref().map(|_| "content-encoding"),
    })
}

/// Token values an exchange carries: where, and the value.
fn carried(ex: &Exchange) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(a) = ex.request.header("authorization") {
        if let Some((scheme, v)) = a.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop") {
                out.push((format!("Authorization: {scheme}"), v.trim().to_string()));
            }
        }
    }
    let req_text = ex.request.body.as_text().unwrap_or("");
    for (k, v) in crate::wire::parse_form(req_text) {
        if matches!(
            k.as_str(),
            "refresh_token" | "assertion" | "client_assertion" | "subject_token" | "token"
        ) {
            out.push((format!("request {k}"), v));
        }
    }
    if let Some(obj) = ex
        .response
        .as_ref()
        .and_then(|r| r.body.as_text())
        .and_then(crate::oauth::parse::json_object)
    {
        for k in [
            "access_token",
            "id_token",
            "refresh_token",
            "issued_token_type",
        ] {
            if let Some(v) = obj.get(k).and_then(Value::as_str) {
                out.push((format!("response {k}"), v.to_string()));
            }
        }
    }
    out
}

fn tokens_of(ex: &Exchange, cx: &Context<'_>, at: Option<f64>) -> (Vec<Value>, Vec<Value>) {
    let mut jwts = Vec::new();
    let mut tokens = Vec::new();
    for (place, value) in carried(ex) {
        let fp = crate::oauth::oidc::token_fp(cx.fpr, &value);
        let shown_value = if cx.reveal {
            value.clone()
        } else {
            cx.fpr.mask(&value)
        };
        if let Some(jwt) = crate::oauth::parse::decode_jwt(&value) {
            let exp = jwt.claim_i64("exp");
            jwts.push(json!({
                "where": place,
                "fp": fp,
                "header": jwt.header,
                "claims": jwt.claims,
                "expires": exp.map(local_time),
                "expires_relative": exp.zip(at).map(|(e, a)| relative(e as f64 - a)),
            }));
        }
        let info = cx.state.tokens.get(&fp);
        tokens.push(json!({
            "where": place,
            "fp": fp,
            "value": shown_value,
            "kind": info.map(|i| format!("{:?}", i.kind).to_ascii_lowercase()),
            "issued_by": info.map(|i| i.issued_by),
            "lifetime_s": info.and_then(|i| i.lifetime),
            "uses": info.map(|i| i.uses),
            "failures": info.map(|i| i.failures),
            "first_401": info.and_then(|i| i.first_401).map(|(id, _)| id),
            "superseded_by": info.and_then(|i| i.superseded_by.clone()),
        }));
    }
    (jwts, tokens)
}

/// Unix seconds in the local time zone (UTC when it cannot be known).
fn local_time(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return unix.to_string();
    };
    let t = local_offset(unix).map(|o| t.to_offset(o)).unwrap_or(t);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
    );
    t.format(fmt).unwrap_or_else(|_| unix.to_string())
}

/// `+3600` → `expires 1 h after this exchange`; negative: `expired ... before`.
fn relative(secs: f64) -> String {
    let d = crate::oauth::display::human_duration(secs.abs());
    if secs >= 0.0 {
        format!("expires {d} after this exchange")
    } else {
        format!("expired {d} before this exchange")
    }
}

/// The local time zone's offset at `unix` (the `TZ` the process runs with).
fn local_offset(unix: i64) -> Option<time::UtcOffset> {
    let t = unix as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value; localtime_r writes into it and reads `t`,
    // both ours, and is thread-safe.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return None;
    }
    time::UtcOffset::from_whole_seconds(i32::try_from(tm.tm_gmtoff).ok()?).ok()
}
