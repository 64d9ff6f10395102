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
//! Subcommands: `migrate` (the default: what the options alone do), `status`
//! (how many records at each version, which are unreadable), `check` (a dry
//! run that exits 1 if any record would fail: a pre-deploy gate) and
//! `history` (the type's changelog). `--store` defaults to the environment
//! variable `SCHEMA_MIGRATE_STORE`, so that a password need not be on the
//! command line. See [`usage`] for every option.
//!
//! Exit status: 0 when every record is current, was upgraded or was a
//! conflict (counted and named), 1 when some records failed to upgrade
//! (listed, left untouched; for `check`, would fail), 2 for a usage error
//! (including a store that cannot be named so: an unknown URL scheme, a
//! backend not compiled in, a missing file, table or column, a key column
//! of another type), 3 when the store failed (the message says,
//! shell-quoted, after which key to resume).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use super::{Failure, Format, Migrator, Pointer, Progress, RecordStore};
use crate::{DeserializeVersionedOwned, SerializeVersioned, Versioned};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// The environment variable `--store` defaults to.
pub const STORE_ENV: &str = "SCHEMA_MIGRATE_STORE";

const EXAMPLES: &str = "\
Examples:
  # What would change, then change it (the store's own table `records`):
  <program> --store sqlite:app.db --dry-run
  <program> --store sqlite:app.db
  # A table the application already has, the state at a path in a JSONB column:
  <program> --store postgres://app@db/prod --table sessions --key id \\
      --payload state --path /channel_values/trip
  # Where the records stand (a table; --json for scripts):
  <program> status --store sqlite:app.db
  # A pre-deploy gate, the URL from the environment: exits 1 if any record
  # would fail to upgrade.
  SCHEMA_MIGRATE_STORE=postgres://app@db/prod <program> check --table sessions \\
      --key id --payload state
  # The type's history, as Markdown:
  <program> history

Exit status: 0 done, 1 some records failed to upgrade (listed, left untouched;
for `check`: would fail), 2 usage error, 3 the store failed.";

/// Upgrade stored records to the current version of the type, or see
/// where they stand.
///
/// Without a subcommand, migrates: the options below are `migrate`'s.
#[derive(Debug, Parser)]
#[command(
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// `None` when a subcommand is given.
    #[command(flatten)]
    migrate: Option<MigrateArgs>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Upgrade every record to the current version (the default)
    #[command(after_help = EXAMPLES)]
    Migrate(MigrateArgs),
    /// Count the records at each stored version, and list the unreadable
    /// ones and those newer than this program
    #[command(after_help = EXAMPLES)]
    Status(StatusArgs),
    /// A dry run that exits 1 if any record would fail to upgrade: a gate
    /// to run before a deploy
    #[command(after_help = EXAMPLES)]
    Check(CheckArgs),
    /// Print the type's history (its changelog) as Markdown
    History,
}

/// Where the records are.
#[derive(Debug, Clone, Args)]
struct StoreArgs {
    /// sqlite:PATH, postgres://USER@HOST/DB, redis://HOST:PORT or
    /// redis+cluster://HOST:PORT[,HOST:PORT...]
    #[arg(long, value_name = "URL", env = STORE_ENV, hide_env_values = true)]
    store: String,
    /// The table holding the records (schema.table on PostgreSQL)
    /// [default: records]
    #[arg(long, value_name = "NAME")]
    table: Option<String>,
    /// Redis: the key prefix of the store's own layout; the same setting as
    /// --table
    #[arg(long, value_name = "NAME")]
    prefix: Option<String>,
    /// The key column(s): text, integer or uuid; records are visited in
    /// their order [default: key]
    #[arg(long, value_name = "COL[,COL...]", value_parser = columns, help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)")]
    key: Option<Columns>,
    /// The payload column: TEXT, JSON, JSONB, BLOB or BYTEA [default: payload]
    #[arg(
        long,
        value_name = "COL",
        help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)"
    )]
    payload: Option<String>,
    /// json, msgpack or cbor
    #[arg(long, value_name = "FORMAT", default_value = "json", value_parser = format, help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)")]
    format: Format,
    /// A JSON Pointer to the versioned value inside the payload, e.g.
    /// /channel_values/trip; the rest is left as it was
    #[arg(long, value_name = "POINTER", value_parser = pointer, help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)")]
    path: Option<Pointer>,
    /// An integer column every writer bumps; without it, compare-and-swap
    /// checks xmin (PostgreSQL) or the payload
    #[arg(
        long,
        value_name = "COL",
        help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)"
    )]
    revision: Option<String>,
    /// Only the rows matching this SQL condition
    #[arg(
        long = "where",
        value_name = "CONDITION",
        help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)"
    )]
    filter: Option<String>,
    /// The keys matching this pattern, each a string value holding the
    /// payload (instead of --prefix)
    #[arg(
        long = "match",
        value_name = "PATTERN",
        help_heading = "Existing Redis keys"
    )]
    pattern: Option<String>,
    /// With --match: the payload is this field of a hash
    #[arg(long, value_name = "NAME", help_heading = "Existing Redis keys")]
    hash_field: Option<String>,
    /// Only the records in part I of N (0 <= I < N), by a hash of the key:
    /// N processes with I = 0..N-1 together visit every record once, each
    /// resuming on its own
    #[arg(long, value_name = "I/N", value_parser = partition)]
    partition: Option<super::Partition>,
    /// Columns of each row that the type's steps see as their context
    /// (`#[schema(context = Ctx)]`): Ctx is read from the JSON object
    /// {"a": ..., "b": ...} of these columns
    #[arg(long, value_name = "COL[,COL...]", value_parser = columns, help_heading = "An existing table (without --key and --payload: the store's own layout, columns key, payload and revision)")]
    context_columns: Option<Columns>,
}

