//! HAR export: complete HAR 1.2, entry by entry, redacted unless asked not to.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::capture::redact::Fingerprinter;
use crate::capture::secrets::Policy;
use crate::capture::{Body, Exchange, Header, Kind};
/// Mask secrets in a body by the one policy (see [`crate::capture::secrets`]).
pub fn redact_body(fpr: &Fingerprinter, content_type: &str, text: &str) -> String {
    Policy::new(fpr).body(content_type, text)
}

/// How to write a HAR.
pub struct HarOptions {
    /// `None` keeps secrets in clear (`--no-redact`).
    pub redact: Option<Fingerprinter>,
    /// The capture's fingerprint salt, written into the log of a `--no-redact` export so a
    /// re-import fingerprints alike (a redacted export leaves it out).
    pub salt: Option<String>,
    /// Values recognised as secrets anywhere in the capture, masked wherever they
    /// appear.
    pub known: Option<crate::capture::secrets::Known>,
}

impl HarOptions {
    fn policy(&self) -> Option<Policy<'_>> {
        self.redact.as_ref().map(|fpr| Policy {
            fpr,
            known: self.known.as_ref(),
            found: None,
        })
    }
}

/// Per-entry analysis facts for `_oauthscope`.
#[derive(Debug, Default, Clone)]
pub struct EntryFacts {
    pub step: String,
    pub token_fps: Vec<String>,
    pub findings: Vec<String>,
    /// What the analysis needs and the redaction hides (`_oauthscope.oauth`).
    pub hints: Option<crate::capture::Hints>,
}

/// Writes a HAR entry by entry (the whole log is never held in memory).
pub struct HarWriter<W: Write> {
    out: W,
    opts: HarOptions,
    first: bool,
}

impl<W: Write> HarWriter<W> {
    pub fn new(mut out: W, opts: HarOptions) -> std::io::Result<Self> {
        let salt = match (&opts.redact, &opts.salt) {
            (None, Some(s)) => format!("\"_oauthscope\":{{\"salt\":\"{s}\"}},"),
            _ => String::new(),
        };
        write!(
            out,
            "{{\"log\":{{\"version\":\"1.2\",{salt}\"creator\":{{\"name\":\"oauthscope\",\"version\":\"{}\"}},\"pages\":[],\"entries\":[",
            env!("CARGO_PKG_VERSION")
        )?;
        Ok(HarWriter {
            out,
            opts,
            first: true,
        })
    }

