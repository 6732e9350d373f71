//! Hand-built exchanges for unit tests.

use super::{Body, Exchange, Header, Request, Response};

fn headers(h: &[(&str, &str)]) -> Vec<Header> {
    h.iter()
        .map(|(a, b)| Header(a.to_string(), b.to_string()))
        .collect()
}

/// A request with no response yet, started `secs` seconds into 2027-01-01.
pub fn exchange(
    id: u64,
    secs: u32,
    method: &str,
    url: &str,
    req: &[(&str, &str)],
    body: &str,
) -> Exchange {
    Exchange {
        id,
        conn: 1,
        kind: Default::default(),
        client: "127.0.0.1:1".into(),
        started: format!("2027-01-01T00:{:02}:{:02}.000000Z", secs / 60, secs % 60),
        timings: Default::default(),
        request: Request {
            method: method.into(),
            url: url.into(),
            version: "HTTP/1.1".into(),
            headers: headers(req),
            body: Body::from_bytes(body.as_bytes(), body.len() as u64, false),
        },
        response: None,
        error: None,
        incomplete: false,
        relay: None,
        hints: None,
        client_cert: None,
    }
}

/// The same exchange with a response.
pub fn respond(mut e: Exchange, status: u16, h: &[(&str, &str)], body: &[u8]) -> Exchange {
    e.response = Some(Response {
        status,
        version: "HTTP/1.1".into(),
        headers: headers(h),
        body: Body::from_bytes(body, body.len() as u64, false),
    });
    e
}
