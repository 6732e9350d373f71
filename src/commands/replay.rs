//! `oauthscope replay`: re-send a captured flow and compare then with now.

use anyhow::Context as _;

use super::warn;
use crate::capture::source::Source;
use crate::cli::{ReplayArgs, TextFormat};
use crate::oauth::Flow;
use crate::replay::checklist::CheckResult;
use crate::report::style::Style;

/// `oauthscope replay`: returns whether a checklist step failed.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<bool> {
    use crate::capture::writer::PendingExchange;
    use crate::replay::client::{ReplayOptions, Verdict, replay};
    let env = |v: &Option<String>| -> anyhow::Result<Option<String>> {
        match v {
            None => Ok(None),
            Some(name) => std::env::var(name)
                .map(Some)
                .map_err(|_| anyhow::anyhow!("environment variable {name} is not set")),
        }
    };
    // Read first: a bad --client-identity stops the replay before anything is sent.
    let (tls, client_cert) = super::own_client_tls(&args.upstream, args.client_identity.as_ref())?;
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
        client_cert: client_cert.clone(),
    };
    let source = Source::open(&args.capture)?;
    if source.redacted_at_capture {
        anyhow::bail!(
            "{} was recorded with --redact-at-capture: it holds fingerprints, not the tokens, \
             codes and secrets a replay must send. Analyze it with `oauthscope analyze`; to \
             replay, record again without --redact-at-capture (on a machine you trust).",
            args.capture.display()
        );
    }
    let mut flow = Flow::new(&source.salt, false);
    let mut exchanges = Vec::new();
    source.run(
        |w| warn(&w),
        |ex| {
            let step = flow.push(&ex);
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
    if let Some(note) = certificate_note(&exchanges, client_cert.as_ref()) {
        eprintln!("note: {note}");
    }
    let (out, _salt, writer) = super::own_capture(args.out.clone(), "replay")?;
    let sink = writer.sink();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let (outcomes, checks) = replay(
        exchanges,
        &opts,
        crate::upstream::connector(tls, true),
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
    let failed = checks.iter().any(|c| c.result == CheckResult::Failed);
    match args.format {
        TextFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"exchanges": outcomes, "checklist": checks, "capture": out.display().to_string()})
            )?
        ),
        TextFormat::Text => {
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
                let shown = o.verdict.to_string();
                let verdict = match o.verdict {
                    Verdict::Same => style.green(&shown),
                    Verdict::Skipped(_) => style.dim(&shown),
                    Verdict::Changed(_) | Verdict::Failed(_) => style.yellow(&shown),
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
                    CheckResult::Passed => style.green("passed "),
                    CheckResult::Failed => style.red("failed "),
                    CheckResult::Skipped => style.dim("skipped"),
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

/// What the replay should say about client certificates: the capture's connector
/// presented one (so its tokens may be bound to it, RFC 8705) and the replay offers none,
/// or another.
fn certificate_note(
    exchanges: &[(crate::capture::Exchange, crate::oauth::Step)],
    ours: Option<&crate::capture::ClientCert>,
) -> Option<String> {
    let mut captured: Vec<&str> = exchanges
        .iter()
        .filter_map(|(ex, _)| ex.client_cert.as_ref().map(|c| c.sha256.as_str()))
        .collect();
    captured.sort_unstable();
    captured.dedup();
    let first = *captured.first()?;
    let named = match captured.len() {
        1 => format!("a client certificate (x5t#S256 {first})"),
        n => format!("{n} client certificates"),
    };
    match ours {
        None => Some(format!(
            "the captured connector presented {named}; this replay presents none \
             (--client-identity CERT[,KEY]), so a server that binds tokens to the \
             certificate or authenticates the client by it will refuse them"
        )),
        Some(c) if !captured.contains(&c.sha256.as_str()) => Some(format!(
            "the captured connector presented {named}; this replay presents another \
             (x5t#S256 {}): tokens it is issued are bound to that one",
            c.sha256
        )),
        Some(_) => None,
    }
}
