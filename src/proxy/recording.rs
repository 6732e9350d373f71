//! One exchange in flight. Shared by the handler and the two body taps; the record is
//! queued for the writer exactly once, when the last of them lets go (`Drop`), whatever
//! path the exchange took: finished, failed, or abandoned by either peer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use std::sync::Arc;

use crate::capture::budget::{Budget, Lease};
use crate::capture::decode::RawBody;
use crate::capture::{CaptureSink, ErrorInfo, ErrorKind, Exchange, PendingExchange};

/// State every exchange of one proxy run shares.
pub struct RunState {
    pub sink: CaptureSink,
    pub max_body: usize,
    pub budget: Arc<Budget>,
    next_id: AtomicU64,
    next_conn: AtomicU64,
    pub in_flight: AtomicUsize,
}

impl RunState {
    pub fn new(sink: CaptureSink, max_body: usize, body_memory: usize) -> Self {
        RunState {
            sink,
            max_body,
            budget: Budget::new(body_memory),
            next_id: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
        }
    }

    pub fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Which body a tap copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// How a body stream ended.
#[derive(Debug)]
pub enum BodyEnd {
    /// The last byte passed.
    Complete,
    /// The stream failed (the sending peer broke off).
    Failed(String),
    /// The stream was dropped before its end (the receiving peer went away).
    Abandoned,
    /// A body read to its end for the capture after its receiver let go (upstream
    /// answered or failed before taking the whole request; the client went away before
    /// the whole response): whole in the capture, not all forwarded.
    Drained,
}

struct State {
    exchange: Exchange,
    request_body: RawBody,
    response_body: Option<RawBody>,
    request_done: bool,
    response_done: bool,
}

pub struct Recording {
    run: std::sync::Arc<RunState>,
    t0: Instant,
    state: Mutex<Option<State>>,
}

impl Recording {
    /// Start recording `exchange` (its `id` is assigned here).
    pub fn start(run: std::sync::Arc<RunState>, mut exchange: Exchange) -> Self {
        exchange.id = run.next_id();
        run.in_flight.fetch_add(1, Ordering::Relaxed);
        Recording {
            run,
            t0: Instant::now(),
            state: Mutex::new(Some(State {
                exchange,
                request_body: RawBody::default(),
                response_body: None,
                request_done: false,
                response_done: false,
            })),
        }
    }

    pub fn max_body(&self) -> usize {
        self.run.max_body
    }

    pub fn budget(&self) -> Arc<Budget> {
        self.run.budget.clone()
    }

    /// Milliseconds since the exchange started.
    pub fn elapsed_ms(&self) -> f64 {
        round_ms(self.t0.elapsed().as_secs_f64() * 1000.0)
    }

    /// When the request body was fully sent (ms since the start), if it was.
    pub fn request_sent_ms(&self) -> Option<f64> {
        self.with(|s| s.exchange.timings.request_sent).flatten()
    }

    pub fn id(&self) -> u64 {
        self.with(|s| s.exchange.id).unwrap_or(0)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_mut().map(f)
    }

    /// Edit the exchange record.
    pub fn update(&self, f: impl FnOnce(&mut Exchange)) {
        self.with(|s| f(&mut s.exchange));
    }

    /// The response head arrived.
    pub fn set_response(
        &self,
        response: crate::capture::Response,
        content_encoding: Option<String>,
    ) {
        let t = self.elapsed_ms();
        self.with(|s| {
            s.exchange.timings.response_start = Some(t);
            s.exchange.response = Some(response);
            s.response_body = Some(RawBody {
                content_encoding,
                ..RawBody::default()
            });
        });
    }

    pub fn set_request_encoding(&self, content_encoding: Option<String>) {
        self.with(|s| s.request_body.content_encoding = content_encoding);
    }

    pub fn set_error(&self, error: ErrorInfo) {
        let t = self.elapsed_ms();
        self.with(|s| {
            s.exchange.timings.end.get_or_insert(t);
            s.exchange.error = Some(error);
        });
    }

    /// Record `error` unless an earlier one (the cause) is already recorded.
    pub fn set_error_first(&self, error: ErrorInfo) {
        let t = self.elapsed_ms();
        self.with(|s| {
            s.exchange.timings.end.get_or_insert(t);
            s.exchange.error.get_or_insert(error);
        });
    }

    /// A body tap finished: store its copy and note how it ended.
    pub fn body_finished(&self, side: Side, bytes: Vec<u8>, size: u64, end: BodyEnd, lease: Lease) {
        let t = self.elapsed_ms();
        self.with(|s| {
            let complete = matches!(end, BodyEnd::Complete | BodyEnd::Drained);
            let raw = match side {
                Side::Request => {
                    s.request_done = complete;
                    if matches!(end, BodyEnd::Complete) {
                        s.exchange.timings.request_sent = Some(t);
                    }
                    &mut s.request_body
                }
                Side::Response => {
                    s.response_done = complete;
                    s.exchange.timings.end = Some(t);
                    s.response_body.get_or_insert_with(RawBody::default)
                }
            };
            raw.truncated = (bytes.len() as u64) < size;
            raw.bytes = bytes;
            raw.lease = Some(lease);
            raw.size = size;
            // A response read to its end for the capture after the client went away: whole
            // in the capture, but the client did not get it all.
            let client_gone = side == Side::Response && matches!(end, BodyEnd::Drained);
            if !complete || client_gone {
                s.exchange.incomplete = true;
                if s.exchange.error.is_none() {
                    s.exchange.error = Some(abort_error(side, &end));
                }
            }
        });
    }
}

fn abort_error(side: Side, end: &BodyEnd) -> ErrorInfo {
    let (kind, message) = match (side, end) {
        (Side::Request, BodyEnd::Failed(e)) => (
            ErrorKind::ClientAborted,
            format!("the client broke off while sending the request body: {e}"),
        ),
        (Side::Request, _) => (
            ErrorKind::RequestNotSent,
            "upstream answered or failed before the request body was sent in full, and \
             the client did not send the rest"
                .into(),
        ),
        (Side::Response, BodyEnd::Failed(e)) => (
            ErrorKind::UpstreamAborted,
            format!("upstream broke off while sending the response body: {e}"),
        ),
        (Side::Response, BodyEnd::Drained) => (
            ErrorKind::ClientAborted,
            "the client went away before the response body ended (the capture holds the \
             rest, read from upstream)"
                .into(),
        ),
        (Side::Response, _) => (
            ErrorKind::ClientAborted,
            "the client went away before the response body ended".into(),
        ),
    };
    ErrorInfo {
        kind,
        message,
        chain: Vec::new(),
        hint: None,
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let t = self.elapsed_ms();
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.run.in_flight.fetch_sub(1, Ordering::Relaxed);
        let Some(mut s) = state else { return };
        let ex = &mut s.exchange;
        ex.timings.end.get_or_insert(t);
        if ex.response.is_none() && ex.error.is_none() && ex.relay.is_none() {
            ex.incomplete = true;
            ex.error = Some(ErrorInfo {
                kind: crate::capture::ErrorKind::ClientAborted,
                message: "the client went away before a response arrived".into(),
                chain: Vec::new(),
                hint: None,
            });
        }
        self.run.sink.send(PendingExchange {
            exchange: s.exchange,
            request_body: s.request_body,
            response_body: s.response_body,
        });
    }
}

/// Milliseconds rounded to the microsecond.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
