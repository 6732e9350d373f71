//! Which credential a replayed request carries in place of the captured one.
//!
//! Every secret the capture shows being issued (access, refresh and ID tokens by a token
//! endpoint, codes in a redirect) is known with its kind and the origin that issued it.
//! A replayed request is the captured request with those values replaced *in place*: a
//! new value only ever goes where its captured predecessor went (same origin, same header
//! or parameter, same scheme), never to another host.
//!
//! Two policies:
//! - [`Policy::Fresh`] (`replay`): the newest token of each kind from the same issuer —
//!   the way a well-behaved connector would act today.
//! - [`Policy::Mirror`] (`demo`): each captured value stands for the value issued in its
//!   place during this run, so the captured client's behaviour (reusing an old refresh
//!   token, keeping an old access token) is reproduced exactly.

use std::collections::HashMap;

use crate::capture::redact::masked_fp;
use crate::oauth::Step;
use crate::oauth::parse::{json_object, parse_form, query_params, url_origin};

/// How captured values map to the values of this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Fresh,
    Mirror,
}

/// The kinds of issued secrets the replay follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Secret {
    Access,
    Refresh,
    Id,
    Code,
}

impl Secret {
    pub fn name(self) -> &'static str {
        match self {
            Secret::Access => "access token",
            Secret::Refresh => "refresh token",
            Secret::Id => "ID token",
            Secret::Code => "authorization code",
        }
    }
}

/// Tokens (and a code) in a token endpoint's or a redirect's answer.
#[derive(Debug, Default, Clone)]
pub struct Issued {
    pub access: Option<String>,
    pub refresh: Option<String>,
    pub id: Option<String>,
    pub code: Option<String>,
}

impl Issued {
    /// Read a token response body (JSON, or the form encoding GitHub uses).
    pub fn from_token_body(body: &[u8]) -> Self {
        let Ok(text) = std::str::from_utf8(body) else {
            return Issued::default();
        };
        let text = text.trim_start_matches('\u{feff}').trim();
        if let Some(obj) = json_object(text) {
            let s = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_string);
            return Issued {
                access: s("access_token"),
                refresh: s("refresh_token"),
                id: s("id_token"),
                code: None,
            };
        }
        let form = parse_form(text);
        let s = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        Issued {
            access: s("access_token"),
            refresh: s("refresh_token"),
            id: s("id_token"),
            code: None,
        }
    }

    /// The code in a redirect's `Location` (query or fragment).
    pub fn from_location(location: Option<&str>) -> Self {
        let Some(loc) = location else {
            return Issued::default();
        };
        let mut params = query_params(loc).0;
        if let Some((_, frag)) = loc.split_once('#') {
            params.extend(parse_form(frag));
        }
        let s = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Issued {
            access: s("access_token"),
            refresh: None,
            id: s("id_token"),
            code: s("code"),
        }
    }

    fn pairs(&self) -> [(Secret, Option<&String>); 4] {
        [
            (Secret::Access, self.access.as_ref()),
            (Secret::Refresh, self.refresh.as_ref()),
            (Secret::Id, self.id.as_ref()),
            (Secret::Code, self.code.as_ref()),
        ]
    }
}

/// Captured values, what they stand for now, and where they came from.
pub struct Lineage {
    policy: Policy,
    /// Captured value → its kind and the origin that issued it.
    captured: HashMap<String, (Secret, String)>,
    /// Mirror: captured value → the value issued in its place in this run.
    mirrored: HashMap<String, String>,
    /// Fresh: newest value per kind and issuing origin.
    newest: HashMap<(Secret, String), String>,
    /// Fresh: a refresh token the user gave (`--refresh-token-env`), for every issuer
    /// until the replay learns a newer one.
    given_refresh: Option<String>,
}

