//! Each subcommand in its own file: a thin `run` that parses options, calls the library
//! and renders. Shared here: reading a capture through the engine with a progress bar,
//! loading a connector definition, warnings about inputs.

mod analyze;
mod ca;
mod demo;
mod export;
mod gateway;
mod lint;
mod proxy;
mod replay;
mod rules;
mod serve;
mod shell;
mod view;
mod walk;

pub use analyze::{analyze, timeline};
pub use ca::ca;
pub use demo::demo;
pub use export::{export, export_har};
pub use gateway::gateway;
pub use lint::lint_connector;
pub use proxy::proxy;
pub use replay::replay;
pub use rules::{explain, rules};
pub use serve::serve;
pub use shell::{completions, config, man};
pub use view::{show, view};
pub use walk::walk;

use crate::analyze::Engine;
use crate::capture::source::Source;
use crate::connector::{self, Connector, analyzer::ConnectorCheck};

/// Print a warning about an input; its text may quote the input, so it is made safe
/// for the terminal first.
fn warn(w: &dyn std::fmt::Display) {
    eprintln!(
        "warning: {}",
        crate::capture::redact::sanitize_for_terminal(&w.to_string())
    );
}

/// Read a capture or HAR through the analysis engine, with a progress bar on long files
/// and a warning (with its line or entry number) for each unreadable part.
fn run_engine(
    path: &std::path::Path,
    keep_events: bool,
    connector: Option<&std::path::Path>,
) -> anyhow::Result<(Engine, u64)> {
    let connector = connector.map(load_connector).transpose()?;
    let source = Source::open(path)?;
    let mut engine = Engine::new(&source.salt, keep_events);
    if let Some(c) = connector {
        engine.add_analyzer(Box::new(ConnectorCheck { connector: c }));
    }
    let info = with_progress(&source, |warn, tick| {
        source.run(warn, |ex| {
            engine.push(&ex);
            tick();
        })
    })?;
    Ok((engine, info.unreadable))
}

/// Run one pass over `source` with a progress bar (on a terminal, for large files) and
/// warnings printed above it; the first 20 warnings are shown, the rest counted.
fn with_progress<T>(
    source: &Source,
    pass: impl FnOnce(&mut dyn FnMut(String), &mut dyn FnMut()) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let bar = progress_bar(source.size);
    let mut shown = 0u32;
    let mut warn = |w: String| {
        shown += 1;
        if shown <= 20 {
            bar.suspend(|| self::warn(&w));
        } else if shown == 21 {
            bar.suspend(|| eprintln!("warning: more unreadable parts; counting them silently"));
        }
    };
    let mut n = 0u64;
    let mut tick = || {
        n += 1;
        if n % 4096 == 0 {
            bar.set_position(source.position.load(std::sync::atomic::Ordering::Relaxed));
        }
    };
    let out = pass(&mut warn, &mut tick);
    bar.finish_and_clear();
    out
}

fn progress_bar(size: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if size < 8 * 1024 * 1024 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading {bytes}/{total_bytes} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Load a connector definition and print what was noticed while reading it.
fn load_connector(path: &std::path::Path) -> anyhow::Result<Connector> {
    let c = connector::load(path)?;
    for note in &c.notes {
        eprintln!(
            "note: {}",
            crate::capture::redact::sanitize_for_terminal(&note.to_string())
        );
    }
    Ok(c)
}

/// A capture for the requests a command makes itself (`replay`, `walk`): at `out`, or
/// `captures/<prefix>-<UTC timestamp>.jsonl`. Returns the path, the salt and the writer.
fn own_capture(
    out: Option<std::path::PathBuf>,
    prefix: &str,
) -> anyhow::Result<(std::path::PathBuf, String, crate::capture::CaptureWriter)> {
    let out = out.unwrap_or_else(|| {
        let p = crate::cli::default_capture_path();
        p.with_file_name(format!(
            "{prefix}-{}",
            p.file_name().unwrap_or_default().to_string_lossy()
        ))
    });
    let salt = crate::capture::redact::random_salt();
    let file = crate::capture::writer::create_capture_file(
        &out,
        &crate::capture::CaptureHeader::new(crate::capture::now_rfc3339(), salt.clone())
            .with_max_body(1 << 20),
    )?;
    let writer =
        crate::capture::CaptureWriter::start(Some(file), out.clone(), 1 << 20, Vec::new())?;
    Ok((out, salt, writer))
}

/// The TLS client configuration of a command that makes its own requests (`replay`,
/// `walk`): the upstream CAs, and the `--client-identity` it offers to servers that ask.
/// Returns the certificate's record too, to be written on each exchange.
fn own_client_tls(
    upstream: &crate::cli::UpstreamTls,
    identity: Option<&crate::cli::IdentityFiles>,
) -> anyhow::Result<(rustls::ClientConfig, Option<crate::capture::ClientCert>)> {
    use anyhow::Context as _;
    let identity = identity
        .map(|i| {
            crate::upstream::Identity::load(&i.cert, &i.key)
                .with_context(|| format!("loading --client-identity {}", i.cert.display()))
        })
        .transpose()?;
    let tls = crate::upstream::client_config(
        &upstream.upstream_ca,
        upstream.insecure_upstream,
        identity.as_ref(),
    )?;
    let cert = identity.map(|i| crate::capture::ClientCert {
        forwarded: true,
        ..i.cert
    });
    Ok((tls, cert))
}
