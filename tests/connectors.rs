//! Connector definitions against the wire and on their own. Each case in
//! `samples/connectors/cases.json` names a definition file, optionally a sample capture,
//! and the exact findings `analyze --connector` and `lint-connector` must give.
//! The definitions are written for the server URLs of the capture they go with; they are
//! regenerated with the samples (`OAUTHSCOPE_REGEN_SAMPLES=1`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{bin, temp_dir};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

struct Case {
    file: &'static str,
    about: &'static str,
    content: fn(&str) -> String,
    capture: Option<&'static str>,
    analyze: &'static [&'static str],
    lint: &'static [&'static str],
}

/// The OAuth settings of an apiProperties.json, as the portal exports them.
struct Props<'a> {
    provider: &'a str,
    client: &'a str,
    auth: String,
    token: String,
    refresh: String,
    redirect: String,
    scopes: &'a str,
    mode: &'a str,
}

fn api_properties(p: Props<'_>) -> String {
    let Props {
        provider,
        client,
        auth,
        token,
        refresh,
        redirect,
        scopes,
        mode,
    } = p;
    format!(
        r##"{{
  "properties": {{
    "connectionParameters": {{
      "token": {{
        "type": "oauthSetting",
        "oAuthSettings": {{
          "identityProvider": "{provider}",
          "clientId": "{client}",
          "scopes": {scopes},
          "redirectMode": "{mode}",
          "redirectUrl": "{redirect}",
          "properties": {{ "IsFirstParty": "False" }},
          "customParameters": {{
            "authorizationUrl": {{ "value": "{auth}" }},
            "tokenUrl": {{ "value": "{token}" }},
            "refreshUrl": {{ "value": "{refresh}" }}
          }}
        }}
      }}
    }},
    "iconBrandColor": "#007ee5",
    "publisher": "oauthscope samples"
  }}
}}
"##
    )
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "good-flow.apiProperties.json",
            about: "matches what the good flow did",
            content: |b| {
                api_properties(Props {
                    provider: "oauth2",
                    client: "connector-app",
                    auth: format!("{b}/authorize"),
                    token: format!("{b}/token"),
                    refresh: format!("{b}/token"),
                    redirect: format!("{b}/callback"),
                    scopes: r#"["read", "offline_access"]"#,
                    mode: "GlobalPerConnector",
                })
            },
            capture: Some("good-flow.jsonl"),
            analyze: &[],
            lint: &[],
        },
        Case {
            file: "wrong-settings.apiProperties.json",
            about: "token URL, refresh URL, client id, redirect URL and scopes all differ from the wire; global redirect mode",
            content: |b| {
                api_properties(Props {
                    provider: "oauth2",
                    client: "connector-app-old",
                    auth: format!("{b}/authorize"),
                    token: format!("{b}/oauth2/token"),
                    refresh: format!("{b}/token/refresh"),
                    redirect: "https://global.consent.azure-apim.net/redirect".into(),
                    scopes: r#"["read"]"#,
                    mode: "Global",
                })
            },
            capture: Some("good-flow.jsonl"),
            analyze: &[
                "client-id-mismatch",
                "redirect-uri-mismatch",
                "redirect-uri-mismatch",
                "refresh-url-mismatch",
                "scope-change",
                "token-url-mismatch",
            ],
            lint: &["redirect-mode", "refresh-url-mismatch"],
        },
        Case {
            file: "good-flow.swagger.json",
            about: "Swagger 2.0 securityDefinitions matching the good flow",
            content: |b| {
                format!(
                    r#"{{"swagger":"2.0","info":{{"title":"Sample","version":"1.0"}},"host":"127.0.0.1","paths":{{}},
"securityDefinitions":{{"oauth2_auth":{{"type":"oauth2","flow":"accessCode","authorizationUrl":"{b}/authorize","tokenUrl":"{b}/token","scopes":{{"read":"read","offline_access":"refresh"}}}}}}}}
"#
                )
            },
            capture: Some("good-flow.jsonl"),
            analyze: &[],
            lint: &[],
        },
        Case {
            file: "implicit.swagger.json",
            about: "Swagger 2.0 with the implicit flow",
            content: |b| {
                format!(
                    r#"{{"swagger":"2.0","info":{{"title":"Sample","version":"1.0"}},"paths":{{}},
"securityDefinitions":{{"oauth2_auth":{{"type":"oauth2","flow":"implicit","authorizationUrl":"{b}/authorize","scopes":{{}}}}}}}}
"#
                )
            },
            capture: Some("good-flow.jsonl"),
            analyze: &["grant-unsupported"],
            lint: &["grant-unsupported"],
        },
        Case {
            file: "refresh-elsewhere.openapi.json",
            about: "OpenAPI 3 authorizationCode flow whose refreshUrl differs from the token URL",
            content: |b| {
                format!(
                    r#"{{"openapi":"3.0.3","info":{{"title":"Sample","version":"1"}},"paths":{{}},
"components":{{"securitySchemes":{{"oauth":{{"type":"oauth2","flows":{{"authorizationCode":{{"authorizationUrl":"{b}/authorize","tokenUrl":"{b}/token","refreshUrl":"{b}/refresh","scopes":{{"read":"","offline_access":""}}}}}}}}}}}}}}
"#
                )
            },
            capture: Some("good-flow.jsonl"),
            analyze: &["refresh-url-mismatch"],
            lint: &["refresh-url-mismatch"],
        },
        Case {
            file: "profile.toml",
            about: "our TOML profile; the secret comes from $OAUTHSCOPE_SAMPLE_SECRET (a wrong one in the test)",
            content: |b| {
                format!(
                    "# oauthscope connector profile\nclient_id = \"connector-app\"\nclient_secret_env = \"OAUTHSCOPE_SAMPLE_SECRET\"\nauthorize_url = \"{b}/authorize\"\ntoken_url = \"{b}/token\"\nredirect_url = \"{b}/callback\"\nscopes = [\"read\", \"offline_access\"]\ngrant = \"authorization_code\"\n"
                )
            },
            capture: Some("good-flow.jsonl"),
            analyze: &["client-secret-mismatch"],
            lint: &[],
        },
        Case {
            file: "generic.apiProperties.json",
            about: "oauth2generic: refresh body without {ClientSecret} (the wire posts the secret), an unknown placeholder, http:// token URL",
            content: |b| {
                format!(
                    r#"{{"properties":{{"connectionParameters":{{"token":{{"type":"oauthSetting","oAuthSettings":{{
  "identityProvider":"oauth2generic","clientId":"connector-app","scopes":["read","offline_access"],"redirectMode":"GlobalPerConnector","redirectUrl":"{b}/callback",
  "customParameters":{{
    "authorizationUrlTemplate":{{"value":"{b}/authorize"}},
    "authorizationUrlQueryStringTemplate":{{"value":"?client_id={{ClientId}}&response_type=code&redirect_uri={{RedirectUrl}}&scope={{Scopes}}&state={{State}}"}},
    "tokenUrlTemplate":{{"value":"http://auth.example.com/token"}},
    "tokenBodyTemplate":{{"value":"grant_type=authorization_code&code={{Code}}&client_id={{ClientId}}&client_secret={{ClientSecret}}&redirect_uri={{RedirectURL}}"}},
    "refreshUrlTemplate":{{"value":"http://auth.example.com/token"}},
    "refreshBodyTemplate":{{"value":"grant_type=refresh_token&refresh_token={{RefreshToken}}&client_id={{ClientId}}"}},
    "scopeListDelimiter":{{"value":" "}}
  }}}}}}}}}}}}
