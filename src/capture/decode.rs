//! Decoding a captured copy of a body for the record (gzip, deflate, br, zstd).
//!
//! The client always receives the original bytes; only the capture's copy is decoded,
//! and the decoded copy is capped like the raw one.

use std::io::Read;

use super::model::Body;

/// A body's captured bytes before they become a [`Body`].
#[derive(Debug, Default)]
pub struct RawBody {
    pub bytes: Vec<u8>,
    /// Every byte that passed, captured or not.
    pub size: u64,
    /// The copy is shorter than what passed.
    pub truncated: bool,
    /// The `Content-Encoding` header value, if any.
    pub content_encoding: Option<String>,
    /// Memory held for the copy, given back once the record is written.
    pub lease: Option<super::budget::Lease>,
}

impl RawBody {
    /// Build the stored body, decoding a copy when a content coding applies.
    pub fn into_body(self, cap: usize) -> Body {
        let mut body = Body::from_bytes(&self.bytes, self.size, self.truncated);
        let Some(enc) = self.content_encoding.as_deref() else {
            return body;
        };
        let codings: Vec<String> = enc
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        if codings.is_empty() || self.bytes.is_empty() {
            return body;
        }
        match decode_all(&self.bytes, &codings, cap) {
            Ok((data, cut)) => {
                let len = data.len() as u64;
                // A truncated input can only give a partial output.
                let truncated = cut || self.truncated;
                body.decoded = Some(Box::new(Body::from_bytes(&data, len, truncated)));
            }
            Err(e) => body.decode_error = Some(e),
        }
        body
    }
}

/// Undo `codings` (listed in the order they were applied), keeping at most `cap` bytes.
/// Returns the data and whether it was cut at the cap.
pub fn decode_all(input: &[u8], codings: &[String], cap: usize) -> Result<(Vec<u8>, bool), String> {
    let mut data = input.to_vec();
    let mut cut = false;
    for coding in codings.iter().rev() {
        let (d, c) = decode_one(&data, coding, cap)?;
        data = d;
        cut |= c;
    }
    Ok((data, cut))
}

fn decode_one(input: &[u8], coding: &str, cap: usize) -> Result<(Vec<u8>, bool), String> {
    let reader: Box<dyn Read + '_> = match coding {
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(input)),
        "deflate" => {
            // RFC 9110 says zlib; some servers send raw deflate.
            if input.len() >= 2 && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0 {
                Box::new(flate2::read::ZlibDecoder::new(input))
            } else {
                Box::new(flate2::read::DeflateDecoder::new(input))
            }
        }
        "br" => Box::new(brotli::Decompressor::new(input, 8192)),
        "zstd" => {
            Box::new(zstd::stream::read::Decoder::new(input).map_err(|e| format!("zstd: {e}"))?)
        }
        other => return Err(format!("unknown content coding {other:?}")),
    };
    read_capped(reader, cap).map_err(|e| format!("{coding}: {e}"))
}

/// Read up to `cap` bytes. A stream that ends early (a truncated capture) is not an error
/// when some output was produced: the partial output is what we have.
fn read_capped(mut r: impl Read, cap: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let want = (cap + 1 - out.len()).min(buf.len());
        match r.read(&mut buf[..want]) {
            Ok(0) => return Ok((out, false)),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > cap {
                    out.truncate(cap);
                    return Ok((out, true));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if !out.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok((out, true));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_is_decoded_and_capped() {
        let data = b"hello world ".repeat(100);
        let raw = RawBody {
            bytes: gz(&data),
            size: 0,
            truncated: false,
            content_encoding: Some("gzip".into()),
            lease: None,
        };
        let body = raw.into_body(1 << 20);
        let dec = body.decoded.expect("decoded");
        assert_eq!(dec.raw_bytes(), data);
        let capped = decode_all(&gz(&data), &["gzip".into()], 10).unwrap();
        assert_eq!(capped, (data[..10].to_vec(), true));
    }

    #[test]
    fn br_zstd_deflate_round_trip() {
        let data = b"{\"access_token\":\"x\"}".repeat(10);
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&data).unwrap();
        }
        assert_eq!(decode_all(&br, &["br".into()], 1 << 20).unwrap().0, data);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(decode_all(&z, &["zstd".into()], 1 << 20).unwrap().0, data);
        let mut d = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&data).unwrap();
        let d = d.finish().unwrap();
        assert_eq!(
            decode_all(&d, &["deflate".into()], 1 << 20).unwrap().0,
            data
        );
    }

    #[test]
    fn garbage_gives_an_error_not_a_panic() {
        let raw = RawBody {
            bytes: b"not gzip at all".to_vec(),
            size: 15,
            truncated: false,
            content_encoding: Some("gzip".into()),
            lease: None,
        };
        let body = raw.into_body(100);
        assert!(body.decoded.is_none());
        assert!(body.decode_error.is_some());
        let unknown = RawBody {
            bytes: b"x".to_vec(),
            size: 1,
            truncated: false,
            content_encoding: Some("UTF-8".into()),
            lease: None,
        };
        assert!(
            unknown
                .into_body(100)
                .decode_error
                .unwrap()
                .contains("unknown")
        );
    }
}
