//! Reading connector definitions, detected by content, keys matched case-insensitively.
//!
//! Long on purpose: four definition formats (apiProperties, Swagger, OpenAPI, TOML)
//! read into one model, with the notes each can raise.

use std::path::Path;

use serde_json::Value;

use super::{Api, Connector, ConnectorError, Field, Operation, Source};

/// Load a definition file, or a folder holding `apiProperties.json` and/or
/// `apiDefinition.swagger.json`.
pub fn load(path: &Path) -> Result<Connector, ConnectorError> {
    if path.is_dir() {
        return load_folder(path);
    }
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ConnectorError::Io {
        path: name.clone(),
        source,
    })?;
    let toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    parse(&bytes, &name, toml)
}

/// Read a definition from its bytes (`name` is what errors call it); `toml` reads it as a
/// TOML profile whatever it looks like (a `.toml` file).
pub fn parse(bytes: &[u8], name: &str, toml: bool) -> Result<Connector, ConnectorError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let looks_json = text.trim_start().starts_with('{');
    if !looks_json || toml {
        return load_toml(text, name);
    }
    let v: Value = serde_json::from_str(text).map_err(|source| ConnectorError::Json {
        path: name.to_string(),
        source,
    })?;
    from_json(&v, name)
}

fn from_json(v: &Value, name: &str) -> Result<Connector, ConnectorError> {
    if get(v, "properties").is_some_and(|p| {
        get(p, "connectionParameters").is_some() || get(p, "connectionParameterSets").is_some()
    }) {
        return api_properties(v, name);
    }
    if get(v, "swagger").is_some() {
        return swagger(v, name);
    }
    if get(v, "openapi").is_some() {
        return openapi(v, name);
    }
    Err(ConnectorError::Unknown {
        path: name.into(),
        hint: "expected apiProperties.json (properties.connectionParameters), a Swagger 2.0 file (securityDefinitions), an OpenAPI 3 document (components.securitySchemes) or a TOML profile".into(),
    })
}

fn load_folder(dir: &Path) -> Result<Connector, ConnectorError> {
    let mut props = None;
    let mut swag = None;
    let entries = std::fs::read_dir(dir).map_err(|source| ConnectorError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().to_ascii_lowercase();
        if n == "apiproperties.json" {
            props = Some(e.path());
        } else if n == "apidefinition.swagger.json" {
            swag = Some(e.path());
        }
    }
    match (props, swag) {
        (None, None) => Err(ConnectorError::Unknown {
            path: dir.display().to_string(),
            hint: "the folder holds neither apiProperties.json nor apiDefinition.swagger.json"
                .into(),
        }),
        (Some(p), None) => load(&p),
        (None, Some(s)) => load(&s),
        (Some(p), Some(s)) => {
            let mut c = load(&p)?;
            let sw = load(&s)?;
            // apiProperties wins; the swagger file fills what it leaves out.
            c.flow = c.flow.or(sw.flow);
            c.authorization_url = c.authorization_url.or(sw.authorization_url);
            c.token_url = c.token_url.or(sw.token_url);
            c.scopes = c.scopes.or(sw.scopes);
            c.api = c.api.or(sw.api);
            c.kind = "custom connector folder";
            Ok(c)
        }
    }
}

/// Case-insensitive object lookup.
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn src(file: &str, path: &str) -> Source {
    Source {
        file: file.into(),
        path: path.into(),
    }
}

fn field_str(
    v: &Value,
    key: &str,
    file: &str,
    path: &str,
) -> Result<Option<Field<String>>, ConnectorError> {
    match get(v, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Field {
            value: s.clone(),
            source: src(file, &format!("{path}.{key}")),
        })),
        Some(other) => Err(ConnectorError::Field {
            file: file.into(),
            path: format!("{path}.{key}"),
            message: format!("expected a string, found {}", type_name(other)),
        }),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `customParameters.tokenUrl.value` (or a bare string).
fn custom_value(
    custom: &Value,
    key: &str,
    file: &str,
    path: &str,
) -> Result<Option<Field<String>>, ConnectorError> {
    match get(custom, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Field {
            value: s.clone(),
            source: src(file, &format!("{path}.{key}")),
        })),
        Some(obj @ Value::Object(_)) => field_str(obj, "value", file, &format!("{path}.{key}")),
        Some(other) => Err(ConnectorError::Field {
            file: file.into(),
            path: format!("{path}.{key}"),
            message: format!(
                "expected {{\"value\": \"...\"}}, found {}",
                type_name(other)
            ),
        }),
    }
}

