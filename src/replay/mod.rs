//! Replay: `replay` re-sends a captured flow (client replay), `serve` answers requests
//! from a capture (server replay, with faults to inject into a connector's refresh
//! handling); `lineage` decides which credential goes where, `checklist` states the
//! "Troubleshoot OAuth 2.0" steps a run showed.

pub mod checklist;
pub mod client;
pub mod lineage;
pub mod send;
pub mod serve;
