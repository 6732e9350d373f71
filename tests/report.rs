//! The HTML report in a real browser (Debian's chromium, headless): the timeline and every
//! finding render, nothing is refused or logged as an error, and a screenshot is saved.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{bin, temp_dir};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn headless(browser: &str, profile: &std::path::Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--window-size=1100,1600",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn html_reports_render_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: chromium is not installed and could not be (bash .ci/run installs it)");
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shots = root.join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = temp_dir("report");
    for name in [
        "no-refresh-token",
        "refresh-race",
        "good-flow",
        "jwt-audience-skew",
    ] {
        let capture = root.join("samples").join(format!("{name}.jsonl"));
        let json = Command::new(bin())
            .args(["analyze", "--format", "json"])
            .arg(&capture)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let findings = report["findings"].as_array().unwrap();
        let out = Command::new(bin())
            .args(["analyze", "--format", "html"])
            .arg(&capture)
            .output()
            .unwrap();
        assert!(out.status.success());
        let html = dir.join(format!("{name}.html"));
        std::fs::write(&html, &out.stdout).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains("http://") && !text.contains("<script"),
            "{name}: self-contained, no script"
        );

        let profile = dir.join(format!("profile-{name}"));
        let dom = headless(browser, &profile)
            .arg("--dump-dom")
            .arg(format!("file://{}", html.display()))
            .output()
            .unwrap();
        let dom_text = String::from_utf8_lossy(&dom.stdout);
        let log = String::from_utf8_lossy(&dom.stderr);
        assert!(
            dom_text.contains("<svg id=\"timeline\""),
            "{name}: timeline rendered"
        );
        assert_eq!(
            dom_text.matches("class=\"finding\"").count(),
            findings.len(),
            "{name}: every finding rendered"
        );
        for f in findings {
            let rule = f["rule"].as_str().unwrap();
            assert!(
                dom_text.contains(&format!("class=\"finding-marker\" data-rule=\"{rule}\"")),
                "{name}: marker for {rule}"
            );
        }
        if name == "no-refresh-token" {
            assert!(dom_text.contains("class=\"first401\""), "first 401 marked");
            assert!(dom_text.contains("class=\"lane\""), "token lane drawn");
        }
        for bad in [":CONSOLE", "Refused to", "Uncaught"] {
            assert!(!log.contains(bad), "{name}: browser logged {bad}: {log}");
        }
        let png = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        let shot = headless(browser, &dir.join(format!("shot-{name}")))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", html.display()))
            .output()
            .unwrap();
        assert!(
            shot.status.success(),
            "{}",
            String::from_utf8_lossy(&shot.stderr)
        );
        let meta = std::fs::metadata(&png).expect("screenshot saved");
        assert!(meta.len() > 10_000, "{name}: screenshot has content");
        eprintln!("screenshot: {}", png.display());
    }
}

/// Issue #11 item 20: captured text in the Markdown report cannot inject markup: rendered
/// by a Markdown renderer that passes raw HTML through (Python-Markdown, tables on), no
/// script, image, `javascript:` link or forged table row appears.
#[test]
fn markdown_reports_escape_captured_text() {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import markdown"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: target/venv has no Python-Markdown (bash .ci/run installs it)");
        return;
    }
    let dir = temp_dir("md-injection");
    let hostile = "<script>alert(1)</script> <img src=x onerror=alert(2)> ![b](http://beacon.example/x.png) [c](javascript:alert(3)) `x` | forged | row\r\n| a | b | c | d | e | f |";
    let header = serde_json::json!({"format":"oauthscope-capture","version":1,"tool":"test","started":"2026-12-01T10:00:00.000000Z","salt":"00ff"});
    let ex = |id: u64, url: &str, req_body: &str, status: u16, resp: &str| {
        serde_json::json!({
            "id": id, "conn": 1, "client": "127.0.0.1:1",
            "started": format!("2026-12-01T10:00:0{id}.000000Z"),
            "timings": {},
            "request": {"method": "POST", "url": url, "version": "HTTP/1.1",
                "headers": [["content-type", "application/x-www-form-urlencoded"]],
                "body": {"size": req_body.len(), "text": req_body}},
            "response": {"status": status, "version": "HTTP/1.1",
                "headers": [["content-type", "application/json"]],
                "body": {"size": resp.len(), "text": resp}}
        })
    };
    let err =
        serde_json::json!({"error": "invalid_grant", "error_description": hostile}).to_string();
    let lines = [
        header.to_string(),
        ex(
            1,
            "https://as.example/token?`|<b>x</b>|",
            "grant_type=refresh_token&refresh_token=rt-1234567890&client_id=a%7C%3Cscript%3E",
            400,
            &err,
        )
        .to_string(),
    ];
    let capture = dir.join("hostile.jsonl");
    std::fs::write(&capture, lines.join("\n") + "\n").unwrap();
    let out = Command::new(bin())
        .args(["analyze", capture.to_str().unwrap(), "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        md.contains("alert(1)") || md.contains("alert\\(1\\)"),
        "the text is still there: {md}"
    );
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, &md).unwrap();
    let html = Command::new(&py)
        .args([
            "-c",
            "import sys, markdown; print(markdown.markdown(open(sys.argv[1]).read(), extensions=['tables']))",
        ])
        .arg(&md_path)
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout).to_lowercase();
    for bad in ["<script", "<img", "href=\"javascript:", "<b>"] {
        assert!(
            !html.contains(bad),
            "{bad} reached the rendered report:\n{html}"
        );
    }
    // The timeline table has its header row and one row per exchange, nothing forged.
    let timeline = html.split("<h2>timeline</h2>").nth(1).unwrap_or(&html);
    assert_eq!(timeline.matches("<tr>").count(), 2, "{timeline}");
}

/// Every report leads with the cause and folds what it led to under it: the refresh sent
/// to a URL that answers 404 comes first, the refused refresh and the dead connection
/// after it, each saying what caused it.
#[test]
fn reports_list_the_cause_first_with_its_consequences_under_it() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/refresh-404.jsonl");
    let sample = sample.to_str().unwrap();
    let (code, text, _) = common::run(&["analyze", sample]);
    assert_eq!(code, 0);
    let verdict = text.lines().next().unwrap();
    assert!(
        verdict.starts_with("Refresh sent to a different URL than the code exchange:")
            && verdict.contains("token endpoint answered 404 without an OAuth error")
            && verdict.ends_with("(checklist step 5: the refresh URL must be the token URL)."),
        "{verdict}"
    );
    let cause = text
        .find("HIGH     refresh-url-mismatch")
        .expect("cause listed");
    let folded = text
        .find("  ↳ HIGH     token-error")
        .expect("symptom folded");
    assert!(cause < folded, "{text}");
    assert!(text.contains("caused by: refresh-url-mismatch"), "{text}");
    let (_, md, _) = common::run(&["analyze", sample, "--format", "markdown"]);
    let cause = md.find("`refresh-url-mismatch`").unwrap();
    let symptom = md.find("`token-error`").unwrap();
    assert!(cause < symptom, "{md}");
    assert!(md.contains("- Caused by: `refresh-url-mismatch`"), "{md}");
    assert!(md.contains("- Led to failures: #"), "{md}");
    let (_, html, _) = common::run(&["analyze", sample, "--format", "html"]);
    assert!(html.contains("caused by refresh-url-mismatch"), "html");
    assert!(html.contains("led to failures: #"), "html");
}
