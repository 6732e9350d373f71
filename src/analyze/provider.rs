//! Recognising well-known providers by host, to name their quirks in a finding's detail.

use crate::oauth::parse::url_host;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    Microsoft,
    Google,
    Salesforce,
    Dropbox,
    Okta,
    Auth0,
}

impl Provider {
    pub fn of_url(url: &str) -> Option<Self> {
        let h = url_host(url);
        let ends = |s: &str| h == s || h.ends_with(&format!(".{s}"));
        Some(if ends("github.com") {
            Provider::GitHub
        } else if ends("microsoftonline.com") || ends("microsoft.com") || ends("live.com") {
            Provider::Microsoft
        } else if ends("google.com") || ends("googleapis.com") {
            Provider::Google
        } else if ends("salesforce.com") || ends("force.com") {
            Provider::Salesforce
        } else if ends("dropbox.com") || ends("dropboxapi.com") {
            Provider::Dropbox
        } else if ends("okta.com") || ends("oktapreview.com") {
            Provider::Okta
        } else if ends("auth0.com") {
            Provider::Auth0
        } else {
            return None;
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::Microsoft => "Microsoft identity platform",
            Provider::Google => "Google",
            Provider::Salesforce => "Salesforce",
            Provider::Dropbox => "Dropbox",
            Provider::Okta => "Okta",
            Provider::Auth0 => "Auth0",
        }
    }

    /// How this provider issues refresh tokens.
    pub fn offline_hint(self) -> &'static str {
        match self {
            Provider::Microsoft => {
                "Microsoft issues a refresh token only when the `offline_access` scope is requested."
            }
            Provider::Google => {
                "Google issues a refresh token only with `access_type=offline`, and only on first consent: add `prompt=consent` to get one again."
            }
            Provider::Dropbox => {
                "Dropbox access tokens are short-lived; `token_access_type=offline` on the authorize request gets a refresh token."
            }
            Provider::Okta | Provider::Auth0 => {
                "Okta and Auth0 issue a refresh token only for the `offline_access` scope (and when the application allows the refresh token grant)."
            }
            Provider::Salesforce => {
                "Salesforce issues a refresh token only when the connected app's OAuth scopes include `refresh_token` (or `offline_access`)."
            }
            Provider::GitHub => {
                "GitHub OAuth-app tokens do not expire; GitHub App user tokens expire after 8 hours and come with a refresh token when expiring tokens are enabled."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_by_host() {
        assert_eq!(
            Provider::of_url("https://login.microsoftonline.com/t/oauth2/v2.0/token"),
            Some(Provider::Microsoft)
        );
        assert_eq!(
            Provider::of_url("https://github.com/login/oauth/access_token"),
            Some(Provider::GitHub)
        );
        assert_eq!(
            Provider::of_url("https://oauth2.googleapis.com/token"),
            Some(Provider::Google)
        );
        assert_eq!(Provider::of_url("https://notgithub.com/x"), None);
        assert_eq!(Provider::of_url("https://127.0.0.1:8443/token"), None);
    }
}