    pub fn entry(&mut self, ex: &Exchange, facts: &EntryFacts) -> std::io::Result<()> {
        let v = exchange_to_entry(ex, facts, &self.opts);
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, &v)?;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.write_all(b"\n]}}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn header_list(headers: &[Header], pol: &mut Option<Policy>) -> Vec<Value> {
    headers
        .iter()
        .map(|h| {
            let value = match pol {
                Some(p) => p.header(&h.0, &h.1, true),
                None => h.1.clone(),
            };
            json!({"name": h.0, "value": value})
        })
        .collect()
}

fn cookies(headers: &[Header], name: &str, pol: &mut Option<Policy>) -> Vec<Value> {
    let mut out = Vec::new();
    for h in headers.iter().filter(|h| h.0.eq_ignore_ascii_case(name)) {
        let parts: Vec<&str> = if name == "cookie" {
            h.1.split(';').collect()
        } else {
            vec![h.1.split(';').next().unwrap_or("")]
        };
        for p in parts {
            if let Some((k, v)) = p.trim().split_once('=') {
                let v = match pol {
                    Some(pol) => pol.fpr.mask(v),
                    None => v.to_string(),
                };
                out.push(json!({"name": k.trim(), "value": v}));
            }
        }
    }
    out
}

/// A body for the HAR: text, or base64 for binary. Redacted, a body that is not UTF-8
/// is read as Latin-1 so its secrets are found and masked too (then written as text).
fn body_content(
    body: &Body,
    content_type: &str,
    pol: &mut Option<Policy>,
) -> (Option<String>, Option<&'static str>) {
    let bytes = body.bytes();
    if bytes.is_empty() {
        return (None, None);
    }
    match (std::str::from_utf8(&bytes), pol) {
        (Ok(t), Some(p)) => (Some(p.body(content_type, t)), None),
        (Ok(t), None) => (Some(t.to_string()), None),
        (Err(_), Some(p)) => {
            let latin1: String = bytes.iter().map(|&b| b as char).collect();
            let masked = p.body(content_type, &latin1);
            if masked == latin1 {
                (Some(B64.encode(&bytes)), Some("base64"))
            } else {
                (Some(masked), None)
            }
        }
        (Err(_), None) => (Some(B64.encode(&bytes)), Some("base64")),
    }
}

/// One exchange as a HAR 1.2 entry.
pub fn exchange_to_entry(ex: &Exchange, facts: &EntryFacts, opts: &HarOptions) -> Value {
    let mut pol = opts.policy();
    let url = match &mut pol {
        Some(p) => p.url(&ex.request.url, true),
        None => ex.request.url.clone(),
    };
    let query: Vec<Value> = crate::wire::query_params(&url)
        .0
        .into_iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let req_ct = ex.request.header("content-type").unwrap_or("").to_string();
    let mut request = json!({
        "method": ex.request.method,
        "url": url,
        "httpVersion": ex.request.version,
        "cookies": cookies(&ex.request.headers, "cookie", &mut pol),
        "headers": header_list(&ex.request.headers, &mut pol),
        "queryString": query,
        "headersSize": -1,
        "bodySize": ex.request.body.size,
    });
    if let (Some(text), _) = body_content(&ex.request.body, &req_ct, &mut pol) {
        let mut post = json!({"mimeType": req_ct, "text": text});
        if req_ct.contains("x-www-form-urlencoded") {
            post["params"] = Value::Array(
                crate::wire::parse_form(&text)
                    .into_iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect(),
            );
        }
        request["postData"] = post;
    }
    let response = match &ex.response {
        Some(r) => {
            let ct = r.header("content-type").unwrap_or("").to_string();
            let (text, encoding) = body_content(&r.body, &ct, &mut pol);
            let decoded = r.body.decoded.as_ref().map(|d| d.size);
            let mut content = json!({
                "size": decoded.unwrap_or(r.body.size),
                "mimeType": if ct.is_empty() { "x-unknown".to_string() } else { ct.clone() },
            });
            if let Some(d) = decoded {
                content["compression"] = json!(d as i64 - r.body.size as i64);
            }
            if let Some(t) = text {
                content["text"] = json!(t);
            }
            if let Some(e) = encoding {
                content["encoding"] = json!(e);
            }
            json!({
                "status": r.status,
                "statusText": http::StatusCode::from_u16(r.status).ok().and_then(|c| c.canonical_reason()).unwrap_or(""),
                "httpVersion": r.version,
                "cookies": cookies(&r.headers, "set-cookie", &mut pol),
                "headers": header_list(&r.headers, &mut pol),
                "content": content,
                "redirectURL": r.header("location").map(|l| match &mut pol { Some(p) => p.url(l, true), None => l.to_string() }).unwrap_or_default(),
                "headersSize": -1,
                "bodySize": r.body.size,
            })
        }
        None => json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
        }),
    };
    let t = &ex.timings;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let send = round(t.request_sent.unwrap_or(0.0));
    let wait = round(t.response_start.map(|r| (r - send).max(0.0)).unwrap_or(0.0));
    let receive = match (t.end, t.response_start) {
        (Some(e), Some(r)) => round((e - r).max(0.0)),
        _ => 0.0,
    };
    let mut entry = json!({
        "startedDateTime": ex.started,
        "time": round(send + wait + receive),
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": send, "wait": wait, "receive": receive},
        "connection": ex.conn.to_string(),
    });
    let mut custom = json!({"id": ex.id, "step": facts.step, "tokens": facts.token_fps, "findings": facts.findings});
    if ex.kind != Kind::Http {
        custom["kind"] = json!(ex.kind);
    }
    if let Some(e) = &ex.error {
        let message = match &mut pol {
            Some(p) => p.text(&e.message),
            None => e.message.clone(),
        };
        custom["error"] = json!({"kind": e.kind, "message": message});
        entry["_error"] = json!(message);
    }
    if let Some(r) = &ex.relay {
        custom["relay"] = json!(r);
    }
    if let Some(h) = facts.hints.as_ref().or(ex.hints.as_deref()) {
        custom["oauth"] = json!(h);
    }
    if ex.incomplete {
        custom["incomplete"] = json!(true);
    }
    if let Some(c) = &ex.client_cert {
        custom["client_cert"] = json!(c);
    }
    if !ex.client.is_empty() {
        custom["client"] = json!(ex.client);
    }
    entry["_oauthscope"] = custom;
    entry
}
