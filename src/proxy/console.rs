//! The live console: one line per exchange, colored when the terminal allows
//! (`NO_COLOR` honored), captured bytes sanitized, secrets masked.

use std::io::Write;

use crate::analyze::{Engine, Finding, Severity};
use crate::capture::redact::{Fingerprinter, redact_url, sanitize_for_terminal};
use crate::capture::{Exchange, Kind, Observer};
pub use crate::report::style::Style;

/// Human size: `512 B`, `1.2 kB`, `3.4 MB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

/// Prints each exchange as it is written, with its OAuth step, and each finding as soon
/// as it can be known. Analysis runs here, in the writer thread, off the forwarding path.
pub struct Console {
    pub style: Style,
    pub fingerprinter: Fingerprinter,
    pub quiet: bool,
    pub engine: Option<Engine>,
}

impl Console {
    pub fn new(style: Style, salt: &str, quiet: bool) -> Self {
        Console {
            style,
            fingerprinter: Fingerprinter::new(salt),
            quiet,
            engine: Some(Engine::new(salt, false)),
        }
    }

    fn finding_line(&self, f: &Finding) -> String {
        let s = &self.style;
        let sev = f.severity.name().to_uppercase();
        let sev = match f.severity {
            Severity::Critical | Severity::High => s.red(&sev),
            Severity::Medium => s.yellow(&sev),
            _ => s.dim(&sev),
        };
        format!(
            "    {} {sev} {}: {}",
            s.yellow("!"),
            s.bold(f.rule),
            sanitize_for_terminal(&f.title)
        )
    }
}

impl Console {
    /// The one-line summary of an exchange (with its OAuth step when it has one).
    pub fn line(&self, ex: &Exchange, step: Option<&str>) -> String {
        let s = &self.style;
        let time = ex.started.get(11..23).unwrap_or(&ex.started);
        let url = sanitize_for_terminal(&redact_url(&self.fingerprinter, &ex.request.url));
        let method = sanitize_for_terminal(&ex.request.method);
        let dur = ex
            .timings
            .end
            .map(|ms| format!("{ms:.0} ms"))
            .unwrap_or_default();
        let status = match (&ex.response, &ex.error) {
            (Some(r), _) => {
                let code = r.status.to_string();
                match r.status {
                    200..=299 | 101 => s.green(&code),
                    300..=399 => s.cyan(&code),
                    400..=499 => s.yellow(&code),
                    _ => s.red(&code),
                }
            }
            (None, Some(_)) => s.red("ERR"),
            (None, None) => s.dim("---"),
        };
        let size = match (&ex.kind, &ex.relay, &ex.response) {
            (_, Some(r), _) => format!(
                "↑{} ↓{}",
                human_size(r.client_to_server),
                human_size(r.server_to_client)
            ),
            (_, None, Some(r)) => human_size(r.body.size),
            _ => String::new(),
        };
        let kind = match ex.kind {
            Kind::Tunnel => s.dim(" (tunnel, not intercepted)"),
            Kind::Upgrade => s.dim(" (upgraded)"),
            _ => String::new(),
        };
        let step = match step {
            Some(st) if st != "other" => format!("{} ", s.cyan(&format!("[{st}]"))),
            _ => String::new(),
        };
        let mut line = format!(
            "{} {} {step}{:<7} {}{} {} {} {}",
            s.dim(time),
            s.dim(&format!("#{:<4}", ex.id)),
            s.bold(&method),
            url,
            kind,
            status,
            s.dim(&dur),
            s.dim(&size)
        );
        if let Some(e) = &ex.error {
            line.push_str(&format!(
                "\n    {} {}",
                s.red(e.kind.name()),
                sanitize_for_terminal(&e.message)
            ));
            if let Some(h) = &e.hint {
                line.push_str(&format!(
                    "\n    {} {}",
                    s.yellow("hint:"),
                    sanitize_for_terminal(h)
                ));
            }
        }
        line
    }
}

impl Observer for Console {
    fn on_exchange(&mut self, ex: &Exchange) {
        let (step, new) = match self.engine.as_mut() {
            Some(engine) => {
                let step = engine.push(ex);
                (Some(step.name()), engine.take_new())
            }
            None => (None, Vec::new()),
        };
        let mut out = std::io::stdout().lock();
        if !self.quiet || ex.error.is_some() || !new.is_empty() {
            let _ = writeln!(out, "{}", self.line(ex, step));
        }
        for f in &new {
            let _ = writeln!(out, "{}", self.finding_line(f));
        }
        let _ = out.flush();
    }

    fn finish(&mut self) {
        let Some(engine) = self.engine.take() else {
            return;
        };
        let analysis = engine.finish();
        let findings = &analysis.findings;
        let verdict = crate::report::verdict(findings, analysis.state());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "\n{}",
            self.style.bold(&sanitize_for_terminal(&verdict))
        );
        for f in findings.iter().filter(|f| f.rule == "fails-after-interval") {
            let _ = writeln!(out, "{}", self.finding_line(f));
        }
        if !findings.is_empty() {
            let _ = writeln!(
                out,
                "{} finding(s); `oauthscope analyze <capture>` explains each with its evidence and fix.",
                findings.len()
            );
        }
    }

    fn on_write_error(&mut self, error: &std::io::Error) {
        eprintln!(
            "{} cannot write the capture file: {error}. Traffic is still forwarded, \
             but exchanges are NOT being recorded until writing works again.",
            self.style.red("error:")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(1234), "1.2 kB");
        assert_eq!(human_size(20_971_520), "21.0 MB");
    }
}
