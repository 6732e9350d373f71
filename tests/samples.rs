//! Samples: each scenario stages one misconfiguration in the test authorization server,
//! drives a real OAuth client (the `oauth2` crate, or reqwest where the point is a client
//! doing it wrong) through the real proxy, and records the capture.
//!
//! `samples/<name>.jsonl` is such a recording and `samples/<name>.expected.json` the exact
//! findings it must yield. One test analyzes every sample file; another records every
//! scenario afresh and requires the same findings. Regenerate the samples with
//! `OAUTHSCOPE_REGEN_SAMPLES=1 cargo test --release --test samples` (then review the diff).

mod common;
mod scenarios;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::oauth::{self, AuthServer, CLIENT_SECRET};
use common::*;
use scenarios::*;

/// Record one scenario through the proxy; returns the capture's path and the console.
async fn record(s: &Scenario, dir: &Path) -> (PathBuf, Vec<String>) {
    record_with(s, dir, |_| vec!["--quiet".into()]).await
}

/// Record a scenario with extra proxy flags, which may depend on the server's URL.
async fn record_with(
    s: &Scenario,
    dir: &Path,
    extra: impl FnOnce(&AuthServer) -> Vec<String>,
) -> (PathBuf, Vec<String>) {
    let (tls, identity) = if s.config.mtls {
        let (tls, id) = upstream_tls_mtls(dir);
        (tls, Some(id))
    } else {
        (upstream_tls(dir), None)
    };
    let srv = oauth::start(s.config.clone(), tls.config.clone()).await;
    let mut args = vec![
        "--upstream-ca".to_string(),
        tls.ca_pem_path.display().to_string(),
    ];
    if let Some(id) = &identity {
        args.extend([
            "--client-identity".into(),
            id.pem_path.display().to_string(),
        ]);
    }
    args.extend(extra(&srv));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let proxy = ProxyProc::start(dir, &args);
    let client = || {
        proxy
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
    };
    let http = client().build().unwrap();
    let mtls = identity.map(|id| client().identity(id.reqwest()).build().unwrap());
    let flow = Flow { http, srv, mtls };
    play(s.name, &flow).await;
    let capture = proxy.capture.clone();
    let (status, lines) = proxy.stop();
    assert!(status.success(), "{lines:#?}");
    (capture, lines)
}

/// Every secret in the capture (tokens, codes, client secrets) is absent from what
/// oauthscope prints: the live console, `analyze` (text and JSON) and `timeline`.
fn assert_no_secret_leaks(capture: &Path, console: &[String], name: &str) {
    let mut secrets = secrets_in(capture);
    secrets.extend([
        CLIENT_SECRET.to_string(),
        oauth::OTHER_CLIENT_SECRET.to_string(),
    ]);
    assert!(
        secrets.len() > 2,
        "{name}: found no token or code to look for"
    );
    let mut outputs = console.join("\n");
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "json"],
        &["timeline"],
        &["timeline", "--format", "json"],
    ] {
        let out = std::process::Command::new(bin())
            .args(args)
            .arg(capture)
            .output()
            .unwrap();
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    for s in &secrets {
        assert!(
            !outputs.contains(s.as_str()),
            "{name}: a secret ({} chars) leaked into the output",
            s.len()
        );
    }
}

#[test]
fn every_sample_yields_exactly_its_expected_findings() {
    let names: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
    let mut seen = 0;
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let (got, report) = analyze_rules(&path);
        assert_eq!(got, expected_rules(name), "sample {name}: findings differ");
        assert_eq!(
            report["summary"]["cause"].as_str().map(str::to_string),
            expected_cause(name),
            "sample {name}: the verdict names another cause: {}",
            report["summary"]["verdict"]
        );
        if name.starts_with("stack-") {
            // Recorded by the second test bed (tests/stacks.rs), which checks its cause.
            continue;
        }
        assert_eq!(
            expected_cause(name).as_deref(),
            scenario(name).cause,
            "sample {name}: its expected cause is not its scenario's"
        );
        if name == "good-flow" {
            for f in report["findings"].as_array().unwrap() {
                let sev = f["severity"].as_str().unwrap();
                assert!(sev == "low" || sev == "info", "good flow has {f}");
            }
            assert!(
                report["summary"]["verdict"]
                    .as_str()
                    .unwrap()
                    .starts_with("No problems found")
            );
        }
        assert!(names.contains(&name), "sample {name} has no scenario");
        seen += 1;
    }
    assert_eq!(seen, names.len(), "every scenario has a sample");
}

