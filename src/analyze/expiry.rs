//! token-expired-used, stale-token-used, fails-after-interval, jwt-claims, clock-skew:
//! time, and which token is sent when.

use std::collections::HashMap;

use super::{Analyzer, Cx, Finding, Findings, finding, rules};
use crate::capture::redact::Fingerprinter;
use crate::oauth::Step;
use crate::oauth::display::human_duration;
use crate::oauth::parse::url_host;
use crate::oauth::timeline::{FlowState, TokenKind};

/// Clocks further apart than this are reported.
const SKEW_SECS: f64 = 120.0;

#[derive(Default)]
pub struct Expiry {
    /// `Date` header offsets per host: (exchange id, seconds).
    dates: HashMap<String, Vec<(u64, f64)>>,
}

impl Analyzer for Expiry {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        date_skew(cx, &mut self.dates);
        if let Step::Token(t) = cx.step {
            if let Some(iat) = t
                .response
                .as_ref()
                .and_then(|r| r.access_jwt.as_ref())
                .and_then(|j| j.claim_i64("iat"))
            {
                let d = iat as f64 - cx.at;
                if d.abs() > SKEW_SECS {
                    let host = url_host(&t.endpoint);
                    let f =
                        skew_finding(&host, vec![cx.ex.id], d, "the access token's `iat` claim");
                    out.add(host, f);
                }
            }
        }
        let Some(call) = cx.step.api_call() else {
            return;
        };
        let Some(fp) = &call.token_fp else { return };
        let Some(info) = cx.state.tokens.get(fp) else {
            return;
        };
        if info.kind != TokenKind::Access {
            return;
        }
        let id = cx.ex.id;
        if let Some((detail, fix)) = expired_use(cx, call, info) {
            out.add(
                info.fp.clone(),
                finding(
                    &rules::TOKEN_EXPIRED_USED,
                    vec![info.issued_by, id],
                    format!("access token fp:{} used after it expired", info.fp),
                    detail,
                    fix,
                ),
            );
        }
        if let Some(newer) = info
            .superseded_by
            .as_ref()
            .filter(|_| info.superseded_at.is_some_and(|s| s <= cx.at))
        {
            let newer_id = cx.state.tokens.get(newer).map(|n| n.issued_by);
            let mut ev = vec![info.issued_by];
            ev.extend(newer_id);
            ev.push(id);
            out.add(
                info.fp.clone(),
                finding(
                    &rules::STALE_TOKEN_USED,
                    ev,
                    format!("old access token fp:{} sent after a refresh issued fp:{newer}", info.fp),
                    "A refresh issued a newer access token, but the API call still carries the old one: the connector did not replace its cached token (\"Troubleshoot OAuth 2.0\" step 4: the API must work with the new token).",
                    "After each refresh, store and use the new access token (and the new refresh token, if one came).",
                ),
            );
        }
        if let Some(jwt) = &info.jwt {
            let mut claims: Vec<String> = Vec::new();
            if let Some(nbf) = jwt.nbf.filter(|n| *n as f64 > cx.at + 60.0) {
                claims.push(format!(
                    "`nbf` is {} in the future",
                    human_duration(nbf as f64 - cx.at)
                ));
            }
            if let Some(iat) = jwt.iat.filter(|i| *i as f64 > cx.at + 300.0) {
                claims.push(format!(
                    "`iat` is {} in the future",
                    human_duration(iat as f64 - cx.at)
                ));
            }
            let host = url_host(&cx.ex.request.url);
            let url_auds: Vec<&String> = jwt.aud.iter().filter(|a| a.contains("://")).collect();
            if !jwt.aud.is_empty()
                && url_auds.len() == jwt.aud.len()
                && !url_auds.iter().any(|a| url_host(a) == host)
            {
                claims.push(format!(
                    "`aud` {:?} does not name this API ({host})",
                    jwt.aud
                ));
            }
            if let (Some(iss), Some(fam)) = (&jwt.iss, cx.state.families.get(info.family)) {
                if iss.contains("://") && url_host(iss) != url_host(&fam.as_origin) {
                    claims.push(format!(
                        "`iss` {iss} is not the authorization server that issued it ({})",
                        fam.as_origin
                    ));
                }
            }
            if !claims.is_empty() {
                out.add(
                    format!("{} {}", info.fp, claims.join("|")),
                    finding(
                        &rules::JWT_CLAIMS,
                        vec![info.issued_by, id],
                        format!("JWT access token fp:{} does not fit this call", info.fp),
                        format!("Decoded claims (signature not checked): {}.", claims.join("; ")),
                        "Request the token for this API's audience/resource (e.g. the `resource` or `audience` parameter, or the API's scope), and check the clocks.",
                    ),
                );
            }
        }
    }

    fn finish(&mut self, state: &FlowState, _fpr: &Fingerprinter, out: &mut Findings) {
        report_date_skew(&self.dates, out);
        // First 401 after each issue, unrecovered: the connection died at that point.
        // The newest access token issue per family: one pass, so this stays linear.
        let mut newest_issue: std::collections::HashMap<usize, f64> = Default::default();
        for t in state
            .tokens
            .values()
            .filter(|t| t.kind == TokenKind::Access)
        {
            let e = newest_issue.entry(t.family).or_insert(t.issued_at);
            *e = e.max(t.issued_at);
        }
        let mut dead: Vec<(f64, &crate::oauth::timeline::TokenInfo)> = state
            .tokens
            .values()
            .filter(|t| t.kind == TokenKind::Access)
            .filter_map(|t| {
                let (_, at) = t.first_401?;
                let recovered = newest_issue.get(&t.family).is_some_and(|n| *n > at);
                (!recovered).then_some((at - t.issued_at, t))
            })
            .collect();
        dead.sort_by_key(|a| a.1.issued_by);
        if dead.is_empty() {
            return;
        }
        let at_expiry: Vec<_> = dead
            .iter()
            .filter(|(d, t)| {
                // At or after the lifetime, or within 10 % of it (a minute for long ones).
                t.lifetime.is_some_and(|l| {
                    *d >= l || (d - l).abs() <= (0.1 * l).max(60.0f64.min(0.5 * l))
                })
            })
            .collect();
        let consistent = dead.len() >= 2 && {
            let min = dead.iter().map(|d| d.0).fold(f64::MAX, f64::min);
            let max = dead.iter().map(|d| d.0).fold(f64::MIN, f64::max);
            max - min <= (0.1 * max).max(60.0f64.min(0.5 * max)) && min > 0.0
        };
        if at_expiry.is_empty() && !consistent {
            return;
        }
        let chosen: Vec<&(f64, &crate::oauth::timeline::TokenInfo)> = if at_expiry.is_empty() {
            dead.iter().collect()
        } else {
            at_expiry
        };
        let mut ev = Vec::new();
        let mut failed = Vec::new();
        for (_, t) in &chosen {
            ev.push(t.issued_by);
            if let Some((id, _)) = t.first_401 {
                ev.push(id);
                failed.push(id);
            }
        }
        let delays: Vec<String> = chosen.iter().map(|(d, _)| human_duration(*d)).collect();
        let lifetime = chosen.iter().find_map(|(_, t)| t.lifetime);
        let had_refresh_token = chosen.iter().any(|(_, t)| {
            state
                .families
                .get(t.family)
                .is_some_and(|f| f.refresh_token_issued)
        });
        let fix = if had_refresh_token {
            "The client had a refresh token: refresh before the access token expires (or on the first 401), check that the refresh succeeds, then send the new access token."
        } else {
            "Make sure a refresh token is issued and used: refresh before the access token expires, then use the new tokens."
        };
        let why = match lifetime {
            Some(l) if had_refresh_token => format!("That is the access token lifetime (`expires_in` {}): the token expired, and the client did not go on with a fresh one although it had a refresh token.", human_duration(l)),
            Some(l) => format!("That is the access token lifetime (`expires_in` {}): the token expired and was never renewed.", human_duration(l)),
            None => "The interval is the same each time: something expires on a fixed schedule (token lifetime, or a 7- or 90-day refresh token limit).".into(),
        };
        out.add(
            "interval",
            finding(
                &rules::FAILS_AFTER_INTERVAL,
                ev,
                format!("the connection fails {} after each sign-in", delays.first().cloned().unwrap_or_default()),
                format!("API calls start failing with 401 {} after the token was issued ({} time(s): {}). {why}", delays.first().cloned().unwrap_or_default(), chosen.len(), delays.join(", ")),
                fix,
            )
            .failing(failed),
        );
    }
}

