//! Reports: the verdict, findings and timeline as terminal text, JSON, Markdown or HTML.

pub mod html;
pub mod layout;
pub mod style;

use serde::Serialize;

use crate::analyze::rules::Role;
use crate::analyze::{Finding, Severity, diagnosis};
use crate::capture::redact::sanitize_for_terminal;
use crate::oauth::timeline::{Event, FlowState, TokenKind};
pub use style::Style;

/// Totals for the summary block.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub verdict: String,
    /// The rule id of the cause the verdict names (`null` when it names none).
    pub cause: Option<&'static str>,
    pub exchanges: u64,
    pub findings: usize,
    pub by_severity: std::collections::BTreeMap<&'static str, usize>,
    pub tokens_issued: usize,
    pub sign_ins: usize,
    pub unreadable_lines: u64,
}

pub fn summary(findings: &[Finding], state: &FlowState, unreadable: u64) -> Summary {
    let (verdict, cause) = diagnose(findings, state);
    Summary {
        verdict,
        cause,
        exchanges: state.exchanges,
        findings: findings.len(),
        by_severity: by_severity(findings),
        tokens_issued: state.tokens.len(),
        sign_ins: state.families.len(),
        unreadable_lines: unreadable,
    }
}

/// How many findings at each severity.
pub fn by_severity(findings: &[Finding]) -> std::collections::BTreeMap<&'static str, usize> {
    let mut by = std::collections::BTreeMap::new();
    for f in findings {
        *by.entry(f.severity.name()).or_insert(0) += 1;
    }
    by
}

/// One sentence saying what is wrong, for someone who reads nothing else: the root
/// cause, what it led to, and the checklist step it falls under.
pub fn verdict(findings: &[Finding], state: &FlowState) -> String {
    diagnose(findings, state).0
}

/// The verdict and the rule id of the cause it names (`None` when it names none).
pub fn diagnose(findings: &[Finding], state: &FlowState) -> (String, Option<&'static str>) {
    let step = |f: &Finding| {
        diagnosis::step_text(f)
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    };
    if let Some(c) = diagnosis::root_cause(findings) {
        let led = consequences_of(findings, c.rule);
        let what: Vec<String> = led.iter().map(|s| s.title.clone()).collect();
        return (
            format!("{}: {}{}.", capitalize(&c.title), what.join("; "), step(c)),
            Some(c.rule),
        );
    }
    // Findings come sorted worst first.
    match findings.first() {
        Some(f) if f.severity >= Severity::Medium && f.role == Role::Symptom => (
            format!(
                "{}, and the capture shows no cause for it{}.",
                capitalize(&f.title),
                step(f)
            ),
            None,
        ),
        Some(f) if f.severity >= Severity::Medium => (
            format!("The most serious problem: {}{}.", f.title, step(f)),
            Some(f.rule),
        ),
        _ if state.exchanges == 0 => ("The capture holds no exchanges.".into(), None),
        _ if state.families.is_empty() && state.tokens.is_empty() => (
            "No OAuth token was issued in this capture: nothing to judge yet.".into(),
            None,
        ),
        _ => (
            "No problems found: the OAuth flow looks correct.".into(),
            None,
        ),
    }
}

/// The symptoms a cause led to, directly or through the causes it explains.
pub fn consequences_of<'a>(findings: &'a [Finding], cause: &str) -> Vec<&'a Finding> {
    let mut out: Vec<&Finding> = Vec::new();
    let mut frontier = vec![cause];
    while let Some(c) = frontier.pop() {
        for f in findings.iter().filter(|f| f.caused_by == Some(c)) {
            if out.iter().any(|o| std::ptr::eq(*o, f)) || f.rule == cause {
                continue;
            }
            out.push(f);
            frontier.push(f.rule);
        }
    }
    out.retain(|f| f.role == Role::Symptom);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn paint_severity(style: &Style, s: Severity) -> String {
    let label = format!("{:<8}", s.name().to_uppercase());
    match s {
        Severity::Critical | Severity::High => style.red(&label),
        Severity::Medium => style.yellow(&label),
        Severity::Low => style.cyan(&label),
        Severity::Info => style.dim(&label),
    }
}

/// The terminal report of `analyze`.
pub fn text(findings: &[Finding], sum: &Summary, style: &Style) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{}\n\n",
        style.bold(&sanitize_for_terminal(&sum.verdict))
    ));
    let counts: Vec<String> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .filter_map(|s| {
        sum.by_severity
            .get(s.name())
            .map(|n| format!("{n} {}", s.name()))
    })
    .collect();
    out.push_str(&format!(
        "{} exchanges, {} sign-in(s), {} token(s) issued; {} finding(s){}\n",
        sum.exchanges,
        sum.sign_ins,
        sum.tokens_issued,
        sum.findings,
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        }
    ));
    out.push_str(&findings_text(findings, style));
    out
}

