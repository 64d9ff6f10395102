//! Batch migration: upgrade every record of a store now, as a job.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Cas, CasWrite, RecordStore, StoreError};
use crate::{DeserializeVersionedOwned, Versioned};

/// Upgrades every record of a store to the current version of `T`.
///
/// Records are read in key order, `batch_size` at a time; the upgraded ones
/// of a batch are written together with one
/// [`compare_and_swap`](RecordStore::compare_and_swap) (one transaction where
/// the engine has them). So:
///
/// - a record someone wrote since it was read is a conflict, counted and
///   skipped, never overwritten;
/// - a record that cannot be upgraded (bad JSON, a future version, a failing
///   step) is reported with its key and reason and never written; the run
///   goes on;
/// - a run killed at any point leaves each record either as it was or fully
///   upgraded; [`Report::last_key`] (and the progress events) say where to
///   [`resume_from`](Migrator::resume_from).
///
/// ```
/// use schema_migrate::store::{sqlite::SqliteStore, Migrator, RecordStore};
/// use schema_migrate::Versioned;
///
/// #[derive(Debug, Versioned)]
/// #[schema(version = 2, migrate(from = 1, add(retries = 3)))]
/// struct Job { name: String, retries: u32 }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("sm-batch-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let store = SqliteStore::open(dir.join("jobs.db"), "jobs").await?;
/// store.put("job-1", br#"{"_version":1,"name":"sync"}"#).await?;
/// store.put("job-2", br#"{"_version":2,"name":"index","retries":1}"#).await?;
/// store.put("job-3", br#"{"_version":9,"name":"from the future"}"#).await?;
///
/// let dry = Migrator::<Job>::new().dry_run(true).run(&store).await?;
/// assert_eq!((dry.upgraded, dry.already_current, dry.failed.len()), (1, 1, 1));
///
/// let report = Migrator::<Job>::new().batch_size(100).run(&store).await?;
/// assert_eq!(report.upgraded, 1);
/// assert_eq!(report.failed[0].key, "job-3");
/// assert_eq!(report.failed[0].kind, "future_version");
/// println!("{report}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Migrator<T> {
    dry_run: bool,
    batch_size: usize,
    resume_from: Option<String>,
    limit: Option<u64>,
    progress: Progress,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Migrator<T> {
    fn clone(&self) -> Self {
        Migrator {
            dry_run: self.dry_run,
            batch_size: self.batch_size,
            resume_from: self.resume_from.clone(),
            limit: self.limit,
            progress: self.progress,
            _type: PhantomData,
        }
    }
}

impl<T: Versioned> fmt::Debug for Migrator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migrator")
            .field("type", &T::NAME)
            .field("dry_run", &self.dry_run)
            .field("batch_size", &self.batch_size)
            .field("resume_from", &self.resume_from)
            .field("limit", &self.limit)
            .field("progress", &self.progress)
            .finish()
    }
}

/// How a [`Migrator`] shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// A progress line on stderr when stderr is a terminal, `tracing` events
    /// otherwise.
    #[default]
    Auto,
    /// `tracing` events only (target `schema_migrate`, one per batch).
    Events,
    /// The progress line on stderr, even when it is not a terminal.
    Bar,
    /// Plain progress lines on stderr, one a second and one at the end, for
    /// logs read by people (a job's output) when no `tracing` subscriber is
    /// installed. Each names the last key done.
    Lines,
}

/// The default number of records read and written together.
pub const DEFAULT_BATCH_SIZE: usize = 500;

impl<T> Default for Migrator<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Migrator<T> {
    /// A migrator that writes, in batches of 500, from the first key to the last.
    pub fn new() -> Self {
        Migrator {
            dry_run: false,
            batch_size: DEFAULT_BATCH_SIZE,
            resume_from: None,
            limit: None,
            progress: Progress::Auto,
            _type: PhantomData,
        }
    }

    /// Reads and reports but writes nothing: the report counts what a real
    /// run would upgrade.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    /// How many records are read, and written in one transaction, at a time
    /// (at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Starts after `key` (exclusive): pass the [`Report::last_key`] of an
    /// interrupted run.
    pub fn resume_from(mut self, key: impl Into<String>) -> Self {
        self.resume_from = Some(key.into());
        self
    }