/// How the records are visited.
#[derive(Debug, Clone, Args)]
struct ScanArgs {
    /// Records read and written per transaction
    #[arg(long, value_name = "N", default_value_t = super::batch::DEFAULT_BATCH_SIZE, value_parser = batch_size)]
    batch_size: usize,
    /// Start after KEY (the last key of an interrupted run)
    #[arg(long, value_name = "KEY")]
    resume_from: Option<String>,
    /// Stop after N records
    #[arg(long, value_name = "N", value_parser = limit)]
    limit: Option<u64>,
    /// auto: a progress bar on a terminal (with rate and ETA when --limit
    /// gives the count, a spinner otherwise); otherwise `tracing` events if
    /// the program installed a subscriber, else plain lines on stderr, one
    /// a second, with the last key done; or bar, lines, events
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = progress)]
    progress: Progress,
}

#[derive(Debug, Clone, Args)]
struct MigrateArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scan: ScanArgs,
    /// Read and report, write nothing
    #[arg(long)]
    dry_run: bool,
    /// Move every record to this version, up or down (a rollback writes
    /// the records down to the version the release before reads)
    /// [default: the type's write version, raising older records only]
    #[arg(long, value_name = "VERSION", value_parser = version)]
    to: Option<u32>,
}

#[derive(Debug, Clone, Args)]
struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scan: ScanArgs,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Args)]
struct CheckArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scan: ScanArgs,
    /// Check the move to this version instead of the write version
    #[arg(long, value_name = "VERSION", value_parser = version)]
    to: Option<u32>,
}

/// `--key`'s columns (a newtype: clap reads a bare `Vec` as a repeated flag).
#[derive(Debug, Clone)]
struct Columns(Vec<String>);

fn columns(v: &str) -> Result<Columns, String> {
    let columns: Vec<String> = v.split(',').map(|c| c.trim().to_owned()).collect();
    if columns.iter().any(String::is_empty) {
        return Err(format!("expected COL[,COL...], got {v:?}"));
    }
    Ok(Columns(columns))
}

fn partition(v: &str) -> Result<super::Partition, String> {
    v.parse()
}

fn format(v: &str) -> Result<Format, String> {
    v.parse()
}

fn pointer(v: &str) -> Result<Pointer, String> {
    Pointer::parse(v)
}

fn batch_size(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a number above 0, got {v:?}")),
    }
}

fn version(v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .map_err(|_| format!("expected a version number, got {v:?}"))
}

fn limit(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| format!("expected a number, got {v:?}"))
}

fn progress(v: &str) -> Result<Progress, String> {
    match v {
        "auto" => Ok(Progress::Auto),
        "bar" => Ok(Progress::Bar),
        "lines" => Ok(Progress::Lines),
        "events" => Ok(Progress::Events),
        _ => Err(format!("expected auto, bar, lines or events, got {v:?}")),
    }
}

