//! Tests of the parent module.

use super::*;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

#[tokio::test]
async fn openings_are_told_however_the_bytes_are_split() {
    for (bytes, want) in [
        (&b"\x16\x03\x01\x02\x00"[..], Opening::Tls),
        (b"POST /token HTTP/1.1\r\n", Opening::Http),
        (b"GET / HTTP/1.1\r\n", Opening::Http),
        (b"SSH-2.0-OpenSSH\r\n", Opening::Other),
        (b"\x00\x01binary", Opening::Other),
    ] {
        // One byte per read: the worst split a client can make.
        let mut reader = tokio_test_reader(bytes);
        let mut buf = Vec::new();
        assert_eq!(
            peek_opening(&mut reader, &mut buf).await.unwrap(),
            want,
            "{bytes:?}"
        );
        let mut rest = Vec::new();
        Prefixed::new(buf, reader)
            .read_to_end(&mut rest)
            .await
            .unwrap();
        assert_eq!(rest, bytes, "nothing lost by peeking");
    }
}

/// A reader that hands out one byte per read.
fn tokio_test_reader(bytes: &[u8]) -> OneByte {
    OneByte(bytes.to_vec(), 0)
}

struct OneByte(Vec<u8>, usize);

impl AsyncRead for OneByte {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.1 < self.0.len() {
            let b = self.0[self.1];
            buf.put_slice(&[b]);
            self.1 += 1;
        }
        Poll::Ready(Ok(()))
    }
}

#[test]
fn the_proxy_knows_its_own_address() {
    let own: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    for (a, yes) in [
        ("127.0.0.1:8080", true),
        ("localhost:8080", true),
        ("[::1]:8080", true),
        ("127.0.0.2:8080", true),
        ("0.0.0.0:8080", true),
        ("127.0.0.1:8081", false),
        ("example.com:8080", false),
    ] {
        let auth: http::uri::Authority = a.parse().unwrap();
        assert_eq!(is_own(&auth, 80, own), yes, "{a}");
    }
}
