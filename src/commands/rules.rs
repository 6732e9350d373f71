//! `oauthscope rules` and `oauthscope explain RULE`: the rule catalog.

use crate::analyze::rules::{CATALOG, Rule, rule};
use crate::cli::{ExplainArgs, RulesArgs, TextFormat};
use crate::report::Style;

/// `oauthscope rules`
pub fn rules(args: RulesArgs) -> anyhow::Result<()> {
    match args.format {
        TextFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(CATALOG)?),
        TextFormat::Text => {
            let style = Style::detect();
            crate::outln!(
                "{:<28} {:<8} {:<7} {:<10} summary",
                "rule",
                "severity",
                "role",
                "checklist"
            );
            for r in CATALOG {
                crate::outln!(
                    "{} {:<8} {:<7} {:<10} {}",
                    style.bold(&format!("{:<28}", r.id)),
                    r.severity.name(),
                    r.role.name(),
                    r.step.unwrap_or("-"),
                    r.summary
                );
            }
            crate::outln!(
                "\nChecklist steps are those of Microsoft's \"Troubleshoot OAuth 2.0\" for custom \
                 connectors (1-5, symptoms a and b). `oauthscope explain RULE` says more."
            );
        }
    }
    Ok(())
}

/// `oauthscope explain RULE`
pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let Some(r) = rule(args.rule.trim()) else {
        let asked = args.rule.trim().to_ascii_lowercase();
        let ids = || CATALOG.iter().map(|r| r.id);
        let mut near: Vec<&str> = ids().filter(|id| id.contains(&asked)).collect();
        if near.is_empty() {
            near = ids()
                .filter(|id| asked.split('-').any(|w| w.len() > 3 && id.contains(w)))
                .collect();
        }
        anyhow::bail!(
            "no rule called {:?}{}; `oauthscope rules` lists them all",
            args.rule,
            if near.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", near.join(", "))
            }
        );
    };
    match args.format {
        TextFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(r)?),
        TextFormat::Text => crate::out!("{}", explanation(r, &Style::detect())),
    }
    Ok(())
}

/// The text of `explain`.
pub fn explanation(r: &Rule, style: &Style) -> String {
    let step = match r.step {
        Some("limitation") => {
            "the checklist's limitation (authorization code grant only)".to_string()
        }
        Some(s @ ("a" | "b")) => format!("symptom ({s}) of the checklist"),
        Some(s) => format!("checklist step {s}"),
        None => "no checklist step".to_string(),
    };
    format!(
        "{}  {} · {} · {step}\n{}\n\n{}\n\n{} {}\n{} {}\n{} {}\n",
        style.bold(r.id),
        r.severity.name(),
        r.role.name(),
        r.summary,
        r.explanation,
        style.bold("Fix:"),
        r.fix,
        style.bold("Example:"),
        r.example,
        style.bold("Reference:"),
        r.reference
    )
}
