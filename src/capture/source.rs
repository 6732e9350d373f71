//! Where exchanges come from for `analyze`, `timeline` and `export`: a capture file or a
//! HAR file, told apart by content. Both stream.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::har::{looks_like_har, read_har};
use super::reader::looks_like_capture;
use super::{CaptureReader, Exchange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Capture,
    Har,
}

/// An opened input, ready to stream.
pub struct Source {
    pub kind: SourceKind,
    /// The fingerprint salt: the capture's own, or a fresh one for a HAR.
    pub salt: String,
    /// Bytes read so far (for progress bars).
    pub position: Arc<AtomicU64>,
    pub size: u64,
    /// A capture taken with `--redact-at-capture` (fingerprints, not secret values).
    pub redacted_at_capture: bool,
    path: std::path::PathBuf,
}

/// Totals of one pass.
#[derive(Debug, Default, Clone)]
pub struct PassInfo {
    pub exchanges: u64,
    pub unreadable: u64,
}

struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

impl Source {
    /// Open `path` and tell what it is.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut f =
            File::open(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            anyhow::bail!(
                "{} is a folder: give a capture (.jsonl) or HAR file",
                path.display()
            );
        }
        let mut head = [0u8; 512];
        let n = read_up_to(&mut f, &mut head)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut redacted_at_capture = false;
        let (kind, salt) = if looks_like_capture(&head[..n]) {
            let r = CaptureReader::open(path)?;
            redacted_at_capture = r.header().redacted;
            (SourceKind::Capture, r.header().salt.clone())
        } else if looks_like_har(&head[..n]) {
            let salt =
                super::har::salt_in_head(&head[..n]).unwrap_or_else(super::redact::random_salt);
            (SourceKind::Har, salt)
        } else if n == 0 {
            anyhow::bail!("{} is empty: not a capture or HAR file", path.display());
        } else {
            // Let the capture reader say precisely what is wrong.
            CaptureReader::open(path)?;
            anyhow::bail!(
                "{} is neither an oauthscope capture nor a HAR file",
                path.display()
            );
        };
        Ok(Source {
            kind,
            salt,
            position: Arc::new(AtomicU64::new(0)),
            size,
            redacted_at_capture,
            path: path.to_path_buf(),
        })
    }

    /// Stream every exchange to `each`; unreadable parts go to `warn` and are skipped.
    pub fn run(
        &self,
        mut warn: impl FnMut(String),
        mut each: impl FnMut(Exchange),
    ) -> anyhow::Result<PassInfo> {
        self.position.store(0, Ordering::Relaxed);
        let file = File::open(&self.path)?;
        let counted = Counting {
            inner: file,
            n: self.position.clone(),
        };
        let mut info = PassInfo::default();
        let name = self.path.display().to_string();
        match self.kind {
            SourceKind::Capture => {
                let reader =
                    CaptureReader::new(BufReader::with_capacity(256 * 1024, counted), &name)?;
                for item in reader {
                    match item {
                        Ok(ex) => {
                            info.exchanges += 1;
                            each(ex)
                        }
                        Err(e) => {
                            info.unreadable += 1;
                            warn(format!("{name}: {e}"));
                        }
                    }
                }
            }
            SourceKind::Har => {
                let har = read_har(counted, &name, |ex| {
                    info.exchanges += 1;
                    each(ex)
                })?;
                for s in &har.skipped {
                    warn(format!("{name}: {s}, skipped"));
                }
                let unsaid = har.skipped_total - har.skipped.len() as u64;
                if unsaid > 0 {
                    warn(format!("{name}: {unsaid} more entries skipped"));
                }
                info.unreadable += har.skipped_total;
            }
        }
        Ok(info)
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}
