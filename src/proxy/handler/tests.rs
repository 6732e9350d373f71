//! Tests of the parent module.

use super::*;

#[test]
fn urls_drop_default_ports() {
    let u: Uri = "https://a.example:443/t?x=1".parse().unwrap();
    assert_eq!(absolute_url(&u), "https://a.example/t?x=1");
    let u: Uri = "http://127.0.0.1:8081/".parse().unwrap();
    assert_eq!(absolute_url(&u), "http://127.0.0.1:8081/");
}

#[test]
fn hop_by_hop_headers_are_stripped() {
    let mut h = HeaderMap::new();
    h.insert("proxy-authorization", "Basic eDp5".parse().unwrap());
    h.insert("connection", "keep-alive, x-custom".parse().unwrap());
    h.insert("x-custom", "1".parse().unwrap());
    h.insert("te", "trailers".parse().unwrap());
    h.insert("authorization", "Bearer t".parse().unwrap());
    strip_hop_by_hop(&mut h, false);
    assert_eq!(h.len(), 1);
    assert!(h.contains_key("authorization"));
    let mut w = HeaderMap::new();
    w.insert("connection", "Upgrade".parse().unwrap());
    w.insert("upgrade", "websocket".parse().unwrap());
    assert!(is_upgrade(&w));
    strip_hop_by_hop(&mut w, true);
    assert!(w.contains_key("upgrade") && w.contains_key("connection"));
}

mod classify_tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(Box<dyn std::error::Error + Send + Sync>);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn certificate_errors_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let outer = Outer(Box::new(std::io::Error::other(io)));
        let info = classify_upstream_error(&outer);
        assert_eq!(info.kind, "upstream_tls", "{info:?}");
        assert!(info.message.contains("UnknownIssuer"));
        let refused = Outer(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(classify_upstream_error(&refused).kind, "upstream_connect");
    }
}
