//! The capture: the `Exchange` record, the JSON Lines writer and reader, body decoding,
//! and secret fingerprints.
//!
//! A capture file's first line is a [`CaptureHeader`]; each later line is one [`Exchange`].

pub mod budget;
pub mod decode;
pub mod files;
#[cfg(test)]
pub mod fixtures;
pub mod har;
pub mod model;
pub mod reader;
pub mod redact;
pub mod secrets;
pub mod source;
pub mod writer;

pub use model::*;
pub use reader::{CaptureError, CaptureReader, LineError};
pub use writer::{CaptureSink, CaptureWriter, Observer, PendingExchange, Summary};

/// Now, as RFC 3339 UTC with microseconds (the format of every timestamp we write).
pub fn now_rfc3339() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// Format a UTC time as RFC 3339 with microseconds.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}
