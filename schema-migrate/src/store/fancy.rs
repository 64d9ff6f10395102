//! The progress bar of the command line (feature `cli`), drawn by
//! indicatif: a bar with rate and ETA when the number of records is known
//! (`--limit`), a spinner with the rate otherwise.

use std::io::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};

use super::Report;

/// A bar on stderr, drawn whether stderr is a terminal or not: it is made
/// only when stderr is one or the user asked for it (`--progress bar`),
/// which indicatif's own stderr target would refuse off a terminal.
pub(crate) struct Fancy {
    bar: ProgressBar,
}

impl Fancy {
    pub(crate) fn new(total: Option<u64>, what: &'static str) -> Self {
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(Stderr), 10);
        let (bar, template) = match total.filter(|&n| n > 0) {
            Some(total) => (
                ProgressBar::with_draw_target(Some(total), target),
                format!(
                    "{{spinner}} [{{bar:24}}] {{pos}}/{{len}} {what}, {{rate}}, ETA {{eta}}: {{msg}}"
                ),
            ),
            None => (
                ProgressBar::with_draw_target(None, target),
                format!("{{spinner}} {{pos}} {what}, {{rate}}: {{msg}}"),
            ),
        };
        // The templates are constants: a bad one is a bug, shown as the
        // default style rather than a failed migration.
        if let Ok(style) = ProgressStyle::with_template(&template) {
            // Whole records a second: indicatif's `per_sec` shows four decimals.
            let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} records/s", state.per_sec());
            };
            bar.set_style(style.progress_chars("#>-").with_key("rate", rate));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Fancy { bar }
    }

    /// Shows `done` records and the message.
    pub(crate) fn show(&self, done: u64, message: String) {
        self.bar.set_position(done);
        self.bar.set_message(message);
    }

    /// Draws the last state and leaves it on the screen.
    pub(crate) fn finish(&self, done: u64, message: String) {
        self.bar.set_position(done);
        self.bar.finish_with_message(message);
    }

    /// The message of a migration's bar: what happened to the records.
    pub(crate) fn report_message(report: &Report) -> String {
        let mut message = format!(
            "{} {}, {} current, {} failed, {} conflicts",
            report.upgraded,
            if report.dry_run {
                "to upgrade"
            } else {
                "upgraded"
            },
            report.already_current,
            report.failed.len(),
            report.conflicts.len(),
        );
        if let Some(key) = &report.last_key {
            message.push_str(&format!(", at {key}"));
        }
        message
    }
}

impl Drop for Fancy {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.abandon();
        }
    }
}

/// stderr with the ANSI cursor controls indicatif redraws with.
#[derive(Debug)]
struct Stderr;

impl Stderr {
    fn out(&self, text: &str) -> std::io::Result<()> {
        std::io::stderr().lock().write_all(text.as_bytes())
    }
}

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(120)
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.out(&format!("\x1b[{n}A"))
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.out(&format!("\x1b[{n}B"))
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.out(&format!("\x1b[{n}C"))
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.out(&format!("\x1b[{n}D"))
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.out(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.out(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.out("\r\x1b[2K")
    }

    fn flush(&self) -> std::io::Result<()> {
        std::io::stderr().lock().flush()
    }
}
