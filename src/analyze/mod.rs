//! Analyzers: small plug-ins fed exchange by exchange, asked at the end, each reporting
//! [`Finding`]s with the exchanges that prove them. One rule family per file; the registry
//! is a plain list ([`registry`]). The same engine runs live in the proxy and over
//! captures of any size, with memory bounded by tokens, not exchanges.
//!
//! Rule ids and severities: `ANALYZERS.md` of the design notes.

mod assertion;
mod bearer;
mod client;
mod device;
pub mod diagnosis;
mod dpop;
mod exchange;
mod expiry;
mod grant;
mod mtls;
mod oidc;
mod par;
mod provider;
mod refresh;
mod resource;
mod response;
pub use response::explain_aadsts;
pub mod rules;
#[cfg(test)]
mod tests;
mod transport;

use std::collections::HashMap;

use serde::Serialize;

use crate::capture::Exchange;
use crate::capture::redact::Fingerprinter;
use crate::oauth::timeline::{Event, FlowState};
use crate::oauth::{Flow, Step};

pub use provider::Provider;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Most evidence ids kept per finding (the count keeps going).
pub const MAX_EVIDENCE: usize = 20;

/// One problem, proven by exchanges.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// Whether it is a root cause or a visible failure (see [`rules::Role`]).
    pub role: rules::Role,
    /// Evidence: exchange ids, first ones first (at most [`MAX_EVIDENCE`]).
    pub exchanges: Vec<u64>,
    pub title: String,
    pub detail: String,
    pub fix: String,
    /// The step of Microsoft's "Troubleshoot OAuth 2.0" checklist it maps to (1–5), or the symptom (a/b).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    /// How many times it was seen.
    pub occurrences: u64,
    /// The connector definition's file and field, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// For a symptom: the rule id of the cause finding that explains its exchanges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<&'static str>,
    /// For a cause: the failed exchanges it explains.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consequences: Vec<u64>,
    /// For a symptom: what failed, when not every cited exchange did (a token's issue
    /// and its first 401 are both cited; only the 401 failed).
    #[serde(skip)]
    pub failed: Vec<u64>,
    /// For a symptom: the error it shows (`invalid_grant`; `None` for an answer with no
    /// OAuth error), which decides the causes that can explain it.
    #[serde(skip)]
    pub tag: Option<String>,
}

/// Collects findings, merging repeats of the same rule and key.
#[derive(Debug, Default)]
pub struct Findings {
    list: Vec<Finding>,
    index: HashMap<(&'static str, String), usize>,
    /// Findings added since the last `take_new`.
    fresh: Vec<usize>,
}

impl Findings {
    /// Report `finding` under `key`: a repeat only adds its evidence and a count.
    pub fn add(&mut self, key: impl Into<String>, finding: Finding) {
        let k = (finding.rule, key.into());
        match self.index.get(&k) {
            Some(&i) => {
                let f = &mut self.list[i];
                f.occurrences += 1;
                for id in finding.exchanges {
                    if f.exchanges.len() < MAX_EVIDENCE && !f.exchanges.contains(&id) {
                        f.exchanges.push(id);
                    }
                }
                for id in finding.failed {
                    if f.failed.len() < MAX_EVIDENCE && !f.failed.contains(&id) {
                        f.failed.push(id);
                    }
                }
            }
            None => {
                self.index.insert(k, self.list.len());
                self.fresh.push(self.list.len());
                self.list.push(finding);
            }
        }
    }

    /// Findings first reported since the previous call (for the live console).
    pub fn take_new(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.fresh)
            .into_iter()
            .map(|i| self.list[i].clone())
            .collect()
    }

    pub fn into_sorted(self) -> Vec<Finding> {
        let mut v = self.list;
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.exchanges.first().cmp(&b.exchanges.first()))
        });
        v
    }
}

/// What an analyzer sees for one exchange. `state` is the flow as it was *before* this
/// exchange (so "was this token already superseded?" has a plain answer).
pub struct Cx<'a> {
    pub ex: &'a Exchange,
    pub step: &'a Step,
    pub state: &'a FlowState,
    /// Unix seconds of the exchange.
    pub at: f64,
    pub fpr: &'a Fingerprinter,
}

impl Cx<'_> {
    pub fn provider(&self) -> Option<Provider> {
        Provider::of_url(&self.ex.request.url)
    }
}

/// A rule family.
pub trait Analyzer: Send {
    fn on_exchange(&mut self, _cx: &Cx<'_>, _out: &mut Findings) {}
    fn finish(&mut self, _state: &FlowState, _fpr: &Fingerprinter, _out: &mut Findings) {}
}

/// Every analyzer, in the order they run.
pub fn registry() -> Vec<Box<dyn Analyzer>> {
    vec![
        Box::new(transport::Transport),
        Box::new(bearer::Bearer),
        Box::new(response::Responses),
        Box::new(grant::Grants),
        Box::new(refresh::Refresh),
        Box::new(client::Clients),
        Box::new(expiry::Expiry::default()),
        Box::new(oidc::Oidc::default()),
        Box::new(device::Device),
        Box::new(assertion::Assertions::default()),
        Box::new(dpop::Dpop),
        Box::new(mtls::Mtls),
        Box::new(par::Par),
        Box::new(resource::Resource),
        Box::new(exchange::TokenExchange),
    ]
}

/// A [`Flow`] plus the analyzers: streams exchanges through classification, the flow
/// state and the rule families.
pub struct Engine {
    pub flow: Flow,
    analyzers: Vec<Box<dyn Analyzer>>,
    findings: Findings,
}

/// What an analysis found: the findings (worst first, secrets masked) and the flow they
/// were found in.
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub flow: Flow,
}

impl Analysis {
    pub fn state(&self) -> &FlowState {
        &self.flow.state
    }

