//! dpop-proof, dpop-nonce-ignored, dpop-bound-as-bearer: sender-constrained tokens (RFC
//! 9449). A proof that does not fit its request or its own key; a server's `DPoP-Nonce`
//! the next proof leaves out; a DPoP-bound access token sent with the `Bearer` scheme.

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::dpop::{Verdict, verdict};
use crate::wire::url_origin;

pub struct Dpop;

impl Analyzer for Dpop {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let found = match cx.ex.hints.as_ref() {
            Some(h) => h.dpop.as_ref().map(|d| Verdict {
                proof: d.proof.clone(),
                nonce_ignored: d.nonce_ignored,
            }),
            // A masked proof (a redacted HAR) says only what its hints kept.
            None if cx
                .ex
                .request
                .header("dpop")
                .is_some_and(|p| crate::capture::redact::masked_fp(p.trim()).is_some()) =>
            {
                None
            }
            None => verdict(
                cx.ex,
                cx.step,
                cx.at,
                &cx.state.dpop,
                crate::oauth::dpop::binding(cx.step, cx.state),
            ),
        };
        // A DPoP-bound access token sent with the `Bearer` scheme.
        let bound_as_bearer = cx
            .step
            .api_call()
            .filter(|c| {
                c.scheme
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
            })
            .and_then(|c| c.token_fp.as_ref())
            .and_then(|fp| cx.state.tokens.get(fp))
            .filter(|i| {
                i.token_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("dpop"))
            });
        if found.is_none() && bound_as_bearer.is_none() {
            return;
        }
        let (req, answer) = super::request_and_answer(cx.ex);
        // At the token endpoint the proof belongs to step 1, at an API to step 2.
        let step = if matches!(cx.step, crate::oauth::Step::Token(_)) {
            "1"
        } else {
            "2"
        };
        if let Some(v) = found {
            if !v.proof.is_empty() {
                out.add(
                    format!(
                        "dpop {} {}",
                        url_origin(&cx.ex.request.url),
                        v.proof.join("|")
                    ),
                    finding(
                        &rules::DPOP_PROOF,
                        vec![cx.ex.id],
                        "DPoP proof that does not fit its request",
                        format!("The DPoP proof of {req}: {}.{answer}", v.proof.join("; ")),
                        rules::DPOP_PROOF.fix,
                    )
                    .at_step(step),
                );
            }
            if let Some(asked) = v.nonce_ignored {
                out.add(
                    format!("dpop-nonce {}", url_origin(&cx.ex.request.url)),
                    finding(
                        &rules::DPOP_NONCE_IGNORED,
                        vec![asked, cx.ex.id],
                        "server's DPoP nonce left out of the next proof",
                        format!(
                            "#{asked} answered with a `DPoP-Nonce` header and asked for it (`use_dpop_nonce`); the proof of {req} (#{}) does not carry that nonce.{answer}",
                            cx.ex.id
                        ),
                        rules::DPOP_NONCE_IGNORED.fix,
                    )
                    .at_step(step),
                );
            }
        }
        let Some(info) = bound_as_bearer else {
            return;
        };
        out.add(
            format!("dpop-bearer {}", info.fp),
            finding(
                &rules::DPOP_BOUND_AS_BEARER,
                vec![info.issued_by, cx.ex.id],
                format!("DPoP-bound token fp:{} sent as a Bearer token", info.fp),
                format!(
                    "The token response #{} issued it with `token_type: DPoP` (bound to the client's key), but {req} (#{}) sent it as `Authorization: Bearer`{}.{answer}",
                    info.issued_by,
                    cx.ex.id,
                    if cx.ex.request.header("dpop").is_some() {
                        ""
                    } else {
                        " and without a DPoP proof"
                    }
                ),
                rules::DPOP_BOUND_AS_BEARER.fix,
            ),
        );
    }
}
