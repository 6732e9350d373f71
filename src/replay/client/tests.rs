//! Tests of the parent module.

use super::*;

#[test]
fn targets_send_one_origin_or_all_elsewhere() {
    let t = Targets::parse(&["https://api.example=https://staging.example:8443".into()]).unwrap();
    assert_eq!(
        t.apply("https://api.example/v1/me?x=1"),
        "https://staging.example:8443/v1/me?x=1"
    );
    assert_eq!(
        t.apply("https://login.example/token"),
        "https://login.example/token"
    );
    let all = Targets::parse(&["http://127.0.0.1:9".into()]).unwrap();
    assert_eq!(
        all.apply("https://login.example/token"),
        "http://127.0.0.1:9/token"
    );
    assert!(Targets::parse(&["staging".into()]).is_err());
    assert!(Targets::parse(&["https://x.example/path".into()]).is_err());
}