    /// Stops after scanning `n` records.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// How progress is shown; [`Progress::Auto`] by default.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }
}

impl<T> Migrator<T>
where
    T: Versioned + DeserializeVersionedOwned + Serialize,
{
    /// Runs the migration over `store`.
    ///
    /// Records that fail are in the report, not an error: the `Err` case is
    /// the store itself failing, and carries the report up to the last batch
    /// that was fully written.
    pub async fn run<S: RecordStore>(&self, store: &S) -> Result<Report, RunError> {
        let started = Instant::now();
        let mut report = Report {
            type_name: T::NAME,
            version: T::VERSION,
            dry_run: self.dry_run,
            resumed_from: self.resume_from.clone(),
            scanned: 0,
            already_current: 0,
            upgraded: 0,
            carried: 0,
            failed: Vec::new(),
            conflicts: Vec::new(),
            last_key: None,
            finished: false,
            elapsed: Duration::ZERO,
        };
        let mut bar = match self.progress {
            Progress::Bar => Some(Bar::new(self.limit, false)),
            Progress::Auto if std::io::stderr().is_terminal() => Some(Bar::new(self.limit, false)),
            Progress::Lines => Some(Bar::new(self.limit, true)),
            _ => None,
        };
        let mut cursor = self.resume_from.clone();
        let mut batch_number = 0u64;
        loop {
            let want = match self.limit {
                Some(limit) => {
                    let left = limit.saturating_sub(report.scanned);
                    usize::try_from(left).map_or(self.batch_size, |l| l.min(self.batch_size))
                }
                None => self.batch_size,
            };
            if want == 0 {
                // The limit is reached. If a scan shows nothing after it,
                // the run did reach the end: say so, rather than have the
                // user resume a run with nothing left to do. (A failed
                // look is not an error: the batches are all done.)
                if let Ok(rest) = store.scan(cursor.as_deref(), 1).await {
                    report.finished = rest.is_empty();
                }
                break;
            }
            let records = match store.scan(cursor.as_deref(), want).await {
                Ok(records) => records,
                Err(source) => return Err(stopped(report, started, bar, source)),
            };
            let Some(last) = records.last() else {
                report.finished = true;
                break;
            };
            let last_key = last.key.clone();

            let encoding = store.encoding();
            let mut writes = Vec::new();
            let mut carrying = Vec::new();
            let mut current = 0u64;
            let mut failed = Vec::new();
            let scanned = records.len() as u64;
            for record in records {
                let fail = |kind, reason| Failure {
                    key: record.key.clone(),
                    kind,
                    reason,
                };
                if let Some(reason) = &record.unreadable {
                    failed.push(fail("unreadable", reason.clone()));
                    continue;
                }
                let rewrite = encoding.read::<T>(&record.payload).and_then(|stored| {
                    if stored.was_upgraded() {
                        encoding
                            .rewrite(&record.payload, &stored.value, stored.version, true)
                            .map(Some)
                    } else {
                        Ok(None)
                    }
                });
                match rewrite {
                    Ok(None) => current += 1,
                    Ok(Some(rewrite)) => {
                        carrying.push(rewrite.carried > 0);
                        writes.push(CasWrite {
                            key: record.key,
                            expected: record.revision,
                            read: record.payload,
                            payload: rewrite.payload,
                        });
                    }
                    Err(problem) => failed.push(fail(problem.kind(), problem.to_string())),
                }
            }

            let mut upgraded = 0u64;
            let mut carried = 0u64;
            let mut conflicts = Vec::new();
            if self.dry_run {
                upgraded = writes.len() as u64;
                carried = carrying.iter().filter(|&&c| c).count() as u64;
            } else if !writes.is_empty() {
                let outcomes = match store.compare_and_swap(&writes).await {
                    Ok(outcomes) => outcomes,
                    Err(source) => return Err(stopped(report, started, bar, source)),
                };
                for (i, write) in writes.iter().enumerate() {
                    match outcomes.get(i) {
                        Some(Cas::Written { .. }) => {
                            upgraded += 1;
                            carried += u64::from(carrying[i]);
                        }
                        // No outcome is not a write that happened.
                        Some(Cas::Conflict) | None => conflicts.push(write.key.clone()),
                    }
                }
            }

            // The batch is done (written or refused as a whole): only now
            // does it count, so `last_key` is always safe to resume after.
            batch_number += 1;
            report.scanned += scanned;
            report.already_current += current;
            report.upgraded += upgraded;
            report.carried += carried;
            for failure in &failed {
                tracing::warn!(
                    target: "schema_migrate",
                    type_name = T::NAME,
                    key = %failure.key,
                    kind = failure.kind,
                    reason = %failure.reason,
                    "record cannot be upgraded; left untouched",
                );
            }
            report.failed.extend(failed);
            report.conflicts.extend(conflicts);
            report.last_key = Some(last_key.clone());
            report.elapsed = started.elapsed();
            match &mut bar {
                Some(bar) => bar.draw(&report, false),
                None => tracing::info!(
                    target: "schema_migrate",
                    type_name = T::NAME,
                    batch = batch_number,
                    scanned = report.scanned,
                    upgraded = report.upgraded,
                    already_current = report.already_current,
                    failed = report.failed.len(),
                    conflicts = report.conflicts.len(),
                    last_key = %last_key,
                    dry_run = self.dry_run,
                    "batch migration progress",
                ),
            }
            // A short page is not taken as the end: the trait allows a
            // backend to return fewer than asked, so only an empty scan is.
            cursor = Some(last_key);
        }
        report.elapsed = started.elapsed();
        if let Some(mut bar) = bar {
            bar.draw(&report, true);
        }
        tracing::info!(
            target: "schema_migrate",
            type_name = T::NAME,
            scanned = report.scanned,
            upgraded = report.upgraded,
            already_current = report.already_current,
            failed = report.failed.len(),
            conflicts = report.conflicts.len(),
            last_key = report.last_key.as_deref().unwrap_or(""),
            finished = report.finished,
            dry_run = self.dry_run,
            "batch migration done",
        );
        Ok(report)
    }
}

