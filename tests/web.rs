//! The web view in a real headless Chromium, driven over its DevTools protocol: the live
//! view of the proxy (`--web`), `view` of a 100,000-exchange capture, the timeline's
//! geometry on every sample (web view and static report), hostile captured values, and
//! `show` in the terminal. Screenshots go to `target/web-screenshots/`.

mod common;
mod scenarios;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::cdp::{Browser, Session};
use common::oauth::{self, AuthServer};
use common::*;
use scenarios::*;

fn have_chromium() -> bool {
    have_tool(
        Command::new("chromium").arg("--version").output().is_ok(),
        "chromium",
    )
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots")
}

/// `oauthscope view FILE` on a free loopback port: (process, URL).
fn start_view(file: &Path, extra: &[&str]) -> (Killed, String) {
    let port = free_port();
    let mut child = Killed(
        Command::new(bin())
            .arg("view")
            .arg(file)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "view did not start");
        if let Some(rest) = line.strip_prefix("web view: ") {
            let url = rest.split_whitespace().next().unwrap().to_string();
            std::thread::spawn(move || for _ in out.lines() {});
            return (child, url);
        }
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const NO_ERRORS: &str = "window.__errors.length === 0 ? 'clean' : JSON.stringify(window.__errors)";

#[tokio::test(flavor = "multi_thread")]
async fn the_live_view_shows_each_exchange_within_a_second_and_survives_a_restart() {
    if !have_chromium() {
        return;
    }
    let dir = temp_dir("web-live");
    let tls = upstream_tls(&dir);
    let s = scenario("jwt-audience-skew");
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let web_port = free_port();
    let web = format!("127.0.0.1:{web_port}");
    let ca = tls.ca_pem_path.display().to_string();
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", &ca, "--quiet", "--web", &web]);
    let url = web_url(&proxy);
    assert_eq!(url, format!("http://{web}/"));
    let (_browser, mut page) = open_view_page(&dir, &url, 30).await;
    let flow = Flow {
        http: proxy
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        srv: AuthServer::external(&srv.base),
        mtls: None,
    };
    play(s.name, &flow).await;
    let n = 4;
    page.eval_until(
        "document.getElementById('count').textContent",
        &format!("({n})"),
        Duration::from_secs(1),
    )
    .await;
    // One more request: in the list within a second.
    let (at, _) = flow.sign_in(&["read"]).await;
    let _ = flow.api(Some(&format!("Bearer {at}"))).await;
    page.eval_until(
        "document.getElementById('count').textContent",
        "(8)",
        Duration::from_secs(1),
    )
    .await;
    // Timeline lanes, the findings (cause first), a decoded JWT.
    page.eval_until(
        "document.querySelectorAll('#timeline-svg rect.lane').length > 0 ? 'lanes' : 'none'",
        "lanes",
        Duration::from_secs(2),
    )
    .await;
    page.eval_until(
        "document.querySelector('#findings > li[data-rule=\"jwt-claims\"]') ? 'found' : 'no'",
        "found",
        Duration::from_secs(2),
    )
    .await;
    page.eval("document.querySelector('.row[data-id=\"4\"]').click(); 'ok'")
        .await;
    page.eval_until(
        "((document.querySelector('.jwt-claims') || {}).textContent || '').includes('https://other-api.example') ? 'claims' : 'no'",
        "claims",
        Duration::from_secs(2),
    )
    .await;
    let bearer = page
        .eval(
            "Array.from(document.querySelectorAll('#detail td')).map(t => t.textContent).join(' ')",
        )
        .await;
    assert!(
        bearer.as_str().unwrap().contains("Bearer [redacted fp:"),
        "{bearer}"
    );
    assert!(!bearer.as_str().unwrap().contains(&at));
    // The filter narrows the list.
    page.eval(
        "(() => { const f = document.getElementById('filter-step'); f.value = 'api'; f.dispatchEvent(new Event('input')); return 'ok'; })()",
    )
    .await;
    page.eval_until(
        "document.getElementById('count').textContent",
        "(2)",
        Duration::from_secs(2),
    )
    .await;
    page.eval_until(NO_ERRORS, "clean", Duration::from_millis(10))
        .await;
    page.screenshot(&shots().join("live.png")).await;

    // The proxy restarts on the same web address: the page reconnects and starts over.
    let (status, _) = proxy.stop();
    assert!(status.success());
    let dir2 = temp_dir("web-live-restart");
    let proxy = ProxyProc::start(&dir2, &["--upstream-ca", &ca, "--quiet", "--web", &web]);
    web_url(&proxy);
    page.eval(
        "(() => { const f = document.getElementById('filter-step'); f.value = ''; f.dispatchEvent(new Event('input')); return 'ok'; })()",
    )
    .await;
    let http = proxy.client();
    let r = http
        .get(srv.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    page.eval_until(
        "document.getElementById('count').textContent",
        "(1)",
        Duration::from_secs(10),
    )
    .await;
    page.eval_until(NO_ERRORS, "clean", Duration::from_millis(10))
        .await;
    let (status, _) = proxy.stop();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_capture_of_100000_exchanges_opens_and_scrolls() {
    if !have_chromium() {
        return;
    }
    let dir = temp_dir("web-100k");
    // The recorded sample's API call, again and again (bodies dropped to keep it lean).
    let sample = std::fs::read_to_string(samples_dir().join("good-flow.jsonl")).unwrap();
    let mut lines = sample.lines();
    let header = lines.next().unwrap().to_string();
    let api: serde_json::Value = lines
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["request"]["url"].as_str().unwrap().ends_with("/api/me"))
        .unwrap();
    let big = dir.join("big.jsonl");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        writeln!(w, "{header}").unwrap();
        for id in 1..=100_000u64 {
            let mut e = api.clone();
            e["id"] = id.into();
            writeln!(w, "{e}").unwrap();
        }
    }
    let (_view, url) = start_view(&big, &[]);
    let (_browser, mut page) = open_view_page(&dir, &url, 60).await;
    page.eval_until(
        "document.getElementById('count').textContent",
        "(100,000)",
        Duration::from_secs(5),
    )
    .await;
    let rendered = page
        .eval("document.querySelectorAll('#list .row').length")
        .await;
    assert!(rendered.as_u64().unwrap() < 200, "windowed: {rendered}");
    page.eval("(() => { const l = document.getElementById('list'); l.scrollTop = l.scrollHeight; return 'ok'; })()")
        .await;
    page.eval_until(
        "document.querySelector('.row[data-id=\"100000\"]') ? 'bottom' : 'no'",
        "bottom",
        Duration::from_secs(5),
    )
    .await;
    page.eval("(() => { const l = document.getElementById('list'); l.scrollTop = l.scrollHeight / 2; return 'ok'; })()")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let v = page
            .eval("(() => { const l = document.getElementById('list'); return [l.scrollTop, l.scrollHeight, Array.from(document.querySelectorAll('.row')).slice(0, 3).map(r => r.dataset.id).join('/')].join(' '); })()")
            .await;
        let probe = page
            .eval("document.querySelector('.row[data-id=\"50001\"]') ? 'middle' : 'no'")
            .await;
        if probe == "middle" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not scrolled to the middle: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    page.eval_until(NO_ERRORS, "clean", Duration::from_millis(10))
        .await;
    page.screenshot(&shots().join("100k.png")).await;
}

/// Overlapping pairs of event marks (and how many marks) on the page, by geometry.
const OVERLAPS: &str = "(() => {
  const r = Array.from(document.querySelectorAll('SEL')).map(e => e.getBoundingClientRect());
  let n = 0;
  for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
    const a = r[i], b = r[j];
    if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) n++;
  }
  return r.length + ' marks, ' + n + ' overlaps';
})()";

