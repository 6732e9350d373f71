//! Reading a capture file back: header first, then one exchange per line.
//!
//! Bad lines do not stop the reader: each becomes a [`LineError`] with its line number and
//! reading goes on. A torn last line (the proxy was killed mid-write) is reported as such.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::model::{CaptureHeader, Exchange, FORMAT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read {path}: {cause}")]
    Io { path: String, cause: io::Error },
    #[error("{0} is empty: not a capture")]
    Empty(String),
    #[error("{path} is not an oauthscope capture (line 1: {reason})")]
    NotACapture { path: String, reason: String },
    #[error(
        "{path} has capture format version {found}; this oauthscope reads version {FORMAT_VERSION}"
    )]
    UnsupportedVersion { path: String, found: u32 },
}

/// A line that could not be read; reading went on past it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub line: u64,
    pub message: String,
    /// The last line, cut off without its newline.
    pub torn: bool,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.torn {
            write!(
                f,
                "line {}: torn last line (the capture was cut off while writing), skipped",
                self.line
            )
        } else {
            write!(f, "line {}: {}, skipped", self.line, self.message)
        }
    }
}

/// Streams exchanges from a capture.
pub struct CaptureReader<R> {
    inner: R,
    header: CaptureHeader,
    line_no: u64,
    buf: Vec<u8>,
    position: u64,
}

impl CaptureReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: path.display().to_string(),
            cause: source,
        })?;
        Self::new(
            BufReader::with_capacity(256 * 1024, file),
            &path.display().to_string(),
        )
    }
}

impl<R: BufRead> CaptureReader<R> {
    /// Read and check the header record. `name` names the source in errors.
    pub fn new(mut inner: R, name: &str) -> Result<Self, CaptureError> {
        let mut buf = Vec::new();
        let line =
            read_line_capped(&mut inner, &mut buf, MAX_HEADER_LINE, true).map_err(|source| {
                CaptureError::Io {
                    path: name.to_owned(),
                    cause: source,
                }
            })?;
        let n = line.size as usize;
        if n == 0 {
            return Err(CaptureError::Empty(name.to_owned()));
        }
        if line.over_cap {
            return Err(CaptureError::NotACapture {
                path: name.to_owned(),
                reason: format!(
                    "its first line is longer than {} KiB: not a capture header record",
                    MAX_HEADER_LINE / 1024
                ),
            });
        }
        let header = parse_header(&buf).map_err(|reason| CaptureError::NotACapture {
            path: name.to_owned(),
            reason,
        })?;
        if header.version != FORMAT_VERSION {
            return Err(CaptureError::UnsupportedVersion {
                path: name.to_owned(),
                found: header.version,
            });
        }
        Ok(CaptureReader {
            inner,
            header,
            line_no: 1,
            position: n as u64,
            buf,
        })
    }

    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// Bytes read so far (for progress).
    pub fn position(&self) -> u64 {
        self.position
    }
}

fn parse_header(line: &[u8]) -> Result<CaptureHeader, String> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("format").and_then(|f| f.as_str()) != Some("oauthscope-capture") {
        return Err("no \"format\": \"oauthscope-capture\" header record".into());
    }
    serde_json::from_value(value).map_err(|e| format!("bad header record: {e}"))
}

impl<R: BufRead> Iterator for CaptureReader<R> {
    type Item = Result<Exchange, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            let (n, over_cap) = match read_line_capped(
                &mut self.inner,
                &mut self.buf,
                self.header.max_line(),
                false,
            ) {
                Ok(l) if l.size == 0 => return None,
                Ok(l) => (l.size, l.over_cap),
                Err(e) => {
                    self.line_no += 1;
                    return Some(Err(LineError {
                        line: self.line_no,
                        message: format!("read error: {e}"),
                        torn: false,
                    }));
                }
            };
            self.line_no += 1;
            self.position += n;
            if over_cap {
                // Shrink the buffer back: one huge line must not keep its memory.
                self.buf = Vec::new();
                return Some(Err(LineError {
                    line: self.line_no,
                    message: format!(
                        "the line is {} MiB, over the {} MiB a record of this capture can \
                         take",
                        n >> 20,
                        self.header.max_line() >> 20
                    ),
                    torn: false,
                }));
            }
            let complete = self.buf.last() == Some(&b'\n');
            let line = trim_line(&self.buf);
            if line.is_empty() {
                continue;
            }
            return Some(match serde_json::from_slice::<Exchange>(line) {
                Ok(ex) => Ok(ex),
                Err(e) => Err(LineError {
                    line: self.line_no,
                    message: format!("not a valid exchange record: {e}"),
                    torn: !complete,
                }),
            });
        }
    }
}

