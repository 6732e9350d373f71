//! Send one request upstream and turn it into a capture record: what `replay` and
//! `walk` both do for every request they make (the bodies go to the capture writer as
//! raw bytes, decoded there like the proxy's).

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;

use crate::capture::decode::RawBody;
use crate::capture::{ErrorInfo, Exchange, Header, Response, Timings};

/// One request as it is sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub status: Option<u16>,
    pub headers: Vec<Header>,
    /// The body as it crossed the wire.
    pub body: Vec<u8>,
    /// The body as the application sees it (content coding undone).
    pub plain: Vec<u8>,
    pub error: Option<ErrorInfo>,
    pub started: String,
    pub elapsed_ms: f64,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.0.eq_ignore_ascii_case(name))
            .map(|h| h.1.as_str())
    }
}

/// Send `out`; `Err` when it cannot even be built (a bad URL or header).
pub async fn send<C>(client: &Client<C, Full<Bytes>>, out: &Outgoing) -> Result<Sent, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut req = hyper::Request::builder()
        .method(out.method.as_str())
        .uri(out.url.as_str());
    for h in &out.headers {
        req = req.header(h.0.as_str(), h.1.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(out.body.clone())))
        .map_err(|e| format!("the request cannot be built: {e}"))?;
    let started = crate::capture::now_rfc3339();
    let t0 = Instant::now();
    let mut sent = match client.request(req).await {
        Ok(res) => {
            let status = res.status().as_u16();
            let headers: Vec<Header> = res
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
            Sent {
                status: Some(status),
                headers,
                body,
                ..Sent::default()
            }
        }
        Err(e) => Sent {
            error: Some(crate::upstream::classify_upstream_error(&e)),
            ..Sent::default()
        },
    };
    sent.plain = decoded(&sent.headers, &sent.body);
    sent.started = started;
    sent.elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
    Ok(sent)
}

/// Who makes the requests `replay` and `walk` record: the name their capture gives as
/// the client, and the TLS client certificate it offers (`--client-identity`).
#[derive(Debug, Clone)]
pub struct Sender {
    pub name: &'static str,
    pub cert: Option<crate::capture::ClientCert>,
}

/// The capture record of `out` and what came back, numbered `id`, sent `by`, on `base`
/// (the exchange's other fields: kind, connection).
pub fn record(
    base: &Exchange,
    id: u64,
    out: Outgoing,
    sent: Sent,
    by: &Sender,
) -> (Exchange, RawBody, RawBody) {
    let mut now = base.clone();
    now.id = id;
    now.client = by.name.into();
    now.client_cert = by.cert.clone();
    now.started = sent.started;
    now.timings = Timings {
        request_sent: None,
        response_start: None,
        end: Some(sent.elapsed_ms),
    };
    now.request.method = out.method;
    now.request.url = out.url;
    now.request.headers = out.headers;
    now.request.body = Default::default();
    now.response = sent.status.map(|s| Response {
        status: s,
        version: "HTTP/1.1".into(),
        headers: sent.headers.clone(),
        body: Default::default(),
    });
    now.error = sent.error;
    let content_encoding = sent
        .headers
        .iter()
        .find(|h| h.0.eq_ignore_ascii_case("content-encoding"))
        .map(|h| h.1.clone());
    let req_raw = RawBody {
        size: out.body.len() as u64,
        bytes: out.body,
        ..RawBody::default()
    };
    let resp_raw = RawBody {
        size: sent.body.len() as u64,
        bytes: sent.body,
        content_encoding,
        ..RawBody::default()
    };
    (now, req_raw, resp_raw)
}

/// The response body as the application sees it (content coding undone).
pub fn decoded(headers: &[Header], body: &[u8]) -> Vec<u8> {
    let codings: Vec<String> = headers
        .iter()
        .filter(|h| h.0.eq_ignore_ascii_case("content-encoding"))
        .flat_map(|h| h.1.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return body.to_vec();
    }
    crate::capture::decode::decode_all(body, &codings, 16 << 20)
        .map(|(d, _)| d)
        .unwrap_or_else(|_| body.to_vec())
}
