//! The command line on its own: exit codes, bad input, help.

mod common;

use std::process::Command;

use common::{bin, run, temp_dir};

fn sample(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
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
            "No refresh token, and the access token expires in 2 s: the connection fails 3 s after each sign-in"
        ) && first.ends_with("(checklist step 1: the token endpoint must return an access token, and a refresh token when the access token expires)."),
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
        text.contains(
            "No refresh token, and the access token expires in 2 s: the connection fails"
        ),
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

/// Run with stdout a pipe whose reading end is already closed (as `| head -1` leaves it
/// once `head` has what it wants).
fn run_into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue #11 item 4: a closed stdout ends every command quietly with exit 0.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dir = temp_dir("closedpipe");
    let capture = sample("rotation-ignored.jsonl");
    let capture = capture.to_str().unwrap();
    let connector = sample("connectors/wrong-settings.apiProperties.json");
    let ca_dir = dir.join("certs");
    let ca_dir = ca_dir.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["timeline", capture],
        vec!["timeline", capture, "--format", "json"],
        vec!["analyze", capture],
        vec!["analyze", capture, "--format", "json"],
        vec!["analyze", capture, "--format", "markdown"],
        vec!["analyze", capture, "--format", "html"],
        vec!["lint-connector", connector.to_str().unwrap()],
        vec!["ca", "--ca-dir", ca_dir],
        vec!["export", capture, "--har", "-"],
        vec!["demo", "stale-token"],
    ];
    for args in cases {
        let (code, err) = run_into_closed_pipe(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

/// Issue #11 item 5: errors name the path and the cause once; `-` means stdout; sizes
/// and durations out of range are errors, not panics.
#[test]
fn errors_name_the_path_and_the_cause_once() {
    let dir = temp_dir("clierrors");
    let (code, _, err) = run(&["analyze", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(dir.to_str().unwrap()) && err.contains("is a folder"),
        "{err}"
    );

    let missing = dir.join("missing.json");
    let (code, _, err) = run(&["lint-connector", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("missing.json"), "{err}");

    let readme = dir.join("readme.md");
    std::fs::write(&readme, "x").unwrap();
    let out = readme.join("x.jsonl");
    let (code, _, err) = run(&[
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--ca-dir",
        dir.join("certs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("readme.md is not a folder"), "{err}");
    assert!(!err.contains("File exists"), "{err}");

    for bad in ["99999999999999999999999d", "1e999s"] {
        let (code, _, err) = run(&[
            "proxy",
            "--upstream-timeout",
            bad,
            "--listen",
            "127.0.0.1:0",
        ]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(!err.contains("panicked"), "{bad}: {err}");
    }

    let (code, _, err) = run(&[
        "timeline",
        sample("good-flow.jsonl").to_str().unwrap(),
        "--format",
        "html",
    ]);
    assert_eq!(code, 2, "timeline has no HTML format: {err}");

    let (code, har, err) = run(&[
        "export",
        sample("good-flow.jsonl").to_str().unwrap(),
        "--har",
        "-",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&har).expect("HAR on stdout");
    assert!(
        v["log"]["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    assert!(!std::path::Path::new("-").exists(), "no file named -");

    let (_, help, _) = run(&["--help"]);
    assert!(help.contains("1 findings at or above --fail-on"), "{help}");
}

/// Issue #11 items 6 and 21: product text names Microsoft's checklist, never "seed";
/// exports are private files, never written through a symbolic link.
#[test]
fn help_and_findings_speak_the_users_language() {
    let (_, top, _) = run(&["--help"]);
    let mut texts = vec![top];
    for sub in [
        "proxy",
        "ca",
        "analyze",
        "timeline",
        "replay",
        "demo",
        "serve",
        "export",
        "lint-connector",
    ] {
        texts.push(run(&[sub, "--help"]).1);
    }
    for entry in std::fs::read_dir(sample("")).unwrap() {
        let p = entry.unwrap().path();
        if p.to_string_lossy().ends_with(".jsonl") {
            texts.push(run(&["analyze", p.to_str().unwrap()]).1);
            texts.push(run(&["analyze", p.to_str().unwrap(), "--format", "json"]).1);
        }
    }
    for t in &texts {
        assert!(!t.to_lowercase().contains("seed"), "{t}");
    }
    assert!(
        texts[0..10]
            .iter()
            .any(|t| t.contains("Troubleshoot OAuth 2.0"))
    );
}

#[test]
fn exports_are_private_and_never_follow_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("exportfiles");
    let s = sample("good-flow.jsonl");
    let out = dir.join("open.har");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(&[
        "export",
        s.to_str().unwrap(),
        "--har",
        out.to_str().unwrap(),
        "--no-redact",
    ]);
    assert_eq!(code, 0, "{err}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let link = dir.join("link.har");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let (code, _, err) = run(&[
        "export",
        s.to_str().unwrap(),
        "--har",
        link.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

/// Issue #11 item 7: each demo's built-in client behaves as the captured client did
/// (reuses the old refresh token, keeps the old access token, ...), so the demo's own
/// capture yields the sample's expected findings.
#[test]
fn every_demo_shows_the_misbehaviour_it_is_named_after() {
    for name in [
        "no-refresh-token",
        "rotation-ignored",
        "stale-token",
        "bearer-header",
        "good-flow",
    ] {
        let (code, out, err) = run(&["demo", name]);
        assert_eq!(code, 0, "{name}: {out}{err}");
        let capture = out
            .lines()
            .find_map(|l| l.strip_prefix("The capture is "))
            .and_then(|l| l.split(';').next())
            .unwrap_or_else(|| panic!("{name}: no capture named: {out}"))
            .to_string();
        let (_, json, _) = run(&["analyze", &capture, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut got: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        got.dedup();
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(sample(&format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let mut want: Vec<String> = expected["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        want.sort();
        assert_eq!(got, want, "{name}: the demo's capture\n{out}");
    }
}
