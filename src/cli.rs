//! Command-line interface: clap definitions, and the parse-then-validate step that turns
//! raw flags into the options each subcommand runs with.
//!
//! Doc comments here are `--help` text, shown as written (`<UTC timestamp>` is not HTML).
//!
//! Long on purpose: the whole command line is declared here, as data; splitting it would
//! scatter the help text a user reads on one screen across files.
#![allow(rustdoc::invalid_html_tags)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "oauthscope",
    version,
    about = "Record OAuth 2.0 traffic through an intercepting proxy and explain why integrations break",
    long_about = "oauthscope is an intercepting HTTP/HTTPS proxy for people debugging OAuth 2.0 \
integrations. Route your client (the \"connector\") through it, trust its local CA once, \
and it records every exchange, losslessly, to a capture file.\n\n\
Exit codes: 0 success; 1 findings at or above --fail-on (analyze, lint-connector) or a \
failed checklist step (replay); 2 error."
)]
pub struct Cli {
    /// Colour: auto (a terminal, and no NO_COLOR; CLICOLOR_FORCE forces it), always, never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: crate::report::style::ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the recording proxy (HTTP and HTTPS via CONNECT, HTTP/1.1 and HTTP/2).
    Proxy(ProxyArgs),
    /// Run a recording reverse proxy for a connector in someone else's cloud: point its
    /// token URL, refresh URL and API host at the gateway's public URL.
    Gateway(GatewayArgs),
    /// Walk Microsoft's "Troubleshoot OAuth 2.0" steps from a connector definition: sign
    /// in, exchange the code, call the API, refresh, call again, compare the settings.
    Walk(WalkArgs),
    /// Look at a capture or HAR in the browser: verdict, findings, timeline, exchanges.
    View(ViewArgs),
    /// Print one exchange (headers, bodies, decoded JWTs, tokens), secrets masked.
    Show(ShowArgs),
    /// Print shell completions: `oauthscope completions bash > ~/.local/share/bash-completion/completions/oauthscope`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `oauthscope man | man -l -`.
    Man,
    /// Print the settings taken from oauthscope.toml files, and where each came from.
    Config(ConfigArgs),
    /// Show the local CA (creating it on first use), its fingerprint, and how to trust it.
    Ca(CaArgs),
    /// Say what is wrong with the OAuth flow in a capture, with evidence and fixes.
    ///
    /// Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 error.
    Analyze(AnalyzeArgs),
    /// Show the OAuth flow in a capture as a timeline, with the tokens' lineage.
    Timeline(TimelineArgs),
    /// Re-send a captured flow to the real service and compare then with now, step by step
    /// as in Microsoft's "Troubleshoot OAuth 2.0" checklist for custom connectors (token,
    /// API call, refresh, API call with the new token).
    ///
    /// Exit codes: 0 no checklist step failed, 1 a step failed, 2 error.
    Replay(ReplayArgs),
    /// The whole product in one command: serve a sample as the upstream, run a built-in
    /// client through the proxy, and show the live view, the timeline and the findings.
    Demo(DemoArgs),
    /// Answer requests from a capture, as a mock of the captured service (server replay),
    /// with faults to test a connector's refresh handling.
    Serve(ServeArgs),
    /// Export a capture (or a HAR) as HAR 1.2, secrets redacted unless --no-redact.
    Export(ExportArgs),
    /// Check a connector definition on its own (no traffic needed).
    ///
    /// Reads apiProperties.json, apiDefinition.swagger.json (or the folder holding them),
    /// an OpenAPI 3 JSON document, or a TOML profile. Exit codes as for `analyze`.
    LintConnector(LintArgs),
    /// List the rules findings come from: id, severity, role (cause or symptom), checklist step.
    Rules(RulesArgs),
    /// Explain one rule: what it means, what shows it on the wire, the fix, an example.
    ///
    /// Exit codes: 0 the rule exists, 2 no such rule.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct WalkArgs {
    /// The connector definition: a folder (apiProperties.json + apiDefinition.swagger.json),
    /// one of those files, an OpenAPI 3 document, or a TOML profile.
    #[arg(long, value_name = "DIR_OR_FILE")]
    pub connector: PathBuf,
    /// Environment variable holding the client secret (never a flag value).
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Scopes to ask for instead of the definition's (repeatable, or space-separated).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// Redirect URI instead of the definition's. A loopback http address is listened on;
    /// any other is pasted back.
    #[arg(long, value_name = "URL")]
    pub redirect_uri: Option<String>,
    /// Token URL instead of the definition's.
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Refresh URL instead of the definition's (which defaults to the token URL).
    #[arg(long, value_name = "URL")]
    pub refresh_url: Option<String>,
    /// An API call for steps 2 and 4: "METHOD URL", "METHOD /path" (under the Swagger's
    /// host) or "METHOD operationId" (repeatable) [default: the first GET operation that
    /// needs no parameter].
    #[arg(long, value_name = "\"METHOD URL_OR_OPERATION_ID\"")]
    pub call: Vec<String>,
    /// How the client credentials go to the token endpoint [default: as the connector
    /// sends them: in the body, or Basic for a generic provider whose token body template
    /// leaves the secret out].
    #[arg(long, value_enum, value_name = "METHOD")]
    pub client_auth: Option<ClientAuthArg>,
    /// Command that opens the authorize URL (split like a shell command line; the URL is
    /// its last argument) [default: print it, and open it with the desktop's opener when
    /// there is one].
    #[arg(long, value_name = "CMD")]
    pub browser: Option<String>,
    /// How long to wait for the sign-in (the redirect, or the pasted address).
    #[arg(long, default_value = "5min", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Also wait until the first access token has expired, call the API with it (the
    /// failure the connector meets), then refresh and call again.
    #[arg(long)]
    pub wait_expiry: bool,
    /// The longest token lifetime --wait-expiry waits out.
    #[arg(long, default_value = "10min", value_name = "DURATION", value_parser = parse_duration)]
    pub max_wait: Duration,
    /// Capture file of the walk [default: captures/walk-<UTC timestamp>.jsonl].
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write a HAR 1.2 file (redacted) of the walk.
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,
    /// A client certificate and its private key (PEM; one file holding both, or
    /// `CERT,KEY`) for mutual TLS (RFC 8705): offered to every server that asks for one,
    /// as a connector with certificate-bound tokens does.
    #[arg(long, value_name = "CERT[,KEY]", value_parser = parse_identity)]
    pub client_identity: Option<IdentityFiles>,
    #[command(flatten)]
    pub upstream: UpstreamTls,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

/// `--client-auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuthArg {
    /// client_secret_basic: `Authorization: Basic`.
    Basic,
    /// client_secret_post: in the form body.
    Post,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Capture file (or HAR file) to look at.
    pub capture: PathBuf,
    /// Address of the web view. Non-loopback addresses need --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Allow a non-loopback address (the view then needs its access token; secrets are
    /// never revealed there).
    #[arg(long)]
    pub allow_remote: bool,
    /// Compare the traffic with the connector's definition (see `analyze --help`).
    #[arg(long, value_name = "FILE")]
    pub connector: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Capture file (or HAR file).
    pub capture: PathBuf,
    /// The exchange's id (`#5` in the console, the list and the findings).
    #[arg(value_parser = parse_exchange_id)]
    pub id: u64,
    /// Show tokens, codes, secrets, passwords and cookies in clear.
    #[arg(long)]
    pub reveal: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

/// `5` or `#5`.
fn parse_exchange_id(s: &str) -> Result<u64, String> {
    s.trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| format!("{s:?} is not an exchange id (a number, as in #5)"))
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture (or HAR) to replay.
    pub capture: PathBuf,
    /// Replay only OAuth steps (token, API calls with tokens, discovery, ...).
    #[arg(long, value_parser = ["oauth"], value_name = "oauth")]
    pub only: Option<String>,
    /// Replay only requests whose URL matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
    /// Re-send single-use steps too (the authorization code exchange).
    #[arg(long)]
    pub force: bool,
    /// Take the refresh token from this environment variable (else the newest in the capture).
    #[arg(long, value_name = "VAR")]
    pub refresh_token_env: Option<String>,
    /// Take the client secret from this environment variable (for redacted captures).
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Record the replay here [default: captures/replay-<UTC timestamp>.jsonl].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Send the replay elsewhere (a staging service): `--target https://staging.example`
    /// sends every request there, `--target https://api.example=https://staging.example`
    /// only those captured going to the first origin (repeatable). Credentials captured
    /// over HTTPS are never sent over plain HTTP.
    #[arg(long, value_name = "[FROM=]TO")]
    pub target: Vec<String>,
    /// A client certificate and its private key (PEM; one file holding both, or
    /// `CERT,KEY`) for mutual TLS (RFC 8705): offered to every server that asks for one.
    /// A capture whose connector presented a certificate needs it to replay tokens bound
    /// to that certificate.
    #[arg(long, value_name = "CERT[,KEY]", value_parser = parse_identity)]
    pub client_identity: Option<IdentityFiles>,
    #[command(flatten)]
    pub upstream: UpstreamTls,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which flow to show: no-refresh-token, rotation-ignored, stale-token, bearer-header,
    /// good-flow.
    #[arg(default_value = "no-refresh-token")]
    pub scenario: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Capture (or HAR) whose answers to serve.
    pub capture: PathBuf,
    /// Address to listen on (non-loopback needs --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    #[arg(long)]
    pub allow_remote: bool,
    /// Serve HTTP instead of HTTPS (HTTPS uses a certificate from our CA).
    #[arg(long)]
    pub plain: bool,
    /// Folder of the local CA that signs the HTTPS certificate.
    #[arg(
        long,
        env = "OAUTHSCOPE_CA_DIR",
        value_name = "DIR",
        default_value = "certs"
    )]
    pub ca_dir: PathBuf,
    /// The API answers 401 invalid_token once an access token is older than this
    /// (`30s`, `5m`, `1h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expire_after: Option<Duration>,
    /// Strip refresh tokens from token responses.
    #[arg(long)]
    pub no_refresh_token: bool,
    /// Each refresh issues a new refresh token and rejects reuse of the old one.
    #[arg(long)]
    pub rotate_refresh_tokens: bool,
}

