//! The capture writer: one thread behind a queue appends one JSON line per exchange; a
//! second thread hands each written exchange to observers (console, live analysis).
//!
//! Serialising and decoding bodies happen on the writer thread, off the forwarding path;
//! observing happens on its own thread, so neither forwarding nor recording ever waits
//! for analysis: when the observers fall behind, the live view skips exchanges (and says
//! how many), the capture keeps every one. Queuing never blocks a runtime worker: the
//! queue's bodies are already bounded by the body-memory budget, and past
//! [`QUEUE_HIGH_WATER`] waiting exchanges a sender inside the runtime gives its worker
//! up (`block_in_place`) until the disk catches up.
//! Lines are written whole, a batch of queued ones per `write` under load, one at a time
//! when idle. After a failed write (disk full) the file is cut back to the last whole
//! line; a `kill -9` mid-write can leave only the last line torn, which the reader skips.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::decode::RawBody;
use super::model::{CaptureHeader, Exchange};

/// How many finished exchanges may wait for the writer before senders wait (giving up
/// their runtime worker first).
pub const QUEUE_HIGH_WATER: usize = 65_536;

/// How many written exchanges may wait for the observers; past it the live view skips.
pub const OBSERVER_QUEUE: usize = 4096;

/// A finished exchange whose bodies are still raw bytes.
#[derive(Debug)]
pub struct PendingExchange {
    pub exchange: Exchange,
    pub request_body: RawBody,
    pub response_body: Option<RawBody>,
}

enum Msg {
    Exchange(Box<PendingExchange>),
    Stop,
}

/// Sees every exchange after it was written.
pub trait Observer: Send {
    fn on_exchange(&mut self, _exchange: &Exchange) {}
    /// The capture file could not be written; forwarding goes on.
    fn on_write_error(&mut self, _error: &io::Error) {}
    /// The capture is complete (the proxy is stopping).
    fn finish(&mut self) {}
}

/// Changes each exchange before it is written (`--redact-at-capture`); runs on the
/// writer thread, in capture order.
pub trait Transform: Send {
    fn apply(&mut self, exchange: &mut Exchange);
}

/// Totals reported when the writer stops.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub exchanges: u64,
    pub errors: u64,
    pub incomplete: u64,
    pub write_failures: u64,
    /// Exchanges the live view skipped because its analysis fell behind (all recorded).
    pub live_skipped: u64,
    pub path: PathBuf,
}

/// Exchanges queued for the writer, and a wake-up for senders waiting on the high water.
#[derive(Default)]
struct Backlog {
    queued: AtomicUsize,
    lock: Mutex<()>,
    drained: Condvar,
}

impl Backlog {
    fn wait_below_high_water(&self) {
        let wait = || {
            let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            while self.queued.load(Ordering::Acquire) >= QUEUE_HIGH_WATER {
                guard = self
                    .drained
                    .wait_timeout(guard, std::time::Duration::from_millis(50))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        };
        let in_multi_thread_runtime = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if in_multi_thread_runtime {
            tokio::task::block_in_place(wait);
        } else {
            wait();
        }
    }

    fn taken(&self, n: usize) {
        let before = self.queued.fetch_sub(n, Ordering::AcqRel);
        if before >= QUEUE_HIGH_WATER && before - n < QUEUE_HIGH_WATER {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.drained.notify_all();
        }
    }
}

/// Cloneable handle that queues finished exchanges for the writer.
#[derive(Clone)]
pub struct CaptureSink {
    tx: Sender<Msg>,
    backlog: Arc<Backlog>,
}

impl CaptureSink {
    /// Queue an exchange; never loses one. Waits only when the disk is far behind the
    /// traffic ([`QUEUE_HIGH_WATER`]), and then without holding a runtime worker.
    pub fn send(&self, pending: PendingExchange) {
        if self.backlog.queued.fetch_add(1, Ordering::AcqRel) >= QUEUE_HIGH_WATER {
            self.backlog.wait_below_high_water();
        }
        // An error means the writer has stopped (shutdown): nothing left to write to.
        if self.tx.send(Msg::Exchange(Box::new(pending))).is_err() {
            self.backlog.taken(1);
        }
    }
}

/// The running writer thread.
pub struct CaptureWriter {
    tx: Sender<Msg>,
    handle: JoinHandle<Summary>,
    backlog: Arc<Backlog>,
}

/// What the writer hands the observer thread.
enum Seen {
    Exchange(Box<Exchange>),
    WriteError(io::Error),
}

/// The observer thread: feeds each observer, then calls `finish` when the writer stops.
struct ObserverThread {
    tx: SyncSender<Seen>,
    handle: JoinHandle<()>,
    skipped: Arc<AtomicU64>,
}

impl ObserverThread {
    fn start(mut observers: Vec<Box<dyn Observer>>) -> io::Result<Option<Self>> {
        if observers.is_empty() {
            return Ok(None);
        }
        let (tx, rx) = sync_channel::<Seen>(OBSERVER_QUEUE);
        let skipped = Arc::new(AtomicU64::new(0));
        let handle = std::thread::Builder::new()
            .name("live-analysis".into())
            .spawn(move || {
                for seen in rx {
                    for o in observers.iter_mut() {
                        match &seen {
                            Seen::Exchange(ex) => o.on_exchange(ex),
                            Seen::WriteError(e) => o.on_write_error(e),
                        }
                    }
                }
                for o in observers.iter_mut() {
                    o.finish();
                }
            })?;
        Ok(Some(ObserverThread {
            tx,
            handle,
            skipped,
        }))
    }