const KNOWN_PROVIDERS: [&str; 12] = [
    "oauth2",
    "oauth2generic",
    "aad",
    "aadcertificate",
    "github",
    "google",
    "facebook",
    "dropbox",
    "instagram",
    "microsoftaccount",
    "salesforce",
    "oauth2shared",
];

fn api_properties(v: &Value, file: &str) -> Result<Connector, ConnectorError> {
    let props = get(v, "properties").expect("checked by the caller");
    let mut found: Vec<(String, &Value)> = Vec::new();
    if let Some(params) = get(props, "connectionParameters").and_then(Value::as_object) {
        for (name, p) in params {
            if let Some(s) = get(p, "oAuthSettings") {
                found.push((
                    format!("properties.connectionParameters.{name}.oAuthSettings"),
                    s,
                ));
            }
        }
    }
    if let Some(sets) = get(props, "connectionParameterSets")
        .and_then(|s| get(s, "values"))
        .and_then(Value::as_array)
    {
        for (i, set) in sets.iter().enumerate() {
            if let Some(params) = get(set, "parameters").and_then(Value::as_object) {
                for (name, p) in params {
                    if let Some(s) = get(p, "oAuthSettings") {
                        found.push((format!("properties.connectionParameterSets.values[{i}].parameters.{name}.oAuthSettings"), s));
                    }
                }
            }
        }
    }
    let Some((path, settings)) = found.first().cloned() else {
        return Err(ConnectorError::Field {
            file: file.into(),
            path: "properties.connectionParameters".into(),
            message: "no parameter has oAuthSettings: this connector does not use OAuth".into(),
        });
    };
    let mut c = Connector {
        kind: "apiProperties.json",
        ..Connector::default()
    };
    if found.len() > 1 {
        c.notes.push(format!(
            "{} OAuth settings found; using the first, at {path}",
            found.len()
        ));
    }
    c.identity_provider = field_str(settings, "identityProvider", file, &path)?;
    c.client_id = field_str(settings, "clientId", file, &path)?;
    c.redirect_mode = field_str(settings, "redirectMode", file, &path)?;
    c.redirect_url = field_str(settings, "redirectUrl", file, &path)?;
    if let Some(scopes) = get(settings, "scopes") {
        let list = match scopes {
            Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            Value::String(s) => s
                .split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(ConnectorError::Field {
                    file: file.into(),
                    path: format!("{path}.scopes"),
                    message: format!("expected an array of strings, found {}", type_name(other)),
                });
            }
        };
        c.scopes = Some(Field {
            value: list,
            source: src(file, &format!("{path}.scopes")),
        });
    }
    c.flow = Some(Field {
        value: "accessCode".into(),
        source: src(file, &format!("{path}.identityProvider")),
    });
    let provider = c
        .identity_provider
        .as_ref()
        .map(|p| p.value.to_ascii_lowercase())
        .unwrap_or_else(|| "oauth2".into());
    if !KNOWN_PROVIDERS.contains(&provider.as_str()) {
        c.notes.push(format!("unknown identityProvider {provider:?} at {path}.identityProvider: reading it like oauth2"));
    }
    let custom_path = format!("{path}.customParameters");
    let empty = Value::Null;
    let custom = get(settings, "customParameters").unwrap_or(&empty);
    match provider.as_str() {
        "aad" | "aadcertificate" => {
            let login = custom_value(custom, "loginUri", file, &custom_path)?;
            let tenant = custom_value(custom, "tenantId", file, &custom_path)?;
            let login_v = login
                .as_ref()
                .map(|l| l.value.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "https://login.microsoftonline.com".into());
            let tenant_v = tenant
                .as_ref()
                .map(|t| t.value.clone())
                .unwrap_or_else(|| "common".into());
            let source = tenant
                .or(login)
                .map(|f| f.source)
                .unwrap_or_else(|| src(file, &custom_path));
            c.authorization_url = Some(Field {
                value: format!("{login_v}/{tenant_v}/oauth2/authorize"),
                source: source.clone(),
            });
            c.token_url = Some(Field {
                value: format!("{login_v}/{tenant_v}/oauth2/token"),
                source,
            });
        }
        "oauth2generic" => {
            for key in [
                "authorizationUrlTemplate",
                "authorizationUrlQueryStringTemplate",
                "tokenUrlTemplate",
                "tokenBodyTemplate",
                "refreshUrlTemplate",
                "refreshBodyTemplate",
            ] {
                if let Some(f) = custom_value(custom, key, file, &custom_path)? {
                    c.templates.push((key.to_string(), f));
                }
            }
            let template = |k: &str| {
                c.templates
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, f)| f.clone())
            };
            c.authorization_url = template("authorizationUrlTemplate");
            c.token_url = template("tokenUrlTemplate");
            c.refresh_url = template("refreshUrlTemplate");
            c.scope_delimiter = custom_value(custom, "scopeListDelimiter", file, &custom_path)?;
        }
        _ => {
            c.authorization_url = custom_value(custom, "authorizationUrl", file, &custom_path)?;
            c.token_url = custom_value(custom, "tokenUrl", file, &custom_path)?;
            c.refresh_url = custom_value(custom, "refreshUrl", file, &custom_path)?;
        }
    }
    Ok(c)
}

