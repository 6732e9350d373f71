//! HAR import and export tests.

use super::*;
use crate::capture::redact::Fingerprinter;

#[test]
fn a_minimal_har_streams_its_entries() {
    let har = br#"{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[
      {"startedDateTime":"2024-01-01T10:00:00+02:00","time":5,"request":{"method":"POST","url":"https://a/t","httpVersion":"h2","headers":[],"postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"grant_type","value":"refresh_token"}]}},
       "response":{"status":200,"httpVersion":"h2","headers":[],"content":{"size":-1,"mimeType":"application/json","text":"eyJhIjoxfQ==","encoding":"base64"},"redirectURL":null},"timings":{}},
      {"request":{}}, 42
    ]}}"#;
    let mut got = Vec::new();
    let info = read_har(&har[..], "t", |e| got.push(e)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(info.skipped.len(), 2);
    assert_eq!(got[0].started, "2024-01-01T08:00:00.000000Z");
    assert_eq!(
        got[0].request.body.text.as_deref(),
        Some("grant_type=refresh_token")
    );
    assert_eq!(got[0].request.version, "HTTP/2.0");
    assert_eq!(
        got[0].response.as_ref().unwrap().body.text.as_deref(),
        Some("{\"a\":1}")
    );
}

#[test]
fn non_hars_are_clear_errors() {
    assert!(matches!(
        read_har(&b"{\"x\":1}"[..], "f", |_| {}),
        Err(HarError::NotHar(..))
    ));
    assert!(matches!(
        read_har(&b"{\"log\":{}}"[..], "f", |_| {}),
        Err(HarError::NotHar(..))
    ));
    assert!(matches!(
        read_har(&b"{\"log\":{\"entries\":[{\"a\""[..], "f", |_| {}),
        Err(HarError::Json(..))
    ));
    assert!(read_har(&b"[1,2]"[..], "f", |_| {}).is_err());
    assert!(looks_like_har(b"\xEF\xBB\xBF{ \"log\": {"));
    assert!(!looks_like_har(b"{\"format\":\"oauthscope-capture\""));
}

#[test]
fn bodies_are_redacted() {
    let f = Fingerprinter::new("aa");
    let j = redact_body(
        &f,
        "application/json",
        r#"{"access_token":"SECRET1","nested":{"refresh_token":"SECRET2"},"n":1}"#,
    );
    assert!(!j.contains("SECRET1") && !j.contains("SECRET2") && j.contains("\"n\":1"));
    let form = redact_body(
        &f,
        "application/x-www-form-urlencoded",
        "grant_type=authorization_code&code=SECRET3&client_secret=S%2B4",
    );
    assert!(
        !form.contains("SECRET3")
            && !form.contains("S%2B4")
            && form.contains("grant_type=authorization_code")
    );
}