    /// Hand over an exchange unless the observers are behind (then count it skipped).
    fn offer(&self, exchange: Exchange) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Seen::Exchange(Box::new(exchange))) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn write_error(&self, e: &io::Error) {
        // Rare (once per run of failures): worth waiting for.
        let _ = self
            .tx
            .send(Seen::WriteError(io::Error::new(e.kind(), e.to_string())));
    }

    /// Let the observers finish; returns how many exchanges they skipped.
    fn finish(self) -> u64 {
        drop(self.tx);
        let _ = self.handle.join();
        self.skipped.load(Ordering::Relaxed)
    }
}

/// Create `path` (mode 0600, parent folders too) and write the header record.
pub fn create_capture_file(
    path: &Path,
    header: &CaptureHeader,
) -> Result<File, super::files::OutputError> {
    let mut file = super::files::create_private(path)?;
    let mut line = serde_json::to_vec(header).map_err(io::Error::other);
    if let Ok(line) = line.as_mut() {
        line.push(b'\n');
    }
    line.and_then(|line| file.write_all(&line))
        .map_err(|source| super::files::OutputError::Io {
            path: path.display().to_string(),
            cause: source,
        })?;
    Ok(file)
}

impl CaptureWriter {
    /// Start the writer thread on an open capture file (header already written); with
    /// `None`, exchanges only go to the observers.
    pub fn start(
        file: Option<File>,
        path: PathBuf,
        max_body: usize,
        observers: Vec<Box<dyn Observer>>,
    ) -> io::Result<Self> {
        Self::start_with(file, path, max_body, observers, None)
    }

    /// Like [`CaptureWriter::start`], with every exchange passed through `transform`
    /// before it is written and observed.
    pub fn start_with(
        file: Option<File>,
        path: PathBuf,
        max_body: usize,
        observers: Vec<Box<dyn Observer>>,
        transform: Option<Box<dyn Transform>>,
    ) -> io::Result<Self> {
        let (tx, rx) = channel();
        let backlog = Arc::new(Backlog::default());
        let observers = ObserverThread::start(observers)?;
        let b = backlog.clone();
        let handle = std::thread::Builder::new()
            .name("capture-writer".into())
            .spawn(move || write_loop(file, path, max_body, rx, &b, observers, transform))?;
        Ok(CaptureWriter {
            tx,
            handle,
            backlog,
        })
    }

    pub fn sink(&self) -> CaptureSink {
        CaptureSink {
            tx: self.tx.clone(),
            backlog: self.backlog.clone(),
        }
    }

    /// Write everything queued so far, then stop and return the totals.
    pub fn finish(self) -> Summary {
        let _ = self.tx.send(Msg::Stop);
        self.handle.join().unwrap_or_default()
    }
}

