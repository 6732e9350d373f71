//! `oauthscope lint-connector`: check a connector definition on its own.

use super::load_connector;
use crate::analyze::Severity;
use crate::cli::{LintArgs, TextFormat};
use crate::connector;
use crate::report::{self, style::Style};

/// `oauthscope lint-connector`: returns whether a finding reached `--fail-on`.
pub fn lint_connector(args: LintArgs) -> anyhow::Result<bool> {
    let c = load_connector(&args.definition)?;
    let findings = connector::lint::lint(&c);
    let verdict = match findings.first() {
        Some(f) if f.severity >= Severity::Medium => {
            format!("The most serious problem: {}.", f.title)
        }
        Some(_) => "Nothing that breaks the connection; notes below.".to_string(),
        None => "No problems found in the connector definition.".to_string(),
    };
    let by_severity = report::by_severity(&findings);
    match args.format {
        TextFormat::Json => {
            let v = serde_json::json!({
                "definition": { "path": args.definition.display().to_string(), "kind": c.kind },
                "findings": findings,
                "summary": { "verdict": verdict, "findings": findings.len(), "by_severity": by_severity },
            });
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        TextFormat::Text => {
            let style = Style::detect();
            crate::outln!("{}\n", style.bold(&verdict));
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