fn stopped(mut report: Report, started: Instant, bar: Option<Bar>, source: StoreError) -> RunError {
    report.elapsed = started.elapsed();
    if let Some(mut bar) = bar {
        bar.draw(&report, true);
    }
    tracing::error!(
        target: "schema_migrate",
        type_name = report.type_name,
        last_key = report.last_key.as_deref().unwrap_or(""),
        error = %source,
        "batch migration stopped by a store error",
    );
    RunError { report, source }
}

/// A record that could not be upgraded, left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The record's key.
    pub key: String,
    /// A short, stable name of what went wrong: one of
    /// [`Error::kind`](crate::Error::kind)'s, or `unreadable` (the store
    /// could not read the row: a NULL payload, say), `undecodable` (not the
    /// declared format), `no_value_at_path`, `carried_field_collision` (a
    /// field the stored version does not model has the name of a field the
    /// current version writes) or `serialize`.
    pub kind: &'static str,
    /// The full message: type, version, step and cause.
    pub reason: String,
}

/// What a [`Migrator`] run did.
///
/// Its `Display` is a human summary; `{:#}` lists every failed record.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// The versioned type's name.
    pub type_name: &'static str,
    /// The version records were upgraded to.
    pub version: u32,
    /// Whether this was a dry run: `upgraded` then counts what would have
    /// been written.
    pub dry_run: bool,
    /// The key the run started after, if it was resumed.
    pub resumed_from: Option<String>,
    /// Records read.
    pub scanned: u64,
    /// Records already at the current version, not written.
    pub already_current: u64,
    /// Records upgraded and written (or, in a dry run, that would be).
    pub upgraded: u64,
    /// Of the upgraded records, those whose stored value held fields its
    /// version does not model (written by another program, say): the
    /// written record carries them.
    pub carried: u64,
    /// Records that could not be upgraded, in key order; none was written.
    pub failed: Vec<Failure>,
    /// Keys of records that changed between the read and the write: someone
    /// else's newer write was kept. A rerun upgrades them if still needed.
    pub conflicts: Vec<String>,
    /// The last key whose batch is done: resume after it.
    pub last_key: Option<String>,
    /// Whether the scan reached the last record (`false` when stopped by an
    /// error, or by a limit with records left after it).
    pub finished: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Report {
    /// Records scanned per second of wall time.
    pub fn records_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.scanned as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (upgraded, title) = if self.dry_run {
            ("would upgrade", "Dry run (nothing written)")
        } else {
            ("upgraded", "Batch migration")
        };
        writeln!(
            f,
            "{title} of {} to version {}",
            self.type_name, self.version
        )?;
        if let Some(key) = &self.resumed_from {
            writeln!(f, "  resumed after    {key}")?;
        }
        writeln!(f, "  scanned          {}", self.scanned)?;
        writeln!(f, "  already current  {}", self.already_current)?;
        writeln!(f, "  {upgraded:<16} {}", self.upgraded)?;
        if self.carried > 0 {
            writeln!(
                f,
                "  carried fields   {} (records holding fields their version does not model; kept)",
                self.carried
            )?;
        }
        writeln!(f, "  failed           {}", self.failed.len())?;
        writeln!(
            f,
            "  conflicts        {} (changed by someone else meanwhile; left as they were)",
            self.conflicts.len()
        )?;
        match (&self.last_key, self.finished) {
            (Some(key), true) => writeln!(f, "  last key         {key} (reached the end)")?,
            (Some(key), false) => {
                writeln!(f, "  last key         {key} (not the end: resume after it)")?
            }
            (None, _) => writeln!(f, "  last key         none (no records)")?,
        }
        write!(
            f,
            "  elapsed          {:.2} s, {:.0} records/s",
            self.elapsed.as_secs_f64(),
            self.records_per_second()
        )?;
        if !self.failed.is_empty() {
            const SHOWN: usize = 20;
            write!(f, "\n  failed records (left untouched):")?;
            let shown = if f.alternate() {
                self.failed.len()
            } else {
                SHOWN
            };
            for failure in self.failed.iter().take(shown) {
                write!(f, "\n    {}: {}", failure.key, failure.reason)?;
            }
            if self.failed.len() > shown {
                write!(
                    f,
                    "\n    ... and {} more (`{{:#}}` lists them all)",
                    self.failed.len() - shown
                )?;
            }
        }
        Ok(())
    }
}