/// The parsed options of `migrate`, `status` and `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `--store` (or `SCHEMA_MIGRATE_STORE`).
    pub store: String,
    /// `--table` / `--prefix`.
    pub table: String,
    /// Where the records are: built from `--table`, `--key`, `--payload`,
    /// `--format`, `--path`, `--revision`, `--where`, `--match` and
    /// `--hash-field`.
    pub layout: super::Layout,
    /// `--dry-run` (always on for `check`).
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
#[non_exhaustive]
pub enum Command {
    /// `migrate`, or no subcommand: run a migration.
    Run(Box<Options>),
    /// `status`: count the records at each version; `json` for `--json`.
    Status {
        /// The store and how to scan it.
        options: Box<Options>,
        /// `--json`.
        json: bool,
    },
    /// `check`: a dry run that exits 1 if any record would fail.
    Check(Box<Options>),
    /// `history`: print the changelog.
    History,
    /// `--help`: print this text.
    Help(String),
}

/// The help text of the command line, `program` standing for the program's
/// name.
///
/// ```
/// let help = schema_migrate::store::cli::usage("my-migrate");
/// assert!(help.contains("Usage: my-migrate [OPTIONS] --store <URL>"));
/// assert!(help.contains("status"));
/// ```
pub fn usage(program: &str) -> String {
    let mut command = Cli::command().name(program.to_owned());
    command
        .render_long_help()
        .to_string()
        .replace("<program>", program)
}

/// Parses the arguments after the program name. The error is the message
/// to print (it starts with `error: `); exit with status 2.
///
/// ```
/// use schema_migrate::store::cli::{parse, Command};
///
/// let args = ["--store", "sqlite:jobs.db", "--dry-run", "--batch-size=100"];
/// let Command::Run(options) = parse(args.map(String::from))? else { unreachable!() };
/// assert_eq!((options.table.as_str(), options.batch_size, options.dry_run), ("records", 100, true));
///
/// let Command::Status { json, .. } = parse(["status", "--store", "sqlite:jobs.db", "--json"].map(String::from))?
/// else { unreachable!() };
/// assert!(json);
///
/// assert!(parse(["--batch-size", "0"].map(String::from)).is_err());
/// # Ok::<(), String>(())
/// ```
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    parse_as("schema-migrate", args)
}

fn parse_as(program: &str, args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut command = Cli::command().name(program.to_owned());
    // By hand rather than `Cli::from_arg_matches`: the top level's
    // `migrate` options are required only when no subcommand is given.
    let matches = command
        .try_get_matches_from_mut(std::iter::once(program.to_owned()).chain(args))
        .and_then(|matches| {
            Ok(match matches.subcommand_name() {
                Some(_) => Cli {
                    command: Some(Sub::from_arg_matches(&matches)?),
                    migrate: None,
                },
                None => Cli {
                    command: None,
                    migrate: Some(MigrateArgs::from_arg_matches(&matches)?),
                },
            })
        });
    let cli = match matches {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Ok(
                    Command::Help(e.render().to_string().replace("<program>", program)),
                ),
                _ => Err(with_usage(program, e.render().to_string())),
            }
        }
    };
    let usage_error = |message: String| {
        let mut command = Cli::command().name(program.to_owned());
        command
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .render()
            .to_string()
    };
    let options = |store: StoreArgs, scan: ScanArgs, dry_run: bool, to: Option<u32>| {
        options(store, scan, dry_run, to).map_err(usage_error)
    };
    Ok(match cli.command {
        None => match cli.migrate {
            Some(MigrateArgs {
                store,
                scan,
                dry_run,
                to,
            }) => Command::Run(Box::new(options(store, scan, dry_run, to)?)),
            // Cannot happen: without a subcommand, the top level's options
            // are parsed (or their absence is clap's usage error).
            None => return Err(usage_error("--store is required".to_owned())),
        },
        Some(Sub::Migrate(MigrateArgs {
            store,
            scan,
            dry_run,
            to,
        })) => Command::Run(Box::new(options(store, scan, dry_run, to)?)),
        Some(Sub::Status(StatusArgs { store, scan, json })) => Command::Status {
            options: Box::new(options(store, scan, true, None)?),
            json,
        },
        Some(Sub::Check(CheckArgs { store, scan, to })) => {
            Command::Check(Box::new(options(store, scan, true, to)?))
        }
        Some(Sub::History) => Command::History,
    })
}

