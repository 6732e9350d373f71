//! Colour and emphasis for terminal output. `--color auto` (the default): on for a
//! terminal unless `NO_COLOR` is set, and on anyway with `CLICOLOR_FORCE`; `always` and
//! `never` decide alone. JSON output never goes through it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Set once, from `--color`, before anything is printed.
pub fn set_choice(c: ColorChoice) {
    CHOICE.store(
        match c {
            ColorChoice::Auto => 0,
            ColorChoice::Always => 1,
            ColorChoice::Never => 2,
        },
        Ordering::Relaxed,
    );
}

/// ANSI styling that switches itself off when it should.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub enabled: bool,
}

impl Style {
    /// For standard output: colors when it is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        Self::when(std::io::stdout().is_terminal())
    }

    /// For standard error (warnings, logs): decided by standard error, not standard output.
    pub fn detect_stderr() -> Self {
        Self::when(std::io::stderr().is_terminal())
    }

    fn when(terminal: bool) -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        let enabled = match CHOICE.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ if set("CLICOLOR_FORCE") => true,
            _ => !set("NO_COLOR") && terminal,
        };
        Style { enabled }
    }

    pub fn paint(&self, code: &str, s: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}