/// A store error stopped a [`Migrator`] run; every batch before it is done.
#[derive(Debug)]
pub struct RunError {
    /// What was done before the error; resume after its
    /// [`last_key`](Report::last_key).
    pub report: Report,
    /// The store's error.
    pub source: StoreError,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch migration stopped: {}; ", self.source)?;
        match &self.report.last_key {
            Some(key) => write!(
                f,
                "{} records were done, up to and including {key:?}: resume after it",
                self.report.scanned
            ),
            None => write!(f, "no batch was done"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The self-drawn progress line on stderr (redrawn in place on a terminal,
/// or one plain line at a time).
struct Bar {
    limit: Option<u64>,
    plain: bool,
    last_draw: Option<Instant>,
}

impl Bar {
    fn new(limit: Option<u64>, plain: bool) -> Self {
        Bar {
            limit,
            plain,
            last_draw: None,
        }
    }

    fn draw(&mut self, report: &Report, last: bool) {
        let now = Instant::now();
        // Redrawing on every batch would cost more than the batch on a fast
        // store: ten times a second is enough for a human.
        let every = if self.plain {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(100)
        };
        if !last
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t) < every)
        {
            return;
        }
        self.last_draw = Some(now);
        let mut line = String::new();
        if let Some(limit) = self.limit.filter(|&l| l > 0) {
            const WIDTH: u64 = 24;
            let done = (report.scanned.min(limit) * WIDTH / limit) as usize;
            line.push('[');
            line.push_str(&"#".repeat(done));
            line.push_str(&" ".repeat(WIDTH as usize - done));
            line.push_str("] ");
        }
        line.push_str(&format!(
            "{} scanned, {} {}, {} current, {} failed, {} conflicts, {:.0} records/s",
            report.scanned,
            report.upgraded,
            if report.dry_run {
                "to upgrade"
            } else {
                "upgraded"
            },
            report.already_current,
            report.failed.len(),
            report.conflicts.len(),
            report.records_per_second(),
        ));
        if let Some(key) = &report.last_key {
            line.push_str(&format!(", at {key}"));
        }
        let mut err = std::io::stderr().lock();
        // Progress is best effort: a closed stderr must not stop the migration.
        if self.plain {
            let _ = writeln!(err, "{line}");
        } else {
            let _ = write!(err, "\r{line}\x1b[K");
            if last {
                let _ = writeln!(err);
            }
        }
        let _ = err.flush();
    }
}
