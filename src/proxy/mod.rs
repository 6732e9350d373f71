//! The recording proxy: our connection layer ([`server`]) with our CA, a capturing
//! handler, verified upstream TLS, scope rules, and a writer thread behind a queue.
//!
//! [`run`] takes a bound listener and a shutdown future, so tests bind port 0.

pub mod console;
pub mod gateway;
pub mod handler;
pub mod recording;
mod redact_at_capture;
pub mod scope;
pub mod server;
pub mod tap;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

use crate::ca::LocalCa;
use crate::capture::redact::{Fingerprinter, random_salt};
use crate::capture::writer::{Observer, create_capture_file};
use crate::capture::{self, CaptureHeader, CaptureWriter, Summary};
use handler::{HandlerConfig, Recorder};
use recording::RunState;
use scope::Scope;

/// Largest request head the proxy accepts (larger gets 431).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Validated settings of one proxy run.
pub struct ProxyOptions {
    pub out: PathBuf,
    pub max_body: usize,
    /// Memory for the body copies of all in-flight exchanges together.
    pub body_memory: usize,
    pub scope: Scope,
    pub upstream_cas: Vec<PathBuf>,
    pub insecure_upstream: bool,
    pub ca_dir: PathBuf,
    pub quiet: bool,
    /// How long in-flight exchanges may take to finish after shutdown is asked.
    pub grace: Duration,
    /// How long upstream may stay silent (before its response, or mid-body).
    pub upstream_timeout: Duration,
    /// How long a client may take for a request head or a tunnel's handshake.
    pub client_timeout: Duration,
    /// Write the capture file (false: live view and findings only).
    pub record: bool,
    /// Connector definition to compare live traffic with.
    pub connector: Option<crate::connector::Connector>,
    /// Gateway mode: a reverse proxy routing by path (None: the forward proxy).
    pub gateway: Option<GatewayMode>,
    /// Store fingerprints instead of secret values in the capture.
    pub redact_at_capture: bool,
    /// The live web view, when asked for.
    pub web: Option<WebSetup>,
    /// Ask clients for TLS client certificates and record their thumbprints.
    pub client_certs: bool,
    /// Client certificates (and keys) to present upstream for clients presenting them.
    /// (certificate PEM, key PEM) pairs.
    pub client_identities: Vec<(PathBuf, PathBuf)>,
}

/// A bound listener for the live web view, who may use it, and its URL to print.
pub struct WebSetup {
    pub listener: TcpListener,
    pub access: crate::web::Access,
    pub url: String,
}

/// What the gateway runs with.
pub struct GatewayMode {
    pub gateway: Arc<gateway::Gateway>,
    /// TLS with the user's certificate; `None`: plain HTTP (behind a TLS-terminating
    /// tunnel or load balancer).
    pub tls: Option<Arc<gateway::tls::Reloading>>,
}

