//! Each subcommand's `run`: build options from validated flags, do the job, report.

use anyhow::Context as _;

use crate::ca::{LocalCa, trust_instructions};
use crate::cli::{CaArgs, ProxyArgs, check_listen, default_capture_path};
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
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let opts = ProxyOptions {
        out: args.out.clone().unwrap_or_else(default_capture_path),
        max_body: args.max_body,
        scope,
        upstream_cas: args.upstream_ca.clone(),
        insecure_upstream: args.insecure_upstream,
        ca_dir: args.ca_dir.clone(),
        quiet: args.quiet,
        grace: args.grace(),
        observers: Vec::new(),
    };
    let summary = proxy::run(opts, listener, shutdown_signal()).await?;
    println!(
        "\nstopped: {} exchange(s) recorded ({} with errors, {} incomplete) in {}",
        summary.exchanges,
        summary.errors,
        summary.incomplete,
        summary.path.display()
    );
    if summary.write_failures > 0 {
        anyhow::bail!(
            "{} exchange(s) could not be written to {}",
            summary.write_failures,
            summary.path.display()
        );
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    println!("\nshutting down: letting in-flight exchanges finish...");
}

/// `oauthscope ca`
pub fn ca(args: CaArgs) -> anyhow::Result<()> {
    let ca = if args.rotate {
        LocalCa::rotate(&args.ca_dir)?
    } else {
        LocalCa::load_or_create(&args.ca_dir)?
    };
    let info = &ca.info;
    if args.json {
        println!("{}", serde_json::to_string_pretty(info)?);
        return Ok(());
    }
    if args.rotate {
        println!(
            "rotated: a new CA replaces the old one; clients must trust the new certificate.\n"
        );
    } else if info.created {
        println!("created a new CA.\n");
    }
    println!("certificate  {}", info.cert_path.display());
    println!(
        "private key  {} (mode 0600; keep it secret)",
        info.key_path.display()
    );
    println!("subject      {}", info.subject);
    println!("SHA-256      {}", info.sha256);
    println!("expires      {}", info.not_after);
    println!(
        "\nTrust it in your client:\n{}",
        trust_instructions(&info.cert_path)
    );
    Ok(())
}
