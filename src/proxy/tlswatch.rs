//! Seeing clients that reject our certificate.
//!
//! When a client does not trust the CA, the TLS handshake fails inside hudsucker and no
//! handler is called: hudsucker only emits a `tracing` event. This layer watches for that
//! event and reports it (with the CONNECT target and client address of the enclosing span)
//! to the running proxy, which records an error entry and prints the fix.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// A client-side TLS failure seen by hudsucker.
#[derive(Debug, Clone)]
pub struct ClientTlsFailure {
    /// CONNECT target (`host:port`).
    pub target: String,
    pub client: String,
    /// hudsucker's message and the error chain.
    pub what: String,
    pub chain: Vec<String>,
}

type Hook = Arc<dyn Fn(ClientTlsFailure) + Send + Sync>;
static HOOK: Mutex<Option<Hook>> = Mutex::new(None);

/// Route failures to `hook` (the running proxy); `None` stops reporting.
pub fn set_hook(hook: Option<Hook>) {
    *HOOK.lock().unwrap_or_else(|e| e.into_inner()) = hook;
}

/// The layer to install in the tracing subscriber.
pub struct TlsWatch;

#[derive(Default)]
struct ProxySpanFields {
    uri: String,
    client_addr: String,
}

#[derive(Default)]
struct Collect {
    message: String,
    uri: String,
    client_addr: String,
    chain: Vec<String>,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let s = format!("{value:?}");
        let s = s.trim_matches('"').to_string();
        match field.name() {
            "message" => self.message = s,
            "uri" => self.uri = s,
            "client_addr" => self.client_addr = s,
            "error" => self.chain.push(s),
            _ => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.chain = super::tap::chain_of(value);
        }
    }
}

const WATCHED: [&str; 2] = [
    "Failed to establish TLS connection",
    "Failed to read TLS client hello",
];

impl<S> Layer<S> for TlsWatch
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "proxy" || !attrs.metadata().target().starts_with("hudsucker")
        {
            return;
        }
        let mut c = Collect::default();
        attrs.record(&mut c);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(ProxySpanFields {
                uri: c.uri,
                client_addr: c.client_addr,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("hudsucker") {
            return;
        }
        let mut c = Collect::default();
        event.record(&mut c);
        if !WATCHED.contains(&c.message.as_str()) {
            return;
        }
        let Some(hook) = HOOK.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let mut failure = ClientTlsFailure {
            target: String::new(),
            client: String::new(),
            what: c.message,
            chain: c.chain,
        };
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(f) = span.extensions().get::<ProxySpanFields>() {
                    failure.target = f.uri.clone();
                    failure.client = f.client_addr.clone();
                    break;
                }
            }
        }
        hook(failure);
    }
}
