//! device-poll-too-fast, device-poll-after-end, device-code-expired: how a client polls the token endpoint in
//! the device authorization grant (RFC 8628 §3.4, §3.5). `authorization_pending` and
//! `slow_down` are the protocol working, not errors (the token-error rule skips them).

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::Grant;
use crate::oauth::display::human_duration;

pub struct Device;

/// Polls this much early still count as on time (clock and scheduling jitter).
const SLACK_SECONDS: f64 = 0.25;

impl Analyzer for Device {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Step::Token(t) = cx.step else { return };
        if t.grant != Grant::DeviceCode {
            return;
        }
        let Some(fp) = t.device_code_fp.as_deref() else {
            return;
        };
        let Some(d) = cx.state.devices.get(fp) else {
            return;
        };
        if let Some((end, how)) = &d.ended {
            let answer = t
                .response
                .as_ref()
                .and_then(|r| r.error.clone())
                .map(|e| format!(" It was answered `error={e}`."))
                .unwrap_or_default();
            out.add(
                format!("device-end {fp}"),
                finding(
                    &rules::DEVICE_POLL_AFTER_END,
                    vec![*end, cx.ex.id],
                    "device code polled after the flow ended",
                    format!(
                        "The poll #{end} ended the device flow {how}, yet #{} polled the token endpoint with the same device code again.{answer}",
                        cx.ex.id
                    ),
                    rules::DEVICE_POLL_AFTER_END.fix,
                ),
            );
            return;
        }
        let answered = t.response.as_ref().and_then(|r| r.error.as_deref());
        if answered == Some("expired_token") {
            let lifetime = d
                .expires_at
                .map(|e| format!(" gave its device code {} to live", human_duration(e - d.at)))
                .unwrap_or_default();
            // Say only what the polls show: a poll still pending means the user had not
            // approved by then; a first poll after the lifetime means the client came late.
            let mut evidence = vec![d.issued_by];
            let before = match (&d.last_poll, d.expires_at) {
                (Some((p, _, Some(e))), _) if e == "authorization_pending" || e == "slow_down" => {
                    evidence.push(*p);
                    format!(
                        " The poll before, #{p}, was answered `{e}`: the user had not approved by then."
                    )
                }
                (None, Some(end)) if cx.at > end => {
                    " It was the client's first poll, made after the code's lifetime had run out."
                        .to_string()
                }
                _ => String::new(),
            };
            evidence.push(cx.ex.id);
            out.add(
                format!("device-expired {fp}"),
                finding(
                    &rules::DEVICE_CODE_EXPIRED,
                    evidence,
                    "device code expired before the sign-in completed",
                    format!(
                        "The device authorization #{}{lifetime}; #{}, {} after it, was answered `expired_token`: the code ran out before the client received tokens.{before}",
                        d.issued_by,
                        cx.ex.id,
                        human_duration(cx.at - d.at)
                    ),
                    rules::DEVICE_CODE_EXPIRED.fix,
                ),
            );
        }
        let Some((prev, prev_at, prev_error)) = &d.last_poll else {
            return;
        };
        let gap = cx.at - prev_at;
        if gap + SLACK_SECONDS >= d.interval {
            return;
        }
        let told = if prev_error.as_deref() == Some("slow_down") {
            format!(
                " #{prev} had answered `slow_down`, which adds 5 s to the interval: the client ignored it."
            )
        } else {
            String::new()
        };
        out.add(
            format!("device-fast {fp}"),
            finding(
                &rules::DEVICE_POLL_TOO_FAST,
                vec![d.issued_by, *prev, cx.ex.id],
                "device flow polled faster than the interval",
                format!(
                    "#{} polled {} after #{prev}, but the client must wait {} between polls (the `interval` of the device authorization #{}, plus 5 s for each `slow_down`).{told}",
                    cx.ex.id,
                    human_gap(gap),
                    human_duration(d.interval),
                    d.issued_by
                ),
                rules::DEVICE_POLL_TOO_FAST.fix,
            ),
        );
    }
}

/// A short gap to a tenth of a second (`0.2 s`), longer ones as durations.
fn human_gap(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{:.1} s", seconds.max(0.0))
    } else {
        human_duration(seconds)
    }
}
