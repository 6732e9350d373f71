//! A headless Chromium driven through its DevTools protocol: find the page, evaluate
//! JavaScript in it, close the browser.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Start headless Chromium on `url` with DevTools on `port` (killed on drop).
pub struct Browser {
    pub child: std::process::Child,
    pub port: u16,
}

impl Browser {
    pub fn launch(port: u16, profile: &std::path::Path, url: &str) -> Browser {
        let words: Vec<String> = chromium_command(port, profile)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let child = std::process::Command::new(&words[0])
            .args(&words[1..])
            .arg("--window-size=1400,1000")
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromium");
        Browser { child, port }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser command line (without the URL) with DevTools on `port`.
pub fn chromium_command(port: u16, profile: &std::path::Path) -> String {
    format!(
        "chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
         --disable-background-networking --disable-component-update --disable-sync \
         --ignore-certificate-errors --remote-debugging-port={port} --user-data-dir={}",
        profile.display()
    )
}

async fn json_at(port: u16, path: &str) -> Option<serde_json::Value> {
    let client = reqwest::Client::builder().no_proxy().build().ok()?;
    let r = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

/// A DevTools websocket (a page's or the browser's).
pub struct Session {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
}

impl Session {
    /// The first page of the browser on `port`, once DevTools answers (within `wait`).
    pub async fn page(port: u16, wait: Duration) -> Session {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(list) = json_at(port, "/json/list").await {
                let url = list.as_array().and_then(|a| {
                    a.iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                        .map(str::to_string)
                });
                if let Some(url) = url {
                    return Self::connect(&url).await;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no Chromium page on DevTools port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The browser-level session.
    pub async fn browser(port: u16) -> Option<Session> {
        let v = json_at(port, "/json/version").await?;
        Some(Self::connect(v["webSocketDebuggerUrl"].as_str()?).await)
    }

    async fn connect(url: &str) -> Session {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Session { ws, next: 1 }
    }

    /// Call a DevTools method; returns its `result`.
    pub async fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.next;
        self.next += 1;
        let msg = serde_json::json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        while let Some(m) = self.ws.next().await {
            let Ok(Message::Text(t)) = m else { continue };
            let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
            if v["id"] == id {
                return v["result"].clone();
            }
        }
        serde_json::Value::Null
    }

    /// Evaluate `expression` in the page; its value (JSON).
    pub async fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Evaluate until it returns `want` (within `wait`).
    pub async fn eval_until(&mut self, expression: &str, want: &str, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let got = self.eval(expression).await;
            if got == want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{expression} gave {got}, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Session {
    /// Go to `url` and wait until the page says it is ready (`body[data-ready]`) or has
    /// loaded (a static page).
    pub async fn navigate(&mut self, url: &str, wait_ready: bool) {
        self.call("Page.navigate", serde_json::json!({"url": url}))
            .await;
        let here = serde_json::Value::String(url.trim_end_matches('/').to_string());
        let probe = if wait_ready {
            format!(
                "location.href.startsWith({here}) && document.body && document.body.dataset.ready === '1' ? 'ready' : 'no'"
            )
        } else {
            format!(
                "location.href.startsWith({here}) && document.readyState === 'complete' ? 'ready' : 'no'"
            )
        };
        self.eval_until(&probe, "ready", Duration::from_secs(30))
            .await;
    }

    /// Save a PNG of the page.
    pub async fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine;
        let r = self
            .call(
                "Page.captureScreenshot",
                serde_json::json!({"format": "png"}),
            )
            .await;
        if let Some(data) = r["data"].as_str() {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(path, bytes);
            }
        }
    }
}

/// Close the browser on `port` (if it still runs).
pub async fn close(port: u16) {
    if let Some(mut b) = Session::browser(port).await {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            b.call("Browser.close", serde_json::json!({})),
        )
        .await;
    }
}