/// Each finding: severity, rule, title, evidence, definition field, detail, fix.
pub fn findings_text(findings: &[Finding], style: &Style) -> String {
    let mut out = String::new();
    for f in findings {
        out.push('\n');
        let folded = if f.caused_by.is_some() { "  ↳ " } else { "" };
        out.push_str(&format!(
            "{folded}{} {}  {}\n",
            paint_severity(style, f.severity),
            style.bold(f.rule),
            sanitize_for_terminal(&f.title)
        ));
        if let Some(c) = f.caused_by {
            out.push_str(&format!("         {} {c}\n", style.dim("caused by:")));
        }
        if !f.consequences.is_empty() {
            out.push_str(&format!(
                "         {} {}\n",
                style.dim("led to failures:"),
                ids(&f.consequences)
            ));
        }
        let mut parts: Vec<String> = f.exchanges.iter().map(|i| format!("#{i}")).collect();
        if f.occurrences > 1 {
            parts.push(format!("(seen {} times)", f.occurrences));
        }
        if let Some(step) = f.step {
            parts.push(format!("[checklist {step}]"));
        }
        let evidence = parts.join(" ");
        if !evidence.is_empty() {
            out.push_str(&format!(
                "         {} {}\n",
                style.dim("evidence:"),
                evidence
            ));
        }
        if let Some(d) = &f.definition {
            out.push_str(&format!(
                "         {} {}\n",
                style.dim("definition:"),
                sanitize_for_terminal(d)
            ));
        }
        out.push_str(&wrap(&sanitize_for_terminal(&f.detail), 9, 92));
        out.push_str(&format!(
            "         {} {}\n",
            style.green("fix:"),
            sanitize_for_terminal(&f.fix)
        ));
    }
    out
}

/// `#3 #5`
pub fn ids(ids: &[u64]) -> String {
    ids.iter()
        .map(|i| format!("#{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn wrap(s: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.len() + word.len() + 1 > width - indent {
            out.push_str(&format!("{pad}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

/// `analyze --format json`.
#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub findings: &'a [Finding],
    pub summary: &'a Summary,
}

/// The terminal timeline.
pub fn timeline_text(
    events: &[Event],
    state: &FlowState,
    findings: &[Finding],
    style: &Style,
) -> String {
    let mut out = String::new();
    for e in events {
        let status = match e.status {
            Some(s) if s < 300 => style.green(&s.to_string()),
            Some(s) if s < 400 => style.cyan(&s.to_string()),
            Some(s) if s < 500 => style.yellow(&s.to_string()),
            Some(s) => style.red(&s.to_string()),
            None => style.red("ERR"),
        };
        let step = if e.step == "other" {
            style.dim(&format!("{:<24}", e.step))
        } else {
            style.bold(&format!("{:<24}", e.step))
        };
        out.push_str(&format!(
            "{:>10}  {:<6} {} {} {} {}\n",
            style.dim(&format!("+{}", fmt_rel(e.t))),
            format!("#{}", e.id),
            step,
            status,
            sanitize_for_terminal(&e.method),
            sanitize_for_terminal(&e.url)
        ));
        if !e.facts.is_empty() {
            out.push_str(&format!(
                "{:>19}{}\n",
                "",
                style.dim(&sanitize_for_terminal(&e.facts.join(", ")))
            ));
        }
        for rule in &e.findings {
            let sev = findings
                .iter()
                .find(|f| f.rule == *rule)
                .map(|f| f.severity)
                .unwrap_or(Severity::Info);
            out.push_str(&format!(
                "{:>19}{} {}\n",
                "",
                paint_severity(style, sev),
                rule
            ));
        }
    }
    if !state.tokens.is_empty() {
        out.push_str(&format!("\n{}\n", style.bold("Tokens")));
        let mut tokens: Vec<_> = state.tokens.values().collect();
        tokens.sort_by_key(|t| (t.issued_by, t.kind == TokenKind::Refresh));
        for t in tokens {
            let kind = if t.kind == TokenKind::Access {
                "access "
            } else {
                "refresh"
            };
            let exp = match t.expires_at {
                Some(e) => format!("expires +{}", fmt_rel(state.rel(e))),
                None => "no expiry given".into(),
            };
            let sup = t
                .superseded_by
                .as_ref()
                .map(|s| format!(", superseded by fp:{s}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {kind} fp:{}  issued #{} at +{}, {exp}, used {}x ({} failed){sup}\n",
                t.fp,
                t.issued_by,
                fmt_rel(state.rel(t.issued_at)),
                t.uses,
                t.failures
            ));
        }
    }
    out
}

/// Seconds as `1.234s`, `12m03s`, `2h05m`.
pub fn fmt_rel(t: f64) -> String {
    if t < 60.0 {
        format!("{t:.3}s")
    } else if t < 3600.0 {
        format!("{}m{:02}s", (t / 60.0) as u64, (t % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (t / 3600.0) as u64,
            ((t % 3600.0) / 60.0) as u64
        )
    }
}
