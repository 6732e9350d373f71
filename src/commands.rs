//! Each subcommand's `run`: build options from validated flags, do the job, report.

use anyhow::Context as _;

use crate::analyze::{Engine, Severity};
use crate::ca::{LocalCa, trust_instructions};
use crate::capture::source::Source;
use crate::cli::{
    AnalyzeArgs, CaArgs, DemoArgs, ExportArgs, Format, LintArgs, ProxyArgs, ReplayArgs, ServeArgs,
    TimelineArgs, TimelineFormat, check_listen, default_capture_path,
};
use crate::connector::{self, Connector, analyzer::ConnectorCheck};
use crate::proxy::console::Style;
use crate::proxy::{self, ProxyOptions, scope::Scope};
use crate::report;

/// `oauthscope proxy`
pub async fn proxy(args: ProxyArgs) -> anyhow::Result<()> {
    check_listen(&args.listen, args.allow_remote).map_err(anyhow::Error::msg)?;
    ignore_file_size_signal();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "WARNING: listening on {} (not loopback): anyone who can reach this address can \
             use the proxy and read what passes through it.",
            args.listen
        );
    }
    let scope = Scope::new(&args.scope, &args.ignore).context("invalid --scope/--ignore regex")?;
    let connector = args.connector.as_deref().map(load_connector).transpose()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let opts = ProxyOptions {
        out: args.out.clone().unwrap_or_else(default_capture_path),
        max_body: args.max_body,
        body_memory: args.body_memory,
        scope,
        upstream_cas: args.upstream.upstream_ca.clone(),
        insecure_upstream: args.upstream.insecure_upstream,
        ca_dir: args.ca_dir.clone(),
        quiet: args.quiet,
        grace: args.grace(),
        upstream_timeout: args.upstream_timeout,
        client_timeout: args.client_timeout,
        record: !args.no_capture,
        connector,
        observers: Vec::new(),
    };
    let summary = proxy::run(opts, listener, shutdown_signal()).await?;
    if let Some(har) = &args.har {
        let n = export_har(&summary.path, har, false, args.connector.as_deref())?;
        crate::outln!("wrote {n} entries (redacted) to {}", har.display());
    }
    if args.no_capture {
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
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
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

/// Print a warning about an input; its text may quote the input, so it is made safe
/// for the terminal first.
fn warn(w: &dyn std::fmt::Display) {
    eprintln!(
        "warning: {}",
        crate::capture::redact::sanitize_for_terminal(&w.to_string())
    );
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
        crate::outln!("{}", serde_json::to_string_pretty(info)?);
        return Ok(());
    }
    if args.rotate {
        crate::outln!(
            "rotated: a new CA replaces the old one; clients must trust the new certificate.\n"
        );
    } else if info.created {
        crate::outln!("created a new CA.\n");
    }
    crate::outln!("certificate  {}", info.cert_path.display());
    crate::outln!(
        "private key  {} (mode 0600; keep it secret)",
        info.key_path.display()
    );
    crate::outln!("subject      {}", info.subject);
    crate::outln!("SHA-256      {}", info.sha256);
    crate::outln!("expires      {}", info.not_after);
    crate::outln!("SPKI SHA-256 {}", info.spki_sha256);
    let proxy_url = if args.proxy.contains("://") {
        args.proxy.clone()
    } else {
        format!("http://{}", args.proxy)
    };
    crate::outln!(
        "\nRoute your client through the proxy and trust the CA:\n{}",
        trust_instructions(info, &proxy_url)
    );
    Ok(())
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

/// `oauthscope analyze`: returns whether a finding reached `--fail-on`.
pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<bool> {
    let rich = matches!(args.format, Format::Markdown | Format::Html);
    let (engine, bad) = run_engine(&args.capture, rich, args.connector.as_deref())?;
    let (findings, state, events) = engine.finish();
    let events = events.unwrap_or_default();
    let title = args.capture.display().to_string();
    let sum = report::summary(&findings, &state, bad);
    match args.format {
        Format::Json => {
            let r = report::JsonReport {
                findings: &findings,
                summary: &sum,
            };
            crate::outln!("{}", serde_json::to_string_pretty(&r)?);
        }
        Format::Text => crate::out!("{}", report::text(&findings, &sum, &Style::detect())),
        Format::Markdown => crate::out!(
            "{}",
            report::html::markdown(&title, &findings, &sum, &events)
        ),
        Format::Html => crate::out!(
            "{}",
            report::html::html(&title, &findings, &sum, &events, &state)
        ),
    }
    Ok(args
        .fail_on
        .is_some_and(|min| findings.iter().any(|f| f.severity >= min)))
}

/// `oauthscope timeline`
pub fn timeline(args: TimelineArgs) -> anyhow::Result<()> {
    let (engine, _bad) = run_engine(&args.capture, true, args.connector.as_deref())?;
    let (findings, state, events) = engine.finish();
    let events = events.unwrap_or_default();
    match args.format {
        TimelineFormat::Json => {
            let tokens: Vec<_> = state.tokens.values().collect();
            let v = serde_json::json!({
                "events": events,
                "tokens": tokens,
                "families": state.families,
                "findings": findings,
            });
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        TimelineFormat::Text => crate::out!(
            "{}",
            report::timeline_text(&events, &state, &findings, &Style::detect())
        ),
    }
    Ok(())
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

/// `oauthscope lint-connector`: returns whether a finding reached `--fail-on`.
pub fn lint_connector(args: LintArgs) -> anyhow::Result<bool> {
    let c = load_connector(&args.definition)?;
    let findings = connector::lint::lint(&c);
    let mut by = std::collections::BTreeMap::new();
    for f in &findings {
        *by.entry(f.severity.name()).or_insert(0usize) += 1;
    }
    let verdict = match findings.first() {
        Some(f) if f.severity >= Severity::Medium => {
            format!("The most serious problem: {}.", f.title)
        }
        Some(_) => "Nothing that breaks the connection; notes below.".to_string(),
        None => "No problems found in the connector definition.".to_string(),
    };
    let sum = report::Summary {
        verdict,
        exchanges: 0,
        findings: findings.len(),
        by_severity: by,
        tokens_issued: 0,
        sign_ins: 0,
        unreadable_lines: 0,
    };
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "definition": { "path": args.definition.display().to_string(), "kind": c.kind },
                "findings": findings,
                "summary": { "verdict": sum.verdict, "findings": sum.findings, "by_severity": sum.by_severity },
            });
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text | Format::Markdown | Format::Html => {
            let style = Style::detect();
            crate::outln!("{}\n", style.bold(&sum.verdict));
            crate::outln!(
                "{} ({}): {} finding(s)",
                args.definition.display(),
                c.kind,
                findings.len()
            );
            crate::out!("{}", report::findings_text(&findings, &style));
        }
    }
    Ok(args
        .fail_on
        .is_some_and(|min| findings.iter().any(|f| f.severity >= min)))
}