/// Remember how far a response's `Date` is from the capture clock. Cached responses
/// (an `Age` header, 304) carry old dates and are left out.
fn date_skew(cx: &Cx<'_>, samples: &mut HashMap<String, Vec<(u64, f64)>>) {
    let Some(r) = cx.ex.response.as_ref() else {
        return;
    };
    if r.status == 304 || r.header("age").is_some() {
        return;
    }
    let Some(server) = r.header("date").and_then(parse_http_date) else {
        return;
    };
    let v = samples.entry(url_host(&cx.ex.request.url)).or_default();
    if v.len() < 64 {
        v.push((cx.ex.id, server - cx.at));
    }
}

/// A host's clock is off when at least two of its responses agree (within a minute) on an
/// offset beyond the threshold; one odd `Date` is more likely a cache.
fn report_date_skew(samples: &HashMap<String, Vec<(u64, f64)>>, out: &mut Findings) {
    let mut hosts: Vec<_> = samples.iter().collect();
    hosts.sort_by(|a, b| a.0.cmp(b.0));
    for (host, v) in hosts {
        if v.len() < 2 {
            continue;
        }
        let min = v.iter().map(|x| x.1).fold(f64::MAX, f64::min);
        let max = v.iter().map(|x| x.1).fold(f64::MIN, f64::max);
        let mid = (min + max) / 2.0;
        if max - min <= 60.0 && mid.abs() > SKEW_SECS {
            let ev: Vec<u64> = v.iter().map(|x| x.0).take(super::MAX_EVIDENCE).collect();
            out.add(
                host.clone(),
                skew_finding(host, ev, mid, "its `Date` headers"),
            );
        }
    }
}