    /// The timeline's events (empty unless asked for).
    pub fn events(&self) -> &[Event] {
        self.flow.events.as_deref().unwrap_or_default()
    }
}

impl Engine {
    pub fn new(salt: &str, keep_events: bool) -> Self {
        Engine {
            flow: Flow::new(salt, keep_events),
            analyzers: registry(),
            findings: Findings::default(),
        }
    }

    /// Feed one exchange; returns its step.
    pub fn push(&mut self, ex: &Exchange) -> Step {
        let c = self.flow.classify(ex);
        let before = self.findings.list.len();
        {
            let cx = Cx {
                ex,
                step: &c.step,
                state: &self.flow.state,
                at: c.at,
                fpr: &self.flow.fpr,
            };
            for a in self.analyzers.iter_mut() {
                a.on_exchange(&cx, &mut self.findings);
            }
        }
        let rules = if self.flow.events.is_some() {
            self.findings.list[before..]
                .iter()
                .map(|f| f.rule)
                .collect()
        } else {
            Vec::new()
        };
        self.flow.apply(ex, c, rules)
    }

    /// Mask, in a finding's text, every secret value the flow showed (an error
    /// description echoing a token, say).
    fn mask_known(&self, f: &mut Finding) {
        for text in [&mut f.title, &mut f.detail, &mut f.fix] {
            *text = self.flow.mask(text);
        }
    }

    /// Run the end-of-capture checks; the findings come worst first.
    pub fn finish(mut self) -> Analysis {
        for a in self.analyzers.iter_mut() {
            a.finish(&self.flow.state, &self.flow.fpr, &mut self.findings);
        }
        let mut list = std::mem::take(&mut self.findings.list);
        diagnosis::link(&mut list);
        for f in &mut list {
            self.mask_known(f);
        }
        self.findings.list = list;
        self.flow.finish();
        if let Some(events) = self.flow.events.as_mut() {
            // Attach end-of-capture findings to the exchanges they cite.
            let at: HashMap<u64, usize> =
                events.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
            for f in &self.findings.list {
                for id in &f.exchanges {
                    if let Some(ev) = at.get(id).map(|&i| &mut events[i]) {
                        if !ev.findings.contains(&f.rule) {
                            ev.findings.push(f.rule);
                        }
                    }
                }
            }
        }
        Analysis {
            findings: diagnosis::order(self.findings.list),
            flow: self.flow,
        }
    }

    /// Add an analyzer (e.g. the connector comparison) to the registry's list.
    pub fn add_analyzer(&mut self, analyzer: Box<dyn Analyzer>) {
        self.analyzers.push(analyzer);
    }

    /// Findings first reported since the last call (live mode).
    pub fn take_new(&mut self) -> Vec<Finding> {
        let mut new = self.findings.take_new();
        for f in &mut new {
            self.mask_known(f);
        }
        new
    }
}

/// Build a finding of `rule`: severity, checklist step and role come from the catalog.
pub fn finding(
    rule: &'static rules::Rule,
    exchanges: Vec<u64>,
    title: impl Into<String>,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        rule: rule.id,
        severity: rule.severity,
        role: rule.role,
        exchanges,
        title: title.into(),
        detail: detail.into(),
        fix: fix.into(),
        step: rule.step,
        occurrences: 1,
        definition: None,
        caused_by: None,
        consequences: Vec::new(),
        failed: Vec::new(),
        tag: None,
    }
}

impl Finding {
    /// The exchanges that failed (for a symptom).
    pub fn failures(&self) -> &[u64] {
        if self.failed.is_empty() {
            &self.exchanges
        } else {
            &self.failed
        }
    }

    /// At least this severe (a variant of a rule that does more harm than its default).
    pub fn at_least(mut self, severity: Severity) -> Self {
        self.severity = self.severity.max(severity);
        self
    }

    /// The error a symptom shows.
    pub fn tagged(mut self, tag: Option<&str>) -> Self {
        self.tag = tag.map(str::to_string);
        self
    }

    /// Which cited exchanges failed (for a symptom).
    pub fn failing(mut self, failed: Vec<u64>) -> Self {
        self.failed = failed;
        self
    }

    /// The checklist step, where it depends on the request (a refused refresh is step 3,
    /// a refused code exchange step 1).
    pub fn at_step(mut self, step: &'static str) -> Self {
        self.step = Some(step);
        self
    }
}

/// What the token endpoint did with request `t` (a `what`: "refresh", "code exchange"),
/// as the wire shows it, for a finding's text: a finding must not say "rejected" next to
/// a 200. `usual` is what servers that check this answer.
/// An exchange's request as findings name it (`GET https://host/path`), and the
/// sentence that says its answer's status (empty when it had none).
pub fn request_and_answer(ex: &crate::capture::Exchange) -> (String, String) {
    let req = format!(
        "{} {}",
        ex.request.method,
        crate::wire::url_base(&ex.request.url)
    );
    let answer = ex
        .response
        .as_ref()
        .map(|r| format!(" The server answered {}.", r.status))
        .unwrap_or_default();
    (req, answer)
}

pub fn outcome(t: &crate::oauth::classify::TokenRequest, what: &str, usual: &str) -> String {
    match &t.response {
        Some(r) if r.error.is_some() => format!(
            "The server refused this {what} with `{}`.",
            r.error.as_deref().unwrap_or_default()
        ),
        Some(r) if (200..300).contains(&r.status) => format!(
            "This server accepted it (HTTP {}); servers that check this answer {usual}.",
            r.status
        ),
        Some(r) => format!(
            "The server answered this {what} with HTTP {} and no OAuth error.",
            r.status
        ),
        None => format!("No answer was captured; servers that check this answer {usual}."),
    }
}
