//! `--redact-at-capture`: the capture stores fingerprints instead of secret values, so a
//! capture on a shared machine holds nothing that could be replayed.
//!
//! Each exchange is classified by a [`Flow`] first (in capture order, on the writer
//! thread), so what the analysis needs of the secrets it masks (client id and auth
//! method, fingerprints of each Basic part, PKCE match, the access token's JWT claims) is
//! kept in the exchange's `hints`, as a redacted HAR keeps it. Then every URL, header,
//! body and error text goes through the one secret policy, with every secret the flow
//! has recognised so far masked wherever it appears again. Bodies that are not text (or
//! whose raw bytes are compressed) keep their sizes, not their bytes.

use crate::capture::secrets::Policy;
use crate::capture::writer::Transform;
use crate::capture::{Body, Exchange};
use crate::oauth::Flow;

pub struct AtCapture {
    flow: Flow,
    /// Values masked as plain substrings wherever they occur, inside longer runs too
    /// (the gateway's path secret inside a `redirect_uri`): (value, its mask).
    substrings: Vec<(String, String)>,
}

impl AtCapture {
    pub fn new(salt: &str) -> Self {
        AtCapture {
            flow: Flow::new(salt, false),
            substrings: Vec::new(),
        }
    }

    /// Mask this value too wherever it appears, even inside a URL path (the gateway's
    /// path secret).
    pub fn also_secret(&mut self, value: &str) {
        let mask = self.flow.fpr.mask(value);
        self.substrings.push((value.to_string(), mask));
    }

    fn scrub(&self, s: &mut String) {
        for (v, m) in &self.substrings {
            if s.contains(v.as_str()) {
                *s = s.replace(v.as_str(), m);
            }
        }
    }

    fn scrub_body(&self, b: &mut Body) {
        if let Some(t) = b.text.as_mut() {
            self.scrub(t);
        }
        if let Some(d) = b.decoded.as_mut() {
            self.scrub_body(d);
        }
    }

    fn scrub_all(&self, ex: &mut Exchange) {
        if self.substrings.is_empty() {
            return;
        }
        self.scrub(&mut ex.request.url);
        ex.request
            .headers
            .iter_mut()
            .for_each(|h| self.scrub(&mut h.1));
        self.scrub_body(&mut ex.request.body);
        if let Some(r) = ex.response.as_mut() {
            r.headers.iter_mut().for_each(|h| self.scrub(&mut h.1));
            self.scrub_body(&mut r.body);
        }
        if let Some(e) = ex.error.as_mut() {
            self.scrub(&mut e.message);
            e.chain.iter_mut().for_each(|c| self.scrub(c));
            if let Some(h) = e.hint.as_mut() {
                self.scrub(h);
            }
        }
    }
}

impl Transform for AtCapture {
    fn apply(&mut self, ex: &mut Exchange) {
        let c = self.flow.classify(ex);
        let hints = crate::oauth::hints::of(ex, &c.step, c.at, &self.flow.state, &self.flow.fpr);
        self.flow.apply(ex, c, Vec::new());
        if let Some(h) = hints {
            ex.hints = Some(Box::new(h));
        }
        let mut pol = Policy {
            fpr: &self.flow.fpr,
            known: Some(&self.flow.known),
            found: None,
        };
        ex.request.url = pol.url(&ex.request.url, false);
        let req_ct = ex.request.header("content-type").unwrap_or("").to_string();
        for h in ex.request.headers.iter_mut() {
            h.1 = pol.header(&h.0, &h.1, false);
        }
        redact_body(&mut ex.request.body, &req_ct, &mut pol);
        if let Some(r) = ex.response.as_mut() {
            let ct = r.header("content-type").unwrap_or("").to_string();
            for h in r.headers.iter_mut() {
                h.1 = pol.header(&h.0, &h.1, false);
            }
            redact_body(&mut r.body, &ct, &mut pol);
        }
        if let Some(e) = ex.error.as_mut() {
            e.message = pol.text(&e.message);
            for c in e.chain.iter_mut() {
                *c = pol.text(c);
            }
            if let Some(h) = e.hint.as_mut() {
                *h = pol.text(h);
            }
        }
        self.scrub_all(ex);
    }
}

/// Text bodies through the policy; raw bytes that cannot be (binary, or compressed with
/// a decoded copy beside them) are dropped, their size kept.
fn redact_body(b: &mut Body, content_type: &str, pol: &mut Policy<'_>) {
    if let Some(d) = b.decoded.as_mut() {
        redact_body(d, content_type, pol);
        b.text = None;
        b.base64 = None;
        return;
    }
    b.base64 = None;
    if let Some(t) = b.text.take() {
        b.text = Some(pol.body(content_type, &t));
    }
}