/// `oauthscope export`
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let n = export_har(
        &args.input,
        &args.har,
        args.no_redact,
        args.connector.as_deref(),
    )?;
    let message = format!(
        "wrote {n} entries to {}{}",
        if args.har.as_os_str() == "-" {
            "standard output".to_string()
        } else {
            args.har.display().to_string()
        },
        if args.no_redact {
            " (secrets in clear: keep it private)"
        } else {
            " (secrets redacted)"
        }
    );
    // The HAR itself may be on stdout: the message goes to stderr then.
    if args.har.as_os_str() == "-" {
        eprintln!("{message}");
    } else {
        crate::outln!("{message}");
    }
    Ok(())
}

/// Write `input` (capture or HAR) as HAR 1.2: a first pass finds the findings each
/// exchange is evidence for, a second writes the entries one by one.
pub fn export_har(
    input: &std::path::Path,
    out: &std::path::Path,
    no_redact: bool,
    connector: Option<&std::path::Path>,
) -> anyhow::Result<u64> {
    use crate::capture::har::{EntryFacts, HarOptions, HarWriter};
    use std::collections::HashMap;
    let (engine, _) = run_engine(input, false, connector)?;
    let known = engine.known.clone();
    let (findings, _, _) = engine.finish();
    let mut by_exchange: HashMap<u64, Vec<String>> = HashMap::new();
    for f in &findings {
        for id in &f.exchanges {
            let v = by_exchange.entry(*id).or_default();
            if !v.iter().any(|r| r == f.rule) {
                v.push(f.rule.to_string());
            }
        }
    }
    let source = Source::open(input)?;
    let mut engine = Engine::new(&source.salt, false);
    let fpr = engine.fpr.clone();
    let file = create_output(out)?;
    let mut writer = HarWriter::new(
        file,
        HarOptions {
            redact: (!no_redact).then(|| fpr.clone()),
            salt: Some(source.salt.clone()),
            known: (!no_redact).then_some(known),
        },
    )?;
    let mut result: std::io::Result<()> = Ok(());
    let info = with_progress(&source, |warn, tick| {
        source.run(warn, |ex| {
            let step = engine.push(&ex);
            let facts = EntryFacts {
                step: step.name().to_string(),
                token_fps: crate::oauth::timeline::token_fps(&step, &fpr),
                findings: by_exchange.get(&ex.id).cloned().unwrap_or_default(),
            };
            if result.is_ok() {
                result = writer.entry(&ex, &facts);
            }
            tick();
        })
    })?;
    result.with_context(|| format!("writing {}", out.display()))?;
    writer
        .finish()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(info.exchanges)
}

