//! HAR import: streaming and forgiving, one entry at a time.

use std::io::{BufRead, BufReader, Read};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::capture::{Body, Exchange, Header, Kind, Request, Response, Timings, format_time};

#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("{0}: not a HAR file")]
    NotHar(String, #[source] serde_json::Error),
    #[error("{0}: invalid JSON")]
    Json(String, #[source] serde_json::Error),
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
        Category::Data => HarError::NotHar(name.into(), e),
        _ => HarError::Json(name.into(), e),
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
        Some(crate::capture::ErrorInfo {
            kind: crate::capture::ErrorKind::parse(s(err, "kind")),
            message: s(err, "message").to_string(),
            chain: Vec::new(),
            hint: None,
        })
    } else if response.is_none() {
        let why = e
            .get("_error")
            .and_then(Value::as_str)
            .unwrap_or("no response recorded (status 0)");
        Some(crate::capture::ErrorInfo {
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
        client_cert: ours
            .and_then(|o| o.get("client_cert"))
            .and_then(|c| serde_json::from_value(c.clone()).ok()),
    })
}
