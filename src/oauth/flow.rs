//! [`Flow`]: everything known about an OAuth flow as exchanges stream past — each
//! exchange classified once into a [`Step`], the flow state (tokens and their lineage),
//! the secrets seen (masked wherever they appear again) and, when asked, the timeline's
//! events. Analysis, replay, export, serve and the live console all read exchanges
//! through a `Flow`; only analysis adds analyzers on top.

use super::classify::{Step, classify, fingerprint};
use super::display::facts;
use super::timeline::{Event, FlowState, unix_seconds};
use crate::capture::Exchange;
use crate::capture::redact::{Fingerprinter, redact_url};
use crate::capture::secrets::{Known, is_secret_name};

/// One exchange, classified, waiting to be applied to the flow state (analyzers look at
/// it against the state as it was *before* this exchange).
pub struct Classified {
    pub step: Step,
    /// Unix seconds of the exchange (the previous exchange's time when unreadable).
    pub at: f64,
}

/// The flow of one capture.
pub struct Flow {
    pub fpr: Fingerprinter,
    pub state: FlowState,
    /// Every secret value the flow showed (tokens, codes, client secrets, verifiers,
    /// passwords), masked wherever it appears again in what is shown.
    pub known: Known,
    /// Kept only when a timeline is wanted.
    pub events: Option<Vec<Event>>,
    last_at: f64,
}

impl Flow {
    pub fn new(salt: &str, keep_events: bool) -> Self {
        Flow {
            fpr: Fingerprinter::new(salt),
            state: FlowState::default(),
            known: Known::default(),
            events: keep_events.then(Vec::new),
            last_at: 0.0,
        }
    }

    /// Classify `ex` against what the flow knows so far.
    pub fn classify(&mut self, ex: &Exchange) -> Classified {
        let at = unix_seconds(&ex.started).unwrap_or(self.last_at);
        self.last_at = at;
        let mut step = classify(ex, &self.state.known);
        fingerprint(&mut step, &self.fpr);
        Classified { step, at }
    }

    /// Apply a classified exchange: its timeline event (with the rules it triggered),
    /// the flow state, the secrets it showed. Returns the step.
    pub fn apply(&mut self, ex: &Exchange, c: Classified, rules: Vec<&'static str>) -> Step {
        let Classified { step, at } = c;
        if let Some(events) = self.events.as_mut() {
            events.push(Event {
                id: ex.id,
                t: at - self.state.t0.unwrap_or(at),
                step: step.name(),
                method: ex.request.method.clone(),
                url: redact_url(&self.fpr, &ex.request.url),
                status: ex.response.as_ref().map(|r| r.status),
                facts: facts(&step, &self.state, &self.fpr),
                findings: rules,
            });
        }
        self.state.apply(ex, &step, at, &self.fpr);
        learn_secrets(&mut self.known, &step);
        step
    }

    /// Classify and apply one exchange (no analyzers).
    pub fn push(&mut self, ex: &Exchange) -> Step {
        let c = self.classify(ex);
        self.apply(ex, c, Vec::new())
    }

    /// `text` with every secret the flow showed masked as its fingerprint.
    pub fn mask(&self, text: &str) -> String {
        if self.known.is_empty() {
            return text.to_string();
        }
        self.known.mask_in(&self.fpr, text)
    }

    /// At the end: mask, in the events, secrets first seen after them.
    pub fn finish(&mut self) {
        if self.known.is_empty() {
            return;
        }
        if let Some(events) = self.events.as_mut() {
            for ev in events.iter_mut() {
                ev.url = self.known.mask_in(&self.fpr, &ev.url);
                for fact in &mut ev.facts {
                    *fact = self.known.mask_in(&self.fpr, fact);
                }
            }
        }
    }
}

/// Remember the secret values an exchange's step carries.
fn learn_secrets(known: &mut Known, step: &Step) {
    let mut add = |v: Option<&str>| {
        if let Some(v) = v {
            known.add(v);
        }
    };
    match step {
        Step::Device(d) => add(d.device_code.as_deref()),
        Step::Token(t) => {
            add(t.client_secret.as_deref());
            add(t.code.as_deref());
            add(t.refresh_token.as_deref());
            add(t.code_verifier.as_deref());
            for (k, v) in t.params.0.iter().chain(t.query.0.iter()) {
                if is_secret_name(k) {
                    add(Some(v));
                }
            }
            if let Some(r) = &t.response {
                add(r.access_token.as_deref());
                add(r.refresh_token.as_deref());
                add(r.id_token.as_deref());
            }
        }
        Step::Callback(p) => {
            for (k, v) in &p.0 {
                if is_secret_name(k) {
                    add(Some(v));
                }
            }
        }
        Step::Authorize(a) => {
            if let Some(r) = &a.redirect {
                for (k, v) in &r.0 {
                    if is_secret_name(k) {
                        add(Some(v));
                    }
                }
            }
        }
        Step::ApiCall(c) | Step::UserInfo(c) => add(c.token.as_deref()),
        Step::Revocation { token } | Step::Introspection { token } => add(token.as_deref()),
        _ => {}
    }
}
