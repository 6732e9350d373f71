//! HAR 1.2 import and export: real tools' HAR files import, our exports pass the HAR
//! schema (npm `har-validator`), export → import → export is stable, redaction holds.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, export_har, run, secrets_in, temp_dir};

fn samples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    v
}

fn entries(har: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(har).unwrap()).unwrap();
    v["log"]["entries"].as_array().unwrap().clone()
}

#[test]
fn every_interop_har_imports() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/har");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    // Entry counts from the fixtures' README.
    let expected = [
        ("har-to-openapi-ServerService-GetNavigationMenu2-ff.har", 1),
        (
            "har-to-openapi-ServerService-GetNavigationMenu2-fiddler.har",
            1,
        ),
        ("har-to-openapi-binary-json.har", 1),
        ("mitmproxy-charles.har", 1),
        ("mitmproxy-chrome.har", 3),
        ("mitmproxy-firefox.har", 14),
        ("mitmproxy-flows-successful_log.har", 2),
        ("mitmproxy-flows-websocket.har", 3),
        ("mitmproxy-head-content-length.har", 1),
        ("mitmproxy-insomnia.har", 1),
        ("mitmproxy-invalid_content_encoding.har", 1),
        ("mitmproxy-postdata.har", 1),
        ("mitmproxy-safari.har", 19),
        ("mitmproxy-with-bom.har", 1),
        ("pagexray-domains-run.sitespeed.io.har", 10),
        ("pagexray-http-http1.1-chrome.har", 13),
        ("pagexray-http-http2-firefox.har", 10),
        ("pagexray-http-spdy-chrome.har", 19),
        ("pagexray-sitespeed-browsertime-recalculate-style.har", 7),
        ("pagexray-www.sitespeed.io-redirecting-to-https.har", 15),
    ];
    let out = temp_dir("interop");
    for (name, n) in expected {
        let p = dir.join(name);
        let (code, stdout, err) = run(&["analyze", p.to_str().unwrap(), "--format", "json"]);
        assert_eq!(code, 0, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["summary"]["exchanges"], n, "{name}");
        assert_eq!(v["summary"]["unreadable_lines"], 0, "{name}: {err}");
        assert!(
            v["findings"].as_array().unwrap().is_empty(),
            "{name}: no OAuth, no finding: {}",
            v["findings"]
        );
        // And they export again.
        let har = out.join(format!("{name}.out.har"));
        export_har(&p, &har, &[]);
        assert_eq!(entries(&har).len(), n, "{name}");
    }
}

#[test]
fn export_import_export_is_stable() {
    let dir = temp_dir("roundtrip");
    for s in samples() {
        let name = s.file_name().unwrap().to_string_lossy().to_string();
        // In clear: byte for byte.
        let (a, b) = (
            dir.join(format!("{name}.a.har")),
            dir.join(format!("{name}.b.har")),
        );
        export_har(&s, &a, &["--no-redact"]);
        export_har(&a, &b, &["--no-redact"]);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{name}: --no-redact round trip"
        );
        // Redacted: every request and response field again alike (the analysis facts in
        // `_oauthscope` may lose what the masks hide).
        let (c, d) = (
            dir.join(format!("{name}.c.har")),
            dir.join(format!("{name}.d.har")),
        );
        export_har(&s, &c, &[]);
        export_har(&c, &d, &[]);
        let strip = |mut v: Vec<serde_json::Value>| {
            for e in v.iter_mut() {
                e.as_object_mut().unwrap().remove("_oauthscope");
            }
            v
        };
        assert_eq!(
            strip(entries(&c)),
            strip(entries(&d)),
            "{name}: redacted round trip"
        );
        // The in-clear export analyzes exactly like the capture.
        let rules = |p: &Path| {
            let (_, out, _) = run(&["analyze", p.to_str().unwrap(), "--format", "json"]);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let mut r: Vec<String> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule"].as_str().unwrap().to_string())
                .collect();
            r.sort();
            r
        };
        assert_eq!(
            rules(&s),
            rules(&a),
            "{name}: HAR analyzes like the capture"
        );
    }
}

#[test]
fn redacted_exports_hold_no_secret_and_clear_ones_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("redaction");
    for s in samples() {
        let name = s.file_name().unwrap().to_string_lossy().to_string();
        let secrets = secrets_in(&s);
        assert!(!secrets.is_empty(), "{name}");
        let red = dir.join(format!("{name}.har"));
        export_har(&s, &red, &[]);
        let text = std::fs::read_to_string(&red).unwrap();
        for sec in &secrets {
            assert!(
                !text.contains(sec.as_str()),
                "{name}: a secret ({} chars) is in the redacted HAR",
                sec.len()
            );
        }
        assert!(
            !text.contains("s3cret-Value_1"),
            "{name}: client secret in clear"
        );
        let clear = dir.join(format!("{name}.clear.har"));
        export_har(&s, &clear, &["--no-redact"]);
        let text = std::fs::read_to_string(&clear).unwrap();
        assert!(
            secrets.iter().any(|sec| text.contains(sec.as_str())),
            "{name}: --no-redact keeps them"
        );
        assert_eq!(
            std::fs::metadata(&clear).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn exported_hars_pass_the_har_1_2_schema() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let module = root.join("target/npm/node_modules/har-validator");
    if Command::new("node").arg("--version").output().is_err() || !module.is_dir() {
        eprintln!("skipped: node or har-validator is missing (bash .ci/run installs them)");
        return;
    }
    let dir = temp_dir("schema");
    let mut files = Vec::new();
    for s in samples() {
        let out = dir.join(format!("{}.har", s.file_stem().unwrap().to_string_lossy()));
        export_har(&s, &out, &[]);
        files.push(out);
    }
    let script = format!(
        "const v = require({:?}); const fs = require('fs'); let bad = 0;\n\
         (async () => {{ for (const f of process.argv.slice(1)) {{\n\
           try {{ await v.har(JSON.parse(fs.readFileSync(f, 'utf8'))); }}\n\
           catch (e) {{ bad++; console.log(f, JSON.stringify(e.errors || e.message).slice(0, 2000)); }} }}\n\
           console.log('checked', process.argv.length - 1, 'invalid', bad); process.exit(bad ? 1 : 0); }})();",
        module.to_str().unwrap()
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(&script)
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("checked {} invalid 0", files.len())),
        "{stdout}"
    );
}