/// The connector definitions in `samples/connectors` name the servers of the samples
/// they are compared with: when a sample is recorded afresh (on another port), they
/// follow it.
fn retarget_connectors(old: &Path, new: &Path) {
    let origin = |p: &Path| {
        let text = std::fs::read_to_string(p).ok()?;
        let start = text.find("\"url\":\"https://127.0.0.1:")? + "\"url\":\"".len();
        let rest = &text[start..];
        let host_end = "https://".len() + rest["https://".len()..].find('/')?;
        Some(rest[..host_end].to_string())
    };
    let (Some(from), Some(to)) = (origin(old), origin(new)) else {
        return;
    };
    for entry in std::fs::read_dir(samples_dir().join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains(&from) {
            std::fs::write(&path, text.replace(&from, &to)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scenarios_recorded_live_yield_the_expected_findings() {
    // `OAUTHSCOPE_REGEN_SAMPLES=1` records every sample afresh; a comma-separated list of
    // names records only those.
    let regen_names = std::env::var("OAUTHSCOPE_REGEN_SAMPLES").ok();
    for s in scenarios() {
        let regen = regen_names
            .as_deref()
            .is_some_and(|v| v == "1" || v.split(',').any(|n| n.trim() == s.name));
        let dir = temp_dir(&format!("sample-{}", s.name));
        let (capture, console) = record(&s, &dir).await;
        let (got, report) = analyze_rules(&capture);
        for must in s.must {
            assert!(
                got.iter().any(|r| r == must),
                "{}: staged {must} not found in {got:?}",
                s.name
            );
            // The live console reported it too, as soon as it could be known.
            assert!(
                console.iter().any(|l| l.contains(&format!(" {must}: "))),
                "{}: {must} not shown live: {console:#?}",
                s.name
            );
        }
        assert_no_secret_leaks(&capture, &console, s.name);
        assert_eq!(
            report["summary"]["cause"].as_str(),
            s.cause,
            "{}: the verdict names another cause: {}",
            s.name,
            report["summary"]["verdict"]
        );
        let verdict = report["summary"]["verdict"].as_str().unwrap();
        assert!(
            console.iter().any(|l| l == verdict),
            "{}: verdict not printed at stop",
            s.name
        );
        if regen {
            retarget_connectors(&samples_dir().join(format!("{}.jsonl", s.name)), &capture);
            std::fs::copy(&capture, samples_dir().join(format!("{}.jsonl", s.name))).unwrap();
            let expected = serde_json::json!({
                "scenario": s.name,
                "about": s.about,
                "findings": got,
                "cause": report["summary"]["cause"],
                "verdict": report["summary"]["verdict"],
            });
            std::fs::write(
                samples_dir().join(format!("{}.expected.json", s.name)),
                serde_json::to_string_pretty(&expected).unwrap() + "\n",
            )
            .unwrap();
        } else {
            assert_eq!(
                got,
                expected_rules(s.name),
                "scenario {} recorded live: findings differ from its sample",
                s.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_compares_live_traffic_with_the_connector() {
    let good = scenario("good-flow");
    let dir = temp_dir("live-connector");
    let profile = dir.join("connector.toml");
    let (_, lines) = record_with(&good, &dir, |srv| {
        std::fs::write(
            &profile,
            format!(
                "client_id = \"connector-app\"\ntoken_url = \"{}\"\nrefresh_url = \"{}\"\nredirect_url = \"{}\"\n",
                srv.url("/oauth2/token"),
                srv.url("/oauth2/token"),
                srv.url("/callback")
            ),
        )
        .unwrap();
        vec!["--connector".into(), profile.display().to_string()]
    })
    .await;
    for rule in ["token-url-mismatch", "refresh-url-mismatch"] {
        assert!(
            lines.iter().any(|l| l.contains(&format!(" {rule}: "))),
            "{rule} not shown live: {lines:#?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("client-id-mismatch")),
        "the client id matches"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hars_written_by_a_real_mitmproxy_import_and_analyze_alike() {
    if !have_tool(Mitmdump::path().exists(), "mitmdump (target/venv)") {
        return;
    }
    // Every staged flow, recorded by a real mitmproxy instead of oauthscope.
    let mut judged = 0;
    let mut skipped = 0;
    for scenario in scenarios() {
        if scenario.config.mtls {
            // mitmproxy presents one configured client certificate for every connection
            // (or none) and its HAR does not say which certificate a client presented.
            println!(
                "{}: not staged through mitmproxy (its HAR records no client certificates)",
                scenario.name
            );
            skipped += 1;
            continue;
        }
        let dir = temp_dir(&format!("mitmproxy-{}", scenario.name));
        let tls = upstream_tls(&dir);
        let srv = oauth::start(scenario.config.clone(), tls.config.clone()).await;
        let mitm = Mitmdump::start(&dir, &tls.ca_pem_path);
        let http = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(mitm.url()).unwrap())
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&mitm.ca).unwrap()).unwrap(),
            )
            .tls_built_in_root_certs(false)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        tokio::time::timeout(
            Duration::from_secs(120),
            play(
                scenario.name,
                &Flow {
                    http,
                    srv,
                    mtls: None,
                },
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("{}: the flow through mitmproxy hung", scenario.name));
        let har = mitm.stop();
        let (rules, report) = analyze_rules(&har);
        assert_eq!(
            rules,
            expected_rules(scenario.name),
            "{}: mitmproxy's HAR analyzes unlike our capture",
            scenario.name
        );
        assert_eq!(
            report["summary"]["cause"].as_str(),
            scenario.cause,
            "{}: mitmproxy's HAR names another cause: {}",
            scenario.name,
            report["summary"]["verdict"]
        );
        judged += 1;
    }
    assert_eq!(judged + skipped, scenarios().len());
    assert!(skipped <= 2, "only the mutual-TLS scenarios are left out");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_writes_a_redacted_har_when_it_stops() {
    let scenario = scenario("stale-token");
    let dir = temp_dir("proxy-har");
    let har = dir.join("live.har");
    let (capture, lines) = record_with(&scenario, &dir, |_| {
        vec!["--har".into(), har.display().to_string()]
    })
    .await;
    assert!(lines.iter().any(|l| l.contains("live.har")), "{lines:#?}");
    let text = std::fs::read_to_string(&har).unwrap();
    for s in secrets_in(&capture) {
        assert!(!text.contains(&s), "a secret is in the proxy's HAR");
    }
    let (rules, _) = analyze_rules(&har);
    assert_eq!(rules, expected_rules(scenario.name));
}

/// `oauthscope serve` on a sample, HTTPS with the CA in `ca_dir`; returns it and its base.
fn start_serve(sample: &str, ca_dir: &Path, extra: &[&str]) -> (std::process::Child, String) {
    common::start_serve(&samples_dir().join(sample), ca_dir, extra)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_stands_in_for_the_service_and_injects_expiry() {
    for (faults, must) in [
        (vec!["--expire-after", "1s"], vec!["api-rejected"]),
        (
            vec!["--expire-after", "1s", "--no-refresh-token"],
            vec!["api-rejected", "refresh-token-absent"],
        ),
    ] {
        let dir = temp_dir("serve");
        let ca_dir = dir.join("certs");
        // The proxy creates the CA; serve signs its certificate with the same one.
        let proxy = ProxyProc::start(
            &dir,
            &["--upstream-ca", ca_dir.join("ca.pem").to_str().unwrap()],
        );
        let (mut serve, base) = start_serve("good-flow.jsonl", &ca_dir, &faults);
        let http = proxy
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let f = Flow {
            http,
            srv: AuthServer::external(&base),
            mtls: None,
        };
        let (at, rt) = f.sign_in(&["read", "offline_access"]).await;
        assert_eq!(
            f.api(Some(&format!("Bearer {at}"))).await,
            200,
            "served API accepts the served token"
        );
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(
            f.api(Some(&format!("Bearer {at}"))).await,
            401,
            "--expire-after took effect"
        );
        match rt {
            Some(rt) => {
                // The client's refresh happens and the API works again.
                let (at2, _) = f.refresh(&rt).await.expect("refresh served");
                assert_ne!(at2, at);
                assert_eq!(f.api(Some(&format!("Bearer {at2}"))).await, 200);
            }
            None => assert!(
                faults.contains(&"--no-refresh-token"),
                "no refresh token only when stripped"
            ),
        }
        let capture = proxy.capture.clone();
        proxy.stop();
        let _ = serve.kill();
        let _ = serve.wait();
        let (rules, _) = analyze_rules(&capture);
        for m in must {
            assert!(
                rules.iter().any(|r| r == m),
                "{faults:?}: {m} not in {rules:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_rotates_refresh_tokens_and_explains_what_it_cannot_answer() {
    let dir = temp_dir("serve-rotate");
    let ca_dir = dir.join("certs");
    std::fs::create_dir_all(&ca_dir).unwrap();
    let (mut serve, base) = start_serve("good-flow.jsonl", &ca_dir, &["--rotate-refresh-tokens"]);
    let ca = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let f = Flow {
        http,
        srv: AuthServer::external(&base),
        mtls: None,
    };
    let (_, rt) = f.sign_in(&["read", "offline_access"]).await;
    let rt = rt.unwrap();
    let (_, rt2) = f.refresh(&rt).await.unwrap();
    assert!(rt2.is_some_and(|r| r != rt), "a new refresh token");
    assert!(
        f.refresh(&rt).await.is_err(),
        "reuse of the old one is refused"
    );
    let r = f
        .http
        .get(format!("{base}/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("nothing in the capture answers GET /nothing/here")
    );
    let _ = serve.kill();
    let _ = serve.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_walks_the_flow_again_against_the_real_service() {
    let good = scenario("good-flow");
    let dir = temp_dir("replay");
    let tls = upstream_tls(&dir);
    let srv = oauth::start(good.config.clone(), tls.config.clone()).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let http = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let f = Flow {
        http,
        srv,
        mtls: None,
    };
    play("good-flow", &f).await;
    let capture = proxy.capture.clone();
    proxy.stop();
    // The server is still up: replay the capture against it.
    let out = dir.join("replay.jsonl");
    let replay_to = |out: &Path| {
        std::process::Command::new(bin())
            .args([
                "replay",
                capture.to_str().unwrap(),
                "--format",
                "json",
                "--upstream-ca",
            ])
            .arg(&tls.ca_pem_path)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let run = replay_to(&out);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&run.stderr),
        String::from_utf8_lossy(&run.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let ex = v["exchanges"].as_array().unwrap();
    let code = ex
        .iter()
        .find(|e| e["step"] == "token:authorization_code")
        .unwrap();
    assert!(
        code["verdict"].as_str().unwrap().contains("single-use"),
        "{code}"
    );
    let refreshes: Vec<_> = ex.iter().filter(|e| e["step"] == "token:refresh").collect();
    // The captured access token was revoked by the captured refreshes: the replay
    // refreshes first, then walks the two captured refreshes.
    assert_eq!(refreshes.len(), 3);
    for r in &refreshes {
        assert_eq!(r["now_status"], 200, "{r}");
        assert_eq!(r["verdict"], "same", "{r}");
    }
    let apis: Vec<_> = ex.iter().filter(|e| e["step"] == "api").collect();
    assert_eq!(apis.len(), 3);
    assert!(apis.iter().all(|a| a["now_status"] == 200), "{apis:?}");
    for c in v["checklist"].as_array().unwrap() {
        assert_eq!(c["result"], "passed", "{c}");
    }
    // Tokens were substituted: each API call after a refresh carries that refresh's token.
    let replayed = read_capture(&out);
    let last_refresh = replayed
        .iter()
        .rev()
        .find(|e| {
            e.request
                .body
                .as_text()
                .is_some_and(|b| b.contains("grant_type=refresh_token"))
        })
        .unwrap();
    let new_at = oauthscope::oauth::parse::json_object(
        last_refresh
            .response
            .as_ref()
            .unwrap()
            .body
            .as_text()
            .unwrap(),
    )
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let last_api = replayed
        .iter()
        .rev()
        .find(|e| e.request.url.ends_with("/api/me"))
        .unwrap();
    assert_eq!(
        last_api.request.header("authorization"),
        Some(format!("Bearer {new_at}").as_str())
    );
    // With the service gone, the replayed steps fail (exit 1).
    drop(f);
    let again = replay_to(&dir.join("replay2.jsonl"));
    assert_eq!(
        again.status.code(),
        Some(1),
        "the service is gone: steps fail"
    );
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(
        v["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["verdict"].as_str().unwrap().starts_with("failed"))
    );
}

/// The rule catalog is whole: `oauthscope rules --format json` lists every rule with its
/// role, each rule has a recorded sample (or a connector definition) that yields it, and
/// the README's list of rules is the catalog's.
#[test]
fn every_rule_in_the_catalog_has_a_sample_and_is_in_the_readme() {
    let out = std::process::Command::new(bin())
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rules: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = rules
        .iter()
        .map(|r| {
            let role = r["role"].as_str().unwrap();
            assert!(role == "cause" || role == "symptom", "{r}");
            r["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(ids.len() >= 30, "{ids:?}");
    let mut yielded = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(n) = name.strip_suffix(".expected.json") {
            yielded.extend(expected_rules(n));
        }
    }
    for entry in std::fs::read_dir(samples_dir().join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        let out = std::process::Command::new(bin())
            .args(["lint-connector", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            for f in v["findings"].as_array().unwrap() {
                yielded.insert(f["rule"].as_str().unwrap().to_string());
            }
        }
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !yielded.contains(*id)).collect();
    assert!(missing.is_empty(), "rules no sample yields: {missing:?}");
    for y in &yielded {
        assert!(
            ids.contains(y),
            "sample yields {y}, which the catalog lacks"
        );
    }
    // The README's list, from "catalog: `" to the next full stop at a line end.
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let start = readme.find("catalog: `").expect("README lists the rules");
    let list = &readme[start..];
    let list = &list[..list.find(".\n").unwrap()];
    let mut listed: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let mut catalog = ids.clone();
    listed.sort();
    catalog.sort();
    assert_eq!(
        listed, catalog,
        "README's rule list differs from the catalog"
    );
}

/// `explain` prints a rule's explanation and fix; an unknown rule is an error (exit 2)
/// that suggests the near ones.
#[test]
fn explain_prints_a_rule_and_refuses_an_unknown_one() {
    let out = std::process::Command::new(bin())
        .args(["explain", "refresh-url-mismatch"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("refresh-url-mismatch  medium · cause · checklist step 5"),
        "{text}"
    );
    assert!(
        text.contains("Fix: Set the refresh URL to the token URL"),
        "{text}"
    );
    let out = std::process::Command::new(bin())
        .args(["explain", "refresh-url"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean refresh-url-mismatch?"));
}

/// A redacted HAR is what people send to support: for every sample, the HAR export
/// (secrets masked) analyzes to the same findings, cause and verdict as the capture.
#[test]
fn redacted_hars_keep_the_diagnosis_of_every_sample() {
    let dir = temp_dir("redacted-diagnosis");
    let mut compared = 0;
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let har = dir.join(format!("{name}.har"));
        export_har(&path, &har, &[]);
        let text = std::fs::read_to_string(&har).unwrap();
        for s in secrets_in(&path) {
            assert!(
                !text.contains(&s),
                "{name}: a secret ({} chars) is in the redacted HAR",
                s.len()
            );
        }
        let (from_capture, a) = analyze_rules(&path);
        let (from_har, b) = analyze_rules(&har);
        assert_eq!(from_capture, from_har, "{name}: findings differ");
        assert_eq!(
            a["summary"]["cause"], b["summary"]["cause"],
            "{name}: cause differs"
        );
        assert_eq!(
            a["summary"]["verdict"], b["summary"]["verdict"],
            "{name}: verdict differs"
        );
        compared += 1;
    }
    assert!(compared >= 29, "{compared}");
}