/// Where an export goes: a private (0600) file, never through a symbolic link, or
/// standard output for `-`.
fn create_output(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdout().lock()));
    }
    let file = crate::capture::files::create_private(path)?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

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

/// `oauthscope replay`: returns whether a checklist step failed.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<bool> {
    use crate::capture::writer::{PendingExchange, create_capture_file};
    use crate::capture::{CaptureHeader, CaptureWriter};
    use crate::replay::client::{ReplayOptions, replay};
    let env = |v: &Option<String>| -> anyhow::Result<Option<String>> {
        match v {
            None => Ok(None),
            Some(name) => std::env::var(name)
                .map(Some)
                .map_err(|_| anyhow::anyhow!("environment variable {name} is not set")),
        }
    };
    let opts = ReplayOptions {
        only_oauth: args.only.is_some(),
        filter: args
            .filter
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .context("invalid --filter regex")?,
        force: args.force,
        browser_steps: false,
        pace: false,
        refresh_token: env(&args.refresh_token_env)?,
        client_secret: env(&args.client_secret_env)?,
        policy: crate::replay::lineage::Policy::Fresh,
        targets: crate::replay::client::Targets::parse(&args.target).map_err(anyhow::Error::msg)?,
    };
    let source = Source::open(&args.capture)?;
    let mut engine = Engine::new(&source.salt, false);
    let mut exchanges = Vec::new();
    source.run(
        |w| warn(&w),
        |ex| {
            let step = engine.push(&ex);
            if ex.kind == crate::capture::Kind::Http {
                exchanges.push((ex, step));
            }
        },
    )?;
    if !exchanges
        .iter()
        .any(|(_, s)| !matches!(s, crate::oauth::Step::Other))
    {
        eprintln!(
            "note: {} holds no OAuth traffic; replaying its requests as they are",
            args.capture.display()
        );
    }
    let tls = proxy::upstream::client_config(
        &args.upstream.upstream_ca,
        args.upstream.insecure_upstream,
    )?;
    let out = args.out.clone().unwrap_or_else(|| {
        let p = default_capture_path();
        p.with_file_name(format!(
            "replay-{}",
            p.file_name().unwrap_or_default().to_string_lossy()
        ))
    });
    let salt = crate::capture::redact::random_salt();
    let file = create_capture_file(
        &out,
        &CaptureHeader::new(crate::capture::now_rfc3339(), salt).with_max_body(1 << 20),
    )?;
    let writer = CaptureWriter::start(Some(file), out.clone(), 1 << 20, Vec::new())?;
    let sink = writer.sink();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let (outcomes, checks) = replay(
        exchanges,
        &opts,
        proxy::upstream::connector(tls, true),
        &bar,
        |exchange, request_body, response_body| {
            sink.send(PendingExchange {
                exchange,
                request_body,
                response_body: Some(response_body),
            });
        },
    )
    .await;
    bar.finish_and_clear();
    drop(sink);
    let summary = tokio::task::spawn_blocking(move || writer.finish()).await?;
    let failed = checks.iter().any(|c| c.result == "failed");
    match args.format {
        Format::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"exchanges": outcomes, "checklist": checks, "capture": out.display().to_string()})
            )?
        ),
        _ => {
            let style = Style::detect();
            for o in &outcomes {
                let then = o
                    .then_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into());
                let now = o
                    .now_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into());
                let verdict = if o.verdict == "same" {
                    style.green(&o.verdict)
                } else if o.verdict.starts_with("skipped") {
                    style.dim(&o.verdict)
                } else {
                    style.yellow(&o.verdict)
                };
                let id = if o.early {
                    format!("{} early", o.id)
                } else {
                    o.id.to_string()
                };
                crate::outln!(
                    "#{:<4} {:<24} {:<6} {} then {then} now {now}  {verdict}",
                    id,
                    o.step,
                    o.method,
                    crate::capture::redact::sanitize_for_terminal(&o.url)
                );
            }
            if outcomes.iter().any(|o| o.early) {
                crate::outln!(
                    "(early: the first refresh went ahead of the first API call, so the API \
                     calls run with a token issued now; it is replayed in its place too)"
                );
            }
            crate::outln!("\nChecklist (Microsoft's \"Troubleshoot OAuth 2.0\" steps)");
            for c in &checks {
                let r = match c.result {
                    "passed" => style.green("passed "),
                    "failed" => style.red("failed "),
                    _ => style.dim("skipped"),
                };
                crate::outln!("  {} {r} {} ({})", c.step, c.what, c.why);
            }
            crate::outln!(
                "\nrecorded {} exchange(s) to {}",
                summary.exchanges,
                out.display()
            );
        }
    }
    Ok(failed)
}