#[test]
fn bad_hars_get_clear_messages_and_big_ones_stream() {
    let dir = temp_dir("badhar");
    let cases: [(&str, &[u8], i32, &str); 4] = [
        ("truncated.har", b"{\"log\":{\"entries\":[{\"request\":{\"method\":\"GET\"", 2, "invalid JSON"),
        ("types.har", b"{\"log\":{\"entries\":{\"a\":1}}}", 2, "not a HAR"),
        ("noresponse.har", b"{\"log\":{\"entries\":[{\"startedDateTime\":\"2024-01-01T00:00:00Z\",\"request\":{\"method\":\"POST\",\"url\":\"https://as.example/token\",\"postData\":{\"mimeType\":\"application/x-www-form-urlencoded\",\"text\":\"grant_type=client_credentials\"}}}]}}", 0, ""),
        ("latin1.har", b"{\"log\":{\"entries\":[{\"request\":{\"method\":\"GET\",\"url\":\"https://a/\",\"headers\":[{\"name\":\"x\",\"value\":\"caf\xe9\"}]},\"response\":{\"status\":200}}]}}", 2, "invalid JSON"),
    ];
    for (name, content, code, expect) in cases {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        let (got, _, err) = run(&["analyze", p.to_str().unwrap()]);
        assert_eq!(got, code, "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    // A 100 MB HAR streams: memory follows one entry, not the file.
    let big = dir.join("big.har");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        write!(f, "{{\"log\":{{\"version\":\"1.2\",\"creator\":{{\"name\":\"t\",\"version\":\"1\"}},\"entries\":[").unwrap();
        let body = "x".repeat(100_000);
        for i in 0..1000 {
            if i > 0 {
                write!(f, ",").unwrap();
            }
            write!(f, "{{\"startedDateTime\":\"2024-01-01T00:00:00Z\",\"time\":1,\"request\":{{\"method\":\"GET\",\"url\":\"https://api.example/{i}\",\"httpVersion\":\"HTTP/1.1\",\"headers\":[{{\"name\":\"authorization\",\"value\":\"Bearer t{i}\"}}]}},\"response\":{{\"status\":200,\"httpVersion\":\"HTTP/1.1\",\"headers\":[],\"content\":{{\"size\":100000,\"mimeType\":\"text/plain\",\"text\":\"{body}\"}}}},\"timings\":{{\"send\":0,\"wait\":1,\"receive\":0}}}}").unwrap();
        }
        write!(f, "]}}}}").unwrap();
    }
    assert!(std::fs::metadata(&big).unwrap().len() > 100_000_000);
    let (out, peak_kb) = peak_rss_of(&["analyze", big.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["exchanges"], 1000);
    assert!(
        peak_kb < 100 * 1024,
        "peak RSS {peak_kb} kB for a 100 MB HAR"
    );
}

/// Run `oauthscope ARGS`, sampling its peak RSS (VmHWM) until it exits.
fn peak_rss_of(args: &[&str]) -> (std::process::Output, u64) {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:")) {
                peak_kb = peak_kb.max(l.split_whitespace().nth(1).unwrap().parse().unwrap());
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), peak_kb)
}

/// Issue #11 item 21: a HAR of 20 million nulls, a capture with a 100 MiB line and an
/// endless input each end with clear messages and bounded memory.
#[test]
fn endless_or_huge_inputs_keep_memory_bounded() {
    use std::io::Write;
    let dir = temp_dir("huge-inputs");
    let nulls = dir.join("nulls.har");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&nulls).unwrap());
        f.write_all(b"{\"log\":{\"version\":\"1.2\",\"entries\":[null")
            .unwrap();
        for _ in 1..20_000_000 {
            f.write_all(b",null").unwrap();
        }
        f.write_all(b"]}}").unwrap();
    }
    let (out, peak_kb) = peak_rss_of(&["analyze", nulls.to_str().unwrap(), "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("entry 0: no request, skipped"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["summary"]["unreadable_lines"], 20_000_000,
        "every bad entry counted"
    );
    assert!(
        peak_kb < 100 * 1024,
        "peak RSS {peak_kb} kB for a HAR of nulls"
    );

    let good = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/good-flow.jsonl"),
    )
    .unwrap();
    let mut lines = good.lines();
    // A capture taken with the default --max-body (1 MiB) says so in its header.
    let mut header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    header["max_body"] = serde_json::json!(1 << 20);
    let record = lines.next().unwrap();
    let huge = dir.join("huge-line.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&huge).unwrap());
        writeln!(f, "{header}").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        writeln!(f).unwrap();
        writeln!(f, "{record}").unwrap();
    }
    let (out, peak_kb) = peak_rss_of(&["analyze", huge.to_str().unwrap(), "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("line 2") && err.contains("skipped"), "{err}");
    assert!(!err.contains("torn"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["exchanges"], 1, "the record after it is read");
    assert!(
        peak_kb < 64 * 1024,
        "peak RSS {peak_kb} kB for a 100 MiB line"
    );

    let (out, _) = peak_rss_of(&["analyze", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an oauthscope capture"), "{err}");
}
