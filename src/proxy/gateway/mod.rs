//! Gateway mode: a recording reverse proxy for connectors that run in someone else's
//! cloud. Requests reach `/<secret><prefix>/...`; the route with the longest matching
//! prefix names the upstream origin, the request is recorded and forwarded there exactly
//! as the forward proxy records it, and `Location` headers and discovery documents that
//! point at a routed upstream are rewritten to the gateway's public URL.
//!
//! Not an open relay: a request without the path secret, for an unrouted prefix, in
//! absolute form or as `CONNECT` is refused (404/405), counted, and never forwarded; only
//! routed origins are ever contacted. A per-client rate limit and a cap on concurrent
//! upstream requests bound what one client can make the gateway do.

mod request;
pub mod routes;
pub mod tls;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use routes::{Origin, Route, RouteError};

/// Why the gateway refused a request (never forwarded, never recorded, counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The path does not start with the secret.
    NoSecret,
    /// The secret was right but no route's prefix matches.
    Unrouted,
    /// `CONNECT` (the gateway is not a forward proxy).
    Connect,
    /// An absolute-form request target (`GET http://host/...`): a forward-proxy request.
    AbsoluteForm,
    /// The client sent more requests than `--rate-limit` allows.
    RateLimited,
}

impl Refusal {
    pub const ALL: [Refusal; 5] = [
        Refusal::NoSecret,
        Refusal::Unrouted,
        Refusal::Connect,
        Refusal::AbsoluteForm,
        Refusal::RateLimited,
    ];

    pub fn status(self) -> http::StatusCode {
        match self {
            Refusal::Connect => http::StatusCode::METHOD_NOT_ALLOWED,
            Refusal::RateLimited => http::StatusCode::TOO_MANY_REQUESTS,
            _ => http::StatusCode::NOT_FOUND,
        }
    }

    /// What the operator reads in the summary.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::NoSecret => "without the path secret",
            Refusal::Unrouted => "for a prefix no --route names",
            Refusal::Connect => "CONNECT (the gateway is not a forward proxy)",
            Refusal::AbsoluteForm => "in absolute form (forward-proxy requests)",
            Refusal::RateLimited => "over the per-client rate limit",
        }
    }

    fn index(self) -> usize {
        Refusal::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// The gateway's settings and counters, shared by every connection.
pub struct Gateway {
    routes: Vec<Route>,
    secret: String,
    /// `scheme://host[:port]` the connector reaches the gateway at (no trailing slash).
    public: String,
    refused: [AtomicU64; 5],
    limiter: Option<RateLimiter>,
    /// Requests waiting for an upstream answer at once (`--max-upstream`); more wait.
    pub upstream_slots: Arc<tokio::sync::Semaphore>,
}

/// Where a routed request goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Absolute upstream URL (prefix and secret stripped, query kept).
    pub url: String,
    /// Index of the route that matched.
    pub route: usize,
}