"#
                )
            },
            capture: Some("github-form.jsonl"),
            analyze: &[
                "client-secret-mismatch",
                "pkce-missing",
                "token-response-format",
                "token-url-mismatch",
            ],
            lint: &["connector-template", "plain-http", "plain-http"],
        },
        Case {
            file: "microsoft.apiProperties.json",
            about: "generic OAuth 2 against Microsoft without offline_access, in the multi-auth shape",
            content: |_| {
                r#"{"properties":{"connectionParameterSets":{"uiDefinition":{"displayName":"Auth"},"values":[{"name":"oauth","parameters":{"token":{"type":"oauthSetting","oAuthSettings":{
  "identityProvider":"oauth2","clientId":"00000000-0000-0000-0000-000000000001","scopes":["https://graph.microsoft.com/User.Read"],"redirectMode":"GlobalPerConnector",
  "customParameters":{"authorizationUrl":{"value":"https://login.microsoftonline.com/common/oauth2/v2.0/authorize"},"tokenUrl":{"value":"https://login.microsoftonline.com/common/oauth2/v2.0/token"},"refreshUrl":{"value":"https://login.microsoftonline.com/common/oauth2/v2.0/token"}}}}}}]}}}
"#.to_string()
            },
            capture: None,
            analyze: &[],
            lint: &["offline-access-missing"],
        },
        Case {
            file: "aad.apiProperties.json",
            about: "Azure AD identity provider (resourceUri, tenantId): nothing to flag",
            content: |_| {
                r#"{"properties":{"connectionParameters":{"token":{"type":"oauthSetting","oAuthSettings":{
  "identityProvider":"aad","clientId":"00000000-0000-0000-0000-000000000002","scopes":[],"redirectMode":"GlobalPerConnector",
  "customParameters":{"loginUri":{"value":"https://login.microsoftonline.com"},"tenantId":{"value":"common"},"resourceUri":{"value":"https://graph.microsoft.com"}}}}}}}