#[tokio::test(flavor = "multi_thread")]
async fn no_two_timeline_marks_overlap_on_any_sample() {
    if !have_chromium() {
        return;
    }
    let dir = temp_dir("web-geometry");
    let cdp = free_port();
    let _browser = Browser::launch(cdp, &dir.join("profile"), "about:blank");
    let mut page = Session::page(cdp, Duration::from_secs(60)).await;
    let mut samples: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    samples.sort();
    assert!(samples.len() >= 29);
    for sample in &samples {
        let name = sample.file_stem().unwrap().to_string_lossy().to_string();
        let (_view, url) = start_view(sample, &[]);
        page.navigate(&url, true).await;
        page.eval_until(
            "document.querySelectorAll('#timeline-svg rect.mark').length > 0 ? 'drawn' : 'no'",
            "drawn",
            Duration::from_secs(5),
        )
        .await;
        let got = page
            .eval(&OVERLAPS.replace("SEL", "#timeline-svg rect.mark"))
            .await;
        assert!(
            got.as_str().unwrap().ends_with(" 0 overlaps"),
            "{name} (web view): {got}"
        );
        page.eval_until(NO_ERRORS, "clean", Duration::from_millis(10))
            .await;
        if name == "refresh-404" {
            page.screenshot(&shots().join("timeline-refresh-404.png"))
                .await;
        }
        // The static report of the same sample.
        let html = dir.join(format!("{name}.html"));
        let (code, out, _) = run(&["analyze", "--format", "html", sample.to_str().unwrap()]);
        assert!(code == 0 || code == 1);
        std::fs::write(&html, out).unwrap();
        page.navigate(&format!("file://{}", html.display()), false)
            .await;
        let got = page
            .eval(&OVERLAPS.replace("SEL", "#timeline rect.mark"))
            .await;
        let text = got.as_str().unwrap();
        assert!(
            !text.starts_with("0 marks") && text.ends_with(" 0 overlaps"),
            "{name} (report): {got}"
        );
        if name == "refresh-404" {
            page.screenshot(&shots().join("report-refresh-404.png"))
                .await;
        }
    }
}

