//! `oauthscope.toml`: one's usual flags. Read from the working folder, then from the
//! user's config folder (`$XDG_CONFIG_HOME/oauthscope/`, else `~/.config/oauthscope/`;
//! `~/Library/Application Support/oauthscope/` on macOS); the first file found on each
//! level counts, the working folder's winning. Keys are the long flags with `_` for `-`
//! (`listen`, `ca_dir`, `upstream_ca`, `scope`, `max_body`, ...): top-level keys apply
//! to every command that has the flag, a `[proxy]` (any command's name) table to that
//! command only. Flags on the command line win. Secrets are never read from a file.
//!
//! The settings become flags before clap parses the command line, so a value is checked
//! exactly as the flag would be.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;

/// Keys that would hold a secret: refused in a file.
const SECRET_KEYS: [&str; 4] = ["secret", "client_secret", "token", "password"];

/// One setting and where it came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Setting {
    /// The command it applies to (`None`: every command with the flag).
    pub command: Option<String>,
    pub key: String,
    pub value: toml::Value,
    pub file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("{path}: unknown key {key:?} (keys are the long flags, like listen or max_body)")]
    UnknownKey { path: String, key: String },
    #[error("{path}: {key:?} would hold a secret; secrets come from environment variables only")]
    Secret { path: String, key: String },
    #[error("{path}: {key}: {message}")]
    Value {
        path: String,
        key: String,
        message: String,
    },
}

/// The files read, most important first.
pub fn files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let here = PathBuf::from("oauthscope.toml");
    if here.is_file() {
        out.push(here);
    }
    let user = if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| {
            PathBuf::from(h).join("Library/Application Support/oauthscope/oauthscope.toml")
        })
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|d| d.join("oauthscope/oauthscope.toml"))
    };
    if let Some(u) = user.filter(|u| u.is_file()) {
        out.push(u);
    }
    out
}

/// Every long flag of every command, by command name.
fn flags() -> Vec<(String, Vec<(String, bool)>)> {
    let cmd = Cli::command();
    cmd.get_subcommands()
        .map(|sub| {
            let longs = sub
                .get_arguments()
                .filter_map(|a| {
                    let takes_value = a.get_action().takes_values();
                    a.get_long().map(|l| (l.to_string(), takes_value))
                })
                .collect();
            (sub.get_name().to_string(), longs)
        })
        .collect()
}

/// Read the settings of `files` (checked: known keys, no secrets).
pub fn read(files: &[PathBuf]) -> Result<Vec<Setting>, ConfigError> {
    let all = flags();
    let known = |key: &str| {
        let flag = key.replace('_', "-");
        all.iter().any(|(_, f)| f.iter().any(|(l, _)| *l == flag))
    };
    let mut out = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml {
                path: name.clone(),
                message: e.message().to_string(),
            })?;
        let mut take = |command: Option<&str>, key: &str, value: &toml::Value| {
            if SECRET_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s)) {
                return Err(ConfigError::Secret {
                    path: name.clone(),
                    key: key.to_string(),
                });
            }
            if !known(key) {
                return Err(ConfigError::UnknownKey {
                    path: name.clone(),
                    key: command.map_or(key.to_string(), |c| format!("{c}.{key}")),
                });
            }
            out.push(Setting {
                command: command.map(str::to_string),
                key: key.to_string(),
                value: value.clone(),
                file: path.clone(),
            });
            Ok(())
        };
        for (k, v) in &table {
            match v {
                toml::Value::Table(t) if all.iter().any(|(c, _)| c == k) => {
                    for (k2, v2) in t {
                        take(Some(k), k2, v2)?;
                    }
                }
                toml::Value::Table(_) => {
                    return Err(ConfigError::UnknownKey {
                        path: name.clone(),
                        key: format!("[{k}] (not a command)"),
                    });
                }
                _ => take(None, k, v)?,
            }
        }
    }
    Ok(out)
}

/// The command line with the settings that apply to its command added as flags (those it
/// does not set itself). Command-specific settings win over top-level ones, the working
/// folder's over the user's.
pub fn apply(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let files = files();
    if files.is_empty() {
        return Ok(args);
    }
    let settings = read(&files)?;
    let all = flags();
    // The command: the first word that names one.
    let Some((pos, longs)) = args.iter().enumerate().skip(1).find_map(|(i, a)| {
        let a = a.to_str()?;
        all.iter()
            .find(|(c, _)| c == a)
            .map(|(_, longs)| (i, longs.clone()))
    }) else {
        return Ok(args);
    };
    let command = args[pos].to_string_lossy().to_string();
    let given = |flag: &str| {
        args.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == format!("--{flag}") || a.starts_with(&format!("--{flag}=")))
        })
    };
    let mut extra: Vec<OsString> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let ordered = settings
        .iter()
        .filter(|s| s.command.as_deref() == Some(command.as_str()))
        .chain(settings.iter().filter(|s| s.command.is_none()));
    for s in ordered {
        let flag = s.key.replace('_', "-");
        let Some((_, takes_value)) = longs.iter().find(|(l, _)| *l == flag) else {
            continue;
        };
        if given(&flag) || done.contains(&flag) {
            continue;
        }
        done.push(flag.clone());
        let path = s.file.display().to_string();
        let bad = |message: &str| ConfigError::Value {
            path: path.clone(),
            key: s.key.clone(),
            message: message.to_string(),
        };
        match (&s.value, takes_value) {
            (toml::Value::Boolean(b), false) => {
                if *b {
                    extra.push(format!("--{flag}").into());
                }
            }
            (_, false) => return Err(bad("a switch: write true or false")),
            (toml::Value::Array(items), true) => {
                for item in items {
                    extra.push(format!("--{flag}").into());
                    extra.push(
                        scalar(item)
                            .ok_or_else(|| bad("list items must be strings or numbers"))?
                            .into(),
                    );
                }
            }
            (v, true) => {
                extra.push(format!("--{flag}").into());
                extra.push(
                    scalar(v)
                        .ok_or_else(|| bad("expected a string or a number"))?
                        .into(),
                );
            }
        }
    }
    let mut out = args;
    let at = pos + 1;
    out.splice(at..at, extra);
    Ok(out)
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `oauthscope config`: the settings and their files.
pub fn describe(settings: &[Setting], files: &[PathBuf]) -> String {
    let mut s = String::new();
    if files.is_empty() {
        s.push_str(
            "no oauthscope.toml in this folder or the user's config folder: every setting is a default or a flag\n",
        );
        return s;
    }
    for f in files {
        s.push_str(&format!("read {}\n", f.display()));
    }
    for x in settings {
        let scope = x
            .command
            .as_deref()
            .map_or("every command".to_string(), |c| format!("`{c}`"));
        s.push_str(&format!(
            "  {} = {}    ({scope}, from {}; a flag on the command line wins)\n",
            x.key,
            serde_json::to_string(&x.value).unwrap_or_default(),
            display(&x.file)
        ));
    }
    s
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