fn swagger(v: &Value, file: &str) -> Result<Connector, ConnectorError> {
    let defs = get(v, "securityDefinitions")
        .and_then(Value::as_object)
        .ok_or_else(|| ConnectorError::Field {
            file: file.into(),
            path: "securityDefinitions".into(),
            message: "missing: the Swagger file declares no security".into(),
        })?;
    let Some((name, def)) = defs
        .iter()
        .find(|(_, d)| get(d, "type").and_then(Value::as_str) == Some("oauth2"))
    else {
        return Err(ConnectorError::Field {
            file: file.into(),
            path: "securityDefinitions".into(),
            message: "no definition of type oauth2".into(),
        });
    };
    let path = format!("securityDefinitions.{name}");
    let api = get(v, "host").and_then(Value::as_str).map(|host| {
        let scheme = match get(v, "schemes").and_then(Value::as_array) {
            Some(list) if !list.iter().any(|s| s.as_str() == Some("https")) => list
                .first()
                .and_then(Value::as_str)
                .unwrap_or("https")
                .to_string(),
            _ => "https".to_string(),
        };
        let base_path = get(v, "basePath").and_then(Value::as_str).unwrap_or("");
        Api {
            base: format!("{scheme}://{host}{}", base_path.trim_end_matches('/')),
            operations: operations(v),
        }
    });
    Ok(Connector {
        kind: "Swagger 2.0",
        api,
        flow: field_str(def, "flow", file, &path)?,
        authorization_url: field_str(def, "authorizationUrl", file, &path)?,
        token_url: field_str(def, "tokenUrl", file, &path)?,
        scopes: get(def, "scopes")
            .and_then(Value::as_object)
            .map(|m| Field {
                value: m.keys().cloned().collect(),
                source: src(file, &format!("{path}.scopes")),
            }),
        ..Connector::default()
    })
}

fn openapi(v: &Value, file: &str) -> Result<Connector, ConnectorError> {
    let schemes = get(v, "components")
        .and_then(|c| get(c, "securitySchemes"))
        .and_then(Value::as_object)
        .ok_or_else(|| ConnectorError::Field {
            file: file.into(),
            path: "components.securitySchemes".into(),
            message: "missing: the document declares no security schemes".into(),
        })?;
    let Some((name, scheme)) = schemes
        .iter()
        .find(|(_, s)| get(s, "type").and_then(Value::as_str) == Some("oauth2"))
    else {
        return Err(ConnectorError::Field {
            file: file.into(),
            path: "components.securitySchemes".into(),
            message: "no scheme of type oauth2".into(),
        });
    };
    let flows_path = format!("components.securitySchemes.{name}.flows");
    let flows = get(scheme, "flows")
        .and_then(Value::as_object)
        .ok_or_else(|| ConnectorError::Field {
            file: file.into(),
            path: flows_path.clone(),
            message: "missing flows".into(),
        })?;
    let (flow_name, flow) = flows
        .iter()
        .find(|(k, _)| k.as_str() == "authorizationCode")
        .or_else(|| flows.iter().next())
        .ok_or_else(|| ConnectorError::Field {
            file: file.into(),
            path: flows_path.clone(),
            message: "no flow declared".into(),
        })?;
    let path = format!("{flows_path}.{flow_name}");
    let api = get(v, "servers")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .and_then(|s| get(s, "url"))
        .and_then(Value::as_str)
        .map(|url| Api {
            base: url.trim_end_matches('/').to_string(),
            operations: operations(v),
        });
    Ok(Connector {
        kind: "OpenAPI 3",
        api,
        flow: Some(Field {
            value: flow_name.clone(),
            source: src(file, &path),
        }),
        authorization_url: field_str(flow, "authorizationUrl", file, &path)?,
        token_url: field_str(flow, "tokenUrl", file, &path)?,
        refresh_url: field_str(flow, "refreshUrl", file, &path)?,
        scopes: get(flow, "scopes")
            .and_then(Value::as_object)
            .map(|m| Field {
                value: m.keys().cloned().collect(),
                source: src(file, &format!("{path}.scopes")),
            }),
        ..Connector::default()
    })
}