fn write_loop(
    file: Option<File>,
    path: PathBuf,
    max_body: usize,
    rx: Receiver<Msg>,
    backlog: &Backlog,
    observers: Option<ObserverThread>,
    mut transform: Option<Box<dyn Transform>>,
) -> Summary {
    let mut prepare = |p: PendingExchange| {
        let mut ex = with_bodies(p, max_body);
        if let Some(t) = transform.as_mut() {
            t.apply(&mut ex);
        }
        ex
    };
    let mut summary = Summary {
        path,
        ..Summary::default()
    };
    let mut out = file.map(|file| LineFile {
        offset: file.metadata().map_or(0, |m| m.len()),
        file,
        line: Vec::with_capacity(64 * 1024),
        failing: false,
    });
    let mut batch: Vec<Exchange> = Vec::with_capacity(MAX_BATCH);
    let mut stop = false;
    while !stop {
        // Wait for one exchange, then take whatever else is already queued: under load the
        // lines go out in one write per batch, when idle each goes out at once.
        let mut bytes = match rx.recv() {
            Ok(Msg::Exchange(p)) => {
                let n = p.body_bytes();
                batch.push(prepare(*p));
                n
            }
            Ok(Msg::Stop) | Err(_) => break,
        };
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(Msg::Exchange(p)) => {
                    bytes += p.body_bytes();
                    batch.push(prepare(*p));
                }
                Ok(Msg::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        backlog.taken(batch.len());
        if let Some(out) = out.as_mut() {
            if let Err((e, lost)) = out.append(&batch) {
                summary.write_failures += lost as u64;
                // Tell the observers once per run of failures.
                if !std::mem::replace(&mut out.failing, true) {
                    if let Some(o) = observers.as_ref() {
                        o.write_error(&e);
                    }
                }
            }
        }
        for exchange in batch.drain(..) {
            summary.exchanges += 1;
            summary.errors += u64::from(exchange.error.is_some());
            summary.incomplete += u64::from(exchange.incomplete);
            if let Some(o) = observers.as_ref() {
                o.offer(exchange);
            }
        }
    }
    if let Some(out) = out.as_ref() {
        let _ = out.file.sync_data();
    }
    if let Some(o) = observers {
        summary.live_skipped = o.finish();
    }
    summary
}

/// Most exchanges written with one `write`.
const MAX_BATCH: usize = 256;
/// A batch stops growing once its bodies hold this many bytes (memory stays bounded).
const MAX_BATCH_BYTES: usize = 1 << 20;

impl PendingExchange {
    fn body_bytes(&self) -> usize {
        self.request_body.bytes.len() + self.response_body.as_ref().map_or(0, |b| b.bytes.len())
    }
}

/// Decode the raw bodies into the exchange.
fn with_bodies(pending: PendingExchange, max_body: usize) -> Exchange {
    let PendingExchange {
        mut exchange,
        request_body,
        response_body,
    } = pending;
    exchange.request.body = request_body.into_body(max_body);
    if let (Some(resp), Some(raw)) = (exchange.response.as_mut(), response_body) {
        resp.body = raw.into_body(max_body);
    }
    exchange
}

/// The capture file and the offset of its last whole line.
struct LineFile {
    file: File,
    offset: u64,
    line: Vec<u8>,
    failing: bool,
}

impl LineFile {
    /// Append the exchanges, one line each, in as few writes as the buffer allows. After a
    /// failed write the file is cut back to the last whole line, so it never holds a torn
    /// record; the error comes with the number of exchanges not written.
    fn append(&mut self, exchanges: &[Exchange]) -> Result<(), (io::Error, usize)> {
        let mut pending = 0;
        for (i, exchange) in exchanges.iter().enumerate() {
            let start = self.line.len();
            if serde_json::to_writer(&mut self.line, exchange).is_err() {
                self.line.truncate(start);
                continue;
            }
            self.line.push(b'\n');
            pending += 1;
            if self.line.len() >= MAX_BATCH_BYTES {
                self.write_out()
                    .map_err(|e| (e, exchanges.len() - i - 1 + pending))?;
                pending = 0;
            }
        }
        self.write_out().map_err(|e| (e, pending))
    }

    fn write_out(&mut self) -> io::Result<()> {
        let result = self.file.write_all(&self.line);
        match &result {
            Ok(()) => {
                self.offset += self.line.len() as u64;
                self.failing = false;
            }
            Err(_) => {
                let _ = self.file.set_len(self.offset);
                let _ = std::io::Seek::seek(&mut self.file, std::io::SeekFrom::Start(self.offset));
            }
        }
        self.line.clear();
        if self.line.capacity() > 4 * MAX_BATCH_BYTES {
            self.line.shrink_to(MAX_BATCH_BYTES);
        }
        result
    }
}
