//! The form/URL codec every layer shares: `application/x-www-form-urlencoded` decoding
//! and encoding (also query strings; on the `form_urlencoded` and `percent-encoding`
//! crates), query and fragment parameters, URL base, origin and host. Total: bad input
//! never panics; invalid escapes are kept as they are.

/// Decode `application/x-www-form-urlencoded` (also query strings): `+` is a space,
/// `%XX` a byte; invalid escapes are kept as they are; bytes that are not UTF-8 become
/// U+FFFD.
pub fn form_decode(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parse `a=1&b=2` into ordered (name, value) pairs, decoded.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Encode a value for `application/x-www-form-urlencoded` (RFC 6749 Appendix B): letters,
/// digits and `*-._` as they are, space as `+`, every other byte `%XX`.
pub fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Ordered parameters with lookup by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The query parameters of a URL (after `?`, before `#`).
pub fn query_params(url: &str) -> Params {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let q = q.split_once('#').map(|(q, _)| q).unwrap_or(q);
    Params(parse_form(q))
}

/// The parameters in a URL fragment (implicit grant responses put tokens there).
pub fn fragment_params(url: &str) -> Params {
    Params(
        url.split_once('#')
            .map(|(_, f)| parse_form(f))
            .unwrap_or_default(),
    )
}

/// URL without query and fragment: `https://host/path`.
pub fn url_base(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// `scheme://host[:port]` of a URL (lower-cased host).
pub fn url_origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        auth.to_ascii_lowercase()
    )
}

/// Host of a URL, without port and brackets.
pub fn url_host(url: &str) -> String {
    let origin = url_origin(url);
    let auth = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
    let auth = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
    if let Some(rest) = auth.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    auth.split(':').next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip() {
        for v in ["a b+c/d=e&f%", "plain", "ü"] {
            assert_eq!(form_decode(&form_encode(v)), v);
        }
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(
            parse_form("a=1&b&c=%41"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "A".into())
            ]
        );
    }

    #[test]
    fn escapes_that_are_not_escapes_stay_and_bytes_that_are_not_utf8_are_replaced() {
        assert_eq!(form_decode("a+b%20c%2"), "a b c%2");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%FF"), "\u{fffd}");
        assert_eq!(form_encode("a b*-._~:/?"), "a+b*-._%7E%3A%2F%3F");
        assert_eq!(parse_form("&&a=%2B+1&"), vec![("a".into(), "+ 1".into())]);
    }
}