/// `error` with the usage lines, which clap leaves out of some errors (a
/// bad value): a user should see what the command line looks like.
fn with_usage(program: &str, error: String) -> String {
    if error.contains("Usage:") {
        return error;
    }
    let usage = Cli::command()
        .name(program.to_owned())
        .render_usage()
        .to_string();
    match error.split_once("\n\nFor more information") {
        Some((head, tail)) => format!("{head}\n\n{usage}\n\nFor more information{tail}"),
        None => format!("{}\n\n{usage}", error.trim_end()),
    }
}

/// The settings that go together, checked as the hand-written parser
/// checked them, with the same messages.
fn options(
    store_args: StoreArgs,
    scan: ScanArgs,
    dry_run: bool,
    to: Option<u32>,
) -> Result<Options, String> {
    let StoreArgs {
        store,
        table,
        prefix,
        key,
        payload,
        format,
        path,
        revision,
        filter,
        pattern,
        hash_field,
        context_columns,
        partition,
    } = store_args;
    let key = key.map(|Columns(columns)| columns);
    let prefix_given = prefix.is_some();
    let table = match (table, prefix) {
        (Some(table), Some(prefix)) if table != prefix => {
            return Err(format!(
                "--table/--prefix given twice ({table:?} and {prefix:?}); they are the same setting"
            ))
        }
        (table, prefix) => table.or(prefix),
    };
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
    if pattern.is_some() && (key.is_some() || payload.is_some() || filter.is_some()) {
        return Err(
            "--key, --payload and --where name columns of a table; --match names Redis keys"
                .to_owned(),
        );
    }
    let table = table.unwrap_or_else(|| "records".to_owned());
    let mut layout = match (&pattern, key.is_some() || payload.is_some()) {
        (Some(pattern), _) => super::Layout::redis_keys(pattern.clone()),
        (None, true) => super::Layout::table(
            table.clone(),
            key.unwrap_or_else(|| vec!["key".to_owned()]),
            payload.unwrap_or_else(|| "payload".to_owned()),
        ),
        (None, false) => super::Layout::new(table.clone()),
    };
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
    if let Some(Columns(columns)) = context_columns {
        layout = layout.context_columns(columns);
    }
    if let Some(partition) = partition {
        layout = layout.partition(partition);
    }
    Ok(Options {
        store,
        table,
        layout,
        dry_run,
        batch_size: scan.batch_size,
        resume_from: scan.resume_from,
        limit: scan.limit,
        progress: scan.progress,
        to,
    })
}

/// Parses `std::env::args`, runs the subcommand for `T` (a migration when
/// none is given), prints what it did, and returns the exit status (see the
/// [module docs](self)).
pub fn run<T>() -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    run_with_args::<T>(std::env::args().skip(1))
}

/// The program's name as the user typed it, for the help and examples.
fn program() -> String {
    std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "schema-migrate".to_owned())
}

/// Like [`run`], with the arguments given (without the program name).
pub fn run_with_args<T>(args: impl IntoIterator<Item = String>) -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    let command = match parse_as(&program(), args) {
        Ok(command) => command,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{}", message.trim_end());
            return ExitCode::from(2);
        }
    };
    let (options, what) = match command {
        // A closed stdout (`| head`) is not worth a panic.
        Command::Help(text) => {
            let _ = write!(std::io::stdout(), "{text}");
            return ExitCode::SUCCESS;
        }
        Command::History => {
            let _ = write!(std::io::stdout(), "{}", crate::changelog::<T>());
            return ExitCode::SUCCESS;
        }
        Command::Run(options) => (options, What::Migrate),
        Command::Check(options) => (options, What::Check),
        Command::Status { options, json } => (options, What::Status { json }),
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
    match what {
        What::Migrate => runtime.block_on(migrate::<T>(*options, false)),
        What::Check => runtime.block_on(migrate::<T>(*options, true)),
        What::Status { json } => runtime.block_on(status::<T>(*options, json)),
    }
}

enum What {
    Migrate,
    Check,
    Status { json: bool },
}

/// Opens the store the options name (read-only for a dry run, and never
/// creating anything), or the exit status of the failure, printed.
async fn open(options: &Options, read_only: bool) -> Result<super::AnyStore, ExitCode> {
    // Nothing is created: a dry run writes nothing (and opens a SQLite file
    // read-only), and a misspelled file or table is an error rather than an
    // empty store that migrates fine.
    let opened = if read_only {
        super::open_layout_read_only(&options.store, &options.layout).await
    } else {
        super::open_layout(&options.store, &options.layout).await
    };
    opened.map_err(|e| {
        let _ = writeln!(std::io::stderr(), "error: {e}");
        ExitCode::from(if e.is_usage() { 2 } else { 3 })
    })
}