/// Serve on `listener` until `shutdown` resolves; return the capture's totals.
pub async fn run(
    opts: ProxyOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Summary> {
    let style = console::Style::detect();
    // Read first: a bad --client-identity stops the start before anything is created.
    let loaded_identities = opts
        .client_identities
        .iter()
        .map(|(cert, key)| {
            crate::upstream::Identity::load(cert, key)
                .with_context(|| format!("loading --client-identity {}", cert.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The gateway intercepts nothing: it needs no CA of ours.
    let ca = match opts.gateway {
        Some(_) => None,
        None => Some(
            LocalCa::load_or_create(&opts.ca_dir)
                .context("loading the CA")?
                .asking_client_certs(opts.client_certs),
        ),
    };
    let mut upstream_cas = opts.upstream_cas.clone();
    if let Some(ca) = &ca {
        if ca.info.created {
            crate::sayln!(
                "created a new CA: {} (trust it in your client: `oauthscope ca` shows how)",
                ca.info.cert_path.display()
            );
        }
        // Upstreams signed by our own CA (`oauthscope serve`) are trusted too.
        upstream_cas.push(ca.info.cert_path.clone());
    }
    let tls = crate::upstream::client_config(&upstream_cas, opts.insecure_upstream, None)?;
    if opts.insecure_upstream {
        eprintln!(
            "{}",
            style.red(
                "WARNING: --insecure-upstream: upstream certificates are NOT verified. \
                 Anyone on the path can read and change this traffic."
            )
        );
    }

    let salt = random_salt();
    let mut header =
        CaptureHeader::new(capture::now_rfc3339(), salt.clone()).with_max_body(opts.max_body);
    header.redacted = opts.redact_at_capture;
    let file = if opts.record {
        Some(create_capture_file(&opts.out, &header)?)
    } else {
        None
    };
    let fingerprinter = Fingerprinter::new(&salt);
    let web_view = opts.web.as_ref().map(|_| {
        let title = if opts.gateway.is_some() {
            "gateway"
        } else {
            "proxy"
        };
        Arc::new(std::sync::Mutex::new(crate::web::View::live(
            &salt,
            opts.connector.clone(),
            title,
        )))
    });
    let mut console = console::Console::new(style, &salt, opts.quiet);
    if let (Some(c), Some(engine)) = (opts.connector, console.engine.as_mut()) {
        engine.add_analyzer(Box::new(crate::connector::analyzer::ConnectorCheck {
            connector: c,
        }));
    }
    let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(console)];
    if let Some(v) = &web_view {
        observers.push(Box::new(crate::web::WebObserver(v.clone())));
    }
    let transform: Option<Box<dyn crate::capture::writer::Transform>> =
        opts.redact_at_capture.then(|| {
            let mut r = redact_at_capture::AtCapture::new(&salt);
            if let Some(m) = &opts.gateway {
                r.also_secret(m.gateway.secret());
            }
            Box::new(r) as Box<dyn crate::capture::writer::Transform>
        });
    let writer =
        CaptureWriter::start_with(file, opts.out.clone(), opts.max_body, observers, transform)?;
    let run_state = Arc::new(RunState::new(
        writer.sink(),
        opts.max_body,
        opts.body_memory,
    ));

    let local: SocketAddr = listener.local_addr()?;
    let mut client = Client::builder(TokioExecutor::new());
    client
        .http1_title_case_headers(true)
        .http1_preserve_header_case(true)
        // Bounded read buffers keep memory flat with many large downloads at once; 256 KiB
        // (not 64) lets a large download move in bigger chunks (+20% MB/s measured).
        .http1_max_buf_size(4 * MAX_HEAD_BYTES)
        .pool_idle_timeout(Duration::from_secs(60));
    let mut identities = Vec::new();
    for id in loaded_identities {
        let tls = crate::upstream::client_config(&upstream_cas, opts.insecure_upstream, Some(&id))?;
        crate::sayln!(
            "presenting client certificate {} ({}) upstream for clients that present it",
            id.cert.sha256,
            id.cert.subject.as_deref().unwrap_or("no subject")
        );
        identities.push(handler::UpstreamIdentity {
            sha256: id.cert.sha256.clone(),
            client: client.build(crate::upstream::connector(tls, true)),
        });
    }
    let cfg = Arc::new(HandlerConfig {
        scope: opts.scope,
        fingerprinter,
        upgrade_client: Client::builder(TokioExecutor::new())
            .build(crate::upstream::connector(tls.clone(), false)),
        client: client.build(crate::upstream::connector(tls.clone(), true)),
        upstream_timeout: opts.upstream_timeout,
        ca_pem: ca
            .as_ref()
            .map(|c| c.info.cert_path.clone())
            .unwrap_or_default(),
        ca_dir: opts.ca_dir.clone(),
        gateway: opts.gateway.as_ref().map(|m| m.gateway.clone()),
        identities,
        certs_warned: Default::default(),
    });
    server::raise_fd_limit();
    let mut limits = server::Limits::for_this_process();
    limits.header_timeout = opts.client_timeout;
    limits.handshake_timeout = opts.client_timeout;
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let shared = Arc::new(server::Shared {
        recorder: Recorder::new(run_state.clone(), cfg),
        ca: ca.map(Arc::new),
        tls: opts
            .gateway
            .as_ref()
            .and_then(|m| m.tls.as_ref())
            .map(|t| t.acceptor(opts.client_certs)),
        builder: server::server_builder(&limits, MAX_HEAD_BYTES),
        limits,
        own: local,
        stopping: stopping_rx,
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, shared, async move {
        let _ = stop_rx.await;
    }));
    match &opts.gateway {
        None => crate::sayln!("oauthscope proxy listening on http://{local}"),
        Some(m) => {
            let scheme = if m.tls.is_some() { "https" } else { "http" };
            crate::sayln!("oauthscope gateway listening on {scheme}://{local}");
            for r in m.gateway.routes() {
                crate::sayln!("  {} -> {}", m.gateway.public_base(r), r.upstream);
            }
        }
    }
    if opts.redact_at_capture {
        crate::sayln!("secrets are stored as fingerprints (--redact-at-capture)");
    }
    if opts.client_certs {
        crate::sayln!("asking clients for a TLS client certificate (--client-certs)");
    }
    let (web_stop_tx, web_stop_rx) = tokio::sync::oneshot::channel::<()>();
    if let (Some(w), Some(view)) = (opts.web, web_view) {
        crate::sayln!("web view: {}", w.url);
        tokio::spawn(crate::web::serve(w.listener, view, w.access, async move {
            let _ = web_stop_rx.await;
        }));
    }
    if opts.record {
        crate::sayln!("recording to {}", opts.out.display());
    } else {
        crate::sayln!("not recording (--no-capture): live view only");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();

    shutdown.await;
    let _ = stop_tx.send(());
    let _ = stopping_tx.send(true);
    // Stop accepting; give in-flight exchanges a bounded time to end.
    let deadline = tokio::time::Instant::now() + opts.grace;
    let _ = tokio::time::timeout_at(deadline, task).await;
    while run_state.in_flight.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let abandoned = run_state.in_flight.load(Ordering::Relaxed);
    let summary = tokio::task::spawn_blocking(move || writer.finish()).await?;
    let _ = web_stop_tx.send(());
    if abandoned > 0 {
        eprintln!("{abandoned} exchange(s) still in flight at shutdown were not recorded");
    }
    Ok(summary)
}
