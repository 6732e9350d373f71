use std::process::ExitCode;

use clap::Parser;
use oauthscope::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// mimalloc: the proxy allocates and frees small buffers on many threads (and the capture
/// writer frees what the workers allocated); glibc's malloc cost about a tenth of the
/// proxy's CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // oauthscope.toml settings become flags; the command line's own flags win.
    let args = match oauthscope::config::apply(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    oauthscope::report::style::set_choice(cli.color);
    init_tracing();
    let result = match cli.command {
        Command::Ca(args) => oauthscope::commands::ca(args).map(|()| false),
        Command::Proxy(args) => runtime()
            .and_then(|rt| rt.block_on(oauthscope::commands::proxy(args)))
            .map(|()| false),
        Command::Gateway(args) => runtime()
            .and_then(|rt| rt.block_on(oauthscope::commands::gateway(args)))
            .map(|()| false),
        Command::View(args) => runtime()
            .and_then(|rt| rt.block_on(oauthscope::commands::view(args)))
            .map(|()| false),
        Command::Show(args) => oauthscope::commands::show(args).map(|()| false),
        Command::Completions(args) => oauthscope::commands::completions(args).map(|()| false),
        Command::Man => oauthscope::commands::man().map(|()| false),
        Command::Config(args) => oauthscope::commands::config(args).map(|()| false),
        Command::Walk(args) => {
            runtime().and_then(|rt| rt.block_on(oauthscope::commands::walk(args)))
        }
        Command::Analyze(args) => oauthscope::commands::analyze(args),
        Command::Timeline(args) => oauthscope::commands::timeline(args).map(|()| false),
        Command::LintConnector(args) => oauthscope::commands::lint_connector(args),
        Command::Rules(args) => oauthscope::commands::rules(args).map(|()| false),
        Command::Explain(args) => oauthscope::commands::explain(args).map(|()| false),
        Command::Export(args) => oauthscope::commands::export(args).map(|()| false),
        Command::Replay(args) => {
            runtime().and_then(|rt| rt.block_on(oauthscope::commands::replay(args)))
        }
        Command::Demo(args) => runtime()
            .and_then(|rt| rt.block_on(oauthscope::commands::demo(args)))
            .map(|()| false),
        Command::Serve(args) => runtime()
            .and_then(|rt| rt.block_on(oauthscope::commands::serve(args)))
            .map(|()| false),
    };
    match result {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(e) if oauthscope::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Logs go to stderr (`RUST_LOG`, default warnings).
fn init_tracing() {
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // Log fields are masked like everything else: span fields carry request URIs (codes,
    // tokens in queries) at debug level.
    let fpr = oauthscope::capture::redact::Fingerprinter::new(
        &oauthscope::capture::redact::random_salt(),
    );
    let fields = tracing_subscriber::fmt::format::debug_fn(move |w, field, value| {
        let value = oauthscope::capture::redact::redact_text(&fpr, &format!("{value:?}"));
        if field.name() == "message" {
            write!(w, "{value}")
        } else {
            write!(w, "{field}={value}")
        }
    })
    .delimited(" ");
    let fmt = tracing_subscriber::fmt::layer()
        .fmt_fields(fields)
        .with_writer(std::io::stderr)
        .with_ansi(oauthscope::report::Style::detect_stderr().enabled)
        .with_filter(env);
    tracing_subscriber::registry().with(fmt).init();
}