impl Lineage {
    /// Learn what the capture issued, in capture order.
    pub fn new<'a>(
        policy: Policy,
        flow: impl IntoIterator<Item = (&'a crate::capture::Exchange, &'a Step)>,
        given_refresh: Option<String>,
    ) -> Self {
        let mut lineage = Lineage {
            policy,
            captured: HashMap::new(),
            mirrored: HashMap::new(),
            newest: HashMap::new(),
            given_refresh,
        };
        for (ex, step) in flow {
            let issuer = url_origin(&ex.request.url);
            for (kind, value) in captured_issue(ex, step).pairs() {
                let Some(v) = value.filter(|v| v.len() >= 8) else {
                    continue;
                };
                lineage.captured.insert(v.clone(), (kind, issuer.clone()));
                // Fresh: the newest captured refresh token (in clear) is where we start.
                if policy == Policy::Fresh && kind == Secret::Refresh && masked_fp(v).is_none() {
                    lineage.newest.insert((kind, issuer.clone()), v.clone());
                }
            }
        }
        lineage
    }

    /// Record what this run's answer issued in place of what the captured answer issued.
    pub fn learn(&mut self, issuer: &str, then: &Issued, now: &Issued) {
        for ((kind, old), (_, new)) in then.pairs().into_iter().zip(now.pairs()) {
            let Some(new) = new else { continue };
            if let Some(old) = old {
                self.mirrored.insert(old.clone(), new.clone());
            }
            self.newest.insert((kind, issuer.to_string()), new.clone());
            if kind == Secret::Refresh {
                self.given_refresh = None;
            }
        }
    }

    /// What a captured value stands for in this run, if anything other than itself.
    fn now_for(&self, value: &str) -> Option<&String> {
        let (kind, issuer) = self.captured.get(value)?;
        match self.policy {
            Policy::Mirror => self.mirrored.get(value),
            Policy::Fresh => {
                self.newest
                    .get(&(*kind, issuer.clone()))
                    .or(if *kind == Secret::Refresh {
                        self.given_refresh.as_ref()
                    } else {
                        None
                    })
            }
        }
    }

    /// Replace every captured secret in the request parts with what it stands for now.
    /// Returns the kinds replaced.
    pub fn substitute(
        &self,
        headers: &mut [crate::capture::Header],
        url: &mut String,
        body: &mut Vec<u8>,
    ) -> Vec<Secret> {
        let mut replaced = Vec::new();
        let mut text_body = String::from_utf8(std::mem::take(body));
        for (old, (kind, _)) in &self.captured {
            let Some(new) = self.now_for(old).filter(|n| *n != old) else {
                continue;
            };
            let mut hit = false;
            for h in headers.iter_mut() {
                if h.1.contains(old.as_str()) {
                    h.1 = h.1.replace(old.as_str(), new);
                    hit = true;
                }
            }
            for (from, to) in [
                (old.clone(), new.clone()),
                (crate::wire::form_encode(old), crate::wire::form_encode(new)),
            ] {
                if url.contains(&from) {
                    *url = url.replace(&from, &to);
                    hit = true;
                }
                if let Ok(t) = text_body.as_mut() {
                    if t.contains(&from) {
                        *t = t.replace(&from, &to);
                        hit = true;
                    }
                }
            }
            if hit && !replaced.contains(kind) {
                replaced.push(*kind);
            }
        }
        *body = match text_body {
            Ok(t) => t.into_bytes(),
            Err(e) => e.into_bytes(),
        };
        replaced
    }
}

