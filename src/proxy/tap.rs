//! A body wrapper that streams every frame through untouched and keeps a capped copy.
//!
//! Nothing is buffered on the forwarding path beyond the copy itself: the peer receives
//! each chunk as soon as it arrives, and bytes past the cap are counted, not kept.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::recording::{BodyEnd, Recording, Side};
use crate::capture::budget::Lease;

pub struct Tap {
    inner: hudsucker::Body,
    rec: Option<Arc<Recording>>,
    side: Side,
    copy: Vec<u8>,
    size: u64,
    cap: usize,
    lease: Lease,
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
        };
        if tap.inner.is_end_stream() {
            tap.finish(BodyEnd::Complete);
        }
        tap
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
                if this.inner.is_end_stream() {
                    this.finish(BodyEnd::Complete);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let msg = error_chain(e);
                this.finish(BodyEnd::Failed(msg));
            }
            Poll::Ready(None) => this.finish(BodyEnd::Complete),
            Poll::Pending => {}
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

impl Drop for Tap {
    fn drop(&mut self) {
        self.finish(BodyEnd::Abandoned);
    }
}

/// Display an error with its whole `source()` chain.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    chain_of(e).join(": ")
}

/// Every message of an error's `source()` chain, outermost first, repeats removed.
pub fn chain_of(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if out.last() != Some(&s) && !s.is_empty() {
            out.push(s);
        }
        cur = err.source();
    }
    out
}
