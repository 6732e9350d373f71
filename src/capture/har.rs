//! HAR 1.2: import (streaming, forgiving: what browsers, Fiddler, Charles, Insomnia and
//! mitmproxy really write) and export (complete HAR 1.2, redacted unless asked not to,
//! with `_oauthscope` fields per entry).
//!
//! Import reads entries one at a time, so memory follows the largest entry, not the file.

use std::io::{BufRead, BufReader, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::redact::Fingerprinter;
use super::secrets::Policy;
use super::{Body, Exchange, Header, Kind, Request, Response, Timings, format_time};

#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("{0}: not a HAR file: {1}")]
    NotHar(String, String),
    #[error("{0}: invalid JSON: {1}")]
    Json(String, String),
}

/// What the HAR's `log` said about itself.
#[derive(Debug, Default, Clone)]
pub struct HarInfo {
    pub creator: String,
    pub entries: u64,
    /// Entries that could not be turned into exchanges (with why): the first
    /// [`SKIPPED_KEPT`] of them; `skipped_total` counts them all.
    pub skipped: Vec<String>,
    pub skipped_total: u64,
}

/// How many reasons for skipped entries are kept (a HAR of a million bad entries must not
/// hold a million messages).
pub const SKIPPED_KEPT: usize = 100;

/// Stream the entries of a HAR to `each` as exchanges. A UTF-8 BOM is allowed.
pub fn read_har<R: Read>(
    reader: R,
    name: &str,
    mut each: impl FnMut(Exchange),
) -> Result<HarInfo, HarError> {
    let mut r = BufReader::with_capacity(256 * 1024, reader);
    if r.fill_buf()
        .map(|b| b.starts_with(b"\xEF\xBB\xBF"))
        .unwrap_or(false)
    {
        r.consume(3);
    }
    let mut info = HarInfo::default();
    let mut de = serde_json::Deserializer::from_reader(r);
    let mut on_entry = |i: usize, v: Value| match entry_to_exchange(i as u64 + 1, &v) {
        Ok(ex) => {
            info.entries += 1;
            each(ex)
        }
        Err(why) => {
            info.skipped_total += 1;
            if info.skipped.len() < SKIPPED_KEPT {
                info.skipped.push(format!("entry {i}: {why}"));
            }
        }
    };
    let found = RootSeed {
        on_entry: &mut on_entry,
    }
    .deserialize(&mut de)
    .map_err(|e| classify_error(name, e))?;
    info.creator = found;
    Ok(info)
}

fn classify_error(name: &str, e: serde_json::Error) -> HarError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => HarError::NotHar(name.into(), e.to_string()),
        _ => HarError::Json(name.into(), e.to_string()),
    }
}

struct RootSeed<'a, F: FnMut(usize, Value)> {
    on_entry: &'a mut F,
}

impl<'de, F: FnMut(usize, Value)> DeserializeSeed<'de> for RootSeed<'_, F> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, Value)> Visitor<'de> for RootSeed<'_, F> {
    type Value = String;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a HAR object with a `log`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut creator = None;
        let on_entry = self.on_entry;
        while let Some(key) = map.next_key::<String>()? {
            if key == "log" {
                creator = Some(map.next_value_seed(LogSeed {
                    on_entry: &mut *on_entry,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        creator.ok_or_else(|| serde::de::Error::custom("not a HAR: no `log` object"))
    }
}

struct LogSeed<'a, F: FnMut(usize, Value)> {
    on_entry: &'a mut F,
}

impl<'de, F: FnMut(usize, Value)> DeserializeSeed<'de> for LogSeed<'_, F> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, Value)> Visitor<'de> for LogSeed<'_, F> {
    type Value = String;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a HAR `log` object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut creator = String::new();
        let mut saw_entries = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "entries" => {
                    map.next_value_seed(EntriesSeed {
                        on_entry: &mut *self.on_entry,
                    })?;
                    saw_entries = true;
                }
                "creator" => {
                    let v: Value = map.next_value()?;
                    creator = format!(
                        "{} {}",
                        v.get("name").and_then(Value::as_str).unwrap_or("?"),
                        v.get("version").and_then(Value::as_str).unwrap_or("")
                    )
                    .trim()
                    .to_string();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_entries {
            return Err(serde::de::Error::custom(
                "not a HAR: `log` has no `entries`",
            ));
        }
        Ok(creator)
    }
}

struct EntriesSeed<'a, F: FnMut(usize, Value)> {
    on_entry: &'a mut F,
}

impl<'de, F: FnMut(usize, Value)> DeserializeSeed<'de> for EntriesSeed<'_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, Value)> Visitor<'de> for EntriesSeed<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the `entries` array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            (self.on_entry)(i, v);
            i += 1;
        }
        Ok(())
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A number that may be missing, null, a string or negative (HAR's "unknown").
fn num(v: &Value, k: &str) -> Option<f64> {
    match v.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite() && *x >= 0.0)
}

