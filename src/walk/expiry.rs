//! `--wait-expiry`: wait until the first access token has expired, call the API with it
//! (the failure the connector meets), then refresh and call again.

use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::Connect;

use super::{Answer, Auth, Outcome, Settings, Tokens, Walk, WalkError, WalkOptions, Walker};
use crate::oauth::display::human_duration;

impl<C> Walker<'_, C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// Wait out the first access token (`first`, from step 1), call the API with it,
    /// then refresh with the latest refresh token and call again.
    pub(super) async fn expiry(
        &mut self,
        s: &Settings,
        o: &WalkOptions,
        walk: &mut Walk,
        first: &Tokens,
        refresh: Option<String>,
        auth: Auth,
    ) -> Result<(), WalkError> {
        let title = "after the first access token expires: it fails, a refresh recovers";
        let issued_at = first.issued_at;
        let (Some(first), Some(life)) = (first.access.as_deref(), first.expires_in) else {
            walk.push(
                "expiry",
                title,
                Outcome::Skipped,
                Vec::new(),
                "no access token with an expires_in to wait for".into(),
            );
            return Ok(());
        };
        if Duration::from_secs(life) > o.max_wait {
            walk.push(
                "expiry",
                title,
                Outcome::Skipped,
                Vec::new(),
                format!(
                    "the access token lives {}, longer than --max-wait {}",
                    human_duration(life as f64),
                    human_duration(o.max_wait.as_secs_f64())
                ),
            );
            return Ok(());
        }
        if s.no_calls.is_some() {
            walk.push(
                "expiry",
                title,
                Outcome::Skipped,
                Vec::new(),
                "no API call to make".into(),
            );
            return Ok(());
        }
        let until = issued_at + Duration::from_secs(life) + Duration::from_secs(1);
        (self.say)(&format!(
            "waiting {} for the first access token to expire ...",
            human_duration(
                until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
            )
        ));
        tokio::time::sleep_until(until.into()).await;
        let (ids_old, ok_old, said_old) = self.api_calls(s, first).await?;
        let mut ids = ids_old;
        let mut reason = if ok_old {
            format!(
                "the API still accepted the first access token after its {} ({said_old})",
                human_duration(life as f64)
            )
        } else {
            format!(
                "after {} the first access token fails as the connector's would: {said_old}",
                human_duration(life as f64)
            )
        };
        let Some(rt) = refresh else {
            reason.push_str("; no refresh token to recover with");
            walk.push("expiry", title, Outcome::Failed, ids, reason);
            return Ok(());
        };
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", rt),
        ];
        let (rid, answer) = self.token_request(s, &s.refresh_url, form, auth).await?;
        ids.push(rid);
        let result = match answer {
            Answer::Issued { access, .. } => {
                let (more, ok, said) = self.api_calls(s, &access).await?;
                ids.extend(more);
                reason.push_str(&format!("; #{rid} refreshed; {said}"));
                if ok { Outcome::Passed } else { Outcome::Failed }
            }
            other => {
                reason.push_str(&format!("; #{rid} the refresh answered {}", other.says()));
                Outcome::Failed
            }
        };
        walk.push("expiry", title, result, ids, reason);
        Ok(())
    }
}
