//! Load: 64 client connections send 100,000 mixed OAuth requests (code grants, client
//! credentials grants, refreshes, API calls) through the proxy to a real TLS authorization
//! server. Every exchange must be in the capture exactly once, none with an error, and the
//! proxy's memory must stay flat over the run.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::oauth::{self, AsConfig, CLIENT_ID, CLIENT_SECRET};
use common::*;

const TOTAL: u64 = 100_000;
const CONNECTIONS: u64 = 64;
const REDIRECT: &str = "https://app.example/callback";

/// One worker: its own client (one connection: HTTP/1.1 for even workers, HTTP/2 for odd
/// ones), `n` requests, each tagged `x-load-id: <worker>-<i>`. Returns the ids it sent.
async fn worker(
    w: u64,
    n: u64,
    client: reqwest::Client,
    base: String,
    done: Arc<AtomicU64>,
) -> Vec<String> {
    let mut sent = Vec::with_capacity(n as usize);
    let next = |sent: &mut Vec<String>| {
        let id = format!("{w}-{}", sent.len());
        sent.push(id.clone());
        done.fetch_add(1, Ordering::Relaxed);
        id
    };
    // Authorization code grant: the redirect, then the code exchange.
    let r = client
        .get(format!(
            "{base}/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri={REDIRECT}&state=s{w}"
        ))
        .header("x-load-id", next(&mut sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let grant: serde_json::Value = send_json(
        client
            .post(format!("{base}/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
            ])
            .header("x-load-id", next(&mut sent)),
    )
    .await;
    let refresh = grant["refresh_token"].as_str().unwrap().to_string();
    let mut access = grant["access_token"].as_str().unwrap().to_string();
    while (sent.len() as u64) < n {
        let i = sent.len();
        let id = next(&mut sent);
        match i % 10 {
            // A refresh: the server retires the old access token, so use the new one.
            3 => {
                let v: serde_json::Value = send_json(
                    client
                        .post(format!("{base}/token"))
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                        .header("x-load-id", id),
                )
                .await;
                access = v["access_token"].as_str().unwrap().to_string();
            }
            // A client credentials grant (its token is not used further).
            7 => {
                let r = client
                    .post(format!("{base}/token"))
                    .form(&[("grant_type", "client_credentials"), ("scope", "read")])
                    .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                    .header("x-load-id", id)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
            _ => {
                let r = client
                    .get(format!("{base}/api/me?n={i}"))
                    .bearer_auth(&access)
                    .header("x-load-id", id)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "worker {w} request {i}");
                r.bytes().await.unwrap();
            }
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_mixed_requests_on_64_connections_are_each_recorded_once() {
    let dir = temp_dir("load");
    let tls = upstream_tls(&dir);
    let auth = oauth::start(AsConfig::default(), tls.config.clone()).await;
    let proxy = ProxyProc::start(
        &dir,
        &[
            "--upstream-ca",
            tls.ca_pem_path.to_str().unwrap(),
            "--quiet",
        ],
    );
    let done = Arc::new(AtomicU64::new(0));
    // Sample the proxy's resident memory against progress while the load runs.
    let finished = Arc::new(AtomicBool::new(false));
    let samples = {
        let (done, finished, pid) = (done.clone(), finished.clone(), proxy.pid());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !finished.load(Ordering::Relaxed) {
                let rss = rss_kib(pid).unwrap_or(0);
                samples.push((done.load(Ordering::Relaxed), rss));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            samples
        })
    };
    let mut tasks = Vec::new();
    for w in 0..CONNECTIONS {
        let n = TOTAL / CONNECTIONS + u64::from(w < TOTAL % CONNECTIONS);
        let mut b = proxy
            .client_builder()
            .pool_max_idle_per_host(1)
            .redirect(reqwest::redirect::Policy::none());
        if w % 2 == 0 {
            b = b.http1_only();
        }
        let client = b.build().unwrap();
        tasks.push(tokio::spawn(worker(
            w,
            n,
            client,
            auth.base.clone(),
            done.clone(),
        )));
    }
    let mut sent = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(sent.insert(id));
        }
    }
    finished.store(true, Ordering::Relaxed);
    let samples = samples.await.unwrap();
    assert_eq!(sent.len() as u64, TOTAL);

    let (exchanges, lines) = stop_and_read(proxy);
    // Exactly once: as many exchanges as requests, ids 1..=N, and every load id once.
    assert_eq!(exchanges.len() as u64, TOTAL);
    let mut ids: Vec<u64> = exchanges.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    assert!(ids.iter().copied().eq(1..=TOTAL), "exchange ids are 1..=N");
    let mut seen = HashSet::new();
    for ex in &exchanges {
        let id = ex
            .request
            .header("x-load-id")
            .unwrap_or_else(|| panic!("untagged exchange {ex:#?}"));
        assert!(seen.insert(id.to_string()), "{id} recorded twice");
        assert!(ex.error.is_none() && !ex.incomplete, "{ex:#?}");
        let status = ex.response.as_ref().unwrap().status;
        assert!(status == 200 || status == 302, "{ex:#?}");
    }
    assert_eq!(seen, sent);
    // Zero proxy errors, and the totals line agrees.
    assert!(
        !lines.iter().any(|l| l.starts_with("stderr:")),
        "{lines:#?}"
    );
    let totals = format!("stopped: {TOTAL} exchange(s) recorded (0 with errors, 0 incomplete)");
    assert!(lines.iter().any(|l| l.contains(&totals)), "{lines:#?}");

    // Flat memory: the peak of the last half of the run is no more than the peak of the
    // first half (after a 10% warm-up) plus a small margin. A leak of even 1 KiB per
    // exchange would add about 50 MiB over the second half.
    let peak = |from: u64, to: u64| {
        samples
            .iter()
            .filter(|(d, _)| *d >= from && *d < to)
            .map(|(_, r)| *r)
            .max()
            .unwrap_or_else(|| panic!("no samples between {from} and {to}: {samples:?}"))
    };
    let first = peak(TOTAL / 10, TOTAL / 2);
    let second = peak(TOTAL / 2, TOTAL + 1);
    eprintln!(
        "proxy RSS: first half peak {} MiB, second half peak {} MiB ({} samples)",
        first / 1024,
        second / 1024,
        samples.len()
    );
    assert!(
        second <= first + first / 10 + 4 * 1024,
        "proxy memory grew: {} KiB then {} KiB",
        first,
        second
    );
}