fn headers(v: &Value) -> Vec<Header> {
    v.get("headers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|h| {
                    Some(Header(
                        h.get("name")?.as_str()?.to_string(),
                        h.get("value")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn version(v: &Value) -> String {
    let raw = s(v, "httpVersion");
    match raw.to_ascii_lowercase().as_str() {
        "h2" | "http/2" | "http/2.0" => "HTTP/2.0".into(),
        "h3" | "http/3" | "http/3.0" => "HTTP/3.0".into(),
        "http/1.1" | "1.1" => "HTTP/1.1".into(),
        "http/1.0" | "1.0" => "HTTP/1.0".into(),
        _ => raw.to_string(),
    }
}

/// One HAR entry as an exchange; `Err` says why it cannot be one.
pub fn entry_to_exchange(id: u64, e: &Value) -> Result<Exchange, String> {
    let req = e
        .get("request")
        .filter(|r| r.is_object())
        .ok_or("no request")?;
    let url = s(req, "url");
    if url.is_empty() {
        return Err("request has no url".into());
    }
    let started = time::OffsetDateTime::parse(
        s(e, "startedDateTime"),
        &time::format_description::well_known::Rfc3339,
    )
    .map(format_time)
    .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".into());
    let post = req.get("postData");
    let req_text = post
        .and_then(|p| p.get("text").and_then(Value::as_str).map(str::to_string))
        .or_else(|| {
            let params = post?.get("params")?.as_array()?;
            let pairs: Vec<String> = params
                .iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        crate::wire::form_encode(s(p, "name")),
                        crate::wire::form_encode(s(p, "value"))
                    )
                })
                .collect();
            (!pairs.is_empty()).then(|| pairs.join("&"))
        })
        .unwrap_or_default();
    let mut req_headers = headers(req);
    if let Some(mt) = post.map(|p| s(p, "mimeType")).filter(|m| !m.is_empty()) {
        if !req_headers
            .iter()
            .any(|h| h.0.eq_ignore_ascii_case("content-type"))
        {
            req_headers.push(Header("content-type".into(), mt.to_string()));
        }
    }
    let request = Request {
        method: s(req, "method").to_string(),
        url: url.to_string(),
        version: version(req),
        headers: req_headers,
        body: {
            // bodySize is what crossed the wire; a redacted text may differ in length.
            let size = num(req, "bodySize")
                .map(|x| x as u64)
                .unwrap_or(req_text.len() as u64);
            Body::from_bytes(req_text.as_bytes(), size, false)
        },
    };
    let resp = e.get("response").filter(|r| r.is_object());
    let status = resp.and_then(|r| num(r, "status")).unwrap_or(0.0) as u16;
    let response = resp.filter(|_| status > 0).map(|r| {
        let content = r.get("content").cloned().unwrap_or(Value::Null);
        let text = content.get("text").and_then(Value::as_str).unwrap_or("");
        let bytes = if s(&content, "encoding").eq_ignore_ascii_case("base64") {
            B64.decode(text.trim())
                .unwrap_or_else(|_| text.as_bytes().to_vec())
        } else {
            text.as_bytes().to_vec()
        };
        let size = num(&content, "size")
            .map(|x| x as u64)
            .unwrap_or(bytes.len() as u64);
        let decoded = Body::from_bytes(
            &bytes,
            size.max(bytes.len() as u64),
            (bytes.len() as u64) < size,
        );
        // `compression` is what the content coding saved: the wire carried size - compression.
        let body = match content.get("compression").and_then(Value::as_i64) {
            Some(c) if c != 0 => Body {
                size: (size as i64 - c).max(0) as u64,
                decoded: Some(Box::new(decoded)),
                ..Body::default()
            },
            _ => decoded,
        };
        Response {
            status,
            version: version(r),
            headers: headers(r),
            body,
        }
    });
    let t = e.get("timings").cloned().unwrap_or(Value::Null);
    let pre: f64 = ["blocked", "dns", "connect", "send"]
        .iter()
        .filter_map(|k| num(&t, k))
        .sum();
    let wait = num(&t, "wait");
    let total = num(e, "time");
    let timings = Timings {
        request_sent: Some(pre).filter(|_| t.is_object() && num(&t, "send").is_some()),
        response_start: wait.map(|w| pre + w),
        end: total.filter(|x| *x > 0.0),
    };
    let ours = e.get("_oauthscope");
    let error = if let Some(err) = ours.and_then(|o| o.get("error")) {
        Some(super::ErrorInfo {
            kind: super::ErrorKind::parse(s(err, "kind")),
            message: s(err, "message").to_string(),
            chain: Vec::new(),
            hint: None,
        })
    } else if response.is_none() {
        let why = e
            .get("_error")
            .and_then(Value::as_str)
            .unwrap_or("no response recorded (status 0)");
        Some(super::ErrorInfo {
            kind: crate::capture::ErrorKind::NoResponse,
            message: why.to_string(),
            chain: Vec::new(),
            hint: None,
        })
    } else {
        None
    };
    let kind = ours
        .and_then(|o| o.get("kind"))
        .and_then(|k| serde_json::from_value(k.clone()).ok())
        .unwrap_or(if status == 101 {
            Kind::Upgrade
        } else {
            Kind::Http
        });
    Ok(Exchange {
        id: ours
            .and_then(|o| o.get("id"))
            .and_then(Value::as_u64)
            .unwrap_or(id),
        conn: e
            .get("connection")
            .and_then(|c| c.as_str().and_then(|c| c.parse().ok()).or(c.as_u64()))
            .unwrap_or(0),
        kind,
        client: ours.map(|o| s(o, "client").to_string()).unwrap_or_default(),
        started,
        timings,
        request,
        response,
        error,
        incomplete: ours
            .and_then(|o| o.get("incomplete"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        relay: ours
            .and_then(|o| o.get("relay"))
            .and_then(|r| serde_json::from_value(r.clone()).ok()),
        hints: ours
            .and_then(|o| o.get("oauth"))
            .and_then(|h| serde_json::from_value(h.clone()).ok())
            .map(Box::new),
    })
}

/// Does this look like a HAR (a JSON object whose first key is `log`, BOM allowed)?
pub fn looks_like_har(head: &[u8]) -> bool {
    let s = String::from_utf8_lossy(head);
    let t = s.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('{') && t[1..].trim_start().starts_with("\"log\"")
}

/// Mask secrets in a body by the one policy (see [`super::secrets`]).
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
    pub known: Option<super::secrets::Known>,
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

/// The salt an oauthscope `--no-redact` export carries near its start, if any.
pub fn salt_in_head(head: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(head);
    const KEY: &str = "\"_oauthscope\":{\"salt\":\"";
    let i = s.find(KEY)? + KEY.len();
    let rest = &s[i..];
    let end = rest.find('"')?;
    let salt = &rest[..end];
    salt.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| salt.to_string())
}

/// Per-entry analysis facts for `_oauthscope`.
#[derive(Debug, Default, Clone)]
pub struct EntryFacts {
    pub step: String,
    pub token_fps: Vec<String>,
    pub findings: Vec<String>,
    /// What the analysis needs and the redaction hides (`_oauthscope.oauth`).
    pub hints: Option<super::Hints>,
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
    if !ex.client.is_empty() {
        custom["client"] = json!(ex.client);
    }
    entry["_oauthscope"] = custom;
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_har_streams_its_entries() {
        let har = br#"{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[
          {"startedDateTime":"2024-01-01T10:00:00+02:00","time":5,"request":{"method":"POST","url":"https://a/t","httpVersion":"h2","headers":[],"postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"grant_type","value":"refresh_token"}]}},
           "response":{"status":200,"httpVersion":"h2","headers":[],"content":{"size":-1,"mimeType":"application/json","text":"eyJhIjoxfQ==","encoding":"base64"},"redirectURL":null},"timings":{}},
          {"request":{}}, 42
        ]}}"#;
        let mut got = Vec::new();
        let info = read_har(&har[..], "t", |e| got.push(e)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(info.skipped.len(), 2);
        assert_eq!(got[0].started, "2024-01-01T08:00:00.000000Z");
        assert_eq!(
            got[0].request.body.text.as_deref(),
            Some("grant_type=refresh_token")
        );
        assert_eq!(got[0].request.version, "HTTP/2.0");
        assert_eq!(
            got[0].response.as_ref().unwrap().body.text.as_deref(),
            Some("{\"a\":1}")
        );
    }

    #[test]
    fn non_hars_are_clear_errors() {
        assert!(matches!(
            read_har(&b"{\"x\":1}"[..], "f", |_| {}),
            Err(HarError::NotHar(..))
        ));
        assert!(matches!(
            read_har(&b"{\"log\":{}}"[..], "f", |_| {}),
            Err(HarError::NotHar(..))
        ));
        assert!(matches!(
            read_har(&b"{\"log\":{\"entries\":[{\"a\""[..], "f", |_| {}),
            Err(HarError::Json(..))
        ));
        assert!(read_har(&b"[1,2]"[..], "f", |_| {}).is_err());
        assert!(looks_like_har(b"\xEF\xBB\xBF{ \"log\": {"));
        assert!(!looks_like_har(b"{\"format\":\"oauthscope-capture\""));
    }

    #[test]
    fn bodies_are_redacted() {
        let f = Fingerprinter::new("aa");
        let j = redact_body(
            &f,
            "application/json",
            r#"{"access_token":"SECRET1","nested":{"refresh_token":"SECRET2"},"n":1}"#,
        );
        assert!(!j.contains("SECRET1") && !j.contains("SECRET2") && j.contains("\"n\":1"));
        let form = redact_body(
            &f,
            "application/x-www-form-urlencoded",
            "grant_type=authorization_code&code=SECRET3&client_secret=S%2B4",
        );
        assert!(
            !form.contains("SECRET3")
                && !form.contains("S%2B4")
                && form.contains("grant_type=authorization_code")
        );
    }
}