/// Where the records are, in words (never the URL, which may hold a password).
fn place(options: &Options, backend: &str) -> (&'static str, String, &'static str) {
    match (&options.layout.key_pattern, backend) {
        (Some(pattern), _) => ("matching", pattern.clone(), ""),
        (None, "redis" | "redis-cluster") => (
            "under the prefix",
            options.table.clone(),
            " (records written by other programs: --match PATTERN)",
        ),
        _ => ("in the table", options.table.clone(), ""),
    }
}

/// `migrate`, and `check` (`gate`: a dry run with a verdict).
async fn migrate<T>(options: Options, gate: bool) -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    let store = match open(&options, options.dry_run).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let progress = progress_mode(options.progress);
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
    if let Some(scope) = columns_context::<T>(&options) {
        migrator = migrator.scope(scope);
    }
    let mut migrator = migrator
        .dry_run(options.dry_run)
        .batch_size(options.batch_size)
        .progress(progress);
    if let Some(key) = &options.resume_from {
        migrator = migrator.resume_from(key.clone());
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
                let (what, name, hint) = place(&options, backend);
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
            if gate {
                let _ = if report.failed.is_empty() {
                    writeln!(
                        out,
                        "check passed: every record scanned can be read at version {} \
                         ({} would be upgraded)",
                        report.version, report.upgraded
                    )
                } else {
                    writeln!(
                        out,
                        "check failed: {} record(s) would fail to upgrade to version {} (listed \
                         above); repair them, or the steps, before deploying",
                        report.failed.len(),
                        report.version
                    )
                };
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

/// `--progress auto` without a terminal: events nobody subscribed to are
/// lost, and a job's log would show nothing until the end, nor the last key
/// done if it is killed, so plain lines then.
fn progress_mode(progress: Progress) -> Progress {
    match progress {
        Progress::Auto
            if !std::io::stderr().is_terminal() && !tracing::dispatcher::has_been_set() =>
        {
            Progress::Lines
        }
        other => other,
    }
}

/// What `status` found.
#[derive(Debug, Default)]
struct Census {
    scanned: u64,
    /// Readable records by the version they are stored at.
    versions: BTreeMap<u32, u64>,
    /// Records written by a newer release, by version.
    future: BTreeMap<u64, u64>,
    unreadable: Vec<Failure>,
    last_key: Option<String>,
    finished: bool,
}

impl Census {
    fn message(&self, current: u32) -> String {
        let older: u64 = self.versions.range(..current).map(|(_, n)| n).sum();
        format!(
            "{} current, {older} older, {} newer, {} unreadable",
            self.versions.get(&current).copied().unwrap_or(0),
            self.future.values().sum::<u64>(),
            self.unreadable.len()
        )
    }
}

/// `status`: reads every record (never writes), counts them by stored
/// version, and prints a table or JSON.
async fn status<T>(options: Options, json: bool) -> ExitCode
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    let store = match open(&options, true).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let encoding = store.encoding().clone();
    let scope = columns_context::<T>(&options);
    let bar = match options.progress {
        Progress::Bar => true,
        Progress::Auto => std::io::stderr().is_terminal(),
        _ => false,
    }
    .then(|| super::fancy::Fancy::new(options.limit, "scanned"));
    let mut census = Census {
        last_key: options.resume_from.clone(),
        ..Census::default()
    };
    loop {
        let want = match options.limit {
            Some(limit) => usize::try_from(limit.saturating_sub(census.scanned))
                .map_or(options.batch_size, |left| left.min(options.batch_size)),
            None => options.batch_size,
        };
        if want == 0 {
            break;
        }
        let records = match store.scan(census.last_key.as_deref(), want).await {
            Ok(records) => records,
            Err(e) => {
                drop(bar);
                let _ = writeln!(std::io::stderr(), "error: {e}");
                return ExitCode::from(if e.is_usage() { 2 } else { 3 });
            }
        };
        if records.is_empty() {
            census.finished = true;
            break;
        }
        for record in records {
            census.scanned += 1;
            let failure = |kind, reason| Failure {
                key: record.key.clone(),
                kind,
                reason,
            };
            if let Some(reason) = &record.unreadable {
                census
                    .unreadable
                    .push(failure("unreadable", reason.clone()));
            } else {
                let read = match &scope {
                    None => encoding.read::<T>(&record.payload),
                    Some(scope) => match super::batch::in_scope(scope, &record, || {
                        encoding.read::<T>(&record.payload)
                    }) {
                        Ok(read) => read,
                        Err(reason) => {
                            census.unreadable.push(failure("context", reason));
                            census.last_key = Some(record.key);
                            continue;
                        }
                    },
                };
                match read {
                    Ok(stored) => *census.versions.entry(stored.version).or_default() += 1,
                    Err(super::codec::Problem::Upgrade(crate::Error::FutureVersion {
                        found,
                        ..
                    })) => *census.future.entry(found).or_default() += 1,
                    Err(problem) => census
                        .unreadable
                        .push(failure(problem.kind(), problem.to_string())),
                }
            }
            census.last_key = Some(record.key);
        }
        if let Some(bar) = &bar {
            bar.show(census.scanned, census.message(T::VERSION));
        }
    }
    if let Some(bar) = &bar {
        bar.finish(census.scanned, census.message(T::VERSION));
    }
    drop(bar);

    let mut out = std::io::stdout().lock();
    let (what, name, hint) = place(&options, store.backend());
    if census.scanned == 0 {
        let _ = writeln!(
            std::io::stderr(),
            "warning: no records found {what} `{name}`: is the name right?{hint}"
        );
    }
    if json {
        let counts = |map: Vec<(u64, u64)>| -> Vec<serde_json::Value> {
            map.into_iter()
                .map(|(version, records)| serde_json::json!({ "version": version, "records": records }))
                .collect()
        };
        let value = serde_json::json!({
            "type": T::NAME,
            "version": T::VERSION,
            "oldest": T::OLDEST,
            "scanned": census.scanned,
            "finished": census.finished,
            "last_key": census.last_key,
            "versions": counts(census.versions.iter().map(|(&v, &n)| (u64::from(v), n)).collect()),
            "future": counts(census.future.iter().map(|(&v, &n)| (v, n)).collect()),
            "unreadable": census.unreadable.iter().map(|f| serde_json::json!({
                "key": f.key, "kind": f.kind, "reason": f.reason,
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        let _ = writeln!(out, "{text}");
        return ExitCode::SUCCESS;
    }
    let _ = writeln!(
        out,
        "Status of {} (version {}, reads {} to {}) {what} `{name}`",
        T::NAME,
        T::VERSION,
        T::OLDEST,
        T::VERSION
    );
    let _ = writeln!(out, "  version  records");
    for (&version, &n) in &census.versions {
        let state = if version == T::VERSION {
            "current".to_owned()
        } else {
            let steps = T::VERSION - version;
            format!(
                "older: `migrate` upgrades them ({steps} step{})",
                if steps == 1 { "" } else { "s" }
            )
        };
        let _ = writeln!(out, "  {version:>7}  {n:>7}  {state}");
    }
    for (&version, &n) in &census.future {
        let _ = writeln!(
            out,
            "  {version:>7}  {n:>7}  newer than this program (it reads up to {}): left alone",
            T::VERSION
        );
    }
    let _ = writeln!(out, "  unreadable {:>5}", census.unreadable.len());
    let end = match (&census.last_key, census.finished) {
        (_, true) => "reached the end".to_owned(),
        (Some(key), false) => format!(
            "stopped by --limit: continue with --resume-from {}",
            shell_quote(key)
        ),
        (None, false) => "stopped by --limit".to_owned(),
    };
    let _ = writeln!(out, "  scanned {:>8}  ({end})", census.scanned);
    if !census.unreadable.is_empty() {
        let _ = writeln!(out, "unreadable records:");
        for failure in &census.unreadable {
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                failure.key, failure.kind, failure.reason
            );
        }
    }
    ExitCode::SUCCESS
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

/// With `--context-columns`: each record read inside the context `T`
/// builds from those columns ([`Versioned::context_from_columns`]).
fn columns_context<T: Versioned>(options: &Options) -> Option<super::batch::Scope> {
    if options.layout.context_columns.is_empty() {
        return None;
    }
    Some(std::sync::Arc::new(
        |record: &super::Record, read: &mut dyn FnMut()| {
            T::context_from_columns(&record.columns, read)
        },
    ))
}
