//! `oauthscope gateway`: the recording reverse proxy for connectors that run in someone
//! else's cloud.

use std::sync::Arc;

use anyhow::Context as _;

use super::load_connector;
use super::proxy::{options, record_until_stopped};
use crate::cli::{GatewayArgs, check_listen};
use crate::connector::patch;
use crate::proxy::GatewayMode;
use crate::proxy::gateway::{self, Gateway, Origin, Route, routes::parse_routes};

/// `oauthscope gateway`
pub async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    check_listen(&args.listen, args.allow_remote).map_err(anyhow::Error::msg)?;
    let secret = match &args.secret {
        Some(s) => {
            gateway::check_secret(s).map_err(anyhow::Error::msg)?;
            s.clone()
        }
        None => gateway::random_secret(),
    };
    let mut routes = if args.route.is_empty() && args.connector.is_some() {
        Vec::new()
    } else {
        parse_routes(&args.route)?
    };
    let public = args
        .public_url
        .as_deref()
        .map(|u| {
            Origin::parse(u)
                .map(|o| o.to_string())
                .map_err(|e| anyhow::anyhow!("--public-url: {e}"))
        })
        .transpose()?;
    // Files are checked before the port is taken: a bad certificate exits at once.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(gateway::tls::Reloading::new(c.clone(), k.clone())?),
        _ => None,
    };
    let connector = args.connector.as_deref().map(load_connector).transpose()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public = public.unwrap_or_else(|| format!("{scheme}://{local}"));
    if let Some(path) = &args.connector {
        let plan = patch::plan(path, &secret, &public)?;
        for (prefix, origin) in &plan.routes {
            if routes.iter().any(|r: &Route| r.prefix == *prefix) {
                continue;
            }
            routes.push(format!("{prefix}={origin}").parse()?);
        }
        let dest = args
            .patched
            .clone()
            .unwrap_or_else(|| patch::default_destination(path));
        let written = patch::write(&plan, &dest)
            .with_context(|| format!("writing the patched definition to {}", dest.display()))?;
        crate::sayln!(
            "wrote the connector definition pointing at the gateway to {} (import it; keep the original to restore):",
            dest.display()
        );
        for c in &plan.changes {
            crate::sayln!(
                "  {} {}: {} -> {}",
                file_name(&c.file),
                c.path,
                c.old.as_deref().unwrap_or("(absent)"),
                c.new
            );
        }
        for n in &plan.notes {
            crate::sayln!("  note: {n}");
        }
        if written.is_empty() {
            anyhow::bail!("the connector definition had no file to patch");
        }
    }
    let remote = !args.listen.ip().is_loopback();
    let redact = args.redact_at_capture || (remote && !args.keep_secrets);
    if remote {
        eprintln!(
            "WARNING: listening on {} (not loopback): only requests under the path secret are \
             forwarded{}.",
            args.listen,
            if redact {
                "; secrets are stored as fingerprints"
            } else {
                "; --keep-secrets: the capture holds secrets in clear, keep it private"
            }
        );
        if args.public_url.is_none() {
            eprintln!(
                "note: no --public-url: Location headers and discovery documents will name {public}"
            );
        }
    }
    let gw = Arc::new(Gateway::new(
        routes,
        secret,
        public,
        args.rate_limit,
        args.max_upstream,
    ));
    if let Some(t) = &tls {
        t.reload_on_sighup()
            .context("cannot watch SIGHUP for certificate reloads")?;
    }
    let mut opts = options(&args.record, connector);
    opts.gateway = Some(GatewayMode { gateway: gw, tls });
    opts.redact_at_capture = redact;
    let connector = args.connector.as_deref();
    record_until_stopped(opts, listener, &args.record, connector, args.allow_remote).await
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
