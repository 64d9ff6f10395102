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
//! same without `--dry-run` to write; on a table the application already has,
//! `my-migrate --store sqlite:app.db --table items --key id --payload data`.
//! See [`USAGE`] for every option.
//!
//! Exit status: 0 when every record is current, was upgraded or was a
//! conflict (counted and named), 1 when some records failed to upgrade
//! (listed, left untouched), 2 for a usage error (including a store that
//! cannot be named so: an unknown URL scheme, a backend not compiled in, a
//! missing file, table or column, a key column of another type), 3 when the
//! store failed (the message says, shell-quoted, after which key to resume).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use super::{Migrator, Progress};
use crate::{DeserializeVersionedOwned, SerializeVersioned};

/// The `--help` text.
pub const USAGE: &str = "\
Upgrade every stored record to the version the type writes (or, with --to,
move every record to the version given).

Usage: <program> --store URL [options]

Options:
  --store URL          sqlite:PATH, postgres://USER@HOST/DB or redis://HOST:PORT
  --table NAME         the table holding the records (schema.table on PostgreSQL)
                       [default: records]
  --prefix NAME        Redis: the key prefix of the store's own layout; the same
                       setting as --table
An existing table (without --key and --payload: the store's own layout,
columns key, payload and revision):
  --key COL[,COL...]   the key column(s): text, integer or uuid; records are
                       visited in their order [default: key]
  --payload COL        the payload column: TEXT, JSON, JSONB, BLOB or BYTEA
                       [default: payload]
  --format FORMAT      json, msgpack or cbor [default: json]
  --path POINTER       a JSON Pointer to the versioned value inside the payload,
                       e.g. /channel_values/trip; the rest is left as it was
  --revision COL       an integer column every writer bumps; without it,
                       compare-and-swap checks xmin (PostgreSQL) or the payload
  --where CONDITION    only the rows matching this SQL condition
Existing Redis keys:
  --match PATTERN      the keys matching this pattern, each a string value
                       holding the payload (instead of --prefix)
  --hash-field NAME    with --match: the payload is this field of a hash

  --dry-run            read and report, write nothing
  --batch-size N       records read and written per transaction [default: 500]
  --resume-from KEY    start after KEY (the last key of an interrupted run)
  --limit N            stop after N records
  --to VERSION         move every record to this version, up or down (the
                       rollback of a release: write its records down to the
                       version the release before it reads) [default: the
                       type's write version, raising older records only]
  --progress MODE      auto: a progress line on a terminal; otherwise `tracing`
                       events if the program installed a subscriber, else
                       plain lines on stderr, one a second, with the last key
                       done; or bar, lines, events [default: auto]
  -h, --help           print this help

Exit status: 0 done, 1 some records failed to upgrade (listed, left untouched),
2 usage error, 3 the store failed.";

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `--store`.
    pub store: String,
    /// `--table` / `--prefix`.
    pub table: String,
    /// Where the records are: built from `--table`, `--key`, `--payload`,
    /// `--format`, `--path`, `--revision`, `--where`, `--match` and
    /// `--hash-field`.
    pub layout: super::Layout,
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
    /// `--to`: the version to move every record to, up or down.
    pub to: Option<u32>,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run a migration.
    Run(Box<Options>),
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
    let mut to = None;
    let mut progress = Progress::Auto;
    let mut key: Option<Vec<String>> = None;
    let mut payload = None;
    let mut format = super::Format::Json;
    let mut path = None;
    let mut revision = None;
    let mut filter = None;
    let mut pattern = None;
    let mut hash_field = None;
    let mut prefix_given = false;

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
                prefix_given |= name == "--prefix";
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
            "--key" => {
                let v = value("the key column, or several separated by commas")?;
                let columns: Vec<String> = v.split(',').map(|c| c.trim().to_owned()).collect();
                if columns.iter().any(String::is_empty) {
                    return Err(format!("--key: expected COL[,COL...], got {v:?}"));
                }
                key = Some(columns);
            }
            "--payload" => payload = Some(value("the payload column")?),
            "--format" => {
                let v = value("json, msgpack or cbor")?;
                format = v.parse().map_err(|e| format!("--format: {e}"))?;
            }
            "--path" => {
                let v = value("a JSON Pointer, such as /channel_values/trip")?;
                path = Some(super::Pointer::parse(&v).map_err(|e| format!("--path: {e}"))?);
            }
            "--revision" => revision = Some(value("the revision column")?),
            "--where" => filter = Some(value("an SQL condition")?),
            "--match" => pattern = Some(value("a key pattern, such as session:*")?),
            "--hash-field" => hash_field = Some(value("the hash field holding the payload")?),
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
            "--to" => {
                let v = value("a version")?;
                to = Some(
                    v.parse::<u32>()
                        .map_err(|_| format!("--to: expected a version number, got {v:?}"))?,
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
    if prefix_given && pattern.is_some() {
        return Err(
            "--match replaces --prefix: give the keys' pattern with --match, or the store's own \
             prefix with --prefix, not both"
                .to_owned(),
        );
    }
    if hash_field.is_some() && pattern.is_none() {
        return Err("--hash-field goes with --match PATTERN".to_owned());
    }
    let table = table.unwrap_or_else(|| "records".to_owned());
    let mut layout = match (&pattern, key.is_some() || payload.is_some()) {
        (Some(pattern), _) => super::Layout::redis_keys(pattern.clone()),
        (None, true) => super::Layout::table(
            table.clone(),
            key.clone().unwrap_or_else(|| vec!["key".to_owned()]),
            payload.clone().unwrap_or_else(|| "payload".to_owned()),
        ),
        (None, false) => super::Layout::new(table.clone()),
    };
    if pattern.is_some() && (key.is_some() || payload.is_some() || filter.is_some()) {
        return Err(
            "--key, --payload and --where name columns of a table; --match names Redis keys"
                .to_owned(),
        );
    }
    if let Some(column) = revision {
        layout = layout.revision(column);
    }
    if let Some(condition) = filter {
        layout = layout.filter(condition);
    }
    if let Some(field) = hash_field {
        layout = layout.hash_field(field);
    }
    layout = layout.format(format);
    layout.encoding.path = path;
    Ok(Command::Run(Box::new(Options {
        store,
        table,
        layout,
        dry_run,
        batch_size,
        resume_from,
        limit,
        progress,
        to,
    })))
}

/// Parses `std::env::args`, runs the migration of `T`, prints the report,
/// and returns the exit status (see the [module docs](self)).
pub fn run<T>() -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    run_with_args::<T>(std::env::args().skip(1))
}

/// Like [`run`], with the arguments given (without the program name).
pub fn run_with_args<T>(args: impl IntoIterator<Item = String>) -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
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
    // Two workers: the database client's connection task runs beside the
    // migrator, so a batch is upgraded while the engine works on another.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
    runtime.block_on(migrate::<T>(*options))
}