/// The longest header line: a first line past it is not a capture.
pub const MAX_HEADER_LINE: usize = 64 << 10;

/// A line read with [`read_line_capped`].
struct CappedLine {
    /// Bytes consumed, newline included.
    size: u64,
    /// Longer than the cap: only the first `cap` bytes were kept.
    over_cap: bool,
}

/// Read up to and including the next newline, keeping at most `cap` bytes in `buf`
/// (the rest of a longer line is consumed and dropped, so memory stays bounded; with
/// `stop_at_cap`, reading stops there instead: an endless input ends too).
fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
    stop_at_cap: bool,
) -> std::io::Result<CappedLine> {
    let mut size = 0u64;
    let mut over_cap = false;
    loop {
        let available = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(CappedLine { size, over_cap });
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room && !over_cap {
            over_cap = true;
            if !stop_at_cap {
                // The line will be skipped: give its memory back now.
                *buf = Vec::new();
            }
        }
        if !over_cap || stop_at_cap {
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        let used = if over_cap && stop_at_cap {
            chunk.len().min(room)
        } else {
            chunk.len()
        };
        size += used as u64;
        r.consume(used);
        if done || (over_cap && stop_at_cap) {
            return Ok(CappedLine { size, over_cap });
        }
    }
}

fn trim_line(mut s: &[u8]) -> &[u8] {
    while let Some((last, rest)) = s.split_last() {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Is this the start of a capture file? (Used to tell captures from HAR files.)
pub fn looks_like_capture(mut r: impl Read) -> bool {
    let mut head = [0u8; 64];
    let n = r.read(&mut head).unwrap_or(0);
    let s = String::from_utf8_lossy(&head[..n]);
    s.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with("{\"format\":\"oauthscope-capture\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::model::*;

    fn ex(id: u64) -> Exchange {
        Exchange {
            id,
            conn: 1,
            kind: Kind::Http,
            client: "127.0.0.1:1".into(),
            started: "2026-01-01T00:00:00.000000Z".into(),
            timings: Timings::default(),
            request: Request {
                method: "GET".into(),
                url: "https://a/".into(),
                version: "HTTP/1.1".into(),
                headers: vec![
                    Header("a".into(), "1".into()),
                    Header("a".into(), "2".into()),
                ],
                body: Body::default(),
            },
            response: None,
            error: None,
            incomplete: false,
            relay: None,
            hints: None,
            client_cert: None,
        }
    }

    fn file(lines: &[String]) -> Vec<u8> {
        let h = serde_json::to_string(&CaptureHeader::new("t".into(), "00".into())).unwrap();
        let mut s = h + "\n";
        for l in lines {
            s.push_str(l);
        }
        s.into_bytes()
    }

    #[test]
    fn reads_exchanges_and_skips_a_torn_last_line() {
        let a = serde_json::to_string(&ex(1)).unwrap() + "\n";
        let b = serde_json::to_string(&ex(2)).unwrap();
        let torn = b[..b.len() / 2].to_string();
        let data = file(&[a, torn]);
        let r = CaptureReader::new(&data[..], "mem").unwrap();
        let items: Vec<_> = r.collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap(), &ex(1));
        let err = items[1].as_ref().unwrap_err();
        assert!(err.torn);
        assert_eq!(err.line, 3);
    }

    #[test]
    fn garbage_lines_are_reported_with_their_number() {
        let a = serde_json::to_string(&ex(1)).unwrap() + "\n";
        let data = file(&["{garbage\n".into(), "\u{1}\u{2}\n".into(), a]);
        let items: Vec<_> = CaptureReader::new(&data[..], "mem").unwrap().collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap_err().line, 2);
        assert!(!items[0].as_ref().unwrap_err().torn);
        assert_eq!(items[2].as_ref().unwrap().id, 1);
    }

    #[test]
    fn rejects_non_captures_and_unknown_versions() {
        assert!(matches!(
            CaptureReader::new(&b""[..], "x"),
            Err(CaptureError::Empty(_))
        ));
        assert!(matches!(
            CaptureReader::new(&b"{\"log\":{}}\n"[..], "x"),
            Err(CaptureError::NotACapture { .. })
        ));
        let mut h = CaptureHeader::new("t".into(), "00".into());
        h.version = 99;
        let data = serde_json::to_string(&h).unwrap() + "\n";
        assert!(matches!(
            CaptureReader::new(data.as_bytes(), "x"),
            Err(CaptureError::UnsupportedVersion { found: 99, .. })
        ));
        assert!(looks_like_capture(data.as_bytes()));
        assert!(!looks_like_capture(&b"{\"log\":"[..]));
    }
}
