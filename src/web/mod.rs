//! The web view: `proxy --web` / `gateway --web` (live) and `oauthscope view CAPTURE`
//! (a recorded capture or HAR). One page, embedded in the binary (no CDN, no build step,
//! no network access from the page beyond its own server): the verdict and the findings,
//! the timeline (gap-compressed, from [`crate::report::layout`]), the exchange list
//! (filtered and windowed on the server, so 100,000 exchanges stay responsive), one
//! exchange in detail ([`detail`]), and new exchanges within a second over Server-Sent
//! Events.
//!
//! Loopback by default; another address needs `--allow-remote` and then every request
//! must carry the access token printed with the URL. Secrets are masked as everywhere;
//! revealing them is offered only on a loopback view.

pub mod detail;
mod server;
mod store;

pub use server::{Access, serve};
pub use store::{Row, View, WebObserver};

/// The page and its script and style.
pub(crate) const INDEX_HTML: &str = include_str!("assets/index.html");
pub(crate) const APP_JS: &str = include_str!("assets/app.js");
pub(crate) const APP_CSS: &str = include_str!("assets/app.css");
