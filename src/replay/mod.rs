//! Replay: `serve` answers requests from a capture (server replay), with faults to inject
//! into a connector's refresh handling. (Client replay is to come.)

pub mod client;
pub mod serve;
