//! Shell conventions: completions and the man page cover every command and flag, colour
//! follows `--color`, `NO_COLOR` and `CLICOLOR_FORCE`, and `oauthscope.toml` supplies
//! one's usual flags (the command line winning).

mod common;

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use common::*;

/// Run the binary in `dir` with `env`: (exit code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("XDG_CONFIG_HOME", dir.join("no-user-config"));
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sample(name: &str) -> String {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn completions_and_the_man_page_name_every_command_and_flag() {
    let dir = temp_dir("conventions-shell");
    let cli = oauthscope::cli::Cli::command();
    let (code, man, _) = run_in(&dir, &["man"], &[]);
    assert_eq!(code, 0);
    let mut outputs = Vec::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, out, err) = run_in(&dir, &["completions", shell], &[]);
        assert_eq!(code, 0, "{shell}: {err}");
        outputs.push((shell, out));
    }
    let mut checked = 0;
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        assert!(
            man.contains(&format!("oauthscope\\-{}", name.replace('-', "\\-"))),
            "man: {name}"
        );
        for (shell, out) in &outputs {
            assert!(out.contains(name), "{shell}: {name}");
        }
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
            assert!(man.contains(&roff), "man: {name} --{long}");
            let (_, bash) = &outputs[0];
            assert!(bash.contains(&format!("--{long}")), "bash: {name} --{long}");
            let (_, fish) = &outputs[2];
            assert!(
                fish.contains(&format!("-l {long}")),
                "fish: {name} --{long}"
            );
            checked += 1;
        }
    }
    assert!(checked > 90, "{checked} flags checked");
    assert!(run_in(&dir, &["completions", "tcsh"], &[]).0 == 2);
}

