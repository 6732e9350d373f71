//! `--wait-expiry`: wait until the first access token has expired, call the API with it
//! (the failure the connector meets), then refresh and call again.

use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::Connect;

use super::{Outcome, Settings, Tokens, Walk, WalkError, WalkOptions, Walker};
use crate::oauth::display::human_duration;

impl<C> Walker<'_, C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// Wait out the first access token (`first`, from step 1) and call the API with it:
    /// what the connector meets when its token expires. Steps 3 and 4 then show whether a
    /// refresh recovers. The calls are noted in `walk.expired_on_purpose`.
    pub(super) async fn expiry(
        &mut self,
        s: &Settings,
        o: &WalkOptions,
        walk: &mut Walk,
        first: &Tokens,
    ) -> Result<(), WalkError> {
        let title = "the first access token, once expired, fails as the connector's would";
        let skip = |walk: &mut Walk, why: String| {
            walk.push("expiry", title, Outcome::Skipped, Vec::new(), why);
        };
        let (Some(token), Some(life)) = (first.access.as_deref(), first.expires_in) else {
            skip(
                walk,
                "no access token with an expires_in to wait for".into(),
            );
            return Ok(());
        };
        if Duration::from_secs(life) > o.max_wait {
            skip(
                walk,
                format!(
                    "the access token lives {}, longer than --max-wait {}",
                    human_duration(life as f64),
                    human_duration(o.max_wait.as_secs_f64())
                ),
            );
            return Ok(());
        }
        if s.no_calls.is_some() {
            skip(walk, "no API call to make".into());
            return Ok(());
        }
        let until = first.issued_at + Duration::from_secs(life) + Duration::from_secs(1);
        (self.say)(&format!(
            "waiting {} for the first access token to expire ...",
            human_duration(
                until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
            )
        ));
        tokio::time::sleep_until(until.into()).await;
        let (ids, accepted, said) = self.api_calls(s, token).await?;
        let life = human_duration(life as f64);
        let reason = if accepted {
            format!("the API still accepted the first access token after its {life}: {said}")
        } else {
            format!(
                "after {life} the first access token fails as the connector's would: {said}; steps 3 and 4 show whether a refresh recovers"
            )
        };
        walk.expired_on_purpose.extend(ids.iter().copied());
        walk.push("expiry", title, Outcome::Passed, ids, reason);
        Ok(())
    }
}