/// Split `1.5 MiB` into `1.5` and `MiB`; `what` names the expected kind in the error.
fn number_and_unit<'a>(s: &'a str, what: &str) -> Result<(f64, &'a str), String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n = n.parse().map_err(|_| format!("{s:?} is not {what}"))?;
    Ok((n, unit.trim()))
}

/// Parse `90`, `30s`, `5m`, `1h`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = number_and_unit(s, "a duration (try 30s, 5m, 1h)")?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        u => return Err(format!("unknown duration unit {u:?} (use ms, s, m, h, d)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| {
        format!(
            "{:?} is out of range (at most about 500 billion years)",
            s.trim()
        )
    })
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Capture file (or HAR file) to export.
    pub input: PathBuf,
    /// Write HAR 1.2 here (`-` for standard output).
    #[arg(long, value_name = "OUT.har")]
    pub har: PathBuf,
    /// Keep tokens, codes, secrets, passwords, cookies and Authorization values in clear.
    #[arg(long)]
    pub no_redact: bool,
    /// Compare with the connector's definition; its finding ids go into `_oauthscope`.
    #[arg(long, value_name = "FILE")]
    pub connector: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Connector definition file or folder.
    pub definition: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<crate::analyze::Severity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable terminal text (colored unless NO_COLOR is set or output is not a terminal).
    Text,
    /// Machine-readable JSON.
    Json,
    /// Markdown, to paste into a ticket.
    Markdown,
    /// One self-contained HTML file with an SVG timeline.
    Html,
}

