//! The steps of Microsoft's "Troubleshoot OAuth 2.0" checklist for custom connectors, as a
//! replay or a walk saw them. A step passes only on its own evidence: an answer that step
//! received in this run. One line per step, whatever number of requests it took.

use serde::Serialize;

/// One checklist step's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub step: u8,
    pub what: &'static str,
    pub result: CheckResult,
    pub why: String,
}

/// A checklist step's result (serialized `passed`, `failed`, `skipped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Passed,
    Failed,
    Skipped,
}

impl CheckResult {
    pub fn name(self) -> &'static str {
        match self {
            CheckResult::Passed => "passed",
            CheckResult::Failed => "failed",
            CheckResult::Skipped => "skipped",
        }
    }
}

/// What a request in the run was, for the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A token request other than a refresh (code exchange, client credentials, ...).
    Token,
    Refresh,
    /// An API call (or userinfo) with a token.
    Api,
}

/// One request's outcome: its captured id, and whether it worked (`None`: no answer).
#[derive(Debug, Clone)]
struct Seen {
    id: u64,
    status: Option<u16>,
    /// A token response that carried an access token.
    issued_access: bool,
    /// For API calls: after a refresh of this run had worked.
    after_refresh: bool,
}

/// Collects outcomes, then states each step once.
#[derive(Debug, Default)]
pub struct Checklist {
    token: Vec<Seen>,
    refresh: Vec<Seen>,
    api: Vec<Seen>,
    refreshed_ok: bool,
}

fn ok(s: &Seen) -> bool {
    s.status.is_some_and(|c| (200..300).contains(&c))
}

fn show(list: &[&Seen]) -> String {
    let ids: Vec<String> = list.iter().map(|s| format!("#{}", s.id)).collect();
    let statuses: Vec<String> = list
        .iter()
        .map(|s| {
            s.status
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no answer".into())
        })
        .collect();
    format!("{} answered {}", ids.join(", "), statuses.join(", "))
}

impl Checklist {
    /// Note one request of the run.
    pub fn saw(&mut self, role: Role, id: u64, status: Option<u16>, issued_access: bool) {
        let seen = Seen {
            id,
            status,
            issued_access,
            after_refresh: self.refreshed_ok,
        };
        match role {
            Role::Token => self.token.push(seen),
            Role::Refresh => {
                if ok(&seen) && issued_access {
                    self.refreshed_ok = true;
                }
                self.refresh.push(seen);
            }
            Role::Api => self.api.push(seen),
        }
    }

    /// The four steps a run can show, in order.
    pub fn finish(&self) -> Vec<Check> {
        let step1 = {
            let what = "the token endpoint returns an access token";
            let issuing: Vec<&Seen> = self
                .token
                .iter()
                .chain(&self.refresh)
                .filter(|s| ok(s) && s.issued_access)
                .collect();
            let all: Vec<&Seen> = self.token.iter().chain(&self.refresh).collect();
            if let Some(first) = issuing.first() {
                Check {
                    step: 1,
                    what,
                    result: CheckResult::Passed,
                    why: format!("#{} answered with an access token", first.id),
                }
            } else if all.is_empty() {
                Check {
                    step: 1,
                    what,
                    result: CheckResult::Skipped,
                    why: "no token request was sent".into(),
                }
            } else {
                Check {
                    step: 1,
                    what,
                    result: CheckResult::Failed,
                    why: format!("no access token came back: {}", show(&all)),
                }
            }
        };
        let step2 = {
            let what = "an API call with the token in Authorization: Bearer works";
            match self.api.first() {
                None => Check {
                    step: 2,
                    what,
                    result: CheckResult::Skipped,
                    why: "no API call was sent".into(),
                },
                Some(first) => Check {
                    step: 2,
                    what,
                    result: if ok(first) {
                        CheckResult::Passed
                    } else {
                        CheckResult::Failed
                    },
                    why: format!("first API call: {}", show(&[first])),
                },
            }
        };
        let step3 = {
            let what = "refresh returns a new access token";
            let good: Vec<&Seen> = self
                .refresh
                .iter()
                .filter(|s| ok(s) && s.issued_access)
                .collect();
            let all: Vec<&Seen> = self.refresh.iter().collect();
            if all.is_empty() {
                Check {
                    step: 3,
                    what,
                    result: CheckResult::Skipped,
                    why: "no refresh was sent".into(),
                }
            } else if good.len() == all.len() {
                Check {
                    step: 3,
                    what,
                    result: CheckResult::Passed,
                    why: format!("{} of {} refreshes: {}", good.len(), all.len(), show(&all)),
                }
            } else {
                Check {
                    step: 3,
                    what,
                    result: CheckResult::Failed,
                    why: format!(
                        "{} of {} refreshes returned a new access token: {}",
                        good.len(),
                        all.len(),
                        show(&all)
                    ),
                }
            }
        };
        let step4 = {
            let what = "the API works with the new access token";
            let after: Vec<&Seen> = self.api.iter().filter(|s| s.after_refresh).collect();
            if !self.refreshed_ok {
                Check {
                    step: 4,
                    what,
                    result: CheckResult::Skipped,
                    why: "no refresh of this run returned an access token".into(),
                }
            } else if after.is_empty() {
                Check {
                    step: 4,
                    what,
                    result: CheckResult::Skipped,
                    why: "no API call followed a working refresh".into(),
                }
            } else {
                let bad: Vec<&Seen> = after.iter().copied().filter(|s| !ok(s)).collect();
                Check {
                    step: 4,
                    what,
                    result: if bad.is_empty() {
                        CheckResult::Passed
                    } else {
                        CheckResult::Failed
                    },
                    why: format!("API calls after the refresh: {}", show(&after)),
                }
            }
        };
        vec![step1, step2, step3, step4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_passes_when_every_request_failed() {
        let mut c = Checklist::default();
        c.saw(Role::Refresh, 6, None, false);
        c.saw(Role::Api, 5, None, false);
        c.saw(Role::Refresh, 6, None, false);
        c.saw(Role::Refresh, 9, None, false);
        c.saw(Role::Api, 7, None, false);
        let checks = c.finish();
        let results: Vec<(u8, &str)> = checks.iter().map(|c| (c.step, c.result.name())).collect();
        assert_eq!(
            results,
            vec![(1, "failed"), (2, "failed"), (3, "failed"), (4, "skipped")]
        );
        assert!(checks[2].why.contains("0 of 3"), "{}", checks[2].why);
    }

    #[test]
    fn each_step_passes_on_its_own_evidence() {
        let mut c = Checklist::default();
        c.saw(Role::Api, 3, Some(200), false);
        c.saw(Role::Refresh, 4, Some(200), true);
        c.saw(Role::Api, 5, Some(401), false);
        let checks = c.finish();
        let results: Vec<&str> = checks.iter().map(|c| c.result.name()).collect();
        assert_eq!(results, vec!["passed", "passed", "passed", "failed"]);
        assert!(checks[3].why.contains("#5 answered 401"));
    }
}
