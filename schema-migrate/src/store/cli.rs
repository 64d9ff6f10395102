//! A ready command line for batch migration, wired to your type in a few lines.
//!
//! ```no_run
//! use schema_migrate::Versioned;
//!
//! #[derive(Versioned)]
//! #[schema(version = 2, migrate(from = 1, add(retries = 3)))]
//! struct Job { name: String, retries: u32 }
//!
//! fn main() -> std::process::ExitCode {
//!     schema_migrate::store::cli::run::<Job>()
//! }
//! ```
//!
//! Then `my-migrate --store sqlite:jobs.db --table jobs --dry-run`, and the
//! same without `--dry-run` to write. See [`USAGE`] for every option.
//!
//! Exit status: 0 when every record is current or was upgraded, 1 when some
//! records failed to upgrade (listed, left untouched), 2 for a usage error
//! (including a store that cannot be named so: an invalid table name, an
//! unknown URL scheme, a backend not compiled in, a missing file or table),
//! 3 when the store failed (the message says after which key to resume).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use serde::Serialize;

use super::{Migrator, Progress};
use crate::{DeserializeVersionedOwned, Versioned};

/// The `--help` text.
pub const USAGE: &str = "\
Upgrade every stored record to the current version of the type.

Usage: <program> --store URL [options]

Options:
  --store URL          sqlite:PATH, postgres://USER@HOST/DB or redis://HOST:PORT
  --table NAME         the table holding the records (SQLite, PostgreSQL) [default: records]
  --prefix NAME        the key prefix (Redis); the same setting as --table
  --dry-run            read and report, write nothing
  --batch-size N       records read and written per transaction [default: 500]
  --resume-from KEY    start after KEY (the last key of an interrupted run)
  --limit N            stop after N records
  --progress MODE      auto: a progress line on a terminal; otherwise `tracing`
                       events if the program installed a subscriber, else
                       plain lines on stderr, one a second, with the last key
                       done; or bar, lines, events [default: auto]
  -h, --help           print this help

Exit status: 0 done, 1 some records failed to upgrade (listed, left untouched),
2 usage error, 3 the store failed.";

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--store`.
    pub store: String,
    /// `--table` / `--prefix`.
    pub table: String,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--resume-from`.
    pub resume_from: Option<String>,
    /// `--limit`.
    pub limit: Option<u64>,
    /// `--progress`.
    pub progress: Progress,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run a migration.
    Run(Options),
    /// Print [`USAGE`].
    Help,
}