/// Formats of the commands that print text or JSON only (`timeline`, `replay`,
/// `lint-connector`, `rules`); the Markdown and HTML reports belong to `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineFormat {
    /// Readable terminal text.
    Text,
    /// Machine-readable JSON.
    Json,
}

/// See [`TimelineFormat`].
pub type TextFormat = TimelineFormat;

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The rule id, as in a finding (`refresh-url-mismatch`).
    pub rule: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture file written by `oauthscope proxy`.
    pub capture: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit with 1 when a finding is at or above this severity (for CI gates).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<crate::analyze::Severity>,
    /// Compare with the connector's definition (apiProperties.json, Swagger, OpenAPI 3,
    /// TOML profile, or a folder holding the first two).
    #[arg(long, value_name = "FILE")]
    pub connector: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Capture file written by `oauthscope proxy`.
    pub capture: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TimelineFormat,
    /// Compare with the connector's definition (see `analyze --help`).
    #[arg(long, value_name = "FILE")]
    pub connector: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Address to listen on. Non-loopback addresses need --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Allow listening on a non-loopback address (anyone who can reach it can use the proxy).
    #[arg(long)]
    pub allow_remote: bool,
    /// Intercept only hosts matching this regex (repeatable). Others are tunnelled untouched
    /// and recorded as tunnel entries.
    #[arg(long, value_name = "REGEX")]
    pub scope: Vec<String>,
    /// Never intercept hosts matching this regex (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub ignore: Vec<String>,
    /// Folder of the local CA (ca.pem, ca.key).
    #[arg(
        long,
        env = "OAUTHSCOPE_CA_DIR",
        value_name = "DIR",
        default_value = "certs"
    )]
    pub ca_dir: PathBuf,
    /// Compare live traffic with the connector's definition (see `analyze --help`).
    #[arg(long, value_name = "FILE")]
    pub connector: Option<PathBuf>,
    #[command(flatten)]
    pub record: RecordArgs,
}