fn skew_finding(key: &str, evidence: Vec<u64>, d: f64, source: &str) -> Finding {
    finding(
        &rules::CLOCK_SKEW,
        evidence,
        format!(
            "clock of {key} is {} {}",
            human_duration(d.abs()),
            if d > 0.0 { "ahead" } else { "behind" }
        ),
        format!(
            "By {source}, the server's clock differs from this machine's by {}. Token lifetimes and JWT `nbf`/`exp` checks go wrong by that much.",
            human_duration(d.abs())
        ),
        "Synchronise clocks with NTP; allow a little leeway when validating token times.",
    )
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to unix seconds.
pub fn parse_http_date(s: &str) -> Option<f64> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(s.trim(), &fmt).ok()?;
    Some(t.assume_utc().unix_timestamp() as f64)
}

/// Why this call's access token was expired (detail, fix), if it was: past its known
/// lifetime, or (no lifetime given, as Salesforce's `issued_at` responses) the API's own
/// 401 says it expired.
fn expired_use(
    cx: &Cx<'_>,
    call: &crate::oauth::classify::ApiCall,
    info: &crate::oauth::timeline::TokenInfo,
) -> Option<(String, &'static str)> {
    if let Some(exp) = info.expires_at.filter(|e| *e < cx.at) {
        return Some((
            format!(
                "The token was issued {} into the capture with a lifetime of {}; it was sent {} after it expired.",
                human_duration(cx.state.rel(info.issued_at)),
                info.lifetime
                    .map(human_duration)
                    .unwrap_or_else(|| "?".into()),
                human_duration(cx.at - exp)
            ),
            "Refresh the access token before it expires (e.g. when less than a minute is left), or at the latest on the first 401.",
        ));
    }
    if info.lifetime.is_some() || call.status != Some(401) {
        return None;
    }
    let desc = call.challenges.iter().find_map(|c| {
        let desc = c.get("error_description").unwrap_or_default();
        (c.get("error") == Some("invalid_token") && desc.to_ascii_lowercase().contains("expired"))
            .then_some(desc)
    })?;
    let refresh = match cx.state.families.get(info.family) {
        Some(f) if f.refresh_token_issued && info.superseded_by.is_none() => {
            " The client held a refresh token and had not refreshed."
        }
        Some(f) if !f.refresh_token_issued => " No refresh token was issued.",
        _ => "",
    };
    Some((
        format!(
            "The API answered 401 `error=\"invalid_token\"` (\"{desc}\") {} after the token was issued. The token response gave no `expires_in`, so the client could not know the lifetime in advance and had to treat this 401 as the expiry.{refresh}",
            human_duration(cx.at - info.issued_at)
        ),
        "On a 401 with `error=\"invalid_token\"`, refresh the access token and retry the call with the new one (Salesforce sessions end after the org's session timeout, 2 hours by default, and their token responses carry no `expires_in`).",
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        assert_eq!(
            super::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777.0)
        );
        assert_eq!(super::parse_http_date("yesterday"), None);
    }
}