/// The operations of a Swagger 2.0 or OpenAPI 3 document's `paths`, in order.
fn operations(v: &Value) -> Vec<Operation> {
    let Some(paths) = get(v, "paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required = |params: Option<&Value>| {
        params.and_then(Value::as_array).is_some_and(|ps| {
            ps.iter().any(|p| {
                get(p, "required").and_then(Value::as_bool) == Some(true)
                    || get(p, "in").and_then(Value::as_str) == Some("path")
            })
        })
    };
    let mut out = Vec::new();
    for (path, item) in paths {
        let shared = required(get(item, "parameters"));
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            let Some(op) = get(item, method) else {
                continue;
            };
            let body_required = get(op, "requestBody")
                .and_then(|b| get(b, "required"))
                .and_then(Value::as_bool)
                == Some(true);
            out.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                operation_id: get(op, "operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                needs_parameters: shared || body_required || required(get(op, "parameters")),
            });
        }
    }
    out
}

fn load_toml(text: &str, file: &str) -> Result<Connector, ConnectorError> {
    let v: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConnectorError::Toml {
            path: file.into(),
            message: e.message().to_string(),
        })?;
    let s = |k: &str| -> Result<Option<Field<String>>, ConnectorError> {
        match v.get(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(Field {
                value: s.clone(),
                source: src(file, k),
            })),
            Some(other) => Err(ConnectorError::Field {
                file: file.into(),
                path: k.into(),
                message: format!("expected a string, found {}", other.type_str()),
            }),
        }
    };
    const KNOWN: [&str; 10] = [
        "client_id",
        "client_secret_env",
        "authorize_url",
        "token_url",
        "refresh_url",
        "redirect_url",
        "scopes",
        "scope_delimiter",
        "grant",
        "name",
    ];
    let mut c = Connector {
        kind: "TOML profile",
        client_id: s("client_id")?,
        authorization_url: s("authorize_url")?,
        token_url: s("token_url")?,
        refresh_url: s("refresh_url")?,
        redirect_url: s("redirect_url")?,
        scope_delimiter: s("scope_delimiter")?,
        flow: s("grant")?,
        ..Connector::default()
    };
    for k in v.keys() {
        if !KNOWN.contains(&k.as_str()) {
            c.notes.push(format!(
                "{file}: unknown key {k:?} ignored (known: {})",
                KNOWN.join(", ")
            ));
        }
    }
    if v.contains_key("client_secret") {
        return Err(ConnectorError::Field {
            file: file.into(),
            path: "client_secret".into(),
            message: "secrets do not belong in files: name an environment variable with client_secret_env".into(),
        });
    }
    if let Some(var) = s("client_secret_env")? {
        let value = std::env::var(&var.value).map_err(|_| ConnectorError::MissingEnv {
            path: file.into(),
            var: var.value.clone(),
        })?;
        c.client_secret = Some(Field {
            value,
            source: src(file, &format!("client_secret_env (${})", var.value)),
        });
    }
    c.scopes = match v.get("scopes") {
        None => None,
        Some(toml::Value::String(sc)) => Some(
            sc.split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        Some(toml::Value::Array(a)) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        ),
        Some(other) => {
            return Err(ConnectorError::Field {
                file: file.into(),
                path: "scopes".into(),
                message: format!(
                    "expected a string or an array of strings, found {}",
                    other.type_str()
                ),
            });
        }
    }
    .map(|value| Field {
        value,
        source: src(file, "scopes"),
    });
    Ok(c)
}
