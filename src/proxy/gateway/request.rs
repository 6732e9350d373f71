//! One request through the gateway: refuse what is not for a route, rewrite the target
//! to the route's upstream, record and forward it as the forward proxy does, then point
//! the response's `Location` (and a discovery document's endpoints) back at the gateway.

use std::net::SocketAddr;

use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, HOST, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hudsucker::Body;

use super::{Gateway, Refusal, is_discovery_path};
use crate::proxy::handler::Recorder;
use crate::proxy::server;

/// Largest discovery document the gateway rewrites.
const MAX_DISCOVERY: usize = 1 << 20;

impl Recorder {
    /// Route, record and forward one request that reached the gateway.
    pub(crate) async fn gateway_request(
        &self,
        client: SocketAddr,
        mut req: Request<Body>,
        gw: &Gateway,
    ) -> Response<Body> {
        if !gw.admit(client.ip()) {
            return refused(gw, Refusal::RateLimited);
        }
        if req.method() == Method::CONNECT {
            return refused(gw, Refusal::Connect);
        }
        let absolute_form = matches!(
            req.version(),
            http::Version::HTTP_10 | http::Version::HTTP_11
        ) && req.uri().authority().is_some();
        if absolute_form {
            return refused(gw, Refusal::AbsoluteForm);
        }
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let target = match gw.resolve(&pq) {
            Ok(t) => t,
            Err(why) => return refused(gw, why),
        };
        let Ok(uri) = target.url.parse::<http::Uri>() else {
            return server::plain(
                StatusCode::BAD_REQUEST,
                "oauthscope gateway: bad request target\n".into(),
            );
        };
        // The capture shows the request as it went upstream: its URL and Host.
        if let Some(a) = uri.authority() {
            if let Ok(v) = http::HeaderValue::from_str(a.as_str()) {
                req.headers_mut().insert(HOST, v);
            }
        }
        *req.uri_mut() = uri;
        let discovery = is_discovery_path(&pq);
        if discovery {
            // An identity body is one the gateway can rewrite.
            req.headers_mut().remove(ACCEPT_ENCODING);
        }
        let permit = gw.upstream_slots.clone().acquire_owned().await;
        let mut res = self.record_and_forward(client, req).await;
        drop(permit);
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| gw.rewrite_location(l, target.route));
        if let Some(v) = location.and_then(|l| http::HeaderValue::from_str(&l).ok()) {
            res.headers_mut().insert(LOCATION, v);
        }
        if discovery
            && res.status() == StatusCode::OK
            && !res.headers().contains_key(CONTENT_ENCODING)
        {
            return rewrite_discovery(gw, res).await;
        }
        res
    }
}

/// Answer a refused request (counted; the first of each kind is said on stderr).
fn refused(gw: &Gateway, why: Refusal) -> Response<Body> {
    if gw.refuse(why) == 1 {
        eprintln!(
            "gateway: refused a request {} (not forwarded; counted from now on)",
            why.describe()
        );
    }
    let mut res = server::plain(why.status(), "not found\n".into());
    if why == Refusal::Connect {
        res.headers_mut().insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
    }
    if why == Refusal::RateLimited {
        res.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    res
}

/// Read the discovery document (the tap records it as upstream sent it) and send the
/// client the copy whose endpoints point at the gateway.
async fn rewrite_discovery(gw: &Gateway, res: Response<Body>) -> Response<Body> {
    let (mut parts, body) = res.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_DISCOVERY)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return server::plain(
                StatusCode::BAD_GATEWAY,
                format!("oauthscope gateway: the discovery document could not be read: {e}\n"),
            );
        }
    };
    let out = gw
        .rewrite_discovery(&bytes)
        .map(bytes::Bytes::from)
        .unwrap_or(bytes);
    parts.headers.insert(CONTENT_LENGTH, out.len().into());
    Response::from_parts(parts, Body::from(http_body_util::Full::new(out)))
}
