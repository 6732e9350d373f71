//! OAuth meaning: parse what OAuth puts on the wire, classify each exchange into a
//! [`Step`], and build the flow state (tokens and their lineage) as a stream.

pub mod classify;
pub mod display;
pub mod dpop;
pub mod flow;
pub mod hints;
pub mod jws;
pub mod oidc;
pub mod parse;
pub mod timeline;

pub use classify::{Step, classify};
pub use flow::Flow;
pub use timeline::FlowState;
