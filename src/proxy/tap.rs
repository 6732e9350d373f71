//! A body wrapper that streams every frame through untouched and keeps a capped copy.
//!
//! Nothing is buffered on the forwarding path beyond the copy itself: the peer receives
//! each chunk as soon as it arrives, and bytes past the cap are counted, not kept.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::recording::{BodyEnd, Recording, Side};
use crate::capture::budget::Lease;
use crate::upstream::chain_of;

pub struct Tap {
    inner: hudsucker::Body,
    rec: Option<Arc<Recording>>,
    side: Side,
    copy: Vec<u8>,
    size: u64,
    cap: usize,
    lease: Lease,
    idle: Option<Idle>,
    /// The length the sender announced (`content-length`): reaching it ends the body even
    /// when the end-of-stream marker comes later in a frame of its own (HTTP/2 clients
    /// such as httpx send an empty DATA frame with END_STREAM after the data).
    declared: Option<u64>,
    /// This tap reads what is left of a body after its receiver let go (upstream answered
    /// or failed first; the client went away): it keeps the copy, forwards nothing.
    draining: bool,
}

/// How long the rest of a body is read after its receiver let go: of a request body after
/// upstream stopped taking it, so the capture holds what the client sent (a refresh POST
/// answered 404 before its body); of a response body after the client went away, so the
/// capture holds what the server answered (a token response the client reset unread).
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Fails the stream when the sender falls silent for `limit`. Silence is counted from
/// when the tap started waiting for the next frame (a slow reader on the other side does
/// not count), and the timer is re-armed only when it fires, not on every frame.
struct Idle {
    limit: Duration,
    last: Instant,
    waiting: bool,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Tap {
    pub fn new(inner: hudsucker::Body, rec: Arc<Recording>, side: Side) -> Self {
        let cap = rec.max_body();
        let lease = Lease::new(rec.budget());
        let mut tap = Tap {
            inner,
            rec: Some(rec),
            side,
            copy: Vec::new(),
            size: 0,
            cap,
            lease,
            idle: None,
            declared: None,
            draining: false,
        };
        if tap.inner.is_end_stream() {
            tap.finish(BodyEnd::Complete);
        }
        tap
    }

    /// Fail the body (recorded as `upstream_timeout`) after `limit` without a frame.
    pub fn idle_timeout(mut self, limit: Duration) -> Self {
        if self.rec.is_some() {
            self.idle = Some(Idle {
                limit,
                last: Instant::now(),
                waiting: false,
                sleep: Box::pin(tokio::time::sleep(limit)),
            });
        }
        self
    }

    /// The sender announced `len` bytes (`content-length`).
    pub fn declared_length(mut self, len: Option<u64>) -> Self {
        self.declared = len;
        if len == Some(0) {
            self.finish(BodyEnd::Complete);
        }
        self
    }

    /// Wrap into the proxy's body type.
    pub fn into_body(self) -> hudsucker::Body {
        hudsucker::Body::from(http_body_util::combinators::BoxBody::new(self))
    }

    fn finish(&mut self, end: BodyEnd) {
        if let Some(rec) = self.rec.take() {
            let lease = std::mem::replace(&mut self.lease, Lease::new(rec.budget()));
            rec.body_finished(
                self.side,
                std::mem::take(&mut self.copy),
                self.size,
                end,
                lease,
            );
        }
    }
}

impl HttpBody for Tap {
    type Data = Bytes;
    type Error = hudsucker::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.size += data.len() as u64;
                    let room = this.cap.saturating_sub(this.copy.len());
                    let take = room.min(data.len());
                    // Copy only what the shared budget allows; the bytes flow on regardless.
                    if take > 0 && this.lease.grow(take) {
                        this.copy.extend_from_slice(&data[..take]);
                    } else {
                        this.cap = this.copy.len();
                    }
                }
                let announced_reached = this.declared.is_some_and(|n| this.size >= n);
                if this.inner.is_end_stream() || announced_reached {
                    this.finish(this.end_complete());
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let msg = error_chain(e);
                this.finish(BodyEnd::Failed(msg));
            }
            Poll::Ready(None) => {
                let end = this.end_complete();
                this.finish(end)
            }
            Poll::Pending => return this.poll_idle(cx),
        }
        if let Some(idle) = this.idle.as_mut() {
            idle.waiting = false;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Tap {
    /// The inner body is pending: has it been silent for too long?
    fn poll_idle(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hudsucker::Error>>> {
        let Some(idle) = self.idle.as_mut() else {
            return Poll::Pending;
        };
        if !idle.waiting {
            idle.waiting = true;
            idle.last = Instant::now();
        }
        loop {
            if idle.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = idle.last + idle.limit;
            if Instant::now() < due {
                idle.sleep.as_mut().reset(due.into());
                continue;
            }
            let limit = idle.limit;
            self.idle = None;
            let message = format!(
                "upstream sent nothing for {} mid-body (--upstream-timeout)",
                show_duration(limit)
            );
            if let Some(rec) = self.rec.as_ref() {
                rec.set_error(crate::capture::ErrorInfo {
                    kind: crate::capture::ErrorKind::UpstreamTimeout,
                    message: message.clone(),
                    chain: Vec::new(),
                    hint: Some(
                        "the response stalled part-way; raise --upstream-timeout if the \
                         server is just slow"
                            .into(),
                    ),
                });
            }
            self.finish(BodyEnd::Failed(message.clone()));
            let err = std::io::Error::new(std::io::ErrorKind::TimedOut, message);
            return Poll::Ready(Some(Err(hudsucker::Error::Io(err))));
        }
    }
}

/// `1.5s` → `1.5 s`, `250ms` → `250 ms`, `90s` → `1 min 30 s`.
pub fn show_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d < Duration::from_secs(60) {
        format!("{} s", (d.as_secs_f64() * 10.0).round() / 10.0)
    } else {
        crate::oauth::display::human_duration(d.as_secs_f64())
    }
}

impl Tap {
    fn end_complete(&self) -> BodyEnd {
        if self.draining {
            BodyEnd::Drained
        } else {
            BodyEnd::Complete
        }
    }

    /// The receiver let go of the body before its end (upstream of a request body, the
    /// client of a response body): read the rest from the sender in a task of its own
    /// (bounded by [`DRAIN_LIMIT`]; the copy stays capped, and a response is read only
    /// while the copy has room) so the capture holds what was sent. Returns false when
    /// that cannot be done.
    fn spawn_drain(&mut self) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let Some(rec) = self.rec.take() else {
            return false;
        };
        let lease = std::mem::replace(&mut self.lease, Lease::new(rec.budget()));
        let mut rest = Tap {
            inner: std::mem::replace(&mut self.inner, hudsucker::Body::empty()),
            rec: Some(rec),
            side: self.side,
            copy: std::mem::take(&mut self.copy),
            size: self.size,
            cap: self.cap,
            lease,
            idle: None,
            declared: self.declared,
            draining: true,
        };
        runtime.spawn(async move {
            let drain = async {
                while let Some(frame) = http_body_util::BodyExt::frame(&mut rest).await {
                    // A response past the copy's cap has nothing more to give the capture.
                    let full = rest.side == Side::Response && rest.size > rest.copy.len() as u64;
                    if frame.is_err() || full {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_LIMIT, drain).await;
            // Dropped here: a body that did not end in time is recorded as cut short.
        });
        true
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let unfinished = self.rec.is_some() && !self.draining;
        if unfinished && self.spawn_drain() {
            return;
        }
        self.finish(BodyEnd::Abandoned);
    }
}

/// Display an error with its whole `source()` chain.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    chain_of(e).join(": ")
}
