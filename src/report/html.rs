//! Reports to share: Markdown (for a ticket) and one self-contained HTML file (no network
//! access, no script) with an SVG timeline: a lane per token from issue to expiry, API
//! calls as marks colored by status, grants and refreshes, the first 401, finding flags.

use std::fmt::Write;

use super::{Summary, fmt_rel};
use crate::analyze::{Finding, Severity};
use crate::oauth::timeline::{Event, FlowState, TokenKind};

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

fn sev_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#7a0000",
        Severity::High => "#c62828",
        Severity::Medium => "#e08a00",
        Severity::Low => "#1565c0",
        Severity::Info => "#607d8b",
    }
}

fn status_color(status: Option<u16>) -> &'static str {
    match status {
        Some(s) if s < 300 => "#2e7d32",
        Some(s) if s < 400 => "#0277bd",
        Some(401) | Some(403) => "#c62828",
        Some(s) if s < 500 => "#e08a00",
        _ => "#7a0000",
    }
}

/// The SVG timeline.
pub fn timeline_svg(events: &[Event], state: &FlowState, findings: &[Finding]) -> String {
    let end = events.iter().map(|e| e.t).fold(0.0f64, f64::max);
    let mut tokens: Vec<_> = state.tokens.values().collect();
    tokens.sort_by_key(|t| (t.issued_by, t.kind == TokenKind::Refresh));
    let horizon = tokens
        .iter()
        .filter_map(|t| t.expires_at.map(|e| state.rel(e)))
        .filter(|e| *e <= end * 1.5 + 60.0)
        .fold(end, f64::max)
        .max(1e-3);
    let (left, width) = (170.0, 770.0);
    let x = |t: f64| left + (t.max(0.0) / horizon) * width;
    let lane_h = 26.0;
    let lanes = tokens.len() + 2;
    let height = 40.0 + lane_h * lanes as f64 + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="timeline" width="1000" height="{height}" viewBox="0 0 1000 {height}" font-family="sans-serif" font-size="11">"#
    );
    // Axis.
    let axis_y = height - 20.0;
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#999"/>"##,
        left + width
    );
    for i in 0..=4 {
        let t = horizon * i as f64 / 4.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#666">+{}</text>"##,
            x(t),
            axis_y + 14.0,
            esc(&fmt_rel(t))
        );
    }
    // Lane 0: grants (authorize, code exchange, refreshes) and other OAuth steps.
    let lane_y = |i: usize| 30.0 + lane_h * i as f64;
    let _ = write!(
        s,
        r##"<text x="4" y="{}" fill="#333">grants &amp; refreshes</text>"##,
        lane_y(0) + 4.0
    );
    for e in events
        .iter()
        .filter(|e| e.step.starts_with("token") || e.step == "authorize" || e.step == "callback")
    {
        let (cx, cy) = (x(e.t), lane_y(0));
        let fill = status_color(e.status);
        let _ = write!(
            s,
            r#"<polygon class="grant" points="{},{} {},{} {},{} {},{}" fill="{fill}"><title>#{} {} {}</title></polygon>"#,
            cx,
            cy - 7.0,
            cx + 7.0,
            cy,
            cx,
            cy + 7.0,
            cx - 7.0,
            cy,
            e.id,
            esc(e.step),
            e.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "error".into())
        );
    }
    // One lane per token.
    let mut first_401_drawn = false;
    for (i, t) in tokens.iter().enumerate() {
        let y = lane_y(i + 1);
        let kind = if t.kind == TokenKind::Access {
            "access"
        } else {
            "refresh"
        };
        let _ = write!(
            s,
            r##"<text x="4" y="{}" fill="#333">{kind} fp:{}</text>"##,
            y + 4.0,
            esc(&t.fp)
        );
        let start = state.rel(t.issued_at);
        let stop = t
            .expires_at
            .map(|e| state.rel(e))
            .unwrap_or(horizon)
            .min(horizon);
        let color = if t.kind == TokenKind::Access {
            "#90caf9"
        } else {
            "#ce93d8"
        };
        let _ = write!(
            s,
            r#"<rect class="lane" x="{}" y="{}" width="{}" height="10" rx="3" fill="{color}"><title>{kind} token fp:{} issued by #{}{}</title></rect>"#,
            x(start),
            y - 5.0,
            (x(stop) - x(start)).max(2.0),
            esc(&t.fp),
            t.issued_by,
            t.expires_at
                .map(|e| format!(", expires +{}", fmt_rel(state.rel(e))))
                .unwrap_or_default()
        );
        if t.expires_at.is_some_and(|e| state.rel(e) <= horizon) {
            let _ = write!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#555" stroke-dasharray="2,2"/>"##,
                x(stop),
                y - 9.0,
                y + 9.0
            );
        }
        // API calls made with this token.
        for e in events.iter().filter(|e| {
            (e.step == "api" || e.step == "userinfo")
                && e.facts
                    .iter()
                    .any(|f| f.starts_with(&format!("token fp:{}", t.fp)))
        }) {
            let _ = write!(
                s,
                r#"<circle class="call" cx="{}" cy="{y}" r="4" fill="{}"><title>#{} {} {}</title></circle>"#,
                x(e.t),
                status_color(e.status),
                e.id,
                esc(&e.url),
                e.status.map(|s| s.to_string()).unwrap_or_default()
            );
            if e.status == Some(401) && !first_401_drawn {
                first_401_drawn = true;
                let _ = write!(
                    s,
                    r##"<text class="first401" x="{}" y="{}" fill="#c62828" font-weight="bold" text-anchor="end">first 401</text>"##,
                    x(e.t) - 6.0,
                    y - 8.0
                );
            }
        }
    }
    // API calls without a known token.
    let other = lane_y(lanes - 1);
    let _ = write!(
        s,
        r##"<text x="4" y="{}" fill="#333">calls without a known token</text>"##,
        other + 4.0
    );
    for e in events.iter().filter(|e| {
        (e.step == "api" || e.step == "userinfo")
            && !e.facts.iter().any(|f| {
                tokens
                    .iter()
                    .any(|t| f.starts_with(&format!("token fp:{}", t.fp)))
            })
    }) {
        let _ = write!(
            s,
            r#"<circle class="call" cx="{}" cy="{other}" r="4" fill="{}"><title>#{} {}</title></circle>"#,
            x(e.t),
            status_color(e.status),
            e.id,
            esc(&e.url)
        );
    }
    // Finding flags at their first evidence.
    for f in findings {
        let Some(ev) = f
            .exchanges
            .first()
            .and_then(|id| events.iter().find(|e| e.id == *id))
        else {
            continue;
        };
        let fx = x(ev.t);
        let _ = write!(
            s,
            r#"<g class="finding-marker" data-rule="{rule}"><line x1="{fx}" y1="12" x2="{fx}" y2="{}" stroke="{c}" stroke-width="1"/><polygon points="{fx},4 {},8 {fx},12" fill="{c}"/><title>{rule}: {title}</title></g>"#,
            axis_y,
            fx + 9.0,
            rule = esc(f.rule),
            c = sev_color(f.severity),
            title = esc(&f.title)
        );
    }
    s.push_str("</svg>");
    s
}

