//! Sign-in for `walk`: the authorize URL as the connector builds it, then the code back
//! by a loopback listener (a redirect URI on 127.0.0.1/localhost/`[::1]` over http), or
//! from the address the user pastes (the connector's own redirect URI, whose page may
//! show an error: the code is in its URL). `state` is checked either way.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use hyper_util::client::legacy::connect::Connect;

use super::{Settings, WalkError, WalkOptions, Walker};
use crate::wire::{form_encode, query_params};

/// What the authorization server sent back to the redirect URI.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub code: String,
    /// The URL it came back on (for messages; secrets masked by the caller).
    pub url: String,
}

/// The authorize URL: client id, redirect URI, scopes, state, PKCE challenge.
pub fn authorize_url(
    base: &str,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: &str,
    challenge: Option<&str>,
) -> String {
    let mut q = vec![
        ("response_type", "code".to_string()),
        ("client_id", client_id.to_string()),
        ("redirect_uri", redirect_uri.to_string()),
    ];
    if !scope.is_empty() {
        q.push(("scope", scope.to_string()));
    }
    q.push(("state", state.to_string()));
    if let Some(c) = challenge {
        q.push(("code_challenge", c.to_string()));
        q.push(("code_challenge_method", "S256".to_string()));
    }
    let query: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", query.join("&"))
}

/// `(host, port, path)` of a redirect URI we can listen on: plain http on a loopback
/// address.
pub fn loopback(redirect_uri: &str) -> Option<(String, u16, String)> {
    let rest = redirect_uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority: http::uri::Authority = rest[..end].parse().ok()?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let is_loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !is_loopback {
        return None;
    }
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    Some((
        host.to_string(),
        authority.port_u16().unwrap_or(80),
        path.to_string(),
    ))
}

/// Check what came back: an error the server sent, a code, the state.
pub fn read_callback(url: &str, state: &str) -> Result<Callback, WalkError> {
    let mut p = query_params(url);
    if p.is_empty() {
        // A response_mode=fragment answer.
        p = crate::wire::fragment_params(url);
    }
    if let Some(e) = p.get("error") {
        return Err(WalkError::at(
            "sign-in",
            format!(
                "the authorization server answered {e}{}",
                p.get("error_description")
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            "check the client id, the redirect URI registered with the provider, and the scopes",
        ));
    }
    let Some(code) = p.get("code").filter(|c| !c.is_empty()) else {
        return Err(WalkError::at(
            "sign-in",
            "the address holds no authorization code".into(),
            "paste the whole address the browser ended on after signing in (it has ?code=...)",
        ));
    };
    match p.get("state") {
        Some(s) if s == state => {}
        Some(_) => {
            return Err(WalkError::at(
                "sign-in",
                "the address carries another state than this walk sent: it answers another sign-in"
                    .into(),
                "sign in again from the URL this walk printed, and paste the address that follows it",
            ));
        }
        None => {
            return Err(WalkError::at(
                "sign-in",
                "the address carries no state: the provider dropped it, or it answers another sign-in".into(),
                "sign in again from the URL this walk printed",
            ));
        }
    }
    Ok(Callback {
        code: code.to_string(),
        url: url.to_string(),
    })
}

/// Listen on the loopback redirect URI until the browser comes back (or `timeout`).
pub async fn listen(
    host: &str,
    port: u16,
    path: &str,
    state: &str,
    timeout: Duration,
    ready: impl FnOnce(),
) -> Result<Callback, WalkError> {
    let addr = if host.eq_ignore_ascii_case("localhost") {
        format!("127.0.0.1:{port}")
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        WalkError::at(
            "sign-in",
            format!("cannot listen on the redirect URI's address {addr}: {e}"),
            "stop what uses that port, or pass another loopback --redirect-uri registered with the provider",
        )
    })?;
    ready();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let accepted = tokio::time::timeout_at(deadline, listener.accept()).await;
        let Ok(Ok((mut tcp, _))) = accepted else {
            return Err(WalkError::at(
                "sign-in",
                format!(
                    "no redirect came back to http://{addr}{path} within {}",
                    crate::oauth::display::human_duration(timeout.as_secs_f64())
                ),
                "open the printed URL and sign in (or pass --timeout to wait longer)",
            ));
        };
        let Some(target) = read_request_target(&mut tcp).await else {
            continue;
        };
        if target.split(['?', '#']).next() != Some(path) {
            respond(&mut tcp, 404, "not the redirect URI").await;
            continue;
        }
        let url = format!("http://{host}:{port}{target}");
        let result = read_callback(&url, state);
        let page = match &result {
            Ok(_) => {
                "oauthscope: signed in. You can close this tab; the walk goes on in the terminal."
            }
            Err(_) => "oauthscope: the sign-in did not give a code; the terminal says why.",
        };
        respond(&mut tcp, 200, page).await;
        return result;
    }
}

