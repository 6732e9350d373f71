//! `oauthscope demo`: serve a sample, drive a client through the proxy, show the result.

use super::analyze::{analyze, timeline};
use crate::ca::LocalCa;
use crate::capture::source::Source;
use crate::cli::{AnalyzeArgs, DemoArgs, Format, TimelineArgs, TimelineFormat};
use crate::oauth::Flow;
use crate::proxy::{self, ProxyOptions, scope::Scope};

/// Sample flows built into the binary for `oauthscope demo`.
const DEMOS: [(&str, &str); 5] = [
    (
        "no-refresh-token",
        include_str!("../../samples/no-refresh-token.jsonl"),
    ),
    (
        "rotation-ignored",
        include_str!("../../samples/rotation-ignored.jsonl"),
    ),
    (
        "stale-token",
        include_str!("../../samples/stale-token.jsonl"),
    ),
    (
        "bearer-header",
        include_str!("../../samples/bearer-header.jsonl"),
    ),
    ("good-flow", include_str!("../../samples/good-flow.jsonl")),
];

/// `oauthscope demo`
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    use crate::replay::client::{ReplayOptions, replay};
    use crate::replay::serve::{Faults, Replay};
    let Some((name, text)) = DEMOS.iter().find(|(n, _)| *n == args.scenario) else {
        let names: Vec<&str> = DEMOS.iter().map(|(n, _)| *n).collect();
        anyhow::bail!(
            "no demo called {:?}; try one of: {}",
            args.scenario,
            names.join(", ")
        );
    };
    let dir = std::env::temp_dir().join(format!("oauthscope-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sample = dir.join(format!("{name}.jsonl"));
    std::fs::write(&sample, text)?;
    let mut exchanges = Vec::new();
    let source = Source::open(&sample)?;
    source.run(|_| {}, |ex| exchanges.push(ex))?;
    let ca_dir = dir.join("certs");
    let ca = LocalCa::load_or_create(&ca_dir)?;

    // The upstream: the sample served back.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("https://{}", upstream.local_addr()?);
    let tls = ca.config_for("127.0.0.1")?;
    let (stop_serve, serve_stopped) = tokio::sync::oneshot::channel::<()>();
    let replay_table = Replay::new(
        exchanges.clone(),
        Some(&source.salt),
        Faults::default(),
        Box::new(|_| {}),
    );
    tokio::spawn(replay_table.serve(upstream, Some(tls), async move {
        let _ = serve_stopped.await;
    }));

    // The proxy, recording.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = listener.local_addr()?;
    let capture = dir.join("demo-capture.jsonl");
    let (stop_proxy, proxy_stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = ProxyOptions {
        out: capture.clone(),
        max_body: 1 << 20,
        body_memory: 16 << 20,
        scope: Scope::default(),
        upstream_cas: vec![ca_dir.join("ca.pem")],
        insecure_upstream: false,
        ca_dir: ca_dir.clone(),
        quiet: false,
        grace: std::time::Duration::from_secs(5),
        upstream_timeout: std::time::Duration::from_secs(30),
        client_timeout: std::time::Duration::from_secs(30),
        record: true,
        connector: None,
        gateway: None,
        redact_at_capture: false,
        web: None,
        client_certs: false,
        client_identities: Vec::new(),
    };
    crate::outln!(
        "demo `{name}`: a built-in client signs in through the proxy; the sample is served back as the service\n"
    );
    let proxy_task = tokio::spawn(proxy::run(opts, listener, async move {
        let _ = proxy_stopped.await;
    }));

    // The client: the sample's requests, sent to the served origin through the proxy.
    let mut flow = Flow::new("00", false);
    let walk: Vec<_> = exchanges
        .into_iter()
        .map(|mut ex| {
            let old = crate::oauth::parse::url_origin(&ex.request.url);
            ex.request.url = ex.request.url.replacen(&old, &origin, 1);
            let step = flow.push(&ex);
            (ex, step)
        })
        .collect();
    let client_tls = crate::upstream::client_config(&[ca_dir.join("ca.pem")], false, None)?;
    let tunnel = hyper_util::client::legacy::connect::proxy::Tunnel::new(
        format!("http://{proxy_addr}").parse()?,
        hyper_util::client::legacy::connect::HttpConnector::new(),
    );
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(client_tls)
        .https_only()
        .enable_http1()
        .wrap_connector(tunnel);
    let opts = ReplayOptions {
        only_oauth: false,
        filter: None,
        force: true,
        browser_steps: true,
        pace: true,
        refresh_token: None,
        client_secret: None,
        // The demo's client behaves as the captured client did.
        policy: crate::replay::lineage::Policy::Mirror,
        targets: Default::default(),
        client_cert: None,
    };
    replay(
        walk,
        &opts,
        connector,
        &indicatif::ProgressBar::hidden(),
        |_, _, _| {},
    )
    .await;
    let _ = stop_proxy.send(());
    proxy_task.await??;
    let _ = stop_serve.send(());

    crate::outln!("\n— timeline —\n");
    timeline(TimelineArgs {
        capture: capture.clone(),
        format: TimelineFormat::Text,
        connector: None,
    })?;
    crate::outln!("\n— findings —\n");
    analyze(AnalyzeArgs {
        capture: capture.clone(),
        format: Format::Text,
        fail_on: None,
        connector: None,
    })?;
    crate::outln!(
        "\nThe capture is {}; try `oauthscope export {} --har demo.har`.",
        capture.display(),
        capture.display()
    );
    Ok(())
}