impl Gateway {
    /// `routes` must be valid (see [`routes::parse_routes`]); `public` an origin;
    /// `rate` requests a second per client (0: no limit); at most `max_upstream` requests
    /// wait for upstream at once.
    pub fn new(
        routes: Vec<Route>,
        secret: String,
        public: String,
        rate: u32,
        max_upstream: usize,
    ) -> Self {
        let mut routes = routes;
        // Longest prefix first: the first match wins.
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Gateway {
            routes,
            secret,
            public: public.trim_end_matches('/').to_string(),
            refused: Default::default(),
            limiter: (rate > 0).then(|| RateLimiter::new(rate)),
            upstream_slots: Arc::new(tokio::sync::Semaphore::new(max_upstream.max(1))),
        }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The public URL a route is reached at: `{public}/{secret}{prefix}`.
    pub fn public_base(&self, route: &Route) -> String {
        format!("{}/{}{}", self.public, self.secret, route.prefix)
    }

    /// Count a refusal.
    pub fn refuse(&self, why: Refusal) -> u64 {
        self.refused[why.index()].fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Refusals so far, by reason (reasons with none left out).
    pub fn refusals(&self) -> Vec<(Refusal, u64)> {
        Refusal::ALL
            .iter()
            .map(|r| (*r, self.refused[r.index()].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// May `client` send one more request now?
    pub fn admit(&self, client: IpAddr) -> bool {
        self.limiter.as_ref().is_none_or(|l| l.admit(client))
    }

    /// The upstream URL for a request's path and query, or why it is refused.
    pub fn resolve(&self, path_and_query: &str) -> Result<Target, Refusal> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let rest = path
            .strip_prefix('/')
            .and_then(|p| {
                let (first, rest) = p.split_at(p.find('/').unwrap_or(p.len()));
                // Constant time: the comparison must not tell how much of a guess was right.
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    first.as_bytes(),
                    self.secret.as_bytes(),
                )
                .ok()
                .map(|()| rest)
            })
            .ok_or(Refusal::NoSecret)?;
        let (i, route) = self
            .routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(rest))
            .ok_or(Refusal::Unrouted)?;
        let tail = &rest[route.prefix.len()..];
        let tail = if tail.is_empty() { "/" } else { tail };
        let mut url = format!("{}{tail}", route.upstream);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        Ok(Target { url, route: i })
    }

    /// An absolute URL on a routed upstream, as the gateway's public URL (`None` when no
    /// route's origin serves it).
    pub fn to_public(&self, url: &str) -> Option<String> {
        let (origin, rest) = routes::split_origin(url)?;
        let origin = Origin::parse(origin).ok()?;
        // Of the routes to this origin, the one whose prefix keeps the path shortest.
        let route = self
            .routes
            .iter()
            .filter(|r| r.upstream == origin)
            .min_by_key(|r| r.prefix.len())?;
        let rest = if rest.is_empty() { "/" } else { rest };
        Some(format!("{}{rest}", self.public_base(route)))
    }

    /// A `Location` header of a response to a request on `route`: absolute URLs on a
    /// routed upstream and absolute paths (relative to the route's upstream) move to the
    /// gateway; anything else (another host: the provider's sign-in page) stays.
    pub fn rewrite_location(&self, location: &str, route: usize) -> Option<String> {
        if location.starts_with('/') && !location.starts_with("//") {
            let r = self.routes.get(route)?;
            return self.to_public(&format!("{}{location}", r.upstream));
        }
        self.to_public(location)
    }

    /// A discovery document (RFC 8414, OpenID Connect Discovery) with every endpoint on a
    /// routed upstream pointing at the gateway instead. `issuer` stays: tokens carry it in
    /// `iss`, and a client compares the two. `None` when nothing changes or the body is
    /// not a JSON object.
    pub fn rewrite_discovery(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut doc: serde_json::Value = serde_json::from_slice(body).ok()?;
        let obj = doc.as_object_mut()?;
        let mut changed = false;
        for (k, v) in obj.iter_mut() {
            if k == "issuer" {
                continue;
            }
            changed |= self.rewrite_urls_in(v);
        }
        changed.then(|| serde_json::to_vec_pretty(&doc).unwrap_or_default())
    }

    fn rewrite_urls_in(&self, v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => match self.to_public(s) {
                Some(p) => {
                    *s = p;
                    true
                }
                None => false,
            },
            // `mtls_endpoint_aliases` (RFC 8705) holds endpoints one level down.
            // (Every value is visited: no short-circuit.)
            serde_json::Value::Object(m) => {
                m.values_mut()
                    .map(|v| self.rewrite_urls_in(v))
                    .filter(|changed| *changed)
                    .count()
                    > 0
            }
            _ => false,
        }
    }
}

/// Is this request for a discovery document (whose URLs the gateway rewrites)?
pub fn is_discovery_path(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path.contains("/.well-known/openid-configuration")
        || path.contains("/.well-known/oauth-authorization-server")
        || path.contains("/.well-known/oauth-protected-resource")
}

/// Token buckets per client address: `rate` requests a second, bursts of `4 × rate`.
struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Past this many tracked clients, full buckets are forgotten.
const MAX_TRACKED_CLIENTS: usize = 10_000;

impl RateLimiter {
    fn new(rate: u32) -> Self {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(rate) * 4.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn admit(&self, client: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() > MAX_TRACKED_CLIENTS {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// 128 random bits, hex: the default path secret.
pub fn random_secret() -> String {
    let mut b = [0u8; 16];
    // The system RNG does not fail on the platforms we build for; a zero secret would
    // still be refused by `check_secret`'s length rule only if empty, so fail loudly.
    aws_lc_rs::rand::fill(&mut b).expect("system random number generator");
    crate::capture::redact::hex_encode(&b)
}

/// A secret the user chose must be long enough to be unguessable and fit in a path
/// segment unencoded.
pub fn check_secret(s: &str) -> Result<(), String> {
    if s.len() < 16 {
        return Err(format!(
            "--secret must be at least 16 characters (it is all that keeps the gateway from \
             being an open relay); it has {}",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        return Err(format!(
            "--secret may hold only letters, digits and - _ . ~ (it is a path segment); found {c:?}"
        ));
    }
    Ok(())
}
