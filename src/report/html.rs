//! Reports to share: Markdown (for a ticket) and one self-contained HTML file (no network
//! access, no script) with an SVG timeline: a lane per token from issue to expiry, API
//! calls as marks colored by status, grants and refreshes, the first 401, finding flags.

use std::fmt::Write;

use super::{Summary, fmt_rel};
use crate::analyze::{Finding, Severity};
use crate::oauth::timeline::{Event, FlowState};

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

/// The SVG timeline, laid out by [`super::layout`]: idle gaps compressed (a dashed line
/// and the idle time mark each break), marks kept apart, one lane per token from issue
/// to expiry, finding flags, the first 401, and a legend.
pub fn timeline_svg(events: &[Event], state: &FlowState, findings: &[Finding]) -> String {
    const LEFT: f64 = 150.0;
    let l = super::layout::layout(events, state, 860.0, 3_000);
    let rows = [
        ("sign-in", "sign-in"),
        ("token", "token requests"),
        ("api", "API calls"),
        ("other", "other"),
    ];
    let row_y = |row: &str| match row {
        "sign-in" => 34.0,
        "token" => 56.0,
        "api" => 78.0,
        _ => 100.0,
    };
    let lane_top = 126.0;
    let lane_h = 18.0;
    let axis_y = lane_top + lane_h * l.lanes.len() as f64 + 16.0;
    let height = axis_y + 36.0;
    let width = LEFT + l.width;
    let x = |v: f64| LEFT + v;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="timeline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    for (row, name) in rows {
        let _ = write!(
            s,
            r##"<text x="4" y="{}" fill="#333">{name}</text><line x1="{LEFT}" y1="{y}" x2="{width}" y2="{y}" stroke="#eee"/>"##,
            row_y(row) + 4.0,
            y = row_y(row)
        );
    }
    for b in &l.breaks {
        let _ = write!(
            s,
            r##"<g class="break"><line x1="{0}" y1="20" x2="{0}" y2="{axis_y}" stroke="#999" stroke-dasharray="3,3"/><text x="{0}" y="{1}" text-anchor="middle" fill="#666">⋯ {2} idle</text></g>"##,
            x(b.x),
            axis_y + 28.0,
            esc(&crate::oauth::display::human_duration(b.seconds))
        );
    }
    for (i, lane) in l.lanes.iter().enumerate() {
        let y = lane_top + lane_h * i as f64;
        let color = if lane.kind == "access" {
            "#90caf9"
        } else {
            "#ce93d8"
        };
        let _ = write!(
            s,
            r##"<text x="4" y="{}" fill="#333">{} fp:{}</text><rect class="lane" x="{}" y="{}" width="{}" height="10" rx="3" fill="{color}"{}><title>{} token fp:{} issued by #{}{}</title></rect>"##,
            y + 4.0,
            lane.kind,
            esc(&lane.fp),
            x(lane.x0),
            y - 5.0,
            (lane.x1 - lane.x0).max(2.0),
            if lane.open {
                r##" stroke="#555" stroke-dasharray="3,2""##
            } else {
                ""
            },
            lane.kind,
            esc(&lane.fp),
            lane.issued_by,
            lane.lifetime_s
                .map(|t| format!(", lives {}", crate::oauth::display::human_duration(t)))
                .unwrap_or_else(|| ", lifetime unknown".into())
        );
        if let Some(sx) = lane.superseded_x {
            let _ = write!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#333"><title>replaced by a newer token</title></line>"##,
                x(sx),
                y - 8.0,
                y + 8.0
            );
        }
    }
    let mut first_401_drawn = false;
    for m in &l.marks {
        let (cx, cy) = (x(m.x), row_y(m.row));
        let status = m
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no answer".into());
        let _ = write!(
            s,
            r##"<rect class="mark {row}" data-id="{id}" x="{}" y="{}" width="8" height="8" fill="{fill}" stroke="#333" stroke-width="0.5"><title>#{id} {step} {status} at +{t}</title></rect>"##,
            cx - 4.0,
            cy - 4.0,
            row = m.row,
            id = m.id,
            fill = status_color(m.status),
            step = esc(m.step),
            t = esc(&fmt_rel(m.t)),
        );
        if m.status == Some(401) && !first_401_drawn {
            first_401_drawn = true;
            // Left of the mark when the drawing ends soon after it.
            let (lx, anchor) = if cx + 60.0 > width {
                (cx - 6.0, "end")
            } else {
                (cx + 6.0, "start")
            };
            let _ = write!(
                s,
                r##"<text class="first401" x="{lx}" y="{}" text-anchor="{anchor}" fill="#c62828" font-weight="bold">first 401</text>"##,
                cy - 6.0
            );
        }
    }
    // Finding flags above the rows, stacked where they share an exchange.
    let mut stacked: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for f in findings {
        let Some(m) = f
            .exchanges
            .first()
            .and_then(|id| l.marks.iter().find(|m| m.id == *id))
        else {
            continue;
        };
        let n = stacked.entry(m.id).or_insert(0);
        let fy = 4.0 + 6.0 * *n as f64;
        *n += 1;
        let fx = x(m.x);
        let _ = write!(
            s,
            r#"<g class="finding-marker" data-rule="{rule}"><polygon points="{fx},{fy} {},{} {fx},{}" fill="{c}"/><title>{rule}: {title}</title></g>"#,
            fx + 8.0,
            fy + 3.0,
            fy + 6.0,
            rule = esc(f.rule),
            c = sev_color(f.severity),
            title = esc(&f.title)
        );
    }
    // Axis: a label at the start, after each break and at the end, none on another.
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{width}" y2="{axis_y}" stroke="#999"/>"##
    );
    let mut last_label = f64::NEG_INFINITY;
    for t in &l.ticks {
        if x(t.x) - last_label < 60.0 {
            continue;
        }
        last_label = x(t.x);
        let _ = write!(
            s,
            r##"<text class="tick" x="{}" y="{}" text-anchor="middle" fill="#666">{}</text>"##,
            x(t.x),
            axis_y + 14.0,
            esc(&t.label)
        );
    }
    s.push_str("</svg>");
    if l.omitted > 0 {
        let _ = write!(
            s,
            "<p class=\"muted\">{} successful API calls are not drawn (the table lists every exchange).</p>",
            l.omitted
        );
    }
    s.push_str(
        "<ul class=\"legend\"><li><span style=\"background:#2e7d32\"></span>2xx</li>\
<li><span style=\"background:#0277bd\"></span>3xx</li><li><span style=\"background:#c62828\"></span>401/403</li>\
<li><span style=\"background:#e08a00\"></span>other 4xx</li><li><span style=\"background:#7a0000\"></span>5xx or no answer</li>\
<li><span style=\"background:#90caf9\"></span>access token, issue to expiry</li>\
<li><span style=\"background:#ce93d8\"></span>refresh token (dashed: no known expiry)</li>\
<li><span style=\"background:#e08a00;width:0;height:0;border:5px solid transparent;border-left-color:#e08a00\"></span>a finding (its first evidence)</li>\
<li>⋯ a compressed idle gap</li></ul>",
    );
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
td,th{{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left;vertical-align:top;overflow-wrap:anywhere}}\
table{{width:100%}} td:first-child{{white-space:nowrap}} #timeline-box{{overflow-x:auto}}\
.legend{{list-style:none;display:flex;flex-wrap:wrap;gap:1em;padding:0;font-size:.85em}} .legend span{{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}}\
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
    h.push_str("<div id=\"timeline-box\">");
    h.push_str(&timeline_svg(events, state, findings));
    h.push_str("</div>");
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
