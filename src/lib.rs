//! oauthscope: an intercepting proxy that records OAuth 2.0 traffic and explains why
//! integrations break.
//!
//! Module map (one module, one job):
//! - [`cli`]: clap definitions and the validation of raw flags into options.
//! - [`ca`]: the local root CA under `certs/` and the leaf certificates it issues
//!   (IP SANs for IP literals).
//! - [`proxy`]: the connection layer, the recording handler, the capturing body tap, upstream TLS, scope rules,
//!   the live console.
//! - [`capture`]: the `Exchange` record, the JSON Lines capture writer and reader, body
//!   decoding, secret fingerprints and masking.
//! - [`oauth`]: parse forms/JSON/JWT/WWW-Authenticate, classify an exchange into a
//!   `Step`, and build the flow state (tokens and their lineage) as a stream.
//! - [`analyze`]: the `Analyzer` trait, the rule families, the engine and its registry.
//! - [`report`]: verdict, findings and timeline as terminal text or JSON.
//! - [`connector`]: connector definitions (Power Platform, Swagger, OpenAPI, TOML): load,
//!   lint, and compare with the wire.
//! - [`commands`]: each subcommand's `run`.
//! - [`wire`]: the form/URL codec (below everything else).
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
pub mod connector;
#[doc(hidden)]
pub mod fuzzing;
pub mod oauth;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod upstream;
pub mod wire;
