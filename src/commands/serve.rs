//! `oauthscope serve`: answer from a capture, as a mock of the captured service.

use anyhow::Context as _;

use super::{proxy::shutdown_signal, warn};
use crate::ca::LocalCa;
use crate::capture::source::Source;
use crate::cli::{ServeArgs, check_listen};

/// `oauthscope serve`
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use crate::replay::serve::{Faults, Replay};
    check_listen(&args.listen, args.allow_remote).map_err(anyhow::Error::msg)?;
    let source = Source::open(&args.capture)?;
    let mut exchanges = Vec::new();
    source.run(|w| warn(&w), |ex| exchanges.push(ex))?;
    let faults = Faults {
        expire_after: args.expire_after,
        no_refresh_token: args.no_refresh_token,
        rotate_refresh_tokens: args.rotate_refresh_tokens,
    };
    let replay = Replay::new(
        exchanges,
        Some(&source.salt),
        faults,
        Box::new(|line| crate::sayln!("{line}")),
    );
    if replay.routes() == 0 {
        anyhow::bail!(
            "{} holds no answered exchange to serve",
            args.capture.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let tls = if args.plain {
        None
    } else {
        let ca = LocalCa::load_or_create(&args.ca_dir)?;
        Some(ca.config_for(&local.ip().to_string())?)
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    crate::outln!(
        "oauthscope serve listening on {scheme}://{local} ({} routes)",
        replay.routes()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    replay.serve(listener, tls, shutdown_signal()).await;
    Ok(())
}