/// The request target of an HTTP/1 request head (`GET /cb?code=... HTTP/1.1`).
async fn read_request_target(tcp: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = tcp.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() > 64 * 1024 {
                return Some(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let line = head.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let _method = parts.next()?;
    parts.next().map(str::to_string)
}

async fn respond(tcp: &mut tokio::net::TcpStream, status: u16, text: &str) {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>oauthscope</title><p>{}</p>",
        text.replace('<', "&lt;")
    );
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let res = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.write_all(res.as_bytes()).await;
    let _ = tcp.shutdown().await;
}

/// Read the address the user pastes (one line on standard input) within `timeout`.
pub async fn paste(state: &str, timeout: Duration) -> Result<Callback, WalkError> {
    // A thread of its own: a read from standard input cannot be cancelled, and must not
    // hold a runtime worker.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line);
        let _ = tx.send(n.map(|n| (n, line)));
    });
    let read = tokio::time::timeout(timeout, rx).await;
    let read = match read {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => Ok(Err(std::io::Error::other("the reader stopped"))),
        Err(e) => Err(e),
    };
    match read {
        Err(_) => Err(WalkError::at(
            "sign-in",
            format!(
                "no address was pasted within {}",
                crate::oauth::display::human_duration(timeout.as_secs_f64())
            ),
            "sign in with the printed URL, then paste the address the browser ended on (or pass --timeout)",
        )),
        Ok(Err(e)) => Err(WalkError::at(
            "sign-in",
            format!("cannot read standard input: {e}"),
            "run the walk in a terminal, or use a loopback --redirect-uri",
        )),
        Ok(Ok((0, _))) => Err(WalkError::at(
            "sign-in",
            "standard input closed before an address was pasted".into(),
            "paste the address the browser ended on after signing in",
        )),
        Ok(Ok((_, line))) => read_callback(line.trim(), state),
    }
}

impl<C> Walker<'_, C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// Print the authorize URL, open it, and take the code back: by the loopback
    /// listener, or from the pasted address.
    pub(super) async fn sign_in(
        &mut self,
        s: &Settings,
        o: &WalkOptions,
        url: &str,
        state: &str,
    ) -> Result<Callback, WalkError> {
        let open = |say: &dyn Fn(&str)| -> Result<(), WalkError> {
            match (&o.browser, desktop_opener()) {
                (Some(cmd), _) => open_browser(cmd, url),
                (None, Some(opener)) => {
                    // A desktop that cannot open it still has the printed URL.
                    if open_browser(opener, url).is_err() {
                        say("(could not open a browser: open the URL yourself)");
                    }
                    Ok(())
                }
                (None, None) => Ok(()),
            }
        };
        (self.say)(&format!("Sign in with this URL:\n  {url}"));
        match loopback(&s.redirect_uri) {
            Some((host, port, path)) => {
                let say = &self.say;
                let mut opened = Ok(());
                let callback = listen(&host, port, &path, state, o.timeout, || {
                    say(&format!(
                        "waiting for the redirect to {} ...",
                        s.redirect_uri
                    ));
                    opened = open(&**say);
                });
                let result = callback.await;
                opened?;
                result
            }
            None => {
                open(&*self.say)?;
                (self.say)(&format!(
                    "After signing in, the browser goes to {} (its page may show an error).\nPaste the whole address it ended on, then Enter:",
                    s.redirect_uri
                ));
                paste(state, o.timeout).await
            }
        }
    }
}

