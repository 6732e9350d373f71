//! `oauthscope proxy`: run the recording proxy until Ctrl-C or SIGTERM.

use anyhow::Context as _;

use super::{export::export_har, load_connector};
use crate::cli::{ProxyArgs, RecordArgs, check_listen, default_capture_path};
use crate::proxy::{self, ProxyOptions, scope::Scope};

/// `oauthscope proxy`
pub async fn proxy(args: ProxyArgs) -> anyhow::Result<()> {
    check_listen(&args.listen, args.allow_remote).map_err(anyhow::Error::msg)?;
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "WARNING: listening on {} (not loopback): anyone who can reach this address can \
             use the proxy and read what passes through it.",
            args.listen
        );
    }
    let scope = Scope::new(&args.scope, &args.ignore).context("invalid --scope/--ignore regex")?;
    let connector = args.connector.as_deref().map(load_connector).transpose()?;
    let mut opts = options(&args.record, connector);
    opts.scope = scope;
    opts.ca_dir = args.ca_dir.clone();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let connector = args.connector.as_deref();
    record_until_stopped(opts, listener, &args.record, connector, args.allow_remote).await
}

/// The options both the proxy and the gateway start from.
pub(super) fn options(
    rec: &RecordArgs,
    connector: Option<crate::connector::Connector>,
) -> ProxyOptions {
    ProxyOptions {
        out: rec.out.clone().unwrap_or_else(default_capture_path),
        max_body: rec.max_body,
        body_memory: rec.body_memory,
        scope: Scope::default(),
        upstream_cas: rec.upstream.upstream_ca.clone(),
        insecure_upstream: rec.upstream.insecure_upstream,
        ca_dir: std::path::PathBuf::from("certs"),
        quiet: rec.quiet,
        grace: rec.grace(),
        upstream_timeout: rec.upstream_timeout,
        client_timeout: rec.client_timeout,
        record: !rec.no_capture,
        connector,
        gateway: None,
        redact_at_capture: false,
        web: None,
        client_certs: rec.client_certs || !rec.client_identity.is_empty(),
        client_identities: rec
            .client_identity
            .iter()
            .map(|i| (i.cert.clone(), i.key.clone()))
            .collect(),
    }
}

/// Serve until Ctrl-C or SIGTERM, then write the HAR if asked and say what was recorded.
pub(super) async fn record_until_stopped(
    opts: ProxyOptions,
    listener: tokio::net::TcpListener,
    rec: &RecordArgs,
    connector: Option<&std::path::Path>,
    allow_remote: bool,
) -> anyhow::Result<()> {
    ignore_file_size_signal();
    let mut opts = opts;
    if let Some(addr) = rec.web {
        opts.web = Some(super::view::bind_web(addr, allow_remote).await?);
    }
    let gateway = opts.gateway.as_ref().map(|m| m.gateway.clone());
    let summary = proxy::run(opts, listener, shutdown_signal()).await?;
    if let Some(har) = &rec.har {
        let n = export_har(&summary.path, har, false, connector)?;
        crate::outln!("wrote {n} entries (redacted) to {}", har.display());
    }
    if rec.no_capture {
        crate::outln!(
            "\nstopped: {} exchange(s) seen ({} with errors, {} incomplete), none recorded",
            summary.exchanges,
            summary.errors,
            summary.incomplete
        );
    } else {
        crate::outln!(
            "\nstopped: {} exchange(s) recorded ({} with errors, {} incomplete) in {}",
            summary.exchanges,
            summary.errors,
            summary.incomplete,
            summary.path.display()
        );
    }
    if let Some(gw) = gateway {
        for (why, n) in gw.refusals() {
            crate::outln!("refused {n} request(s) {} (none forwarded)", why.describe());
        }
    }
    if summary.live_skipped > 0 {
        crate::sayln!(
            "note: the live view skipped {} exchange(s) while its analysis caught up (all are \
             recorded): run `oauthscope analyze {}` for the full analysis",
            summary.live_skipped,
            summary.path.display()
        );
    }
    if summary.write_failures > 0 {
        anyhow::bail!(
            "{} exchange(s) could not be written to {}",
            summary.write_failures,
            summary.path.display()
        );
    }
    Ok(())
}

/// A capture that reaches the file-size limit (`ulimit -f`) must fail its write (the
/// writer warns and forwarding goes on), not kill the proxy with SIGXFSZ.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code and is
    // async-signal-safe; nothing else in the process handles SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed now, before the proxy says
/// it listens, so a signal sent right after that line is never missed.
pub(super) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        crate::sayln!("\nshutting down: letting in-flight exchanges finish...");
    }
}
