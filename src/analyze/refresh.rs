//! refresh-token-absent, offline-access-missing, refresh-rotation-ignored, refresh-race:
//! whether the connection can outlive its first access token.

use super::{Analyzer, Cx, Findings, finding, rules};
use crate::oauth::Step;
use crate::oauth::classify::{Grant, TokenRequest};
use crate::oauth::display::human_duration;
use crate::oauth::timeline::offline_requested;

pub struct Refresh;

impl Analyzer for Refresh {
    fn on_exchange(&mut self, cx: &Cx<'_>, out: &mut Findings) {
        let Step::Token(t) = cx.step else { return };
        match t.grant {
            Grant::AuthorizationCode | Grant::Password => absent(cx, t, out),
            Grant::RefreshToken => rotation_and_race(cx, t, out),
            _ => {}
        }
    }
}

fn absent(cx: &Cx<'_>, t: &TokenRequest, out: &mut Findings) {
    let Some(r) = t.response.as_ref().filter(|r| r.is_success()) else {
        return;
    };
    if r.refresh_token.is_some() {
        return;
    }
    let lifetime = r.expires_in.or_else(|| {
        let exp = r.access_jwt.as_ref()?.claim_i64("exp")?;
        Some(exp as f64 - cx.at)
    });
    let Some(lifetime) = lifetime else { return };
    let client = t.client_id.clone().unwrap_or_default();
    let life = human_duration(lifetime);
    let provider = cx.provider();
    let quirk = provider
        .map(|p| format!(" {}", p.offline_hint()))
        .unwrap_or_default();
    out.add(
        format!("{} {client}", t.endpoint),
        finding(
            &rules::REFRESH_TOKEN_ABSENT,
            vec![cx.ex.id],
            format!("no refresh token, and the access token expires in {life}"),
            format!(
                "The token response gives an access token that expires in {life} (`expires_in`) and no `refresh_token`. \
                 When it expires the connector cannot renew it: the connection fails about {life} after each sign-in (symptom a).{quirk}"
            ),
            "Get a refresh token: request offline access (the provider's way: `offline_access` scope, `access_type=offline`, ...) and enable the refresh token grant for the app. Otherwise the access token must not expire.",
        ),
    );
    // Was it asked for at all?
    let auth = cx
        .state
        .authorize_for(t.code_fp.as_deref(), t.client_id.as_deref());
    let asked = auth.is_some_and(|a| a.offline_requested) || offline_requested(&t.params);
    if !asked {
        let mut evidence: Vec<u64> = auth.map(|a| vec![a.id]).unwrap_or_default();
        evidence.push(cx.ex.id);
        let how = match provider {
            Some(p) => p.offline_hint().to_string(),
            None => "Most providers issue a refresh token only when asked: `offline_access` in the scope (OpenID Connect, Microsoft, Okta, Auth0), `access_type=offline` (Google), `token_access_type=offline` (Dropbox).".into(),
        };
        out.add(
            format!("{} {client}", t.endpoint),
            finding(
                &rules::OFFLINE_ACCESS_MISSING,
                evidence,
                "the refresh token was never asked for",
                format!("Neither the authorize request nor the token request asks for offline access, and no refresh token was issued. {how}"),
                "Add the provider's offline-access parameter to the connector's scopes or authorize parameters, then sign in again.",
            ),
        );
    }
}

fn rotation_and_race(cx: &Cx<'_>, t: &TokenRequest, out: &mut Findings) {
    let Some(fp) = &t.refresh_fp else { return };
    let failed = t.response.as_ref().is_some_and(|r| !r.is_success());
    if let Some(&(prev, at, end, prev_ok)) = cx.state.last_refresh.get(fp) {
        let my_end = cx.at + cx.ex.timings.end.unwrap_or(0.0) / 1000.0;
        let overlap = cx.at <= end && at <= my_end;
        if overlap {
            let outcome = match (prev_ok, failed) {
                (true, true) => {
                    " The second one failed: with rotation, the first refresh already consumed the token."
                }
                (false, false) => " The first one failed.",
                _ => "",
            };
            out.add(
                format!("race {fp}"),
                finding(
                    &rules::REFRESH_RACE,
                    vec![prev, cx.ex.id],
                    format!("two refreshes with the same refresh token fp:{fp} at once"),
                    format!(
                        "Two refresh requests sent the same refresh token {:.1} s apart.{outcome} With rotating refresh tokens (Okta, Auth0, Microsoft) the loser gets invalid_grant, and reuse detection may revoke the whole token family.",
                        (cx.at - at).abs()
                    ),
                    "Serialize refreshes: one refresh in flight per connection, and every caller waits for its result.",
                ),
            );
            return;
        }
    }
    let Some(info) = cx.state.tokens.get(fp) else {
        return;
    };
    let Some(newer) = &info.superseded_by else {
        return;
    };
    let newer_issued = cx.state.tokens.get(newer).map(|n| n.issued_by);
    let mut evidence: Vec<u64> = newer_issued.into_iter().collect();
    evidence.push(cx.ex.id);
    let result = if failed { " The refresh failed." } else { "" };
    out.add(
        format!("rot {fp}"),
        finding(
            &rules::REFRESH_ROTATION_IGNORED,
            evidence,
            format!("old refresh token fp:{fp} sent after a new one fp:{newer} was issued"),
            format!(
                "A refresh response issued a new refresh token (fp:{newer}), but the client kept sending the old one (fp:{fp}).{result} Servers that rotate refresh tokens reject the old one with invalid_grant, and may revoke the family."
            ),
            "Store the refresh token from every refresh response, replacing the old one, before using the new access token.",
        ),
    );
}