/// Parses the arguments after the program name. The error is a message for
/// the user, to print with [`USAGE`].
///
/// ```
/// use schema_migrate::store::cli::{parse, Command};
///
/// let args = ["--store", "sqlite:jobs.db", "--dry-run", "--batch-size=100"];
/// let Command::Run(options) = parse(args.map(String::from))? else { unreachable!() };
/// assert_eq!((options.table.as_str(), options.batch_size, options.dry_run), ("records", 100, true));
///
/// assert!(parse(["--batch-size", "0"].map(String::from)).is_err());
/// # Ok::<(), String>(())
/// ```
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut store = None;
    let mut table = None;
    let mut dry_run = false;
    let mut batch_size = super::batch::DEFAULT_BATCH_SIZE;
    let mut resume_from = None;
    let mut limit = None;
    let mut progress = Progress::Auto;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Both `--name value` and `--name=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{name} needs a value: {what}")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--store" => store = Some(value("a store URL")?),
            "--table" | "--prefix" => {
                let v = value("a name")?;
                if let Some(previous) = table.replace(v.clone()) {
                    if previous != v {
                        return Err(format!(
                            "--table/--prefix given twice ({previous:?} and {v:?}); \
                             they are the same setting"
                        ));
                    }
                }
            }
            "--dry-run" if inline.is_none() => dry_run = true,
            "--batch-size" => {
                let v = value("a number of records")?;
                batch_size = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "--batch-size: expected a number above 0, got {v:?}"
                        ))
                    }
                };
            }
            "--resume-from" => resume_from = Some(value("the last key done")?),
            "--limit" => {
                let v = value("a number of records")?;
                limit = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("--limit: expected a number, got {v:?}"))?,
                );
            }
            "--progress" => {
                let v = value("auto, bar, lines or events")?;
                progress = match v.as_str() {
                    "auto" => Progress::Auto,
                    "bar" => Progress::Bar,
                    "lines" => Progress::Lines,
                    "events" => Progress::Events,
                    _ => {
                        return Err(format!(
                            "--progress: expected auto, bar, lines or events, got {v:?}"
                        ))
                    }
                };
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let store = store.ok_or("--store is required (for example --store sqlite:records.db)")?;
    Ok(Command::Run(Options {
        store,
        table: table.unwrap_or_else(|| "records".to_owned()),
        dry_run,
        batch_size,
        resume_from,
        limit,
        progress,
    }))
}

/// Parses `std::env::args`, runs the migration of `T`, prints the report,
/// and returns the exit status (see the [module docs](self)).
pub fn run<T>() -> ExitCode
where
    T: Versioned + DeserializeVersionedOwned + Serialize,
{
    run_with_args::<T>(std::env::args().skip(1))
}

/// Like [`run`], with the arguments given (without the program name).
pub fn run_with_args<T>(args: impl IntoIterator<Item = String>) -> ExitCode
where
    T: Versioned + DeserializeVersionedOwned + Serialize,
{
    let options = match parse(args) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            // A closed stdout (`| head`) is not worth a panic.
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::from(3);
        }
    };
    runtime.block_on(migrate::<T>(options))
}

async fn migrate<T>(options: Options) -> ExitCode
where
    T: Versioned + DeserializeVersionedOwned + Serialize,
{
    // Nothing is created: a dry run writes nothing, and a misspelled file or
    // table is an error rather than an empty store that migrates fine.
    let store = match super::open_existing(&options.store, &options.table).await {
        Ok(store) => store,
        Err(e) if e.is_usage() => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return ExitCode::from(3);
        }
    };
    // Events nobody subscribed to are lost: a job's log would show nothing
    // until the end, nor the last key done if it is killed.
    let progress = match options.progress {
        Progress::Auto
            if !std::io::stderr().is_terminal() && !tracing::dispatcher::has_been_set() =>
        {
            Progress::Lines
        }
        other => other,
    };
    let mut migrator = Migrator::<T>::new()
        .dry_run(options.dry_run)
        .batch_size(options.batch_size)
        .progress(progress);
    if let Some(key) = options.resume_from {
        migrator = migrator.resume_from(key);
    }
    if let Some(limit) = options.limit {
        migrator = migrator.limit(limit);
    }
    let backend = store.backend();
    match migrator.run(&store).await {
        Ok(report) => {
            // What is printed is best effort: a closed stdout (`| head`)
            // must neither panic nor change the exit status, which says
            // what happened to the records.
            let mut out = std::io::stdout().lock();
            if report.scanned == 0 && report.resumed_from.is_none() {
                let (what, hint) = if backend == "redis" {
                    (
                        "under the prefix",
                        " (records written by other programs are indexed by RedisStore::reindex)",
                    )
                } else {
                    ("in the table", "")
                };
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: no records found {what} `{}`: is the name right?{hint}",
                    options.table
                );
            }
            let _ = writeln!(out, "{report:#}");
            if !report.conflicts.is_empty() {
                let _ = writeln!(
                    out,
                    "{} record(s) changed while they were read; run again to upgrade them if needed",
                    report.conflicts.len()
                );
            }
            if !report.finished {
                if let Some(key) = &report.last_key {
                    let _ = writeln!(
                        out,
                        "stopped before the end: continue with --resume-from {key}"
                    );
                }
            }
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            let _ = writeln!(std::io::stdout(), "{:#}", e.report);
            let _ = writeln!(std::io::stderr(), "error: {e}");
            if let Some(key) = &e.report.last_key {
                let _ = writeln!(std::io::stderr(), "continue with --resume-from {key}");
            }
            ExitCode::from(3)
        }
    }
}