"#.to_string()
            },
            capture: None,
            analyze: &[],
            lint: &[],
        },
    ]
}

fn rules(v: &serde_json::Value) -> Vec<String> {
    let mut r: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin())
        .args(args)
        .env("OAUTHSCOPE_SAMPLE_SECRET", "not-the-real-secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn good_flow_base() -> String {
    base_of("good-flow.jsonl")
}

/// The origin of the test server a sample capture was recorded against.
fn base_of(capture: &str) -> String {
    let text = std::fs::read_to_string(dir().join(capture)).unwrap();
    let second = text.lines().nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(second).unwrap();
    oauthscope::oauth::parse::url_origin(v["request"]["url"].as_str().unwrap())
}

#[test]
fn connector_samples_yield_their_expected_findings() {
    let cdir = dir().join("connectors");
    if std::env::var_os("OAUTHSCOPE_REGEN_SAMPLES").is_some() {
        std::fs::create_dir_all(&cdir).unwrap();
        let mut list = Vec::new();
        for c in cases() {
            let base = base_of(c.capture.unwrap_or("good-flow.jsonl"));
            std::fs::write(cdir.join(c.file), (c.content)(&base)).unwrap();
            list.push(serde_json::json!({"file": c.file, "about": c.about, "capture": c.capture, "analyze": c.analyze, "lint": c.lint}));
        }
        std::fs::write(
            cdir.join("cases.json"),
            serde_json::to_string_pretty(&list).unwrap() + "\n",
        )
        .unwrap();
    }
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(cdir.join("cases.json")).unwrap()).unwrap();
    assert_eq!(list.len(), cases().len());
    for case in &list {
        let file = cdir.join(case["file"].as_str().unwrap());
        let f = file.to_str().unwrap();
        let want = |k: &str| {
            let mut v: Vec<String> = case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        let lint = run_json(&["lint-connector", f, "--format", "json"]);
        assert_eq!(rules(&lint), want("lint"), "lint {f}");
        if let Some(cap) = case["capture"].as_str() {
            let cap = dir().join(cap);
            let cap = cap.to_str().unwrap();
            let report = run_json(&["analyze", cap, "--connector", f, "--format", "json"]);
            assert_eq!(
                rules(&report),
                want("analyze"),
                "analyze {cap} --connector {f}"
            );
            // What the definition adds names the file and field it comes from.
            let own = rules(&run_json(&["analyze", cap, "--format", "json"]));
            for fnd in report["findings"].as_array().unwrap() {
                if fnd["definition"].is_null() {
                    assert!(
                        own.contains(&fnd["rule"].as_str().unwrap().to_string()),
                        "{f}: {fnd}"
                    );
                } else {
                    assert!(
                        fnd["definition"]
                            .as_str()
                            .unwrap()
                            .contains(case["file"].as_str().unwrap()),
                        "{fnd}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_definitions_are_clear_errors() {
    let d = temp_dir("badconnector");
    let cases: [(&str, &str, &str); 7] = [
        ("broken.json", "{\"properties\": ", "invalid JSON"),
        ("other.json", "{\"hello\": 1}", "not a connector definition"),
        (
            "nooauth.json",
            r#"{"properties":{"connectionParameters":{"api_key":{"type":"securestring"}}}}"#,
            "properties.connectionParameters",
        ),
        (
            "badtype.json",
            r#"{"properties":{"connectionParameters":{"token":{"oAuthSettings":{"clientId":42}}}}}"#,
            "properties.connectionParameters.token.oAuthSettings.clientId: expected a string",
        ),
        (
            "noflows.json",
            r#"{"openapi":"3.0.0","components":{"securitySchemes":{"o":{"type":"oauth2"}}}}"#,
            "components.securitySchemes.o.flows",
        ),
        ("bad.toml", "client_id = [", "invalid TOML"),
        ("secret.toml", "client_secret = \"x\"", "client_secret_env"),
    ];
    for (name, content, expect) in cases {
        let p = d.join(name);
        std::fs::write(&p, content).unwrap();
        let out = Command::new(bin())
            .args(["lint-connector", p.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: the message names the file: {err}"
        );
    }
    let p = d.join("env.toml");
    std::fs::write(
        &p,
        "client_secret_env = \"OAUTHSCOPE_UNSET_VAR_FOR_TEST\"\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["lint-connector", p.to_str().unwrap()])
        .env_remove("OAUTHSCOPE_UNSET_VAR_FOR_TEST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OAUTHSCOPE_UNSET_VAR_FOR_TEST"));
    // An unknown identity provider is read like oauth2, with a note.
    let p = d.join("unknown.json");
    std::fs::write(&p, r#"{"properties":{"connectionParameters":{"token":{"oAuthSettings":{"identityProvider":"mystery","customParameters":{"tokenUrl":{"value":"https://a/t"},"refreshUrl":{"value":"https://a/t"}}}}}}}"#).unwrap();
    let out = Command::new(bin())
        .args(["lint-connector", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown identityProvider \"mystery\""));
}

#[test]
fn a_folder_with_both_files_is_read_together() {
    let d = temp_dir("connfolder");
    let base = good_flow_base();
    std::fs::write(d.join("apiProperties.json"), (cases()[0].content)(&base)).unwrap();
    std::fs::write(
        d.join("apiDefinition.swagger.json"),
        (cases()[2].content)(&base),
    )
    .unwrap();
    let lint = run_json(&["lint-connector", d.to_str().unwrap(), "--format", "json"]);
    assert_eq!(lint["definition"]["kind"], "custom connector folder");
    assert!(rules(&lint).is_empty());
    let out = Command::new(bin())
        .args(["lint-connector", d.to_str().unwrap(), "--fail-on", "info"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let bad = dir().join("connectors/implicit.swagger.json");
    let out = Command::new(bin())
        .args(["lint-connector", bad.to_str().unwrap(), "--fail-on", "high"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
