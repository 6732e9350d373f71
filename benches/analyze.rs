//! `cargo bench --bench analyze`: `analyze` throughput on a generated capture, as a ratio
//! against plain `serde_json` parsing of the same lines measured in the same run, and the
//! peak RSS of `oauthscope analyze` on it. Not a timed test: it only reports.
//!
//! OAUTHSCOPE_BENCH_N sets the number of exchanges (default 1,000,000).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oauthscope::analyze::Engine;
use oauthscope::capture::{
    Body, CaptureHeader, CaptureReader, Exchange, Header, Request, Response, Timings,
};

// A generator helper mirroring the record's fields one to one.
#[allow(clippy::too_many_arguments)]
fn ex(
    id: u64,
    t: f64,
    method: &str,
    url: &str,
    req_h: Vec<Header>,
    req_body: &str,
    status: u16,
    resp_h: Vec<Header>,
    resp_body: &str,
) -> Exchange {
    let secs = 1_800_000_000.0 + t;
    let whole = secs as i64;
    let micros = ((secs - whole as f64) * 1e6) as u32;
    let dt = time::OffsetDateTime::from_unix_timestamp(whole).unwrap()
        + time::Duration::microseconds(micros as i64);
    Exchange {
        id,
        conn: id / 50 + 1,
        kind: Default::default(),
        client: "127.0.0.1:50000".into(),
        started: oauthscope::capture::format_time(dt),
        timings: Timings {
            request_sent: Some(0.1),
            response_start: Some(2.0),
            end: Some(2.5),
        },
        request: Request {
            method: method.into(),
            url: url.into(),
            version: "HTTP/1.1".into(),
            headers: req_h,
            body: Body::from_bytes(req_body.as_bytes(), req_body.len() as u64, false),
        },
        response: Some(Response {
            status,
            version: "HTTP/1.1".into(),
            headers: resp_h,
            body: Body::from_bytes(resp_body.as_bytes(), resp_body.len() as u64, false),
        }),
        error: None,
        incomplete: false,
        relay: None,
        hints: None,
        client_cert: None,
    }
}

fn h(a: &str, b: &str) -> Header {
    Header(a.into(), b.into())
}

/// A realistic mix: sign-ins, API calls (mostly 200, some 401), refreshes, discovery.
fn generate(path: &Path, n: u64) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let header = CaptureHeader::new(
        "2027-01-15T08:00:00.000000Z".into(),
        "0123456789abcdef0123456789abcdef".into(),
    );
    serde_json::to_writer(&mut w, &header).unwrap();
    w.write_all(b"\n").unwrap();
    let mut id = 0u64;
    let mut t = 0.0f64;
    let mut family = 0u64;
    let challenge = oauthscope::oauth::parse::s256("verifier");
    let json = || {
        vec![
            h("content-type", "application/json"),
            h("cache-control", "no-store"),
        ]
    };
    while id < n {
        family += 1;
        let client = format!("client-{}", family % 7);
        let base = format!("https://login{}.example.com", family % 5);
        let push = |e: Exchange, w: &mut BufWriter<std::fs::File>| {
            serde_json::to_writer(&mut *w, &e).unwrap();
            w.write_all(b"\n").unwrap();
        };
        id += 1;
        t += 0.5;
        push(
            ex(
                id,
                t,
                "GET",
                &format!(
                    "{base}/authorize?response_type=code&client_id={client}&state=s{family}&code_challenge={challenge}&code_challenge_method=S256&redirect_uri=https%3A%2F%2Fapp%2Fcb&scope=read+offline_access"
                ),
                vec![h("user-agent", "bench")],
                "",
                302,
                vec![h(
                    "location",
                    &format!("https://app/cb?code=code{family}&state=s{family}"),
                )],
                "",
            ),
            &mut w,
        );
        id += 1;
        t += 0.5;
        let mut at = format!("at-{family}-0-xxxxxxxxxxxxxxxxxxxxxxxx");
        let mut rt = format!("rt-{family}-0-yyyyyyyyyyyyyyyyyyyyyyyy");
        push(
            ex(
                id,
                t,
                "POST",
                &format!("{base}/token"),
                vec![
                    h("content-type", "application/x-www-form-urlencoded"),
                    h("authorization", "Basic Y2xpZW50OnNlY3JldA=="),
                ],
                &format!(
                    "grant_type=authorization_code&code=code{family}&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=verifier"
                ),
                200,
                json(),
                &format!(
                    r#"{{"access_token":"{at}","token_type":"Bearer","expires_in":3600,"refresh_token":"{rt}","scope":"read offline_access"}}"#
                ),
            ),
            &mut w,
        );
        for r in 1..=20u64 {
            for k in 0..48u64 {
                if id >= n {
                    break;
                }
                id += 1;
                t += 2.0;
                let status = if k == 47 && r % 5 == 0 { 401 } else { 200 };
                let www = if status == 401 {
                    vec![h("www-authenticate", r#"Bearer error="invalid_token""#)]
                } else {
                    json()
                };
                push(
                    ex(
                        id,
                        t,
                        "GET",
                        &format!(
                            "https://api{}.example.com/v1/items/{k}?page={r}",
                            family % 3
                        ),
                        vec![
                            h("authorization", &format!("Bearer {at}")),
                            h("accept", "application/json"),
                        ],
                        "",
                        status,
                        www,
                        r#"{"items":[{"id":1,"name":"widget"},{"id":2,"name":"gadget"}],"next":null}"#,
                    ),
                    &mut w,
                );
            }
            if id >= n {
                break;
            }
            id += 1;
            t += 1.0;
            let new_at = format!("at-{family}-{r}-xxxxxxxxxxxxxxxxxxxxxxxx");
            let new_rt = format!("rt-{family}-{r}-yyyyyyyyyyyyyyyyyyyyyyyy");
            push(
                ex(
                    id,
                    t,
                    "POST",
                    &format!("{base}/token"),
                    vec![
                        h("content-type", "application/x-www-form-urlencoded"),
                        h("authorization", "Basic Y2xpZW50OnNlY3JldA=="),
                    ],
                    &format!("grant_type=refresh_token&refresh_token={rt}"),
                    200,
                    json(),
                    &format!(
                        r#"{{"access_token":"{new_at}","token_type":"Bearer","expires_in":3600,"refresh_token":"{new_rt}"}}"#
                    ),
                ),
                &mut w,
            );
            at = new_at;
            rt = new_rt;
        }
    }
    w.flush().unwrap();
}

fn plain_parse(path: &Path) -> (u64, Duration) {
    let start = Instant::now();
    let mut r = BufReader::with_capacity(256 * 1024, std::fs::File::open(path).unwrap());
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf).unwrap() == 0 {
            break;
        }
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        std::hint::black_box(&v);
        n += 1;
    }
    (n - 1, start.elapsed())
}

