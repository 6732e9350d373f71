//! How a step reads in the timeline: its key facts (secrets as fingerprints only), token
//! fingerprints for HAR entries, human durations.

use super::classify::Step;
use super::timeline::FlowState;
use crate::capture::redact::Fingerprinter;

/// Key facts of a step for the timeline (secrets as fingerprints only).
pub fn facts(step: &Step, state: &FlowState, fpr: &Fingerprinter) -> Vec<String> {
    let mut out = Vec::new();
    match step {
        Step::Authorize(a) => {
            if a.pushed {
                out.push("pushed (PAR)".into());
            } else if a.request_uri.is_some() {
                out.push("parameters pushed (PAR)".into());
            }
            let p = &a.params;
            for k in ["response_type", "client_id", "scope"] {
                if let Some(v) = p.get(k) {
                    out.push(format!("{k}={v}"));
                }
            }
            out.push(format!(
                "state {}",
                if p.has("state") { "set" } else { "MISSING" }
            ));
            out.push(format!(
                "PKCE {}",
                p.get("code_challenge_method")
                    .unwrap_or(if p.has("code_challenge") {
                        "plain"
                    } else {
                        "none"
                    })
            ));
            if let Some(r) = &a.redirect {
                if let Some(c) = r.get("code") {
                    out.push(format!("code fp:{}", fpr.fp(c)));
                }
                if let Some(e) = r.get("error") {
                    out.push(format!("error={e}"));
                }
            }
        }
        Step::Callback(p) => {
            if let Some(c) = p.get("code") {
                out.push(format!("code fp:{}", fpr.fp(c)));
            }
            if let Some(e) = p.get("error") {
                out.push(format!("error={e}"));
            }
        }
        Step::Token(t) => {
            if let Some(c) = &t.client_id {
                out.push(format!("client_id={c}"));
            }
            out.push(format!("auth={}", t.auth.name()));
            if let Some(rt) = &t.refresh_fp {
                out.push(format!("sent RT fp:{rt}"));
            }
            if let Some(r) = &t.response {
                if let Some(a) = &r.access_fp {
                    let life = r
                        .expires_in
                        .map(|e| format!(", expires in {}", human_duration(e)))
                        .unwrap_or_else(|| ", no expires_in".into());
                    out.push(format!("AT fp:{a}{life}"));
                }
                match &r.refresh_fp {
                    Some(rt) => out.push(format!("RT fp:{rt}")),
                    None if r.access_token.is_some() => out.push("no refresh token".into()),
                    None => {}
                }
                if let Some(e) = &r.error {
                    out.push(format!("error={e}"));
                }
            }
        }
        Step::ApiCall(c) | Step::UserInfo(c) => {
            match &c.token_fp {
                Some(fp) => {
                    let mut s = format!("token fp:{fp}");
                    if let Some(info) = state.tokens.get(fp) {
                        s.push_str(&format!(" (issued by #{})", info.issued_by));
                    }
                    out.push(s);
                }
                None => out.push("no credentials".into()),
            }
            for ch in &c.challenges {
                if let Some(e) = ch.get("error") {
                    out.push(format!("WWW-Authenticate error={e}"));
                }
            }
        }
        Step::Discovery(m) => {
            if let Some(i) = m.get("issuer").and_then(|v| v.as_str()) {
                out.push(format!("issuer={i}"));
            }
        }
        Step::Device(d) => {
            if let Some(fp) = &d.device_code_fp {
                out.push(format!("device code fp:{fp}"));
                out.push(format!("poll every {}", human_duration(d.interval)));
            }
            if let Some(e) = d.expires_in {
                out.push(format!("expires in {}", human_duration(e)));
            }
            if let Some(e) = &d.error {
                out.push(format!("error={e}"));
            }
        }
        Step::Jwks(set) => {
            let kids = set.kids();
            out.push(match kids.len() {
                0 => format!("{} keys", set.keys.len()),
                _ => format!("kid {}", kids.join(", ")),
            });
        }
        Step::Revocation { token } | Step::Introspection { token } => {
            if let Some(t) = token {
                out.push(format!("token fp:{}", fpr.fp(t)));
            }
        }
        Step::Other => {}
    }
    out
}

/// `3600` → `1 h`, `90` → `1 min 30 s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.round() as i64;
    if s.abs() >= 86_400 {
        let (d, h) = (s / 86_400, (s % 86_400) / 3600);
        return if h == 0 {
            format!("{d} d")
        } else {
            format!("{d} d {h} h")
        };
    }
    if s.abs() >= 3600 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        return if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        };
    }
    if s.abs() >= 60 {
        let (m, r) = (s / 60, s % 60);
        return if r == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {r} s")
        };
    }
    format!("{s} s")
}

/// Fingerprints of the tokens a step carries or issues.
pub fn token_fps(step: &Step, fpr: &Fingerprinter) -> Vec<String> {
    let mut out = Vec::new();
    match step {
        Step::Token(t) => {
            out.extend(t.refresh_fp.iter().cloned());
            if let Some(r) = &t.response {
                out.extend(r.access_fp.iter().chain(r.refresh_fp.iter()).cloned());
            }
        }
        Step::ApiCall(c) | Step::UserInfo(c) => out.extend(c.token_fp.iter().cloned()),
        Step::Revocation { token } | Step::Introspection { token } => {
            out.extend(token.iter().map(|v| fpr.fp(v)))
        }
        _ => {}
    }
    out
}