/// What the proxy and the gateway share: where and how they record, the live console,
/// upstream TLS and time limits.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Capture file to write [default: captures/<UTC timestamp>.jsonl].
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Bytes of each body kept in the capture (the rest is counted and still forwarded).
    /// Accepts suffixes: k, KiB, M, MiB, ...
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_body: usize,
    /// Memory for the body copies of all exchanges in flight together; past it, copies are
    /// cut short (marked truncated) while traffic flows on in full.
    #[arg(long, default_value = "16MiB", value_name = "SIZE", value_parser = parse_size)]
    pub body_memory: usize,
    #[command(flatten)]
    pub upstream: UpstreamTls,
    /// Print only failed exchanges (and findings).
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write a HAR 1.2 file (redacted) of the capture when it stops.
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,
    /// Seconds in-flight exchanges may take to finish after Ctrl-C.
    #[arg(long, default_value = "10", value_name = "SECONDS")]
    pub grace: u64,
    /// How long upstream may stay silent, before its response starts or mid-body, before
    /// the exchange fails as `upstream_timeout` (the client gets 504).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub upstream_timeout: Duration,
    /// How long a client may take to send a request head (also between requests on a
    /// kept-alive connection) and, in a CONNECT tunnel, its first bytes and TLS handshake.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub client_timeout: Duration,
    /// Write no capture file: live view and findings only.
    #[arg(long, conflicts_with_all = ["out", "har"])]
    pub no_capture: bool,
    /// Also serve the live web view here [default address: 127.0.0.1:8081]. Another
    /// address than loopback needs --allow-remote, and the view then needs the access
    /// token printed with its URL.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8081")]
    pub web: Option<SocketAddr>,
    /// Ask clients for a TLS client certificate (mutual TLS, RFC 8705) and record its
    /// SHA-256 thumbprint (`x5t#S256`) on each exchange, so certificate-bound tokens can
    /// be checked. Clients without one go on without. Implied by --client-identity.
    #[arg(long)]
    pub client_certs: bool,
    /// A client certificate and its private key (PEM; one file holding both, or
    /// `CERT,KEY`). When a client presents this certificate to the proxy, the proxy
    /// presents it to the server too (repeatable: one per client certificate).
    #[arg(long, value_name = "CERT[,KEY]", value_parser = parse_identity)]
    pub client_identity: Vec<IdentityFiles>,
}

/// The files of a `--client-identity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Parse `CERT` (certificate and key in one PEM) or `CERT,KEY`.
pub fn parse_identity(s: &str) -> Result<IdentityFiles, String> {
    let (cert, key) = match s.split_once(',') {
        Some((c, k)) => (c.trim(), k.trim()),
        None => (s.trim(), s.trim()),
    };
    if cert.is_empty() || key.is_empty() {
        return Err("expected CERT.pem or CERT.pem,KEY.pem".into());
    }
    Ok(IdentityFiles {
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
    })
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Route requests under /<secret>/PREFIX to an upstream origin:
    /// `--route /idp=https://login.example.com` (repeatable; the longest prefix wins; the
    /// prefix is stripped, the rest of the path and the query kept).
    #[arg(long, value_name = "/PREFIX=ORIGIN")]
    pub route: Vec<String>,
    /// Custom connector definition (folder, apiProperties.json, Swagger or OpenAPI): derive
    /// the routes from its token URL, refresh URL and API host, write a copy pointing at
    /// the gateway (needs --public-url), and compare live traffic with it.
    #[arg(long, value_name = "DIR_OR_FILE")]
    pub connector: Option<PathBuf>,
    /// Where to write the patched connector definition [default: beside the original,
    /// `NAME.gateway.json`, or `DIR.gateway/` for a folder].
    #[arg(long, value_name = "PATH", requires = "connector")]
    pub patched: Option<PathBuf>,
    /// Address to listen on. Non-loopback addresses need --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Allow listening on a non-loopback address (the path secret then guards every route).
    #[arg(long)]
    pub allow_remote: bool,
    /// The gateway's address as the connector reaches it, an origin such as
    /// `https://gw.example.com` (behind a tunnel or load balancer that terminates TLS)
    /// [default: the listening address].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// TLS certificate chain (PEM) to serve; reloaded on SIGHUP. Without it the gateway
    /// speaks plain HTTP (put it behind something that terminates TLS).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The path secret every route lives under (at least 16 of A-Z a-z 0-9 - _ . ~)
    /// [default: 128 random bits, printed once].
    #[arg(
        long,
        env = "OAUTHSCOPE_GATEWAY_SECRET",
        value_name = "VALUE",
        hide_env_values = true
    )]
    pub secret: Option<String>,
    /// Store fingerprints instead of secret values (tokens, codes, client secrets,
    /// passwords, cookies, Authorization values) in the capture; analysis works the same,
    /// replay is refused. The default on a non-loopback address.
    #[arg(long, conflicts_with = "keep_secrets")]
    pub redact_at_capture: bool,
    /// Keep secret values in the capture even on a non-loopback address.
    #[arg(long)]
    pub keep_secrets: bool,
    /// Requests a second each client address may send (bursts of four times as many);
    /// 0: no limit.
    #[arg(long, default_value = "50", value_name = "N")]
    pub rate_limit: u32,
    /// Requests that may wait for an upstream answer at once (more queue).
    #[arg(long, default_value = "256", value_name = "N")]
    pub max_upstream: usize,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct CaArgs {
    /// Folder of the local CA (ca.pem, ca.key).
    #[arg(
        long,
        env = "OAUTHSCOPE_CA_DIR",
        value_name = "DIR",
        default_value = "certs"
    )]
    pub ca_dir: PathBuf,
    /// Replace the CA with a new one (clients must trust the new one).
    #[arg(long)]
    pub rotate: bool,
    /// The proxy address to put in the printed client set-up.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub proxy: String,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// How upstream servers are verified (`proxy` and `replay`).
