//! `oauthscope walk`: Microsoft's "Troubleshoot OAuth 2.0" walk for custom connectors,
//! run from the connector definition instead of by hand in Postman: sign in with the
//! connector's own client id, redirect URI and scopes; step 1, the code exchange at the
//! token URL; step 2, the API with the access token; step 3, the refresh at the refresh
//! URL; step 4, the API with the new token; step 5, the definition against what worked.
//! When the token endpoint refuses the client credentials, the other way of sending them
//! is tried once, to say which one it accepts. Every request is recorded like the
//! proxy's, so the walk ends with the analysis of its own capture.
//!
//! Files: `settings` (the definition and the options into what the walk runs with),
//! `signin` (the authorize URL, the loopback listener, the pasted address), `answer`
//! (what a token endpoint said), `report` (the steps and step 5), `expiry`
//! (`--wait-expiry`). This file holds the walker and the walk's order.

mod answer;
mod expiry;
mod report;
mod settings;
pub mod signin;
mod steps;

use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;
use serde::Serialize;

use crate::capture::decode::RawBody;
use crate::capture::redact::Fingerprinter;
use crate::capture::{Exchange, Header};
use crate::replay::send::{Outgoing, Sender, Sent, send};
use crate::wire::form_encode;
use answer::Answer;
pub use report::{Compared, Outcome, StepReport, Walk, step5};
pub use settings::{Auth, Settings, WalkOptions};

/// Why the walk could not go on (exit 2): the step, what happened, what to do.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("{step}: {message}. What to do: {todo}")]
pub struct WalkError {
    pub step: &'static str,
    pub message: String,
    pub todo: String,
}

impl WalkError {
    pub fn at(step: &'static str, message: String, todo: &str) -> Self {
        WalkError {
            step,
            message,
            todo: todo.to_string(),
        }
    }
}

/// Runs the walk's requests and records each one.
pub struct Walker<'a, C> {
    client: Client<C, Full<Bytes>>,
    record: Box<dyn FnMut(Exchange, RawBody, RawBody) + 'a>,
    say: Box<dyn Fn(&str) + 'a>,
    next_id: u64,
    fpr: Fingerprinter,
    /// Recorded on each exchange: the walk, and the client certificate it offers.
    sender: Sender,
}

/// A blank exchange the walk's records start from.
fn blank() -> Exchange {
    Exchange {
        id: 0,
        conn: 1,
        kind: Default::default(),
        client: String::new(),
        started: String::new(),
        timings: Default::default(),
        request: crate::capture::Request {
            method: String::new(),
            url: String::new(),
            version: "HTTP/1.1".into(),
            headers: Vec::new(),
            body: Default::default(),
        },
        response: None,
        error: None,
        incomplete: false,
        relay: None,
        hints: None,
        client_cert: None,
    }
}

const USER_AGENT: &str = concat!("oauthscope-walk/", env!("CARGO_PKG_VERSION"));

