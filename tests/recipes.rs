//! The client set-up recipes `oauthscope ca` prints (and the README repeats), each run as
//! printed against a real HTTPS upstream on loopback through the real proxy: curl, Python
//! httpx, Node.js with undici's ProxyAgent (and `NODE_USE_ENV_PROXY` on Node 24+), headless
//! Chromium with the SPKI hash. A recipe whose tool is missing says so and is skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The recipe for `client` in `oauthscope ca --proxy ADDR` output: its lines (the
/// label taken off the first, continuation lines of a command joined).
fn recipe_lines(ca_dir: &Path, proxy: &str, client: &str) -> Vec<String> {
    let out = Command::new(bin())
        .args(["ca", "--proxy", proxy, "--ca-dir"])
        .arg(ca_dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(client));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {client} recipe in:\n{text}"));
    let mut block = vec![first.trim_start()[client.len()..].trim().to_string()];
    // The block goes on with the lines indented under the command column.
    for l in lines.take_while(|l| l.starts_with(&" ".repeat(18))) {
        let last = block.last_mut().unwrap();
        if last.ends_with('\\') {
            last.pop();
            last.push(' ');
            last.push_str(l.trim());
        } else {
            block.push(l.trim().to_string());
        }
    }
    block
}

/// The recipe's command line.
fn recipe(ca_dir: &Path, proxy: &str, client: &str) -> String {
    recipe_lines(ca_dir, proxy, client).remove(0)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Setup {
    _upstream: Upstream,
    proxy: ProxyProc,
    url: String,
}

async fn setup(name: &str) -> Setup {
    let dir = temp_dir(name);
    let tls = upstream_tls(&dir);
    let upstream = start_upstream(Some(tls.config.clone())).await;
    let proxy = ProxyProc::start(&dir, &["--upstream-ca", tls.ca_pem_path.to_str().unwrap()]);
    let url = upstream.https_url("/echo");
    Setup {
        _upstream: upstream,
        proxy,
        url,
    }
}

/// Run a shell command line; returns stdout, panicking with stderr on failure.
fn sh(line: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("bash")
        .args(["-c", line])
        .envs(env.iter().copied())
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn recorded(s: Setup) {
    let url = s.url.clone();
    let (capture, _) = stop_and_read(s.proxy);
    assert!(
        capture
            .iter()
            .any(|e| e.request.url == url && e.response.is_some()),
        "{url} not in the capture: {capture:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_curl_recipe_works_as_printed() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed (bash .ci/run installs it)");
        return;
    }
    let s = setup("recipe-curl").await;
    let cmd = recipe(&s.proxy.ca_dir, &s.proxy.url(), "curl").replace("https://...", &s.url);
    let body = sh(&cmd, &[]);
    assert!(body.contains("\"method\":\"GET\""), "{body}");
    recorded(s);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_httpx_recipe_works_as_printed() {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python");
    if !py.exists() {
        eprintln!("skipped: target/venv has no Python with httpx (bash .ci/run installs it)");
        return;
    }
    let s = setup("recipe-httpx").await;
    let app = s.proxy.dir.join("app.py");
    std::fs::write(
        &app,
        format!("import httpx\nprint(httpx.get({:?}).status_code)\n", s.url),
    )
    .unwrap();
    let cmd = recipe(&s.proxy.ca_dir, &s.proxy.url(), "Python httpx").replace(
        "python app.py",
        &format!("{} {}", py.display(), app.display()),
    );
    assert_eq!(sh(&cmd, &[]).trim(), "200");
    recorded(s);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_recipe_works_as_printed() {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/npm/node_modules");
    if !have("node") || !modules.join("undici").exists() {
        eprintln!("skipped: node or undici missing (bash .ci/run installs them into target/npm)");
        return;
    }
    let s = setup("recipe-node").await;
    let block = recipe_lines(&s.proxy.ca_dir, &s.proxy.url(), "Node.js (any)");
    // `NODE_EXTRA_CA_CERTS=... node app.js, with undici's ProxyAgent in the code:`, then
    // the two lines of code.
    let (env_part, _) = block[0]
        .split_once(", with undici's ProxyAgent in the code:")
        .unwrap();
    let require = &block[1];
    let call = block[2].replace("fetch(url,", &format!("fetch({:?},", s.url));
    let lines = [require.clone(), call];
    let app = s.proxy.dir.join("app.js");
    std::fs::write(
        &app,
        format!(
            "{}\n{}.then(r => r.json()).then(j => console.log(j.method));\n",
            lines[0], lines[1]
        ),
    )
    .unwrap();
    let cmd = env_part.replace("node app.js", &format!("node {}", app.display()));
    let out = sh(&cmd, &[("NODE_PATH", modules.to_str().unwrap())]);
    assert_eq!(out.trim(), "GET");
    recorded(s);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chromium_recipe_works_as_printed() {
    if !have("chromium") {
        eprintln!("skipped: chromium is not installed (bash .ci/run installs it)");
        return;
    }
    let s = setup("recipe-chromium").await;
    let cmd = recipe(&s.proxy.ca_dir, &s.proxy.url(), "Chromium");
    let profile = s.proxy.dir.join("chromium-profile");
    let line = format!(
        "{cmd} --headless --no-sandbox --disable-gpu --user-data-dir={} --dump-dom {}",
        profile.display(),
        s.url
    );
    let dom = sh(&line, &[]);
    assert!(dom.contains("body_sha256"), "{dom}");
    recorded(s);
}