#[derive(Debug, Args)]
pub struct UpstreamTls {
    /// Extra CA certificates (PEM) to trust for upstream servers (repeatable).
    #[arg(long, value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Do not verify upstream certificates. Dangerous: use only against test servers.
    #[arg(long)]
    pub insecure_upstream: bool,
}

/// Parse `1048576`, `512k`, `1MiB`, `2 MB`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let (n, unit) = number_and_unit(s, "a size (try 1048576, 512k, 1MiB)")?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use k, KiB, M, MiB, G, GiB)"
            ));
        }
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes > usize::MAX as f64 {
        return Err(format!("{:?} is too large a size", s.trim()));
    }
    Ok(bytes as usize)
}

/// Reject a non-loopback listen address unless allowed.
pub fn check_listen(addr: &SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {addr}: it is not a loopback address, so other machines \
             could use this proxy and read the traffic. Pass --allow-remote if you mean it."
        ))
    }
}

/// The default capture path: `captures/<UTC timestamp>.jsonl`.
pub fn default_capture_path() -> PathBuf {
    let now = crate::capture::now_rfc3339();
    let stamp: String = now
        .get(..19)
        .unwrap_or(&now)
        .chars()
        .map(|c| if c == ':' { '-' } else { c })
        .collect();
    PathBuf::from("captures").join(format!("{stamp}Z.jsonl"))
}

impl RecordArgs {
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_identities_parse() {
        let one = parse_identity("id.pem").unwrap();
        assert_eq!(
            (one.cert.to_str(), one.key.to_str()),
            (Some("id.pem"), Some("id.pem"))
        );
        let two = parse_identity("c.pem, k.pem").unwrap();
        assert_eq!(
            (two.cert.to_str(), two.key.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        assert!(parse_identity(",k.pem").is_err());
        assert!(parse_identity("").is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("512k").unwrap(), 512_000);
        assert_eq!(parse_size("42").unwrap(), 42);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
        assert!(parse_size("99999999999999999999999GiB").is_err());
    }

    #[test]
    fn durations_out_of_range_are_errors_not_panics() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        let err = parse_duration("99999999999999999999999d").unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        assert!(parse_duration("1e400").is_err());
    }

    #[test]
    fn remote_listen_needs_the_flag() {
        let remote: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(check_listen(&remote, false).is_err());
        assert!(check_listen(&remote, true).is_ok());
        assert!(check_listen(&local, false).is_ok());
        assert!(check_listen(&"[::1]:1".parse().unwrap(), false).is_ok());
    }

    #[test]
    fn default_capture_name_has_no_colons() {
        let p = default_capture_path();
        let s = p.to_string_lossy();
        assert!(s.starts_with("captures/") && s.ends_with("Z.jsonl") && !s.contains(':'));
    }
}
