//! Steps 1 and 3: the code exchange and the refresh, each with the other client
//! authentication tried once when the server refuses the client.

use std::time::Instant;

use hyper_util::client::legacy::connect::Connect;

use super::answer::{aadsts_hint, offline_hint};
use super::{Answer, Outcome, Settings, Tokens, Walk, WalkError, Walker};
use crate::oauth::display::human_duration;

impl<C> Walker<'_, C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// Step 1. A token URL that does not answer, or answers something other than a token
    /// response, stops the walk (it is not a token endpoint).
    pub(super) async fn code_exchange(
        &mut self,
        s: &Settings,
        code: String,
        verifier: Option<String>,
        walk: &mut Walk,
    ) -> Result<Tokens, WalkError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", s.redirect_uri.clone()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let (ids, answer, auth, variation) = self
            .token_with_variation(s, &s.token_url, form, s.auth)
            .await?;
        let first_id = ids[0];
        let mut t = Tokens {
            access: None,
            refresh: None,
            expires_in: None,
            issued_at: Instant::now(),
            auth,
            first_id,
        };
        match &answer {
            Answer::Issued {
                access,
                refresh,
                expires_in,
            } => {
                t.access = Some(access.clone());
                t.refresh = refresh.clone();
                t.expires_in = *expires_in;
            }
            Answer::Other { status, what } => {
                return Err(WalkError::at(
                    "step 1 (code exchange)",
                    format!(
                        "the token URL {} answered #{first_id} {status} with {what}: it is not a token endpoint",
                        s.token_url
                    ),
                    "check the token URL in the connector (or pass --token-url); the capture shows the page it answered",
                ));
            }
            Answer::Unreachable(m) => {
                return Err(WalkError::at(
                    "step 1 (code exchange)",
                    format!("the token URL {} did not answer: {m}", s.token_url),
                    "check the token URL and that this machine can reach it (--upstream-ca for a private CA)",
                ));
            }
            Answer::Refused { .. } => {}
        }
        let reason = match &answer {
            Answer::Issued { .. } => format!(
                "#{} the token endpoint issued an access token ({}) and {}",
                ids.last().unwrap_or(&first_id),
                lifetime(t.expires_in),
                if t.refresh.is_some() {
                    "a refresh token"
                } else {
                    "no refresh token"
                }
            ),
            other => format!(
                "#{first_id} the token endpoint answered {}{}",
                other.says(),
                aadsts_hint(other)
            ),
        };
        let passed = t.access.is_some() && variation.is_none();
        walk.push(
            "1",
            "the token URL gives an access token (and a refresh token) for the code",
            Outcome::of(passed),
            ids,
            after(variation, reason),
        );
        Ok(t)
    }

    /// Step 3. Returns whether the refresh worked (`None`: not tried); `t` then holds
    /// the new tokens (or no access token, when the refresh failed).
    pub(super) async fn refresh(
        &mut self,
        s: &Settings,
        meta: Option<&serde_json::Map<String, serde_json::Value>>,
        t: &mut Tokens,
        walk: &mut Walk,
    ) -> Result<Option<bool>, WalkError> {
        let title = "the refresh URL gives a new access token (and refresh token)";
        let first_id = t.first_id;
        let rt = match (&t.access, t.refresh.clone()) {
            (None, _) => {
                walk.push(
                    "3",
                    title,
                    Outcome::Skipped,
                    Vec::new(),
                    "no tokens to refresh".into(),
                );
                return Ok(None);
            }
            (Some(_), None) => {
                let reason = format!(
                    "#{first_id} carried no refresh token: the connection stops working when the access token expires ({}){}",
                    lifetime(t.expires_in),
                    offline_hint(s, meta)
                );
                walk.push("3", title, Outcome::Failed, vec![first_id], reason);
                return Ok(None);
            }
            (Some(_), Some(rt)) => rt,
        };
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", rt.clone()),
        ];
        let (ids, answer, used, variation) = self
            .token_with_variation(s, &s.refresh_url, form, t.auth)
            .await?;
        let last = *ids.last().unwrap_or(&0);
        let (worked, reason) = match answer {
            Answer::Issued {
                access, refresh, ..
            } => {
                let rotation = match &refresh {
                    Some(new) if *new != rt => {
                        "and a new refresh token (rotation: keep the newest)"
                    }
                    Some(_) => "and the same refresh token",
                    None => "and no new refresh token (keep using the first one)",
                };
                t.access = Some(access);
                if refresh.is_some() {
                    t.refresh = refresh;
                }
                t.auth = used;
                (
                    true,
                    format!("#{last} the refresh URL issued a new access token {rotation}"),
                )
            }
            other => {
                t.access = None;
                let mut reason = format!(
                    "#{last} the refresh URL {} answered {}{}",
                    s.refresh_url,
                    other.says(),
                    aadsts_hint(&other)
                );
                if matches!(other, Answer::Other { .. }) && s.refresh_url != s.token_url {
                    reason.push_str(&format!(
                        ": it is not a token endpoint; the token URL {} answered the code exchange, and is where refreshes usually go",
                        s.token_url
                    ));
                }
                (false, reason)
            }
        };
        let passed = worked && variation.is_none();
        walk.push(
            "3",
            title,
            Outcome::of(passed),
            ids,
            after(variation, reason),
        );
        Ok(Some(worked))
    }
}

/// `expires in 1 h`, or `no expires_in`.
pub(super) fn lifetime(expires_in: Option<u64>) -> String {
    expires_in
        .map(|e| format!("expires in {}", human_duration(e as f64)))
        .unwrap_or_else(|| "no expires_in".into())
}

/// The step's reason, after what the retry with the other client authentication showed.
fn after(variation: Option<String>, reason: String) -> String {
    match variation {
        Some(v) => format!("{v}. {reason}"),
        None => reason,
    }
}
