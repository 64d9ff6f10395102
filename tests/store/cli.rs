//! The ready command line (the `store_child` binary) run as a user runs it.

use std::process::Command;

use schema_migrate::store::cli::shell_quote;

/// What one run printed, and its exit code.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// The report and any resume hint.
    pub stdout: String,
    /// Errors and warnings.
    pub stderr: String,
}

/// Runs `child` with `args`.
pub fn run(child: &str, args: &[&str]) -> Output {
    output(Command::new(child).args(args))
}

fn output(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The number on the report line that starts with `label` (`"scanned "`).
pub fn count(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"));
    let number = line.split_whitespace().next_back().unwrap_or_default();
    number
        .parse()
        .unwrap_or_else(|_| panic!("{label:?}: {number:?} is not a count"))
}

/// The sums of a run that `args` stop early (with `--limit`), resumed again
/// and again from the hint it prints, pasted into `bash -c` exactly as
/// printed, until a run reaches the end.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Runs made.
    pub runs: usize,
    /// Records scanned, upgraded and failed, over all runs.
    pub scanned: u64,
    /// See `scanned`.
    pub upgraded: u64,
    /// See `scanned`.
    pub failed: u64,
    /// What the last run printed.
    pub last: String,
}

/// See [`Resumed`]. Every run must end as a run does (exit 0, or 1 when
/// records failed), not with a usage or store error.
pub fn run_resuming(child: &str, args: &[&str]) -> Resumed {
    let mut sums = Resumed::default();
    let mut hint: Option<String> = None;
    loop {
        let out = match &hint {
            None => run(child, args),
            Some(hint) => {
                let words: Vec<String> = std::iter::once(child)
                    .chain(args.iter().copied())
                    .map(shell_quote)
                    .collect();
                let line = format!("{} {hint}", words.join(" "));
                output(Command::new("bash").arg("-c").arg(line))
            }
        };
        assert!(
            matches!(out.code, Some(0 | 1)),
            "exit {:?}:\n{}{}",
            out.code,
            out.stdout,
            out.stderr
        );
        sums.runs += 1;
        sums.scanned += count(&out.stdout, "scanned ");
        sums.upgraded += count(&out.stdout, "upgraded ");
        sums.failed += count(&out.stdout, "failed ");
        assert!(sums.runs < 10_000, "the hints do not reach the end");
        match out.stdout.split_once("continue with ") {
            Some((_, rest)) => hint = Some(rest.trim_end().to_owned()),
            None => {
                sums.last = out.stdout;
                return sums;
            }
        }
    }
}
