//! oauthscope: an intercepting proxy that records OAuth 2.0 traffic and explains why
//! integrations break.
//!
//! Module map (one module, one job; each may use only the modules listed after it):
//! - [`commands`]: one file per subcommand, a thin `run` that parses options, calls the
//!   library and renders. Uses everything below.
//! - [`config`]: `oauthscope.toml`, one's usual flags, turned into flags before parsing.
//!   Uses cli.
//! - [`cli`]: clap definitions and the validation of raw flags into options. Uses report
//!   (colour choice), analyze (severities), capture (timestamps).
//! - [`proxy`]: the connection layer, the recording handler, the capturing body tap,
//!   scope rules, the live console, and the gateway (`proxy::gateway`: the reverse mode
//!   that routes by path under a secret). Uses web (`--web`), ca, upstream, report,
//!   connector, analyze, oauth, capture.
//! - [`web`]: the web view (`proxy --web`, `view`): the page, its API, live events, and
//!   the exchange detail `show` prints too. Uses report, analyze, connector, oauth,
//!   capture, wire.
//! - [`walk`]: the "Troubleshoot OAuth 2.0" walk from a connector definition (sign-in,
//!   code exchange, API, refresh, API, step 5). Uses replay (its sender), connector,
//!   analyze (AADSTS texts), oauth, capture, wire.
//! - [`replay`]: re-send a capture (`replay`), answer from one (`serve`), the checklist,
//!   and `replay::send` (one request sent and made a capture record). Uses upstream,
//!   oauth, capture, wire.
//! - [`connector`]: connector definitions (Power Platform, Swagger, OpenAPI, TOML): load,
//!   lint, compare with the wire, and patch a copy to point at the gateway. Uses analyze,
//!   oauth, capture.
//! - [`report`]: verdict, findings and timeline as text, JSON, Markdown or HTML;
//!   `report::style` for colour. Uses analyze, oauth, capture.
//! - [`analyze`]: the rule catalog (`analyze::rules`), the rule families, the engine
//!   (a `Flow` plus analyzers) and the diagnosis that links symptoms to causes. Uses
//!   oauth, capture, wire.
//! - [`oauth`]: parse what OAuth puts on the wire, classify each exchange once into a
//!   `Step`, and the `Flow`: flow state (tokens and their lineage), secrets seen, events,
//!   the hints a redacted HAR keeps. Uses capture, wire.
//! - [`upstream`]: the TLS client side shared by proxy and replay (trust, connector,
//!   what a forwarding failure means). Uses capture.
//! - [`ca`]: the local root CA under `certs/` and the leaf certificates it issues. Uses
//!   capture (timestamps).
//! - [`capture`]: the `Exchange` record, the JSON Lines capture writer and reader, HAR
//!   import and export, body decoding, the one secret policy. Uses wire.
//! - [`wire`]: the form/URL codec and URL helpers (below everything else).
//!
//! Data path: client → proxy → upstream; each finished exchange goes through a bounded
//! queue to the capture writer thread, which appends one JSON line and feeds observers.

/// `println!` for command output: a write error (a closed pipe: `oauthscope timeline x |
/// head`) returns from the calling function with the `io::Error`, and `main` ends quietly
/// with exit 0 when the cause is a broken pipe. `println!` would panic instead.
#[macro_export]
#[doc(hidden)]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?
    }};
}

/// `print!` for command output; see [`outln!`].
#[macro_export]
#[doc(hidden)]
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        write!(out, $($t)*)?;
        out.flush()?
    }};
}

/// `println!` for the messages of a long-running command (proxy, serve): a closed
/// stdout must not stop the service, so write errors are ignored.
#[macro_export]
#[doc(hidden)]
macro_rules! sayln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// Whether an error (anywhere in its chain) is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub mod analyze;
pub mod ca;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connector;
#[doc(hidden)]
pub mod fuzzing;
pub mod oauth;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod upstream;
pub mod walk;
pub mod web;
pub mod wire;
