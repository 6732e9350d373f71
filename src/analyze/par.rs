//! par-request-uri: a pushed authorization request (RFC 9126) is good for one browser
//! request, until its `expires_in`.

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::display::human_duration;

pub struct Par;

impl Analyzer for Par {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Step::Authorize(a) = cx.step else { return };
        if a.pushed {
            return;
        }
        let Some(push) = a.request_uri.as_ref().and_then(|u| cx.state.pushes.get(u)) else {
            return;
        };
        let (title, what) = match (push.used, push.expires_in) {
            (Some((first, _)), _) => (
                "pushed authorization request used twice",
                format!(
                    "names the `request_uri` that #{} pushed and #{first} already used: it is good for one authorization request",
                    push.pushed_by
                ),
            ),
            (None, Some(ttl)) if cx.at > push.at + ttl => (
                "pushed authorization request used after it expired",
                format!(
                    "names the `request_uri` that #{} pushed {} earlier, and it expired after {} (`expires_in`)",
                    push.pushed_by,
                    human_duration(cx.at - push.at),
                    human_duration(ttl)
                ),
            ),
            _ => return,
        };
        let evidence = match push.used {
            Some((first, _)) => vec![push.pushed_by, first, cx.ex.id],
            None => vec![push.pushed_by, cx.ex.id],
        };
        let answer = match cx.ex.response.as_ref() {
            Some(r) => {
                let refused = r
                    .body
                    .as_text()
                    .is_some_and(|t| t.contains("invalid_request_uri"))
                    || r.header("location")
                        .is_some_and(|l| l.contains("invalid_request_uri"));
                format!(
                    " The server answered {}{}.",
                    r.status,
                    if refused {
                        " (`invalid_request_uri`)"
                    } else {
                        ""
                    }
                )
            }
            None => String::new(),
        };
        out.add(
            format!("par {}", push.pushed_by),
            finding(
                &rules::PAR_REQUEST_URI,
                evidence,
                title,
                format!(
                    "The browser's authorization request #{} {what}.{answer}",
                    cx.ex.id
                ),
                rules::PAR_REQUEST_URI.fix,
            ),
        );
    }
}