impl<'a, C> Walker<'a, C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    pub fn new(
        client: Client<C, Full<Bytes>>,
        salt: &str,
        record: impl FnMut(Exchange, RawBody, RawBody) + 'a,
        say: impl Fn(&str) + 'a,
    ) -> Self {
        Walker {
            client,
            record: Box::new(record),
            say: Box::new(say),
            next_id: 1,
            fpr: Fingerprinter::new(salt),
            sender: Sender {
                name: "oauthscope walk",
                cert: None,
            },
        }
    }

    /// Record `cert` on each exchange: the client the walk builds offers it to servers.
    pub fn presenting(mut self, cert: Option<crate::capture::ClientCert>) -> Self {
        self.sender.cert = cert;
        self
    }

    /// Send and record one request; returns its id and what came back.
    async fn exchange(
        &mut self,
        method: &str,
        url: &str,
        headers: Vec<Header>,
        body: Vec<u8>,
    ) -> Result<(u64, Sent), WalkError> {
        let mut headers = headers;
        headers.push(Header("user-agent".into(), USER_AGENT.into()));
        let out = Outgoing {
            method: method.to_string(),
            url: url.to_string(),
            headers,
            body,
        };
        let sent = send(&self.client, &out).await.map_err(|e| {
            WalkError::at("request", format!("{method} {url}: {e}"), "check the URL")
        })?;
        let id = self.next_id;
        self.next_id += 1;
        let (ex, req, res) =
            crate::replay::send::record(&blank(), id, out, sent.clone(), &self.sender);
        (self.record)(ex, req, res);
        Ok((id, sent))
    }

    async fn token_request(
        &mut self,
        s: &Settings,
        url: &str,
        mut form: Vec<(&'static str, String)>,
        auth: Auth,
    ) -> Result<(u64, Answer), WalkError> {
        let mut headers = vec![
            Header(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            Header("accept".into(), "application/json".into()),
        ];
        form.push(("client_id", s.client_id.clone()));
        if let Some(secret) = &s.client_secret {
            match auth {
                Auth::Post => form.push(("client_secret", secret.clone())),
                Auth::Basic => {
                    use base64::Engine;
                    let raw = format!("{}:{}", form_encode(&s.client_id), form_encode(secret));
                    headers.push(Header(
                        "authorization".into(),
                        format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD.encode(raw)
                        ),
                    ));
                }
            }
        }
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect();
        let (id, sent) = self
            .exchange("POST", url, headers, body.join("&").into_bytes())
            .await?;
        Ok((id, Answer::of(&sent)))
    }

    /// A token request, and when the server refuses the client with `invalid_client`, the
    /// same request once more with the other client authentication. Returns the
    /// exchanges, the final answer, the method that worked, and what the retry showed.
    async fn token_with_variation(
        &mut self,
        s: &Settings,
        url: &str,
        form: Vec<(&'static str, String)>,
        auth: Auth,
    ) -> Result<(Vec<u64>, Answer, Auth, Option<String>), WalkError> {
        let (id, answer) = self.token_request(s, url, form.clone(), auth).await?;
        let refused_client =
            matches!(&answer, Answer::Refused { error, .. } if error == "invalid_client");
        if !refused_client || s.client_secret.is_none() {
            return Ok((vec![id], answer, auth, None));
        }
        let other = auth.other();
        let (id2, again) = self.token_request(s, url, form, other).await?;
        if matches!(again, Answer::Issued { .. }) {
            let note = format!(
                "#{id} refused {} ({}); #{id2} with {} was accepted: the token endpoint wants the client credentials {}",
                auth.name(),
                answer.says(),
                other.name(),
                match other {
                    Auth::Basic => "in the Authorization header (Basic)",
                    Auth::Post => "in the request body",
                }
            );
            return Ok((vec![id, id2], again, other, Some(note)));
        }
        let note = format!(
            "#{id2} with {} was refused too ({}): the client id or secret itself is wrong",
            other.name(),
            again.says()
        );
        Ok((vec![id, id2], answer, auth, Some(note)))
    }

    /// The API calls with `access`; (ids, all 2xx, a summary).
    async fn api_calls(
        &mut self,
        s: &Settings,
        access: &str,
    ) -> Result<(Vec<u64>, bool, String), WalkError> {
        let mut ids = Vec::new();
        let mut all_ok = true;
        let mut said = Vec::new();
        for (method, url) in &s.calls {
            let headers = vec![
                Header("authorization".into(), format!("Bearer {access}")),
                Header("accept".into(), "application/json".into()),
            ];
            let (id, sent) = self.exchange(method, url, headers, Vec::new()).await?;
            ids.push(id);
            let shown = crate::capture::redact::redact_url(&self.fpr, url);
            match (sent.status, &sent.error) {
                (Some(st), _) if (200..300).contains(&st) => {
                    said.push(format!("#{id} {method} {shown} → {st}"))
                }
                (Some(st), _) => {
                    all_ok = false;
                    let challenge = sent
                        .header("www-authenticate")
                        .map(|w| format!(" (WWW-Authenticate: {w})"))
                        .unwrap_or_default();
                    said.push(format!("#{id} {method} {shown} → {st}{challenge}"));
                }
                (None, Some(e)) => {
                    all_ok = false;
                    said.push(format!("#{id} {method} {shown}: no answer: {}", e.message));
                }
                (None, None) => all_ok = false,
            }
        }
        Ok((ids, all_ok, said.join("; ")))
    }

    /// The provider's metadata (RFC 8414, then OpenID Connect Discovery) at the
    /// authorization URL's origin, when it has any.
    async fn metadata(
        &mut self,
        s: &Settings,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let origin = crate::wire::url_origin(&s.authorize_url);
        for well_known in ["oauth-authorization-server", "openid-configuration"] {
            let url = format!("{origin}/.well-known/{well_known}");
            let headers = vec![Header("accept".into(), "application/json".into())];
            let Ok((_, sent)) = self.exchange("GET", &url, headers, Vec::new()).await else {
                return None;
            };
            if sent.status == Some(200) {
                if let Some(m) =
                    crate::oauth::parse::json_object(&String::from_utf8_lossy(&sent.plain))
                {
                    return Some(m);
                }
            }
        }
        None
    }

    /// Run the walk. `Err` stops it (exit 2); what was recorded until then stays.
    pub async fn run(&mut self, s: &Settings, o: &WalkOptions) -> Result<Walk, WalkError> {
        let mut walk = Walk::default();
        let meta = self.metadata(s).await;
        let pkce = meta
            .as_ref()
            .and_then(|m| m.get("code_challenge_methods_supported"))
            .and_then(|v| v.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("S256")));
        // Sign-in.
        let state = random_value(16);
        let verifier = pkce.then(|| random_value(32));
        let challenge = verifier.as_deref().map(crate::oauth::parse::s256);
        let url = signin::authorize_url(
            &s.authorize_url,
            &s.client_id,
            &s.redirect_uri,
            &s.scopes.join(&s.delimiter),
            &state,
            challenge.as_deref(),
        );
        let callback = self.sign_in(s, o, &url, &state).await?;
        walk.push(
            "sign-in",
            "sign in with the connector's client id, redirect URI and scopes",
            Outcome::Passed,
            Vec::new(),
            format!(
                "a code came back to {} with this walk's state{}",
                s.redirect_uri,
                if pkce {
                    " (PKCE S256, as the provider's metadata offers)"
                } else {
                    ""
                }
            ),
        );
        let mut t = self
            .code_exchange(s, callback.code, verifier, &mut walk)
            .await?;
        let token_worked = t.access.is_some();
        let first = t.clone();
        self.api_step(
            s,
            &mut walk,
            "2",
            "an API action accepts the access token in Authorization: Bearer",
            t.access.clone(),
            "no access token to call it with",
        )
        .await?;
        if o.wait_expiry {
            self.expiry(s, o, &mut walk, &first).await?;
        }
        let refresh_worked = self.refresh(s, meta.as_ref(), &mut t, &mut walk).await?;
        let new_access = t.access.clone().filter(|_| refresh_worked == Some(true));
        self.api_step(
            s,
            &mut walk,
            "4",
            "the API accepts the new access token",
            new_access,
            "no new access token",
        )
        .await?;
        walk.compared = report::compared(s, &self.fpr, &t, token_worked, refresh_worked);
        Ok(walk)
    }

    /// Steps 2 and 4: the API calls with `access` (skipped without one, or without a call).
    async fn api_step(
        &mut self,
        s: &Settings,
        walk: &mut Walk,
        step: &'static str,
        title: &'static str,
        access: Option<String>,
        without: &str,
    ) -> Result<(), WalkError> {
        let (result, ids, reason) = match (access, &s.no_calls) {
            (None, _) => (Outcome::Skipped, Vec::new(), without.to_string()),
            (_, Some(why)) => (Outcome::Skipped, Vec::new(), why.clone()),
            (Some(at), None) => {
                let (ids, ok, said) = self.api_calls(s, &at).await?;
                (Outcome::of(ok), ids, said)
            }
        };
        walk.push(step, title, result, ids, reason);
        Ok(())
    }
}

/// The tokens the walk holds, and how the client authenticates.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: Option<String>,
    pub refresh: Option<String>,
    pub expires_in: Option<u64>,
    pub issued_at: Instant,
    /// The client authentication the token endpoint accepted (or the definition's).
    pub auth: Auth,
    /// The code exchange's exchange id.
    pub first_id: u64,
}

/// `n` random bytes, base64url (state, PKCE verifier).
fn random_value(n: usize) -> String {
    use base64::Engine;
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).expect("system random number generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
