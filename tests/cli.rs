//! The command line on its own: exit codes, bad input, help.

mod common;

use std::process::Command;

use common::{bin, temp_dir};

fn sample(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fail_on_sets_the_exit_code() {
    let s = sample("no-refresh-token.jsonl");
    let s = s.to_str().unwrap();
    assert_eq!(run(&["analyze", s, "--fail-on", "high"]).0, 1);
    assert_eq!(run(&["analyze", s, "--fail-on", "critical"]).0, 0);
    assert_eq!(
        run(&["analyze", s]).0,
        0,
        "without --fail-on findings do not fail"
    );
    let good = sample("good-flow.jsonl");
    assert_eq!(
        run(&["analyze", good.to_str().unwrap(), "--fail-on", "low"]).0,
        0
    );
}

#[test]
fn text_report_leads_with_the_verdict() {
    let (code, out, _) = run(&[
        "analyze",
        sample("no-refresh-token.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(
            "This connection will fail about 2 s after each sign-in: no refresh token was issued."
        ),
        "{first}"
    );
    assert!(!out.contains('\x1b'), "NO_COLOR honored");
    let (_, tl, _) = run(&[
        "timeline",
        sample("no-refresh-token.jsonl").to_str().unwrap(),
    ]);
    assert!(
        tl.contains("token:authorization_code") && tl.contains("refresh-token-absent"),
        "{tl}"
    );
}

#[test]
fn bad_lines_are_reported_with_their_number_and_skipped() {
    let dir = temp_dir("badlines");
    let src = std::fs::read_to_string(sample("no-refresh-token.jsonl")).unwrap();
    let mut lines: Vec<&str> = src.lines().collect();
    lines.insert(2, "{this is not json");
    lines.insert(3, "\u{1b}[31m garbage with an escape");
    let mut text = lines.join("\n");
    text.push_str("\n{\"id\":99,\"conn\":1,\"cli"); // torn last line, no newline
    let path = dir.join("damaged.jsonl");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = run(&["analyze", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("line 3:"), "{err}");
    assert!(err.contains("line 4:"), "{err}");
    assert!(err.contains("torn last line"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["unreadable_lines"], 3);
    assert_eq!(
        v["summary"]["exchanges"], 5,
        "every valid exchange still analyzed"
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "refresh-token-absent")
    );
}

#[test]
fn inputs_that_are_not_captures_are_clear_errors() {
    let dir = temp_dir("notcapture");
    let cases = [
        ("empty.jsonl", "".to_string(), "empty"),
        ("har.json", r#"{"log": 5}"#.to_string(), "not a HAR file"),
        (
            "truncated.har",
            r#"{"log":{"version":"1.2","entries":[{"request":"#.to_string(),
            "invalid JSON",
        ),
        (
            "other.json",
            r#"{"hello": "world"}"#.to_string(),
            "not an oauthscope capture",
        ),
        (
            "binary.bin",
            "\u{0}\u{1}\u{2}\u{3}".to_string(),
            "not an oauthscope capture",
        ),
        (
            "future.jsonl",
            r#"{"format":"oauthscope-capture","version":99,"tool":"x","started":"t","salt":"00"}"#
                .to_string()
                + "\n",
            "format version 99",
        ),
    ];
    for (name, content, expect) in cases {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (code, _, err) = run(&["analyze", dir.join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn help_explains_every_subcommand() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["proxy", "ca", "analyze", "timeline"] {
        assert!(out.contains(sub), "{out}");
    }
    let (_, out, _) = run(&["analyze", "--help"]);
    assert!(
        out.contains("--fail-on") && out.contains("Exit codes"),
        "{out}"
    );
}

#[test]
fn the_demo_shows_the_whole_product_in_one_command() {
    let out = Command::new(bin())
        .args(["demo", "no-refresh-token"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The live view, with a finding as soon as it is known ...
    assert!(text.contains("[token:authorization_code]"), "{text}");
    assert!(text.contains("! HIGH refresh-token-absent:"), "{text}");
    // ... the timeline and the findings.
    assert!(
        text.contains("— timeline —") && text.contains("Tokens"),
        "{text}"
    );
    assert!(
        text.contains("This connection will fail about 2 s after each sign-in"),
        "{text}"
    );
    assert!(
        text.contains("fails-after-interval  the connection fails 3 s after each sign-in"),
        "{text}"
    );
    let (code, _, err) = run(&["demo", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("good-flow"), "{err}");
}
