//! The stream wrappers of the connection layer: [`Guarded`] (a client connection's idle
//! clock), [`Prefixed`] (a tunnel replaying the bytes already peeked) and the write
//! delegation they share.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
/// Told when a wrapped stream wrote bytes.
trait Wrote {
    fn wrote(&self) {}
}

/// `AsyncWrite` for a wrapper by delegation to its `inner`, telling the wrapper
/// ([`Wrote`]) once bytes were written.
macro_rules! delegate_write {
    ($ty:ident) => {
        impl<T: AsyncWrite + Unpin> AsyncWrite for $ty<T> {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                let r = Pin::new(&mut self.inner).poll_write(cx, buf);
                if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
                    self.wrote();
                }
                r
            }

            fn poll_flush(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Pin::new(&mut self.inner).poll_shutdown(cx)
            }

            fn poll_write_vectored(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> Poll<std::io::Result<usize>> {
                let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
                if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
                    self.wrote();
                }
                r
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }
        }
    };
}

/// What a connection is doing: requests in flight, and when bytes last moved.
pub(super) struct Activity {
    pub(super) in_flight: AtomicUsize,
    start: std::time::Instant,
    /// Milliseconds since `start` of the last byte read or written.
    last_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            start: std::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Activity {
    pub(super) fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// Client I/O that fails a read with `TimedOut` once the connection has been silent for
/// `limit` with no request in flight.
pub(super) struct Guarded<T> {
    inner: T,
    activity: Arc<Activity>,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl<T> Guarded<T> {
    pub(super) fn new(inner: T, activity: Arc<Activity>, limit: Duration) -> Self {
        Guarded {
            inner,
            activity,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.activity.touch();
                }
                Poll::Ready(r)
            }
            // The timer is re-armed only when it fires, not on every pending read.
            Poll::Pending => loop {
                if self.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let idle = self.activity.idle_for();
                let busy = self.activity.in_flight.load(Ordering::Acquire) > 0;
                if !busy && idle >= self.limit {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "client idle past --client-timeout",
                    )));
                }
                let wait = if busy { self.limit } else { self.limit - idle };
                let deadline = tokio::time::Instant::now() + wait;
                self.sleep.as_mut().reset(deadline);
            },
        }
    }
}

impl<T> Wrote for Guarded<T> {
    fn wrote(&self) {
        self.activity.touch();
    }
}
delegate_write!(Guarded);

/// A stream that first yields bytes already read from it.
pub struct Prefixed<T> {
    prefix: Vec<u8>,
    pos: usize,
    inner: T,
}

impl<T> Prefixed<T> {
    pub fn new(prefix: Vec<u8>, inner: T) -> Self {
        Prefixed {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T> Wrote for Prefixed<T> {}
delegate_write!(Prefixed);
