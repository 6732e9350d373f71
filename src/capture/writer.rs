//! The capture writer: one thread behind a bounded queue appends one JSON line per
//! exchange and hands each finished exchange to observers (console, live analysis).
//!
//! Serialising, decoding bodies and observing all happen here, off the forwarding path.
//! Lines are written whole, a batch of queued ones per `write` under load, one at a time
//! when idle. After a failed write (disk full) the file is cut back to the last whole
//! line; a `kill -9` mid-write can leave only the last line torn, which the reader skips.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::decode::RawBody;
use super::model::{CaptureHeader, Exchange};

/// How many finished exchanges may wait for the writer before senders block.
pub const QUEUE_CAPACITY: usize = 4096;

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

/// Totals reported when the writer stops.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub exchanges: u64,
    pub errors: u64,
    pub incomplete: u64,
    pub write_failures: u64,
    pub path: PathBuf,
}

/// Cloneable handle that queues finished exchanges for the writer.
#[derive(Clone)]
pub struct CaptureSink {
    tx: SyncSender<Msg>,
}

impl CaptureSink {
    /// Queue an exchange. Blocks only while the queue is full (the disk is slower than the
    /// traffic): that is back-pressure, never loss.
    pub fn send(&self, pending: PendingExchange) {
        // An error means the writer has stopped (shutdown): nothing left to write to.
        let _ = self.tx.send(Msg::Exchange(Box::new(pending)));
    }
}

/// The running writer thread.
pub struct CaptureWriter {
    tx: SyncSender<Msg>,
    handle: JoinHandle<Summary>,
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
        let (tx, rx) = sync_channel(QUEUE_CAPACITY);
        let handle = std::thread::Builder::new()
            .name("capture-writer".into())
            .spawn(move || write_loop(file, path, max_body, rx, observers))?;
        Ok(CaptureWriter { tx, handle })
    }

    pub fn sink(&self) -> CaptureSink {
        CaptureSink {
            tx: self.tx.clone(),
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
    mut observers: Vec<Box<dyn Observer>>,
) -> Summary {
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
                batch.push(with_bodies(*p, max_body));
                n
            }
            Ok(Msg::Stop) | Err(_) => break,
        };
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(Msg::Exchange(p)) => {
                    bytes += p.body_bytes();
                    batch.push(with_bodies(*p, max_body));
                }
                Ok(Msg::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(out) = out.as_mut() {
            if let Err((e, lost)) = out.append(&batch) {
                summary.write_failures += lost as u64;
                // Tell the observers once per run of failures.
                if !std::mem::replace(&mut out.failing, true) {
                    for o in observers.iter_mut() {
                        o.on_write_error(&e);
                    }
                }
            }
        }
        for exchange in batch.drain(..) {
            summary.exchanges += 1;
            summary.errors += u64::from(exchange.error.is_some());
            summary.incomplete += u64::from(exchange.incomplete);
            for o in observers.iter_mut() {
                o.on_exchange(&exchange);
            }
        }
    }
    if let Some(out) = out.as_ref() {
        let _ = out.file.sync_data();
    }
    for o in observers.iter_mut() {
        o.finish();
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