/// Sample flows built into the binary for `oauthscope demo`.
const DEMOS: [(&str, &str); 5] = [
    (
        "no-refresh-token",
        include_str!("../samples/no-refresh-token.jsonl"),
    ),
    (
        "rotation-ignored",
        include_str!("../samples/rotation-ignored.jsonl"),
    ),
    ("stale-token", include_str!("../samples/stale-token.jsonl")),
    (
        "bearer-header",
        include_str!("../samples/bearer-header.jsonl"),
    ),
    ("good-flow", include_str!("../samples/good-flow.jsonl")),
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
        observers: Vec::new(),
    };
    crate::outln!(
        "demo `{name}`: a built-in client signs in through the proxy; the sample is served back as the service\n"
    );
    let proxy_task = tokio::spawn(proxy::run(opts, listener, async move {
        let _ = proxy_stopped.await;
    }));

    // The client: the sample's requests, sent to the served origin through the proxy.
    let mut engine = Engine::new("00", false);
    let walk: Vec<_> = exchanges
        .into_iter()
        .map(|mut ex| {
            let old = crate::oauth::parse::url_origin(&ex.request.url);
            ex.request.url = ex.request.url.replacen(&old, &origin, 1);
            let step = engine.push(&ex);
            (ex, step)
        })
        .collect();
    let client_tls = proxy::upstream::client_config(&[ca_dir.join("ca.pem")], false)?;
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
    };
    replay(
        walk,
        &opts,
        connector,
        &indicatif::ProgressBar::hidden(),
        |_, _, _| {},
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
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
