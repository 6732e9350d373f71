//! `oauthscope walk`: the "Troubleshoot OAuth 2.0" walk from a connector definition.

use anyhow::Context as _;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{export::export_har, load_connector, run_engine};
use crate::capture::writer::PendingExchange;
use crate::cli::{ClientAuthArg, TextFormat, WalkArgs};
use crate::report::{self, style::Style};
use crate::walk::{Auth, Outcome, Settings, WalkOptions, Walker, step5};

/// `oauthscope walk`: returns whether a step failed.
pub async fn walk(args: WalkArgs) -> anyhow::Result<bool> {
    let connector = load_connector(&args.connector)?;
    let (tls, client_cert) = super::own_client_tls(&args.upstream, args.client_identity.as_ref())?;
    let client_secret = match &args.client_secret_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!(
                "settings: the environment variable {var} (--client-secret-env) is not set. \
                 What to do: export {var}=<the connector's client secret> and run the walk again"
            )
        })?),
        None => None,
    };
    let scopes: Vec<String> = args
        .scope
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_string)
        .collect();
    let opts = WalkOptions {
        client_secret,
        scopes: (!scopes.is_empty()).then_some(scopes),
        redirect_uri: args.redirect_uri.clone(),
        token_url: args.token_url.clone(),
        refresh_url: args.refresh_url.clone(),
        calls: args.call.clone(),
        client_auth: args.client_auth.map(|a| match a {
            ClientAuthArg::Basic => Auth::Basic,
            ClientAuthArg::Post => Auth::Post,
        }),
        browser: args.browser.clone(),
        timeout: args.timeout,
        wait_expiry: args.wait_expiry,
        max_wait: args.max_wait,
    };
    let settings = Settings::resolve(&connector, &opts)?;
    if settings.client_secret.is_none() {
        eprintln!(
            "note: no client secret (--client-secret-env VAR): the walk signs in as a public client"
        );
    }
    let (out, salt, writer) = super::own_capture(args.out.clone(), "walk")?;
    let sink = writer.sink();
    let client = Client::builder(TokioExecutor::new()).build(crate::upstream::connector(tls, true));
    let result = {
        let mut walker = Walker::new(
            client,
            &salt,
            |exchange, request_body, response_body| {
                sink.send(PendingExchange {
                    exchange,
                    request_body,
                    response_body: Some(response_body),
                })
            },
            |m| eprintln!("{m}"),
        )
        .presenting(client_cert);
        walker.run(&settings, &opts).await
    };
    drop(sink);
    let summary = tokio::task::spawn_blocking(move || writer.finish()).await?;
    let mut walk = match result {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "the capture of what happened is in {} ({} exchange(s))",
                out.display(),
                summary.exchanges
            );
            return Err(e.into());
        }
    };
    step5(&connector, &settings, &mut walk);
    let (engine, bad) = run_engine(&out, false, Some(&args.connector))?;
    let analysis = engine.finish();
    let sum = report::summary(&analysis.findings, analysis.state(), bad);
    if let Some(har) = &args.har {
        let n = export_har(&out, har, false, Some(&args.connector))
            .with_context(|| format!("writing {}", har.display()))?;
        eprintln!("wrote {n} entries (redacted) to {}", har.display());
    }
    match args.format {
        TextFormat::Json => {
            let v = serde_json::json!({
                "steps": walk.steps,
                "compared": walk.compared,
                "expired_on_purpose": walk.expired_on_purpose,
                "analysis": {"summary": sum, "findings": analysis.findings},
                "capture": out.display().to_string(),
            });
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        TextFormat::Text => {
            let style = Style::detect();
            crate::outln!(
                "\nTroubleshoot OAuth 2.0, walked from {}",
                crate::capture::redact::sanitize_for_terminal(
                    &args.connector.display().to_string()
                )
            );
            for s in &walk.steps {
                let r = match s.result {
                    Outcome::Passed => style.green("passed "),
                    Outcome::Failed => style.red("failed "),
                    Outcome::Skipped => style.dim("skipped"),
                };
                let label = match s.step {
                    "sign-in" | "expiry" => s.step.to_string(),
                    n => format!("step {n}"),
                };
                crate::outln!("  {label:<8} {r} {}", s.title);
                crate::outln!(
                    "           {}",
                    crate::capture::redact::sanitize_for_terminal(&s.reason)
                );
            }
            crate::outln!("\n  The definition against what the walk used:");
            for c in &walk.compared {
                let worked = match c.worked {
                    Some(true) => style.green("worked"),
                    Some(false) => style.red("failed"),
                    None => style.dim("untried"),
                };
                let def = c.definition.as_deref().unwrap_or("(not set)");
                let shown = if Some(c.used.as_str()) == c.definition.as_deref() {
                    "the same".to_string()
                } else {
                    c.used.clone()
                };
                crate::outln!(
                    "    {:<22} {worked}  definition: {}  used: {}",
                    c.setting,
                    crate::capture::redact::sanitize_for_terminal(def),
                    crate::capture::redact::sanitize_for_terminal(&shown)
                );
            }
            crate::outln!("\nAnalysis of the walk's own capture:");
            crate::out!("{}", report::text(&analysis.findings, &sum, &style));
            if !walk.expired_on_purpose.is_empty() {
                let ids: Vec<String> = walk
                    .expired_on_purpose
                    .iter()
                    .map(|i| format!("#{i}"))
                    .collect();
                crate::outln!(
                    "note: {} used the expired access token on purpose (--wait-expiry): findings citing it show what the connector meets",
                    ids.join(", ")
                );
            }
            crate::outln!("capture: {}", out.display());
        }
    }
    Ok(walk.failed())
}