/// What the captured answer of `ex` issued.
pub fn captured_issue(ex: &crate::capture::Exchange, step: &Step) -> Issued {
    match step {
        Step::Token(t) => t
            .response
            .as_ref()
            .map(|r| Issued {
                access: r.access_token.clone(),
                refresh: r.refresh_token.clone(),
                id: r.id_token.clone(),
                code: None,
            })
            .unwrap_or_default(),
        _ => Issued::from_location(ex.response.as_ref().and_then(|r| r.header("location"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Header;

    fn lineage(policy: Policy) -> Lineage {
        let mut l = Lineage {
            policy,
            captured: HashMap::new(),
            mirrored: HashMap::new(),
            newest: HashMap::new(),
            given_refresh: None,
        };
        let issuer = "https://as.example".to_string();
        for (v, k) in [
            ("rt-one-11111111", Secret::Refresh),
            ("rt-two-22222222", Secret::Refresh),
            ("at-one-11111111", Secret::Access),
        ] {
            l.captured.insert(v.into(), (k, issuer.clone()));
        }
        l
    }

    #[test]
    fn mirror_keeps_the_captured_clients_choice_and_fresh_takes_the_newest() {
        let then1 = Issued {
            refresh: Some("rt-one-11111111".into()),
            access: Some("at-one-11111111".into()),
            ..Issued::default()
        };
        let now1 = Issued {
            refresh: Some("rt-NEW1-aaaaaaaa".into()),
            access: Some("at-NEW1-aaaaaaaa".into()),
            ..Issued::default()
        };
        let then2 = Issued {
            refresh: Some("rt-two-22222222".into()),
            ..Issued::default()
        };
        let now2 = Issued {
            refresh: Some("rt-NEW2-bbbbbbbb".into()),
            ..Issued::default()
        };
        for (policy, want) in [
            (Policy::Mirror, "rt-NEW1-aaaaaaaa"),
            (Policy::Fresh, "rt-NEW2-bbbbbbbb"),
        ] {
            let mut l = lineage(policy);
            l.learn("https://as.example", &then1, &now1);
            l.learn("https://as.example", &then2, &now2);
            // The captured client reused the first refresh token.
            let mut body = b"grant_type=refresh_token&refresh_token=rt-one-11111111".to_vec();
            let mut url = "https://as.example/token".to_string();
            let mut headers = vec![Header("authorization".into(), "Basic eDp5".into())];
            let kinds = l.substitute(&mut headers, &mut url, &mut body);
            assert_eq!(kinds, vec![Secret::Refresh]);
            assert_eq!(
                String::from_utf8(body).unwrap(),
                format!("grant_type=refresh_token&refresh_token={want}")
            );
            assert_eq!(headers[0].1, "Basic eDp5", "Basic credentials untouched");
        }
    }

    #[test]
    fn values_go_only_where_their_predecessor_went() {
        let mut l = lineage(Policy::Fresh);
        l.learn(
            "https://as.example",
            &Issued {
                access: Some("at-one-11111111".into()),
                ..Issued::default()
            },
            &Issued {
                access: Some("at-NEW-cccccccc".into()),
                ..Issued::default()
            },
        );
        // A request that never carried a captured token gets none.
        let mut headers = vec![Header("x-api-key".into(), "k".into())];
        let mut url = "http://other.example/api".to_string();
        let mut body = Vec::new();
        assert!(l.substitute(&mut headers, &mut url, &mut body).is_empty());
        assert_eq!(headers[0].1, "k");
        assert!(!url.contains("at-NEW"));
        // One that did gets the new one in the same place.
        let mut headers = vec![Header(
            "authorization".into(),
            "Bearer at-one-11111111".into(),
        )];
        let mut url = "https://api.example/me".to_string();
        l.substitute(&mut headers, &mut url, &mut body);
        assert_eq!(headers[0].1, "Bearer at-NEW-cccccccc");
    }

    #[test]
    fn token_bodies_are_read_in_both_encodings() {
        let j = Issued::from_token_body(
            b"\xef\xbb\xbf{\"access_token\":\"a\",\"refresh_token\":\"r\"}",
        );
        assert_eq!(
            (j.access.as_deref(), j.refresh.as_deref()),
            (Some("a"), Some("r"))
        );
        let f = Issued::from_token_body(b"access_token=a%2Bb&token_type=bearer");
        assert_eq!(f.access.as_deref(), Some("a+b"));
        let c = Issued::from_location(Some("https://app/cb?code=c-123&state=s"));
        assert_eq!(c.code.as_deref(), Some("c-123"));
    }
}
