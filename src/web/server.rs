//! The web view's HTTP server: the page, its JSON API and the live event stream.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::store::{Query, View};

/// Who may use the view.
#[derive(Debug, Clone)]
pub struct Access {
    /// Required as `token=` on every request (a view on a non-loopback address).
    pub token: Option<String>,
    /// Secrets may be shown in clear (a loopback view only).
    pub reveal_allowed: bool,
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Serve the view on `listener` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    view: Arc<Mutex<View>>,
    access: Access,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let access = Arc::new(access);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let (view, access) = (view.clone(), access.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (view, access) = (view.clone(), access.clone());
                async move { Ok::<_, Infallible>(route(req, &view, &access)) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn params(req: &Request<Incoming>) -> Vec<(String, String)> {
    crate::wire::parse_form(req.uri().query().unwrap_or(""))
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> &'a str {
    p.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn route(req: Request<Incoming>, view: &Mutex<View>, access: &Access) -> Response<Body> {
    let p = params(&req);
    if let Some(t) = &access.token {
        let given = param(&p, "token");
        if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), t.as_bytes())
            .is_err()
        {
            return text(
                StatusCode::FORBIDDEN,
                "this view needs its access token (?token=...)\n",
            );
        }
    }
    if req.method() != http::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "read-only\n");
    }
    let Ok(mut v) = view.lock() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the view is unavailable\n",
        );
    };
    match req.uri().path() {
        "/" | "/index.html" => {
            let token = access.token.clone().unwrap_or_default();
            let page = super::INDEX_HTML.replace("__TOKEN__", &token);
            asset(page, "text/html; charset=utf-8")
        }
        "/app.js" => asset(super::APP_JS.to_string(), "text/javascript; charset=utf-8"),
        "/app.css" => asset(super::APP_CSS.to_string(), "text/css; charset=utf-8"),
        "/api/summary" => json(v.summary(access.reveal_allowed)),
        "/api/rows" => {
            let num = |k: &str, d: usize| param(&p, k).parse().unwrap_or(d);
            let q = Query {
                offset: num("offset", 0),
                limit: num("limit", 100).min(1000),
                host: param(&p, "host").to_string(),
                step: param(&p, "step").to_string(),
                status: param(&p, "status").to_string(),
                text: param(&p, "q").to_string(),
            };
            json(v.rows(&q))
        }
        "/api/timeline" => {
            let w = param(&p, "width")
                .parse()
                .unwrap_or(1000.0_f64)
                .clamp(300.0, 20_000.0);
            json(v.timeline(w))
        }
        "/api/exchange" => {
            let Ok(id) = param(&p, "id").parse::<u64>() else {
                return text(StatusCode::BAD_REQUEST, "id=N\n");
            };
            let reveal = param(&p, "reveal") == "1";
            if reveal && !access.reveal_allowed {
                return text(
                    StatusCode::FORBIDDEN,
                    "secrets are shown only on a view bound to loopback\n",
                );
            }
            match v.exchange(id, reveal) {
                Some(d) => json(d),
                None => text(
                    StatusCode::NOT_FOUND,
                    "no such exchange in memory (a live view keeps the latest 5,000; `oauthscope view CAPTURE` shows every one)\n",
                ),
            }
        }
        "/api/events" => {
            let rx = v.subscribe();
            let mut res = Response::new(Body::new(Sse { rx }));
            let h = res.headers_mut();
            h.insert(
                "content-type",
                http::HeaderValue::from_static("text/event-stream"),
            );
            h.insert("cache-control", http::HeaderValue::from_static("no-store"));
            secure(h);
            res
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Headers every answer carries: nothing from elsewhere, nothing sniffed, no referrer.
fn secure(h: &mut http::HeaderMap) {
    h.insert(
        "content-security-policy",
        http::HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "referrer-policy",
        http::HeaderValue::from_static("no-referrer"),
    );
}

fn respond(status: StatusCode, body: String, content_type: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::new(Full::new(Bytes::from(body))));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert("content-type", http::HeaderValue::from_static(content_type));
    h.insert("cache-control", http::HeaderValue::from_static("no-store"));
    secure(h);
    res
}

fn asset(body: String, content_type: &'static str) -> Response<Body> {
    respond(StatusCode::OK, body, content_type)
}

fn json(v: serde_json::Value) -> Response<Body> {
    respond(StatusCode::OK, v.to_string(), "application/json")
}

fn text(status: StatusCode, t: &str) -> Response<Body> {
    respond(status, t.to_string(), "text/plain; charset=utf-8")
}

/// A Server-Sent Events body fed by the view.
struct Sse {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl http_body::Body for Sse {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}
