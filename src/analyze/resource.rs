//! resource-mismatch: the API names the resource its tokens must be for (`resource_id`
//! or `resource` in its challenge) and the access token is for another (RFC 8707).

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::wire::url_base;

pub struct Resource;

/// Resource identifiers compare without case and without a trailing slash.
fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

impl Analyzer for Resource {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Some(call) = cx.step.api_call() else {
            return;
        };
        if !matches!(call.status, Some(401 | 403)) {
            return;
        }
        let Some(wanted) = call.challenges.iter().find_map(|c| {
            (c.scheme.eq_ignore_ascii_case("bearer") || c.scheme.eq_ignore_ascii_case("dpop"))
                .then(|| c.get("resource_id").or_else(|| c.get("resource")))
                .flatten()
                .filter(|r| !r.trim().is_empty())
        }) else {
            return;
        };
        let Some(info) = call
            .token_fp
            .as_ref()
            .and_then(|fp| cx.state.tokens.get(fp))
        else {
            return;
        };
        let aud = info.jwt.as_ref().map(|j| j.aud.clone()).unwrap_or_default();
        let (held, how) = if !aud.is_empty() {
            (aud, "its `aud`")
        } else if let Some(asked) = &info.requested_resources {
            (asked.clone(), "the `resource` its token request asked for")
        } else {
            return;
        };
        if held.iter().any(|h| same(h, wanted)) {
            return;
        }
        let held_text = held
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.add(
            format!("resource {} {wanted}", info.fp),
            finding(
                &rules::RESOURCE_MISMATCH,
                vec![info.issued_by, cx.ex.id],
                format!("access token for {held_text} sent to an API for `{wanted}`"),
                format!(
                    "{} {} (#{}) answered {} naming the resource its tokens must be for, `{wanted}`, but the access token fp:{} (issued by #{}) is for {held_text} ({how}).",
                    cx.ex.request.method,
                    url_base(&cx.ex.request.url),
                    cx.ex.id,
                    call.status.unwrap_or(0),
                    info.fp,
                    info.issued_by,
                ),
                rules::RESOURCE_MISMATCH.fix,
            ),
        );
    }
}
