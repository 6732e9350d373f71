//! `oauthscope view` (a capture in the browser) and `oauthscope show` (one exchange in the
//! terminal); the web view's listener for `proxy --web` and `gateway --web`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

use super::{load_connector, with_progress};
use crate::capture::redact::sanitize_for_terminal;
use crate::capture::source::Source;
use crate::cli::{ShowArgs, TextFormat, ViewArgs, check_listen};
use crate::proxy::WebSetup;
use crate::web::{Access, View};

/// Bind the web view: loopback, or another address with `--allow-remote` and an access
/// token (and never a reveal there).
pub(super) async fn bind_web(addr: SocketAddr, allow_remote: bool) -> anyhow::Result<WebSetup> {
    check_listen(&addr, allow_remote).map_err(|e| anyhow::anyhow!("web view: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the web view"))?;
    let local = listener.local_addr()?;
    let loopback = local.ip().is_loopback();
    let token = (!loopback).then(crate::proxy::gateway::random_secret);
    let url = match &token {
        Some(t) => format!("http://{local}/?token={t}"),
        None => format!("http://{local}/"),
    };
    Ok(WebSetup {
        listener,
        access: Access {
            token,
            reveal_allowed: loopback,
        },
        url,
    })
}

/// `oauthscope view`
pub async fn view(args: ViewArgs) -> anyhow::Result<()> {
    let connector = args.connector.as_deref().map(load_connector).transpose()?;
    let web = bind_web(args.listen, args.allow_remote).await?;
    let source = Source::open(&args.capture)?;
    let view = with_progress(&source, |warn, tick| {
        View::open(&args.capture, connector, warn, tick)
    })?;
    crate::sayln!(
        "{} exchange(s) from {}",
        view.rows.len(),
        args.capture.display()
    );
    crate::sayln!("web view: {} (Ctrl-C stops it)", web.url);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::web::serve(
        web.listener,
        Arc::new(Mutex::new(view)),
        web.access,
        super::proxy::shutdown_signal(),
    )
    .await;
    Ok(())
}

/// `oauthscope show`
pub fn show(args: ShowArgs) -> anyhow::Result<()> {
    // One pass: the flow as the whole capture shows it, and the exchange with its step.
    let source = Source::open(&args.capture)?;
    let mut engine = crate::analyze::Engine::new(&source.salt, false);
    let mut found = None;
    with_progress(&source, |warn, tick| {
        source.run(warn, |ex| {
            let step = engine.push(&ex).name();
            if ex.id == args.id && found.is_none() {
                found = Some((ex, step));
            }
            tick();
        })
    })?;
    let Some((ex, step)) = found else {
        anyhow::bail!(
            "{} has no exchange #{} (`oauthscope timeline` lists them)",
            args.capture.display(),
            args.id
        );
    };
    let analysis = engine.finish();
    let cx = crate::web::detail::Context {
        state: analysis.state(),
        fpr: &analysis.flow.fpr,
        known: &analysis.flow.known,
        step,
        reveal: args.reveal,
    };
    let d = crate::web::detail::detail(&ex, &cx);
    match args.format {
        TextFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&d)?),
        TextFormat::Text => crate::out!("{}", show_text(&d)),
    }
    Ok(())
}

/// The detail as terminal text (every captured value made safe for the terminal).
fn show_text(d: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let s = |v: &serde_json::Value| sanitize_for_terminal(v.as_str().unwrap_or(""));
    let mut out = String::new();
    let status = d["response"]["status"]
        .as_u64()
        .map_or("no answer".to_string(), |s| s.to_string());
    let _ = writeln!(
        out,
        "#{} {} {} → {status}  ({}, started {})",
        d["id"],
        s(&d["request"]["method"]),
        s(&d["request"]["url"]),
        s(&d["step"]),
        s(&d["started"])
    );
    if let Some(c) = d["client_cert"].as_object() {
        let _ = writeln!(
            out,
            "client certificate: x5t#S256 {}{}{}",
            s(&c["sha256"]),
            c.get("subject")
                .and_then(|v| v.as_str())
                .map(|v| format!(" ({})", sanitize_for_terminal(v)))
                .unwrap_or_default(),
            if c["forwarded"] == true {
                ", presented to the server"
            } else {
                ", not presented to the server (no --client-identity for it)"
            }
        );
    }
    if !d["error"].is_null() {
        let _ = writeln!(
            out,
            "error: {} ({})",
            s(&d["error"]["message"]),
            s(&d["error"]["kind"])
        );
    }
    let headers = |out: &mut String, title: &str, hs: &serde_json::Value| {
        let _ = writeln!(out, "\n{title}:");
        for h in hs.as_array().into_iter().flatten() {
            let _ = writeln!(out, "  {}: {}", s(&h[0]), s(&h[1]));
        }
    };
    let body = |out: &mut String, title: &str, b: &serde_json::Value| {
        let kind = b["kind"].as_str().unwrap_or("");
        if kind == "empty" || b.is_null() {
            return;
        }
        let _ = writeln!(
            out,
            "\n{title} ({kind}, {} bytes{}):",
            b["size"],
            if b["truncated"] == true {
                ", truncated"
            } else {
                ""
            }
        );
        for line in b["text"].as_str().unwrap_or("").lines() {
            let _ = writeln!(out, "  {}", sanitize_for_terminal(line));
        }
    };
    headers(&mut out, "Request headers", &d["request"]["headers"]);
    body(&mut out, "Request body", &d["request"]["body"]);
    if !d["response"].is_null() {
        headers(&mut out, "Response headers", &d["response"]["headers"]);
        body(&mut out, "Response body", &d["response"]["body"]);
    }
    for j in d["jwts"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "\nJWT in {} ({}):", s(&j["where"]), s(&j["fp"]));
        if let Some(e) = j["expires"].as_str() {
            let _ = writeln!(
                out,
                "  exp {} ({})",
                sanitize_for_terminal(e),
                s(&j["expires_relative"])
            );
        }
        for (name, v) in [("header", &j["header"]), ("claims", &j["claims"])] {
            let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
            let _ = writeln!(out, "  {name}:");
            for line in pretty.lines() {
                let _ = writeln!(out, "    {}", sanitize_for_terminal(line));
            }
        }
    }
    for t in d["tokens"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "\nToken in {}: {} ({}), issued by {}, used {} time(s){}",
            s(&t["where"]),
            s(&t["value"]),
            t["kind"].as_str().unwrap_or("unknown kind"),
            t["issued_by"]
                .as_u64()
                .map_or("-".to_string(), |i| format!("#{i}")),
            t["uses"].as_u64().unwrap_or(0),
            t["first_401"]
                .as_u64()
                .map_or(String::new(), |i| format!(", first 401 at #{i}"))
        );
    }
    if d["revealed"] != true {
        let _ = writeln!(out, "\n(secrets masked; --reveal shows them)");
    }
    out
}