/// ` · caused by x` / ` · led to failures: #3 #5`
fn link_text(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(c) = f.caused_by {
        s.push_str(&format!(" · caused by {c}"));
    }
    if !f.consequences.is_empty() {
        s.push_str(&format!(
            " · led to failures: {}",
            super::ids(&f.consequences)
        ));
    }
    s
}

/// The whole HTML report.
pub fn html(
    title: &str,
    findings: &[Finding],
    sum: &Summary,
    events: &[Event],
    state: &FlowState,
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<title>oauthscope: {t}</title><style>\
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1040px;color:#222}}\
.verdict{{font-size:1.3em;font-weight:600;padding:.6em 1em;border-left:6px solid #c62828;background:#fdecea}}\
.verdict.ok{{border-color:#2e7d32;background:#e8f5e9}}\
.finding{{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}}\
.sev{{display:inline-block;color:#fff;border-radius:3px;padding:0 .5em;font-size:.85em;margin-right:.5em}}\
code{{background:#f4f4f4;padding:0 .2em}} table{{border-collapse:collapse;font-size:.9em}}\
td,th{{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left;vertical-align:top;word-break:break-all}}\
.muted{{color:#666}}</style></head><body>\n",
        t = esc(title)
    );
    let ok = findings.iter().all(|f| f.severity < Severity::Medium);
    let _ = write!(
        h,
        "<h1>oauthscope report</h1><p class=\"muted\">{}</p>",
        esc(title)
    );
    let _ = write!(
        h,
        "<p class=\"verdict{}\" id=\"verdict\">{}</p>",
        if ok { " ok" } else { "" },
        esc(&sum.verdict)
    );
    let _ = write!(
        h,
        "<p>{} exchanges, {} sign-in(s), {} token(s) issued, {} finding(s).</p>",
        sum.exchanges, sum.sign_ins, sum.tokens_issued, sum.findings
    );
    h.push_str("<h2>Timeline</h2>");
    h.push_str(&timeline_svg(events, state, findings));
    let _ = write!(h, "<h2>Findings</h2>");
    if findings.is_empty() {
        h.push_str("<p>No findings.</p>");
    }
    for f in findings {
        let ev: Vec<String> = f.exchanges.iter().map(|i| format!("#{i}")).collect();
        let _ = write!(
            h,
            "<div class=\"finding\" data-rule=\"{r}\"><p><span class=\"sev\" style=\"background:{c}\">{s}</span><code>{r}</code> <strong>{t}</strong></p>\
<p class=\"muted\">evidence: {e}{st}{d}{link}</p><p>{detail}</p><p><strong>Fix:</strong> {fix}</p></div>",
            r = esc(f.rule),
            c = sev_color(f.severity),
            s = f.severity.name(),
            t = esc(&f.title),
            e = esc(&ev.join(" ")),
            st = f
                .step
                .map(|s| format!(" · checklist {}", esc(s)))
                .unwrap_or_default(),
            d = f
                .definition
                .as_ref()
                .map(|d| format!(" · definition: {}", esc(d)))
                .unwrap_or_default(),
            detail = esc(&f.detail),
            fix = esc(&f.fix),
            link = esc(&link_text(f))
        );
    }
    h.push_str("<h2>Exchanges</h2><table><tr><th>time</th><th>#</th><th>step</th><th>request</th><th>status</th><th>facts</th></tr>");
    for e in events {
        let _ = write!(
            h,
            "<tr><td>+{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            esc(&fmt_rel(e.t)),
            e.id,
            esc(e.step),
            esc(&e.method),
            esc(&e.url),
            e.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "error".into()),
            esc(&e.facts.join(", "))
        );
    }
    h.push_str("</table><p class=\"muted\">Secrets are shown as fingerprints (first 8 hex digits of HMAC-SHA256 keyed by the capture's salt).</p></body></html>\n");
    h
}

/// Escape captured or generated text for Markdown (CommonMark and GFM, including
/// renderers that pass HTML through): every character that could open markup, a link,
/// an image, a code span, a table cell or an HTML tag is escaped; line breaks and other
/// control characters become spaces (a `\r` or `\n` must not start a forged table row);
/// bidirectional overrides are shown as `\u{...}`. The result is one line of inline text.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut leading_digits = true;
    for (i, c) in s.chars().enumerate() {
        let at_start = i == 0;
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '~' | '!' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '#' | '-' | '+' | '=' if at_start => {
                out.push('\\');
                out.push(c);
            }
            '.' if leading_digits && i > 0 => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c if crate::capture::redact::is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
        leading_digits = leading_digits && c.is_ascii_digit();
    }
    out
}

/// The Markdown report. Everything that comes from the capture or the definition goes
/// through [`md`].
pub fn markdown(title: &str, findings: &[Finding], sum: &Summary, events: &[Event]) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# oauthscope report: {}\n", md(title));
    let _ = writeln!(m, "**Verdict:** {}\n", md(&sum.verdict));
    let _ = writeln!(
        m,
        "{} exchanges, {} sign-in(s), {} token(s) issued, {} finding(s).\n",
        sum.exchanges, sum.sign_ins, sum.tokens_issued, sum.findings
    );
    let _ = writeln!(m, "## Findings\n");
    if findings.is_empty() {
        let _ = writeln!(m, "No findings.\n");
    }
    for f in findings {
        let ev: Vec<String> = f.exchanges.iter().map(|i| format!("#{i}")).collect();
        let _ = writeln!(
            m,
            "### {} `{}`: {}\n",
            f.severity.name().to_uppercase(),
            f.rule,
            md(&f.title)
        );
        let _ = write!(
            m,
            "- Evidence: {}",
            if ev.is_empty() {
                "(definition)".into()
            } else {
                ev.join(", ")
            }
        );
        if let Some(s) = f.step {
            let _ = write!(m, " (checklist {s})");
        }
        let _ = writeln!(m);
        if let Some(d) = &f.definition {
            let _ = writeln!(m, "- Definition: {}", md(d));
        }
        if let Some(c) = f.caused_by {
            let _ = writeln!(m, "- Caused by: `{c}`");
        }
        if !f.consequences.is_empty() {
            let _ = writeln!(m, "- Led to failures: {}", super::ids(&f.consequences));
        }
        let _ = writeln!(m, "\n{}\n\n**Fix:** {}\n", md(&f.detail), md(&f.fix));
    }
    let _ = writeln!(
        m,
        "## Timeline\n\n| time | # | step | request | status | facts |\n|---|---|---|---|---|---|"
    );
    for e in events {
        let _ = writeln!(
            m,
            "| +{} | {} | {} | {} {} | {} | {} |",
            fmt_rel(e.t),
            e.id,
            md(e.step),
            md(&e.method),
            md(&e.url),
            e.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "error".into()),
            md(&e.facts.join(", "))
        );
    }
    m
}
