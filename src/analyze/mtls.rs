//! mtls-bound-token: certificate-bound access tokens (RFC 8705). A token whose `cnf`
//! names a client certificate (`x5t#S256`) is only good over a connection where the
//! client presents that certificate; the proxy records which one each request came with
//! (`--client-certs`).

use super::{Analyzer, Cx, Findings, finding, rules};

pub struct Mtls;

impl Analyzer for Mtls {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Some(info) = cx
            .step
            .api_call()
            .and_then(|c| c.token_fp.as_ref())
            .and_then(|fp| cx.state.tokens.get(fp))
        else {
            return;
        };
        // Bound by its `cnf` claim (a JWT), or (an opaque token) issued over a certificate
        // by a server whose metadata says it binds tokens to certificates.
        let (bound, how) = match info.jwt.as_ref().and_then(|j| j.cnf_x5t.as_deref()) {
            Some(b) => (
                b,
                "bound to the client certificate x5t#S256 {bound} (its `cnf` claim)",
            ),
            None => {
                let Some(cert) = info.issued_with_cert.as_deref() else {
                    return;
                };
                let binds = cx
                    .state
                    .families
                    .get(info.family)
                    .and_then(|f| crate::oauth::oidc::metadata_for(cx.state, &f.as_origin))
                    .and_then(|m| m.get("tls_client_certificate_bound_access_tokens"))
                    .and_then(|v| v.as_bool())
                    == Some(true);
                if !binds {
                    return;
                }
                (
                    cert,
                    "to a request that presented the client certificate x5t#S256 {bound}, and the server's metadata says it binds access tokens to that certificate (`tls_client_certificate_bound_access_tokens: true`)",
                )
            }
        };
        let how = how.replace("{bound}", bound);
        let presented = cx.ex.client_cert.as_ref();
        let what = match presented {
            // No certificate on this call: only a fact when the capture records
            // certificates (the request that issued the token shows one).
            None if info.issued_with_cert.is_some() => "without a client certificate".to_string(),
            None => return,
            Some(c) if c.sha256 != bound => format!(
                "with another client certificate (x5t#S256 {}{})",
                c.sha256,
                c.subject
                    .as_deref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default()
            ),
            Some(c) if !c.forwarded => {
                "with that certificate to the proxy, which had no --client-identity for it, so the server saw no client certificate".to_string()
            }
            Some(_) => return,
        };
        let (req, answer) = super::request_and_answer(cx.ex);
        let fix = if presented.is_some_and(|c| c.sha256 == bound) {
            "Start the proxy with --client-identity CERT.pem,KEY.pem for this certificate, so it can present it to the server as the client did."
        } else {
            rules::MTLS_BOUND_TOKEN.fix
        };
        out.add(
            format!("mtls {} {what}", info.fp),
            finding(
                &rules::MTLS_BOUND_TOKEN,
                vec![info.issued_by, cx.ex.id],
                format!(
                    "certificate-bound token fp:{} sent without its certificate",
                    info.fp
                ),
                format!(
                    "The token response #{} issued it {how}, but {req} (#{}) came {what}.{answer}",
                    info.issued_by, cx.ex.id,
                ),
                fix,
            ),
        );
    }
}
