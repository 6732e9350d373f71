//! The second test bed: stacks we did not write. A certified OpenID Connect provider
//! (the npm package `oidc-provider`) as the server and Authlib (PyPI) or openid-client
//! (npm: the device flow and DPoP) as the connector,
//! driven through our proxy with one problem staged per scenario. For each flow: the
//! findings the problem must yield, the root cause the verdict must name, no high or
//! critical finding the flow does not justify; the same from our redacted HAR export,
//! and from the HAR a real mitmproxy (`hardump`) records of the same flow.
//!
//! `bash .ci/run` installs oidc-provider and openid-client into target/npm and Authlib
//! into target/venv.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

struct Staged {
    name: &'static str,
    /// The connector: Authlib (`client.py`) or openid-client (`node-client.mjs`).
    client: Connector,
    /// Access token lifetime on the provider, seconds.
    access_ttl: u64,
    /// Mutual TLS: the provider asks for client certificates, the connector has one, and
    /// the proxy presents it upstream (`--client-identity`).
    mtls: bool,
    must: &'static [&'static str],
    cause: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Connector {
    Authlib,
    OpenidClient,
}
use Connector::*;

const STAGED: &[Staged] = &[
    Staged {
        client: Authlib,
        name: "healthy",
        access_ttl: 3600,
        mtls: false,
        must: &[],
        cause: None,
    },
    Staged {
        client: Authlib,
        name: "jwt-healthy",
        access_ttl: 3600,
        mtls: false,
        must: &[],
        cause: None,
    },
    Staged {
        client: Authlib,
        name: "jwt-wrong-aud",
        access_ttl: 3600,
        mtls: false,
        must: &["client-assertion", "token-error"],
        cause: Some("client-assertion"),
    },
    Staged {
        client: Authlib,
        name: "jwt-jti-reused",
        access_ttl: 3600,
        mtls: false,
        must: &["client-assertion", "token-error"],
        cause: Some("client-assertion"),
    },
    Staged {
        client: Authlib,
        name: "no-bearer",
        access_ttl: 3600,
        mtls: false,
        must: &["bearer-missing"],
        cause: Some("bearer-missing"),
    },
    Staged {
        client: Authlib,
        name: "refresh-wrong-url",
        access_ttl: 3600,
        mtls: false,
        must: &["refresh-url-mismatch", "token-error"],
        cause: Some("refresh-url-mismatch"),
    },
    Staged {
        client: Authlib,
        name: "rotation-ignored",
        access_ttl: 3600,
        mtls: false,
        must: &["refresh-rotation-ignored", "token-error"],
        cause: Some("refresh-rotation-ignored"),
    },
    Staged {
        client: Authlib,
        name: "code-reused",
        access_ttl: 3600,
        mtls: false,
        must: &["code-reused", "token-error"],
        cause: Some("code-reused"),
    },
    Staged {
        client: Authlib,
        name: "pkce-mismatch",
        access_ttl: 3600,
        mtls: false,
        must: &["pkce-missing", "token-error"],
        cause: Some("pkce-missing"),
    },
    Staged {
        client: Authlib,
        name: "wrong-secret-refresh",
        access_ttl: 3600,
        mtls: false,
        must: &["client-secret-mismatch", "token-error"],
        cause: Some("client-secret-mismatch"),
    },
    Staged {
        client: Authlib,
        name: "expired-no-refresh",
        access_ttl: 2,
        mtls: false,
        must: &[
            "refresh-token-absent",
            "token-expired-used",
            "api-rejected",
            "fails-after-interval",
        ],
        cause: Some("refresh-token-absent"),
    },
    // openid-client's device flow: `authorization_pending` while the user approves is
    // no failure, and nothing else is wrong.
    Staged {
        client: OpenidClient,
        name: "device-healthy",
        access_ttl: 3600,
        mtls: false,
        must: &[],
        cause: None,
    },
    // With DPoP: oidc-provider asks for its nonce, openid-client follows.
    Staged {
        client: OpenidClient,
        name: "dpop-healthy",
        access_ttl: 3600,
        mtls: false,
        must: &[],
        cause: None,
    },
    Staged {
        client: OpenidClient,
        name: "dpop-as-bearer",
        access_ttl: 3600,
        mtls: false,
        must: &["dpop-bound-as-bearer", "api-rejected"],
        cause: Some("dpop-bound-as-bearer"),
    },
    Staged {
        client: OpenidClient,
        name: "dpop-new-key",
        access_ttl: 3600,
        mtls: false,
        must: &["dpop-proof", "api-rejected"],
        cause: Some("dpop-proof"),
    },
    // openid-client signing in with a pushed authorization request (RFC 9126).
    Staged {
        client: OpenidClient,
        name: "par-healthy",
        access_ttl: 3600,
        mtls: false,
        must: &[],
        cause: None,
    },
    Staged {
        client: OpenidClient,
        name: "par-reused",
        access_ttl: 3600,
        mtls: false,
        must: &["par-request-uri"],
        cause: Some("par-request-uri"),
    },
    // openid-client with a TLS client certificate; oidc-provider binds its (opaque)
    // access tokens to it and says so in its metadata.
    Staged {
        client: OpenidClient,
        name: "mtls-healthy",
        access_ttl: 3600,
        mtls: true,
        must: &[],
        cause: None,
    },
    Staged {
        client: OpenidClient,
        name: "mtls-no-cert",
        access_ttl: 3600,
        mtls: true,
        must: &["mtls-bound-token", "api-rejected"],
        cause: Some("mtls-bound-token"),
    },
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The provider, started from a copy of the script inside target/npm (where Node finds
/// the package); returns the process and its issuer URL.
fn start_provider(dir: &Path, tls: &UpstreamTls, access_ttl: u64, mtls: bool) -> (Child, String) {
    let npm = root().join("target/npm");
    let script = npm.join("oidc-server.mjs");
    std::fs::copy(root().join("tests/stacks/oidc-server.mjs"), &script).unwrap();
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&tls.leaf_pem_path)
        .arg(&tls.leaf_key_path)
        .arg(format!("{{\"accessTtl\": {access_ttl}, \"mtls\": {mtls}}}"))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let issuer = loop {
        let line = lines
            .next()
            .expect("oidc-provider printed no issuer")
            .unwrap();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            break v["issuer"].as_str().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, issuer)
}

/// Run the Authlib connector through the proxy at `proxy_url`, trusting `proxy_ca`.
fn run_client(dir: &Path, s: &Staged, issuer: &str, proxy_url: &str, proxy_ca: &Path) {
    let name = s.name;
    let mut cmd = match s.client {
        Authlib => {
            let mut c = Command::new(root().join("target/venv/bin/python"));
            c.arg(root().join("tests/stacks/client.py"));
            c
        }
        OpenidClient => {
            // From inside target/npm, where Node finds openid-client and undici.
            let script = root().join("target/npm/node-client.mjs");
            std::fs::copy(root().join("tests/stacks/node-client.mjs"), &script).unwrap();
            let mut c = Command::new("node");
            c.arg(script);
            c
        }
    };
    let out = cmd
        // The private key the provider registered for its private_key_jwt client.
        .env("STACK_CLIENT_KEY", dir.join("client-key.pem"))
        // The provider's CA, for the user's own browser (device approval).
        .env("STACK_UPSTREAM_CA", dir.join("upstream-ca.pem"))
        // The connector's client certificate (the mutual-TLS flows).
        .env("STACK_CLIENT_CERT", dir.join("client-identity.pem"))
        .args([name, issuer, proxy_url])
        .arg(proxy_ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: the connector did not run as staged: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The staged findings are there, the cause is named, and nothing high or critical
/// beyond what the flow justifies.
fn judge(s: &Staged, source: &str, rules: &[String], report: &serde_json::Value) {
    for must in s.must {
        assert!(
            rules.iter().any(|r| r == must),
            "{} ({source}): {must} not found in {rules:?}",
            s.name
        );
    }
    assert_eq!(
        report["summary"]["cause"].as_str(),
        s.cause,
        "{} ({source}): {}",
        s.name,
        report["summary"]["verdict"]
    );
    for f in report["findings"].as_array().unwrap() {
        let sev = f["severity"].as_str().unwrap();
        let rule = f["rule"].as_str().unwrap();
        if sev == "high" || sev == "critical" {
            assert!(
                s.must.contains(&rule),
                "{} ({source}): unjustified {sev} finding {f}",
                s.name
            );
        }
        if s.must.is_empty() {
            assert!(sev == "low" || sev == "info", "{} ({source}): {f}", s.name);
        }
    }
}

/// Record the flow with a real mitmproxy (`hardump`); returns the HAR.
fn through_mitmproxy(dir: &Path, tls: &UpstreamTls, s: &Staged, issuer: &str) -> PathBuf {
    let mitm = Mitmdump::start(dir, &tls.ca_pem_path);
    run_client(dir, s, issuer, &mitm.url(), &mitm.ca);
    mitm.stop()
}

#[test]
fn flows_between_libraries_we_did_not_write_are_diagnosed_by_cause() {
    let npm = root().join("target/npm/node_modules/oidc-provider");
    let python = root().join("target/venv/bin/python");
    let authlib = python.exists()
        && Command::new(&python)
            .args(["-c", "import authlib, httpx, joserfc"])
            .status()
            .is_ok_and(|s| s.success());
    let node = Command::new("node").arg("--version").output().is_ok();
    let openid_client = root()
        .join("target/npm/node_modules/openid-client")
        .exists();
    if !have_tool(node && npm.exists(), "node with oidc-provider (target/npm)")
        || !have_tool(openid_client, "openid-client (target/npm)")
        || !have_tool(authlib, "Authlib, joserfc and httpx (target/venv)")
        || !have_tool(Mitmdump::path().exists(), "mitmdump")
    {
        return;
    }
    let mut counts = [0usize; 3];
    // `OAUTHSCOPE_STACKS=name,...` runs only those flows (while working on one).
    let only = std::env::var("OAUTHSCOPE_STACKS").ok();
    for s in STAGED {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|n| n.trim() == s.name))
        {
            continue;
        }
        let dir = temp_dir(&format!("stack-{}", s.name));
        // (The mutual-TLS flows need a client certificate: the same leaf files, plus one.)
        let (tls, identity) = if s.mtls {
            let (tls, id) = upstream_tls_mtls(&dir);
            (tls, Some(id))
        } else {
            (upstream_tls(&dir), None)
        };
        let (mut provider, issuer) = start_provider(&dir, &tls, s.access_ttl, s.mtls);

        // 1. Through oauthscope.
        let ca = tls.ca_pem_path.display().to_string();
        let mut args = vec!["--upstream-ca".to_string(), ca, "--quiet".into()];
        if let Some(id) = &identity {
            args.extend([
                "--client-identity".into(),
                id.pem_path.display().to_string(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let proxy = ProxyProc::start(&dir, &args);
        let proxy_ca = proxy.ca_dir.join("ca.pem");
        run_client(&dir, s, &issuer, &proxy.url(), &proxy_ca);
        let capture = proxy.capture.clone();
        let (status, lines) = proxy.stop();
        assert!(status.success(), "{lines:#?}");
        let (rules, report) = analyze_rules(&capture);
        judge(s, "our capture", &rules, &report);
        counts[0] += 1;
        if s.name == "healthy" {
            id_token_altered_after_signing(&capture, &dir);
        }
        keep_as_sample(s, &capture, &rules, &report);

        // 2. Our redacted HAR of it.
        let har = dir.join("redacted.har");
        export_har(&capture, &har, &[]);
        let (har_rules, har_report) = analyze_rules(&har);
        judge(s, "our redacted HAR", &har_rules, &har_report);
        assert_eq!(
            har_rules, rules,
            "{}: the redacted HAR analyzes differently",
            s.name
        );
        counts[1] += 1;

        // 3. The same flow, recorded by a real mitmproxy.
        if s.mtls {
            // mitmproxy presents one configured certificate upstream for every connection
            // (or none), so the staged flow cannot happen through it, and its HAR does not
            // say which certificate the client presented.
            println!("{}: not recorded through mitmproxy (mutual TLS)", s.name);
            let _ = provider.kill();
            let _ = provider.wait();
            continue;
        }
        let mitm = through_mitmproxy(&dir, &tls, s, &issuer);
        let (mitm_rules, mitm_report) = analyze_rules(&mitm);
        judge(s, "mitmproxy's HAR", &mitm_rules, &mitm_report);
        assert_eq!(
            mitm_rules, rules,
            "{}: mitmproxy's HAR analyzes differently",
            s.name
        );
        counts[2] += 1;

        let _ = provider.kill();
        let _ = provider.wait();
    }
    eprintln!(
        "second test bed: {} flows judged from our capture, {} from our redacted HAR, {} from mitmproxy's HAR",
        counts[0], counts[1], counts[2]
    );
}

/// The healthy flow's ID token, signed by oidc-provider and verified by the client with
/// joserfc, verifies for us too (no finding above); with one claim changed after signing
/// it no longer does, and the finding names the provider's key (a claim no other rule
/// reads is changed, so only the signature can tell).
fn id_token_altered_after_signing(capture: &Path, dir: &Path) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = std::fs::read_to_string(capture).unwrap();
    let mut altered = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let Ok(mut ex) = serde_json::from_str::<serde_json::Value>(l) else {
                return l.to_string();
            };
            let body = &mut ex["response"]["body"]["text"];
            let Some(mut doc) = body
                .as_str()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            else {
                return l.to_string();
            };
            let Some(id) = doc["id_token"].as_str().map(str::to_string) else {
                return l.to_string();
            };
            if altered > 0 {
                return l.to_string();
            }
            let parts: Vec<&str> = id.split('.').collect();
            let mut claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            claims["acr"] = "altered-after-signing".into();
            let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
            doc["id_token"] = format!("{}.{payload}.{}", parts[0], parts[2]).into();
            *body = doc.to_string().into();
            altered += 1;
            ex.to_string()
        })
        .collect();
    assert_eq!(altered, 1, "the healthy flow issued an ID token");
    let path = dir.join("altered.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (rules, report) = analyze_rules(&path);
    assert_eq!(rules, ["id-token-signature"], "{report:#}");
    let detail = report["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("does not verify with the key"), "{detail}");
}

/// Scenarios whose rules the first test bed cannot stage are kept in samples/ as
/// `stack-NAME` (recorded here, through our proxy, from Authlib and oidc-provider):
/// `OAUTHSCOPE_REGEN_SAMPLES=1` (or a list naming `stack-NAME`) writes them afresh, and
/// otherwise this run must yield what the kept sample says.
fn keep_as_sample(s: &Staged, capture: &Path, rules: &[String], report: &serde_json::Value) {
    const KEPT: [&str; 6] = [
        "jwt-wrong-aud",
        "jwt-jti-reused",
        "device-healthy",
        "dpop-new-key",
        "mtls-no-cert",
        "par-reused",
    ];
    if !KEPT.contains(&s.name) {
        return;
    }
    let name = format!("stack-{}", s.name);
    let samples = root().join("samples");
    let regen = std::env::var("OAUTHSCOPE_REGEN_SAMPLES")
        .is_ok_and(|v| v == "1" || v.split(',').any(|n| n.trim() == name));
    let expected = samples.join(format!("{name}.expected.json"));
    if regen {
        std::fs::copy(capture, samples.join(format!("{name}.jsonl"))).unwrap();
        let v = serde_json::json!({
            "scenario": name,
            "about": format!(
                "second test bed ({} + oidc-provider): {}",
                match s.client {
                    Authlib => "Authlib",
                    OpenidClient => "openid-client",
                },
                s.name
            ),
            "findings": rules,
            "cause": report["summary"]["cause"],
            "verdict": report["summary"]["verdict"],
        });
        std::fs::write(&expected, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    } else {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
        let kept: Vec<String> = serde_json::from_value(v["findings"].clone()).unwrap();
        assert_eq!(kept, rules, "{name}: this run differs from the kept sample");
    }
}