fn b64url(v: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A sample with hostile values in its URL, a header, an error description and a JWT's
/// claims.
fn hostile_capture(dir: &Path) -> (PathBuf, u64) {
    let text = std::fs::read_to_string(samples_dir().join("jwt-audience-skew.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let jwt = format!(
        "{}.{}.c2ln",
        b64url(&serde_json::json!({"alg": "RS256", "typ": "<b>JWT</b>"})),
        b64url(
            &serde_json::json!({"sub": "<script>window.__xss=4</script>", "name": "\u{1b}]0;pwned\u{7}\u{1b}[2J", "exp": 1_900_000_000})
        )
    );
    let mut target = 0;
    for line in lines.iter_mut().skip(1) {
        let mut e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["request"]["url"].as_str().unwrap().ends_with("/api/me") {
            target = e["id"].as_u64().unwrap();
            e["request"]["url"] = format!(
                "{}?q=<img src=x onerror=window.__xss=1>",
                e["request"]["url"].as_str().unwrap()
            )
            .into();
            let headers = e["request"]["headers"].as_array_mut().unwrap();
            for h in headers.iter_mut() {
                if h[0] == "authorization" {
                    h[1] = format!("Bearer {jwt}").into();
                }
            }
            headers.push(serde_json::json!([
                "x-note",
                "<script>window.__xss=2</script>\u{1b}[31mred"
            ]));
            e["response"]["status"] = 401.into();
            e["response"]["body"]["text"] = serde_json::json!({
                "error": "invalid_token",
                "error_description": "<img src=x onerror=window.__xss=3> \u{1b}[31mred\u{1b}[0m"
            })
            .to_string()
            .into();
            *line = e.to_string();
        }
    }
    let path = dir.join("hostile.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, target)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_captured_values_are_shown_as_text_everywhere() {
    let dir = temp_dir("web-hostile");
    let (capture, id) = hostile_capture(&dir);
    // The terminal: no escape sequence gets through.
    for args in [
        vec!["show", capture.to_str().unwrap(), &id.to_string()],
        vec![
            "show",
            capture.to_str().unwrap(),
            &format!("#{id}"),
            "--reveal",
        ],
        vec!["analyze", capture.to_str().unwrap()],
        vec!["timeline", capture.to_str().unwrap()],
    ] {
        let (code, out, err) = run(&args);
        assert!(code == 0 || code == 1, "{args:?}: {err}");
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{args:?}: {out:?}"
        );
    }
    let (_, shown, _) = run(&["show", capture.to_str().unwrap(), &id.to_string()]);
    assert!(
        shown.contains("<script>window.__xss=4</script>"),
        "the claim is shown: {shown}"
    );
    assert!(shown.contains("Bearer [redacted fp:"), "{shown}");
    // The static report escapes every one.
    let (_, html, _) = run(&["analyze", "--format", "html", capture.to_str().unwrap()]);
    assert!(
        !html.contains("<img src=x") && !html.contains("<script>window"),
        "report"
    );
    if !have_chromium() {
        return;
    }
    let (_view, url) = start_view(&capture, &[]);
    let (_browser, mut page) = open_view_page(&dir, &url, 30).await;
    page.eval(&format!(
        "document.querySelector('.row[data-id=\"{id}\"]').click(); 'ok'"
    ))
    .await;
    page.eval_until(
        "(document.getElementById('detail').textContent || '').includes('window.__xss=4') ? 'shown' : 'no'",
        "shown",
        Duration::from_secs(5),
    )
    .await;
    let verdict = page
        .eval("[typeof window.__xss, document.querySelectorAll('img, script:not([src])').length].join(',')")
        .await;
    assert_eq!(verdict, "undefined,0");
    let detail = page
        .eval("document.getElementById('detail').textContent")
        .await;
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains("<img src=x onerror=window.__xss=3>"),
        "as text: {detail}"
    );
    assert!(detail.contains("<script>window.__xss=2</script>"));
    page.eval_until(NO_ERRORS, "clean", Duration::from_millis(10))
        .await;
    page.screenshot(&shots().join("hostile.png")).await;
}

#[test]
fn a_view_on_another_address_needs_its_token_and_never_reveals() {
    let dir = temp_dir("web-remote");
    let sample = samples_dir().join("good-flow.jsonl");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let (code, _, err) = run(&["view", sample.to_str().unwrap(), "--listen", &listen]);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-remote"), "{err}");
    let mut child = Killed(
        Command::new(bin())
            .args([
                "view",
                sample.to_str().unwrap(),
                "--listen",
                &listen,
                "--allow-remote",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut url = String::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("web view: ") {
            url = rest.split_whitespace().next().unwrap().to_string();
            break;
        }
        line.clear();
    }
    let token = url.split("token=").nth(1).unwrap().to_string();
    assert_eq!(token.len(), 32);
    let base = format!("http://127.0.0.1:{port}");
    let get = |path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{base}{path}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    if !have_tool(
        Command::new("curl").arg("--version").output().is_ok(),
        "curl",
    ) {
        return;
    }
    assert_eq!(get("/api/summary"), "403");
    assert_eq!(get("/api/summary?token=wrong"), "403");
    assert_eq!(get(&format!("/api/summary?token={token}")), "200");
    assert_eq!(get(&format!("/api/exchange?id=3&token={token}")), "200");
    assert_eq!(
        get(&format!("/api/exchange?id=3&reveal=1&token={token}")),
        "403"
    );
    drop(dir);
}

/// Headless Chromium on `url` (the web view), once the page says it is ready (within
/// `ready_secs`); the browser lives as long as the returned handle.
async fn open_view_page(dir: &Path, url: &str, ready_secs: u64) -> (Browser, Session) {
    let cdp = free_port();
    let browser = Browser::launch(cdp, &dir.join("profile"), url);
    let mut page = Session::page(cdp, Duration::from_secs(60)).await;
    page.eval_until(
        "document.body && document.body.dataset.ready === '1' ? 'ready' : 'no'",
        "ready",
        Duration::from_secs(ready_secs),
    )
    .await;
    (browser, page)
}

/// The web view's address, as the proxy prints it when it starts.
fn web_url(p: &ProxyProc) -> String {
    let line = p.wait_for_line("web view: ");
    let (_, url) = line.split_once("web view: ").unwrap();
    url.trim().to_string()
}