#[test]
fn colour_follows_the_flag_and_the_environment_and_json_never_has_any() {
    let dir = temp_dir("conventions-color");
    let capture = sample("refresh-404.jsonl");
    let esc = |s: &str| s.contains('\u{1b}');
    let (_, out, _) = run_in(&dir, &["analyze", &capture, "--color", "always"], &[]);
    assert!(esc(&out), "--color always colours");
    let (_, out, _) = run_in(
        &dir,
        &["analyze", &capture, "--color", "never"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!esc(&out), "--color never wins over CLICOLOR_FORCE");
    let (_, out, _) = run_in(&dir, &["analyze", &capture], &[("CLICOLOR_FORCE", "1")]);
    assert!(esc(&out), "CLICOLOR_FORCE colours a pipe");
    let (_, out, _) = run_in(
        &dir,
        &["--color", "auto", "analyze", &capture],
        &[("NO_COLOR", "1")],
    );
    assert!(!esc(&out), "NO_COLOR");
    let (_, out, _) = run_in(&dir, &["analyze", &capture], &[]);
    assert!(!esc(&out), "a pipe is not a terminal");
    let (_, out, _) = run_in(
        &dir,
        &["analyze", &capture, "--format", "json", "--color", "always"],
        &[],
    );
    assert!(!esc(&out), "JSON is never coloured");
    serde_json::from_str::<serde_json::Value>(&out).unwrap();
}

#[test]
fn a_config_file_supplies_flags_and_the_command_line_wins() {
    let dir = temp_dir("conventions-config");
    let capture = sample("refresh-404.jsonl");
    let is_json = |s: &str| serde_json::from_str::<serde_json::Value>(s).is_ok();
    // The user's config folder.
    let user = dir.join("user");
    std::fs::create_dir_all(user.join("oauthscope")).unwrap();
    std::fs::write(
        user.join("oauthscope/oauthscope.toml"),
        "format = \"json\"\n",
    )
    .unwrap();
    let xdg = [("XDG_CONFIG_HOME", user.to_str().unwrap())];
    let (code, out, err) = run_in(&dir, &["analyze", &capture], &xdg);
    assert_eq!(code, 0, "{err}");
    assert!(is_json(&out), "the user's file applies");
    let (_, out, _) = run_in(&dir, &["analyze", &capture, "--format", "text"], &xdg);
    assert!(
        !is_json(&out) && out.contains("Refresh sent to a different URL"),
        "the flag wins"
    );
    // The working folder's file wins over the user's; a command's table over the top.
    std::fs::write(
        dir.join("oauthscope.toml"),
        "format = \"text\"\nupstream_ca = [\"a.pem\", \"b.pem\"]\n\n[timeline]\nformat = \"json\"\n",
    )
    .unwrap();
    let (_, out, _) = run_in(&dir, &["analyze", &capture], &xdg);
    assert!(!is_json(&out), "the working folder's file");
    let (_, out, _) = run_in(&dir, &["timeline", &capture], &xdg);
    assert!(is_json(&out), "the [timeline] table");
    let (code, out, _) = run_in(&dir, &["config"], &xdg);
    assert_eq!(code, 0);
    assert!(
        out.contains("read oauthscope.toml") && out.contains("oauthscope/oauthscope.toml"),
        "{out}"
    );
    assert!(out.contains("format = \"json\"    (`timeline`"), "{out}");
    assert!(out.contains("upstream_ca = [\"a.pem\",\"b.pem\"]"), "{out}");
    // Unknown keys and secrets are errors naming the file and the key.
    std::fs::write(dir.join("oauthscope.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let (code, _, err) = run_in(&dir, &["analyze", &capture], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("oauthscope.toml: unknown key \"lisen\""),
        "{err}"
    );
    std::fs::write(
        dir.join("oauthscope.toml"),
        "[gateway]\nsecret = \"0123456789abcdef0\"\n",
    )
    .unwrap();
    let (code, _, err) = run_in(&dir, &["analyze", &capture], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("\"secret\" would hold a secret"), "{err}");
    std::fs::write(dir.join("oauthscope.toml"), "max_body = \"lots\"\n").unwrap();
    let (code, _, err) = run_in(&dir, &["proxy", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("lots"), "checked like the flag: {err}");
}

/// The module map at the top of `src/lib.rs` is kept true: every `crate::MODULE` a module
/// names (outside its tests) is one the map says it may use, so no layer imports from a
/// layer above it.
#[test]
fn modules_only_use_what_the_module_map_allows() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    // "//! - [`name`]: job ... Uses a, b, c." entries, in order.
    let mut order: Vec<String> = Vec::new();
    let mut uses: std::collections::HashMap<String, String> = Default::default();
    let mut current: Option<String> = None;
    for line in lib.lines().take_while(|l| l.starts_with("//!")) {
        let text = line.trim_start_matches("//!").trim();
        if let Some(rest) = text.strip_prefix("- [`") {
            let name = rest.split('`').next().unwrap().to_string();
            order.push(name.clone());
            current = Some(name);
        } else if text.is_empty() {
            current = None;
        }
        if let Some(name) = &current {
            let entry = uses.entry(name.clone()).or_default();
            entry.push(' ');
            entry.push_str(text);
        }
    }
    assert!(order.len() >= 15, "module map not found: {order:?}");
    let allowed = |module: &str| -> Vec<String> {
        let text = &uses[module];
        let Some(i) = text.find("Uses ") else {
            return Vec::new();
        };
        let list = &text[i + 5..];
        if list.starts_with("everything below") {
            let at = order.iter().position(|m| m == module).unwrap();
            return order[at + 1..].to_vec();
        }
        list.split('.')
            .next()
            .unwrap()
            .split([',', ' ', '('])
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
            .filter(|w| order.iter().any(|m| m == w))
            .map(str::to_string)
            .collect()
    };
    // The map itself only points down: a module uses modules listed after it.
    for (at, module) in order.iter().enumerate() {
        for used in allowed(module) {
            let pos = order.iter().position(|m| *m == used).unwrap();
            assert!(
                pos > at,
                "the map lets {module} use {used}, listed above it"
            );
        }
    }
    let uses_re = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut wrong = Vec::new();
    for module in &order {
        let allowed = allowed(module);
        let file = root.join(format!("{module}.rs"));
        let mut files = vec![];
        if file.exists() {
            files.push(file);
        }
        let dir = root.join(module);
        if dir.is_dir() {
            let mut stack = vec![dir];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "rs") {
                        files.push(p);
                    }
                }
            }
        }
        assert!(!files.is_empty(), "no source for module {module}");
        for f in files {
            if f.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            // Unit tests at the end of a file may use anything.
            let text = text.split("#[cfg(test)]").next().unwrap();
            for c in uses_re.captures_iter(text) {
                let used = &c[1];
                let is_module = order.iter().any(|m| m == used);
                if is_module && used != module && !allowed.iter().any(|a| a == used) {
                    wrong.push(format!("{}: {module} uses {used}", f.display()));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against the module map:\n{}",
        wrong.join("\n")
    );
}