/// Split a command line like a POSIX shell does words: whitespace separates, single
/// quotes keep everything, double quotes keep all but `\"` and `\\`, a backslash
/// outside quotes escapes the next character. `None` when a quote is left open.
pub fn split_command(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => cur.push(x),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            x @ ('"' | '\\' | '$' | '`') => cur.push(x),
                            x => {
                                cur.push('\\');
                                cur.push(x);
                            }
                        },
                        x => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// Start `command` (split like a shell command line) with `url` as its last argument; it
/// is not waited for (a browser may run for as long as it likes).
pub fn open_browser(command: &str, url: &str) -> Result<(), WalkError> {
    let words = split_command(command)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            WalkError::at(
                "sign-in",
                format!("--browser {command:?} is not a command line (an unclosed quote?)"),
                "pass the browser command as you would type it in a shell",
            )
        })?;
    std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| {
            WalkError::at(
                "sign-in",
                format!("cannot start the browser {:?}: {e}", words[0]),
                "check --browser, or leave it out and open the printed URL yourself",
            )
        })
}

/// The desktop's opener, when this machine has a desktop.
pub fn desktop_opener() -> Option<&'static str> {
    if cfg!(target_os = "macos") {
        return Some("open");
    }
    let desktop = std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty());
    let has = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    (desktop && has("xdg-open")).then_some("xdg-open")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command(r#"chromium --flag="a b" 'c d' e\ f "x\"y" """#).unwrap(),
            vec!["chromium", "--flag=a b", "c d", "e f", "x\"y", ""]
        );
        assert_eq!(split_command("  a   b ").unwrap(), vec!["a", "b"]);
        assert!(split_command("a 'open").is_none());
        assert!(split_command("a \"open").is_none());
    }

    #[test]
    fn loopback_redirects_are_listened_on_others_pasted() {
        assert_eq!(
            loopback("http://127.0.0.1:8765/callback?x=1"),
            Some(("127.0.0.1".into(), 8765, "/callback".into()))
        );
        assert_eq!(
            loopback("http://localhost/"),
            Some(("localhost".into(), 80, "/".into()))
        );
        assert_eq!(
            loopback("http://[::1]:9000"),
            Some(("::1".into(), 9000, "/".into()))
        );
        assert_eq!(loopback("https://127.0.0.1:8765/callback"), None);
        assert_eq!(
            loopback("https://global.consent.azure-apim.net/redirect"),
            None
        );
        assert_eq!(loopback("http://example.com/cb"), None);
    }

    #[test]
    fn callbacks_need_a_code_and_our_state() {
        let ok = read_callback("https://x/cb?code=abc&state=s1", "s1").unwrap();
        assert_eq!(ok.code, "abc");
        let frag = read_callback("https://x/cb#code=abc&state=s1", "s1").unwrap();
        assert_eq!(frag.code, "abc");
        let e = |u: &str| read_callback(u, "s1").unwrap_err().to_string();
        assert!(e("https://x/cb?state=s1").contains("no authorization code"));
        assert!(e("https://x/cb?code=abc&state=s2").contains("another state"));
        assert!(e("https://x/cb?code=abc").contains("no state"));
        assert!(
            e("https://x/cb?error=access_denied&error_description=no&state=s1")
                .contains("access_denied: no")
        );
    }

    #[test]
    fn the_authorize_url_carries_what_the_connector_sends() {
        let u = authorize_url(
            "https://as/authorize?tenant=x",
            "app",
            "http://127.0.0.1:1/cb",
            "read offline_access",
            "st",
            Some("ch"),
        );
        assert_eq!(
            u,
            "https://as/authorize?tenant=x&response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&scope=read+offline_access&state=st&code_challenge=ch&code_challenge_method=S256"
        );
    }
}
