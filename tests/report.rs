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