async fn migrate<T>(options: Options) -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    // Nothing is created: a dry run writes nothing (and opens a SQLite file
    // read-only), and a misspelled file or table is an error rather than an
    // empty store that migrates fine.
    let opened = if options.dry_run {
        super::open_layout_read_only(&options.store, &options.layout).await
    } else {
        super::open_layout(&options.store, &options.layout).await
    };
    let store = match opened {
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
    let mut migrator = Migrator::<T>::new();
    if let Some(version) = options.to {
        // Refused before the store is read: a version below a step that
        // cannot be run backward, or one the type does not read.
        migrator = match migrator.to_version(version) {
            Ok(migrator) => migrator,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: --to {version}: {e}");
                return ExitCode::from(2);
            }
        };
    }
    let mut migrator = migrator
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
            if report.scanned == 0 {
                let (what, name, hint) = match (&options.layout.key_pattern, backend) {
                    (Some(pattern), _) => ("matching", pattern.as_str(), ""),
                    (None, "redis") => (
                        "under the prefix",
                        options.table.as_str(),
                        " (records written by other programs: --match PATTERN)",
                    ),
                    _ => ("in the table", options.table.as_str(), ""),
                };
                let after = match &report.resumed_from {
                    Some(key) => format!(" after {}", shell_quote(key)),
                    None => String::new(),
                };
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: no records found {what} `{name}`{after}: is the name right?{hint}"
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
                        "stopped before the end: continue with --resume-from {}",
                        shell_quote(key)
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
                let _ = writeln!(
                    std::io::stderr(),
                    "continue with --resume-from {}",
                    shell_quote(key)
                );
            }
            ExitCode::from(3)
        }
    }
}

/// `text` as one word for a POSIX shell: as it is when it holds only
/// characters no shell treats specially, else in single quotes (a quote
/// inside written `'\''`), so that pasting a printed hint passes the key
/// through unchanged, spaces, quotes and newlines included.
///
/// ```
/// use schema_migrate::store::cli::shell_quote;
///
/// assert_eq!(shell_quote("thread-1"), "thread-1");
/// assert_eq!(shell_quote("it's a key"), r"'it'\''s a key'");
/// assert_eq!(shell_quote(r#"["a",1]"#), r#"'["a",1]'"#);
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
