//! `oauthscope analyze` and `oauthscope timeline`: run the analysis, render it.

use super::run_engine;
use crate::cli::{AnalyzeArgs, Format, TimelineArgs, TimelineFormat};
use crate::report::{self, style::Style};

/// `oauthscope analyze`: returns whether a finding reached `--fail-on`.
pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<bool> {
    let rich = matches!(args.format, Format::Markdown | Format::Html);
    let (engine, bad) = run_engine(&args.capture, rich, args.connector.as_deref())?;
    let analysis = engine.finish();
    let (findings, state, events) = (&analysis.findings, analysis.state(), analysis.events());
    let title = args.capture.display().to_string();
    let sum = report::summary(findings, state, bad);
    match args.format {
        Format::Json => {
            let r = report::JsonReport {
                findings,
                summary: &sum,
            };
            crate::outln!("{}", serde_json::to_string_pretty(&r)?);
        }
        Format::Text => crate::out!("{}", report::text(findings, &sum, &Style::detect())),
        Format::Markdown => {
            crate::out!("{}", report::html::markdown(&title, findings, &sum, events))
        }
        Format::Html => crate::out!(
            "{}",
            report::html::html(&title, findings, &sum, events, state)
        ),
    }
    Ok(args
        .fail_on
        .is_some_and(|min| findings.iter().any(|f| f.severity >= min)))
}

/// `oauthscope timeline`
pub fn timeline(args: TimelineArgs) -> anyhow::Result<()> {
    let (engine, _bad) = run_engine(&args.capture, true, args.connector.as_deref())?;
    let analysis = engine.finish();
    let (findings, state, events) = (&analysis.findings, analysis.state(), analysis.events());
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
            report::timeline_text(events, state, findings, &Style::detect())
        ),
    }
    Ok(())
}
