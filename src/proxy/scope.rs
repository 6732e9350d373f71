//! Which hosts the proxy intercepts. `--scope` lists the hosts to intercept (all when
//! empty); `--ignore` lists hosts never to intercept. Out-of-scope CONNECTs are tunnelled
//! untouched and recorded as tunnel entries.

use regex::Regex;

#[derive(Debug, Clone, Default)]
pub struct Scope {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl Scope {
    /// Compile the patterns; an invalid one is an error naming it.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, regex::Error> {
        let compile = |v: &[String]| {
            v.iter()
                .map(|p| Regex::new(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Scope {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// Does the proxy decrypt and record traffic to `host`?
    pub fn intercepts(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(host)))
            && !self.exclude.iter().any(|r| r.is_match(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_and_exclude() {
        let all = Scope::default();
        assert!(all.intercepts("x.example"));
        let s = Scope::new(&["^login\\.".into()], &["^login\\.skip".into()]).unwrap();
        assert!(s.intercepts("login.example"));
        assert!(!s.intercepts("api.example"));
        assert!(!s.intercepts("login.skip.example"));
        assert!(Scope::new(&["(".into()], &[]).is_err());
    }
}
