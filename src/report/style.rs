//! Colour and emphasis for terminal output, off when `NO_COLOR` is set or the stream is
//! not a terminal.

use std::io::IsTerminal;

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
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            enabled: !no_color && terminal,
        }
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