fn analyze(path: &Path) -> (u64, usize, Duration) {
    let start = Instant::now();
    let reader = CaptureReader::open(path).unwrap();
    let mut engine = Engine::new(&reader.header().salt.clone(), false);
    let mut n = 0u64;
    for ex in reader {
        engine.push(&ex.unwrap());
        n += 1;
    }
    let findings = engine.finish().findings;
    (n, findings.len(), start.elapsed())
}

/// Peak RSS of `oauthscope analyze` on the file, polling /proc while it runs.
fn binary_peak_rss(path: &Path) -> Option<f64> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/oauthscope");
    if !bin.exists() {
        return None;
    }
    let mut child = std::process::Command::new(bin)
        .args(["analyze", "--format", "json"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0.0f64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:")) {
                let kb: f64 = l.split_whitespace().nth(1)?.parse().ok()?;
                peak = peak.max(kb / 1024.0);
            }
        }
        if child.try_wait().ok()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(peak)
}

/// Analysis cost per sign-in as live tokens pile up: N code sign-ins whose tokens all
/// stay valid (an hour), fed to the engine in memory. Linear analysis keeps the cost per
/// sign-in flat from 10k to 80k (reported as a ratio to the 10k figure).
fn scaling() {
    let json = || {
        vec![
            h("content-type", "application/json"),
            h("cache-control", "no-store"),
        ]
    };
    let mut base_cost = None;
    println!("analysis scaling: code sign-ins whose tokens stay live");
    for n in [10_000u64, 20_000, 40_000, 80_000] {
        let mut engine = Engine::new("00ff", false);
        let start = Instant::now();
        for i in 0..n {
            let token = ex(
                2 * i + 1,
                i as f64 * 0.01,
                "POST",
                "https://login.example.com/token",
                vec![
                    h("content-type", "application/x-www-form-urlencoded"),
                    h("authorization", "Basic Y2xpZW50OnNlY3JldA=="),
                ],
                &format!(
                    "grant_type=authorization_code&code=code{i}&redirect_uri=https%3A%2F%2Fapp%2Fcb"
                ),
                200,
                json(),
                &format!(
                    r#"{{"access_token":"at-{i}-xxxxxxxxxxxx","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{i}-yyyyyyyyyyyy"}}"#
                ),
            );
            engine.push(&token);
            let api = ex(
                2 * i + 2,
                i as f64 * 0.01 + 0.005,
                "GET",
                "https://api.example.com/me",
                vec![h("authorization", &format!("Bearer at-{i}-xxxxxxxxxxxx"))],
                "",
                200,
                json(),
                "{}",
            );
            engine.push(&api);
        }
        let _ = engine.finish();
        let per = start.elapsed().as_secs_f64() / n as f64 * 1e6;
        let base = *base_cost.get_or_insert(per);
        println!(
            "  {n:>6} sign-ins: {:>6.2} s, {per:>6.1} µs per sign-in = {:.2} x the 10k cost",
            start.elapsed().as_secs_f64(),
            per / base
        );
    }
}

fn main() {
    if std::env::var_os("OAUTHSCOPE_BENCH_SCALING_ONLY").is_some() {
        scaling();
        return;
    }
    let n: u64 = std::env::var("OAUTHSCOPE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-capture-{n}.jsonl"));
    if !path.exists() {
        let t = Instant::now();
        generate(&path, n);
        eprintln!(
            "generated {} ({} MB) in {:.1?}",
            path.display(),
            std::fs::metadata(&path).unwrap().len() / 1_000_000,
            t.elapsed()
        );
    }
    let mut plain = Vec::new();
    let mut ours = Vec::new();
    let mut findings = 0;
    for _ in 0..3 {
        let (pn, pt) = plain_parse(&path);
        let (an, f, at) = analyze(&path);
        assert_eq!(pn, an, "both read every exchange");
        plain.push(pn as f64 / pt.as_secs_f64());
        ours.push(an as f64 / at.as_secs_f64());
        findings = f;
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (p, a) = (med(&mut plain), med(&mut ours));
    println!("analyze benchmark: {n} exchanges, median of 3 interleaved runs");
    println!("  plain serde_json::Value parsing: {p:>10.0} exchanges/s (baseline)");
    println!(
        "  oauthscope analyze (in-process): {a:>10.0} exchanges/s = {:.2} x baseline (target >= 0.5)",
        a / p
    );
    println!("  findings: {findings}");
    match binary_peak_rss(&path) {
        Some(mb) => println!("  peak RSS of `oauthscope analyze`: {mb:.1} MiB (target < 200 MiB)"),
        None => println!("  peak RSS: build the release binary first (cargo build --release)"),
    }
    scaling();
}
