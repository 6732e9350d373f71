//! The walk's answer: each step passed, failed or skipped with its evidence, and step 5,
//! the definition against what worked.

use serde::Serialize;

use super::{Settings, Tokens};
use crate::capture::redact::Fingerprinter;
use crate::connector::Connector;

/// Passed, failed or skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    /// Passed or failed.
    pub fn of(passed: bool) -> Self {
        if passed {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }
}

/// One step of the walk and its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// `sign-in`, `1` .. `5`, `expiry`.
    pub step: &'static str,
    pub title: &'static str,
    pub result: Outcome,
    /// The exchanges (ids in the walk's capture) that show it.
    pub exchanges: Vec<u64>,
    pub reason: String,
}

/// One setting: what the definition says, what the walk used, whether that worked.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub setting: &'static str,
    pub definition: Option<String>,
    pub used: String,
    /// `None` when the walk could not tell.
    pub worked: Option<bool>,
}

/// The whole answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Walk {
    pub steps: Vec<StepReport>,
    pub compared: Vec<Compared>,
    /// API calls made with an expired token on purpose (`--wait-expiry`): findings that
    /// cite them show what the connector meets, not a mistake of the walk's.
    pub expired_on_purpose: Vec<u64>,
}

impl Walk {
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.result == Outcome::Failed)
    }

    pub(super) fn push(
        &mut self,
        step: &'static str,
        title: &'static str,
        result: Outcome,
        exchanges: Vec<u64>,
        reason: String,
    ) {
        self.steps.push(StepReport {
            step,
            title,
            result,
            exchanges,
            reason,
        });
    }
}

/// Step 5, from the steps and the comparison.
pub fn step5(c: &Connector, s: &Settings, walk: &mut Walk) {
    let value = |f: &Option<crate::connector::Field<String>>| {
        f.as_ref().map(|f| f.value.trim().to_string())
    };
    for row in walk.compared.iter_mut() {
        row.definition = match row.setting {
            "client id" => value(&c.client_id),
            "client secret" => c
                .client_secret
                .as_ref()
                .map(|_| "(from the profile's variable)".into()),
            "token URL" => value(&c.token_url),
            "refresh URL" => c
                .effective_refresh_url()
                .map(|f| f.value.trim().to_string()),
            "redirect URI" => value(&c.redirect_url),
            "scopes" => c.scopes.as_ref().map(|f| f.value.join(" ")),
            _ => row.definition.clone(),
        };
    }
    let mut wrong = Vec::new();
    for row in &walk.compared {
        match (&row.definition, row.worked) {
            (Some(d), Some(true)) if *d != row.used && row.setting != "client secret" => wrong
                .push(format!(
                    "{}: the definition has {d}, {} worked",
                    row.setting, row.used
                )),
            (Some(d), Some(false)) if *d == row.used => wrong.push(format!(
                "{}: {d} (the definition's) did not work",
                row.setting
            )),
            (None, Some(false)) if row.setting != "client secret" => {
                wrong.push(format!("{}: {} did not work", row.setting, row.used))
            }
            _ => {}
        }
    }
    let failed_steps: Vec<&str> = walk
        .steps
        .iter()
        .filter(|st| st.result == Outcome::Failed)
        .map(|st| st.step)
        .collect();
    let (result, reason) = if wrong.is_empty() && failed_steps.is_empty() {
        (
            Outcome::Passed,
            format!(
                "the connector's settings are the ones that worked ({} with {})",
                s.token_url,
                s.auth.name()
            ),
        )
    } else if wrong.is_empty() {
        (
            Outcome::Failed,
            format!(
                "step(s) {} failed with the connector's own settings",
                failed_steps.join(", ")
            ),
        )
    } else {
        (Outcome::Failed, wrong.join("; "))
    };
    walk.push(
        "5",
        "the connector's client id, secret, token URL and refresh URL match what worked",
        result,
        Vec::new(),
        reason,
    );
}

/// The settings the walk used and whether each worked (the definition's side is filled
/// in by [`step5`]).
pub fn compared(
    s: &Settings,
    fpr: &Fingerprinter,
    t: &Tokens,
    token_worked: bool,
    refresh_worked: Option<bool>,
) -> Vec<Compared> {
    let row = |setting: &'static str, used: String, worked: Option<bool>| Compared {
        setting,
        definition: None,
        used,
        worked,
    };
    vec![
        row("client id", s.client_id.clone(), Some(token_worked)),
        row(
            "client secret",
            s.client_secret
                .as_deref()
                .map(|v| fpr.mask(v))
                .unwrap_or_else(|| "(none)".into()),
            Some(token_worked),
        ),
        row("token URL", s.token_url.clone(), Some(token_worked)),
        row("refresh URL", s.refresh_url.clone(), refresh_worked),
        row("redirect URI", s.redirect_uri.clone(), Some(true)),
        row(
            "scopes",
            s.scopes.join(" "),
            Some(token_worked && t.refresh.is_some()),
        ),
        Compared {
            definition: Some(s.auth.name().to_string()),
            ..row(
                "client authentication",
                t.auth.name().to_string(),
                Some(token_worked),
            )
        },
    ]
}
