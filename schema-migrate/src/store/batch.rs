//! Batch migration: upgrade every record of a store now, as a job.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;
use std::task::Poll;

use super::{plan, Cas, CasWrite, Encoding, Move, Record, RecordStore, StoreError};
use crate::{DeserializeVersionedOwned, SerializeVersioned, Versioned};

/// Upgrades every record of a store to `T`'s write version (the current
/// version unless `#[schema(write_version = N)]` says otherwise), or moves
/// every record to the version given to [`Migrator::to_version`].
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
    to: Option<u32>,
    context: Option<Scope>,
    _type: PhantomData<fn() -> T>,
}

/// Runs a record's read and write inside the context built for it.
pub(crate) type Scope = Arc<dyn Fn(&Record, &mut dyn FnMut()) -> Result<(), String> + Send + Sync>;

/// A [`Scope`] from a function that builds the context of a record.
pub(crate) fn scope<C, E, F>(build: F) -> Scope
where
    C: Clone + 'static,
    E: fmt::Display,
    F: Fn(&Record) -> Result<C, E> + Send + Sync + 'static,
{
    Arc::new(move |record, run| {
        let ctx = build(record).map_err(|e| e.to_string())?;
        crate::with_context(&ctx, run);
        Ok(())
    })
}

/// `f` run inside the context `scope` builds for `record`; the error says
/// why the context could not be built.
pub(crate) fn in_scope<R>(
    scope: &Scope,
    record: &Record,
    f: impl FnOnce() -> R,
) -> Result<R, String> {
    let mut f = Some(f);
    let mut out = None;
    scope(record, &mut || out = f.take().map(|f| f())).map_err(|e| format!("its context: {e}"))?;
    out.ok_or_else(|| "its context was built but the read did not run".to_owned())
}

impl<T> Clone for Migrator<T> {
    fn clone(&self) -> Self {
        Migrator {
            dry_run: self.dry_run,
            batch_size: self.batch_size,
            resume_from: self.resume_from.clone(),
            limit: self.limit,
            progress: self.progress,
            to: self.to,
            context: self.context.clone(),
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
            .field("to", &self.to)
            .field("context", &self.context.is_some())
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
            to: None,
            context: None,
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

    /// Reads (and writes) each record inside the context `build` makes for
    /// it (see [`crate::with_context`]), from its key and, on a table, the
    /// columns named by [`Layout::context_columns`](super::Layout::context_columns)
    /// ([`Record::columns`]). A record whose context cannot be built fails
    /// with the kind `context` and is left as it was.
    ///
    /// ```
    /// # use schema_migrate::store::{Migrator, Record};
    /// # use schema_migrate::Versioned;
    /// #[derive(Clone)]
    /// struct Graph { subgraph: bool }
    ///
    /// # #[derive(Versioned)]
    /// # #[schema(version = 1, context = Graph)]
    /// # struct State { n: u32 }
    /// let migrator = Migrator::<State>::new().context(|record: &Record| {
    ///     let ns = record.columns.get("checkpoint_ns").and_then(|v| v.as_str());
    ///     ns.map(|ns| Graph { subgraph: !ns.is_empty() }).ok_or("no checkpoint_ns")
    /// });
    /// ```
    pub fn context<C, E, F>(mut self, build: F) -> Self
    where
        C: Clone + 'static,
        E: fmt::Display,
        F: Fn(&Record) -> Result<C, E> + Send + Sync + 'static,
    {
        self.context = Some(scope(build));
        self
    }

    /// Runs each record inside `scope` (the command line's
    /// `--context-columns`).
    pub(crate) fn scope(mut self, scope: Scope) -> Self {
        self.context = Some(scope);
        self
    }
}

impl<T: Versioned> Migrator<T> {
    /// Moves every record to `version`, up or down, instead of raising the
    /// older ones to the write version: the rollback of a release writes
    /// its records down to the version the release before it reads, before
    /// that release is deployed again. Refused at once (nothing is read)
    /// when `T` cannot write `version`: one it does not read, or one below a
    /// step that cannot be run backward.
    ///
    /// ```
    /// use schema_migrate::store::Migrator;
    /// use schema_migrate::{Error, Versioned};
    ///
    /// #[derive(Versioned)]
    /// #[schema(version = 3, migrate(from = 1, remove(legacy)), migrate(from = 2, add(retries = 3)))]
    /// struct Job { retries: u32 }
    ///
    /// assert!(Migrator::<Job>::new().to_version(2).is_ok());
    /// assert!(matches!(Migrator::<Job>::new().to_version(1), Err(Error::Irreversible { .. })));
    /// ```
    pub fn to_version(mut self, version: u32) -> Result<Self, crate::Error> {
        T::writable(version)?;
        self.to = Some(version);
        Ok(self)
    }

    /// The version records are moved to: the one asked for with
    /// [`Migrator::to_version`], or `T`'s write version.
    pub fn target(&self) -> u32 {
        self.to.unwrap_or(T::WRITE_VERSION)
    }
}

impl<T> Migrator<T>
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    /// Runs the migration over `store`.
    ///
    /// Records that fail are in the report, not an error: the `Err` case is
    /// the store itself failing, and carries the report up to the last batch
    /// that was fully written.
    pub async fn run<S: RecordStore>(&self, store: &S) -> Result<Report, RunError> {
        let mut run = Run {
            started: Instant::now(),
            report: Report {
                type_name: T::NAME,
                version: self.target(),
                dry_run: self.dry_run,
                resumed_from: self.resume_from.clone(),
                scanned: 0,
                already_current: 0,
                upgraded: 0,
                downgraded: 0,
                lossy: 0,
                newer: 0,
                carried: 0,
                failed: Vec::new(),
                conflicts: Vec::new(),
                last_key: None,
                finished: false,
                elapsed: Duration::ZERO,
            },
            bar: match self.progress {
                Progress::Bar => Some(Bar::new(self.limit, false)),
                Progress::Auto if std::io::stderr().is_terminal() => {
                    Some(Bar::new(self.limit, false))
                }
                Progress::Lines => Some(Bar::new(self.limit, true)),
                _ => None,
            },
            batches: 0,
            dry_run: self.dry_run,
        };
        let encoding = store.encoding();
        let (target, down) = (self.target(), self.to.is_some());
        // Two batches are in flight: while the engine writes one (and reads
        // the one after the next), the next is decoded and upgraded, so
        // neither the engine nor the migrator waits for the other. A batch
        // counts only once it is written, so `last_key` is always safe to
        // resume after.
        let mut seen = 0u64;
        let mut at_end = false;
        let mut scanned = match self.want(seen) {
            0 => Vec::new(),
            want => match store.scan(self.resume_from.as_deref(), want).await {
                Ok(records) => records,
                Err(source) => return Err(run.stopped(source)),
            },
        };
        at_end |= scanned.is_empty();
        let mut decoded: Option<Batch> = None;
        loop {
            let records = std::mem::take(&mut scanned);
            if records.is_empty() && decoded.is_none() {
                break;
            }
            seen += records.len() as u64;
            // A short page is not taken as the end: the trait allows a
            // backend to return fewer than asked, so only an empty scan is.
            let after = records.last().map(|r| r.key.clone());
            let want = if after.is_some() { self.want(seen) } else { 0 };
            let writes = decoded
                .as_ref()
                .filter(|batch| !self.dry_run && !batch.writes.is_empty())
                .map(|batch| &batch.writes[..]);
            let engine = async {
                let written = match writes {
                    Some(writes) => Some(store.compare_and_swap(writes).await),
                    None => None,
                };
                if matches!(written, Some(Err(_))) || want == 0 {
                    return (written, None);
                }
                (written, Some(store.scan(after.as_deref(), want).await))
            };
            let upgrade = async {
                (!records.is_empty())
                    .then(|| upgrade::<T>(encoding, records, target, down, self.context.as_ref()))
            };
            let ((written, next), upgraded) = both(engine, upgrade).await;
            if let Some(batch) = decoded.take() {
                match written.transpose() {
                    Ok(outcomes) => run.done(batch, outcomes),
                    Err(source) => return Err(run.stopped(source)),
                }
            }
            decoded = upgraded;
            match next {
                Some(Ok(records)) => {
                    at_end |= records.is_empty();
                    scanned = records;
                }
                Some(Err(source)) => return Err(run.stopped(source)),
                None => {}
            }
        }
        if at_end {
            run.report.finished = true;
        } else {
            // The limit is reached. If a scan shows nothing after it, the
            // run did reach the end: say so, rather than have the user
            // resume a run with nothing left to do. (A failed look is not
            // an error: the batches are all done.)
            let after = run
                .report
                .last_key
                .as_deref()
                .or(self.resume_from.as_deref());
            if let Ok(rest) = store.scan(after, 1).await {
                run.report.finished = rest.is_empty();
            }
        }
        Ok(run.finish())
    }

    /// How many records the next scan asks for, `seen` being scanned.
    fn want(&self, seen: u64) -> usize {
        match self.limit {
            Some(limit) => {
                let left = limit.saturating_sub(seen);
                usize::try_from(left).map_or(self.batch_size, |l| l.min(self.batch_size))
            }
            None => self.batch_size,
        }
    }
}

/// A batch read and upgraded, not yet written.
struct Batch {
    writes: Vec<CasWrite>,
    /// Per write: whether it carries fields its version does not model.
    carrying: Vec<bool>,
    /// Per write: `None` up, `Some(lossy)` down.
    down: Vec<Option<bool>>,
    current: u64,
    newer: u64,
    failed: Vec<Failure>,
    scanned: u64,
    last_key: String,
}

/// Reads and moves a batch of records to `target`: what to write, what is
/// there already, what failed. `down`: newer records are written down to
/// `target` too. `records` is not empty.
fn upgrade<T>(
    encoding: &Encoding,
    records: Vec<Record>,
    target: u32,
    down: bool,
    context: Option<&Scope>,
) -> Batch
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    let mut batch = Batch {
        writes: Vec::with_capacity(records.len()),
        carrying: Vec::with_capacity(records.len()),
        down: Vec::with_capacity(records.len()),
        current: 0,
        newer: 0,
        failed: Vec::new(),
        scanned: records.len() as u64,
        last_key: records.last().map(|r| r.key.clone()).unwrap_or_default(),
    };
    for record in records {
        let fail = |kind, reason| Failure {
            key: record.key.clone(),
            kind,
            reason,
        };
        if let Some(reason) = &record.unreadable {
            batch.failed.push(fail("unreadable", reason.clone()));
            continue;
        }
        let process = || {
            encoding.read::<T>(&record.payload).and_then(|stored| {
                let to = plan::<T>(stored.version, stored.was_upgraded(), target, down);
                if !matches!(to, Move::Up | Move::Down) {
                    return Ok((to, None));
                }
                let rewrite = encoding.rewrite(
                    &record.payload,
                    &stored.value,
                    stored.version,
                    target,
                    true,
                )?;
                let lossy = to == Move::Down && loses_information(&stored.value, target);
                Ok((to, Some((rewrite, lossy))))
            })
        };
        let rewrite = match context {
            None => process(),
            Some(scope) => match in_scope(scope, &record, process) {
                Ok(rewrite) => rewrite,
                Err(reason) => {
                    batch.failed.push(fail("context", reason));
                    continue;
                }
            },
        };
        match rewrite {
            Ok((Move::Newer, _)) => batch.newer += 1,
            Ok((_, None)) => batch.current += 1,
            Ok((to, Some((rewrite, lossy)))) => {
                batch.down.push((to == Move::Down).then_some(lossy));
                batch.carrying.push(rewrite.carried > 0);
                batch.writes.push(CasWrite {
                    key: record.key,
                    expected: record.revision,
                    read: record.payload,
                    payload: rewrite.payload,
                });
            }
            Err(problem) => batch.failed.push(fail(problem.kind(), problem.to_string())),
        }
    }
    batch
}

/// Whether writing `value` at `version` loses something: read back, it is
/// not the value written (a field added later held something other than
/// its `add` default, or a `back` function dropped information).
fn loses_information<T>(value: &T, version: u32) -> bool
where
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    let current = |v: &T| serde_json::to_vec(&crate::at_version(v, T::VERSION)).ok();
    let Ok(written) = serde_json::to_vec(&crate::at_version(value, version)) else {
        return true;
    };
    match serde_json::from_slice::<T>(&written) {
        Ok(back) => {
            let back = current(&back);
            back.is_none() || back != current(value)
        }
        Err(_) => true,
    }
}

/// Runs two futures at once: the engine's round trips and the upgrade of
/// the next batch (which runs on this task while the engine works).
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    std::future::poll_fn(|cx| {
        if a_out.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                a_out = Some(out);
            }
        }
        if b_out.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                b_out = Some(out);
            }
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

/// The state of one [`Migrator::run`]: the report so far and its progress
/// display.
struct Run {
    started: Instant,
    report: Report,
    bar: Option<Bar>,
    batches: u64,
    dry_run: bool,
}

impl Run {
    /// Counts a batch that is done: written (with these outcomes, one per
    /// write), or in a dry run or with nothing to write, `None`.
    fn done(&mut self, batch: Batch, outcomes: Option<Vec<Cas>>) {
        let report = &mut self.report;
        match outcomes {
            None => {
                for i in 0..batch.writes.len() {
                    report.count_write(batch.carrying[i], batch.down[i]);
                }
            }
            Some(outcomes) => {
                for (i, write) in batch.writes.iter().enumerate() {
                    match outcomes.get(i) {
                        Some(Cas::Written { .. }) => {
                            report.count_write(batch.carrying[i], batch.down[i]);
                        }
                        // No outcome is not a write that happened.
                        Some(Cas::Conflict) | None => report.conflicts.push(write.key.clone()),
                    }
                }
            }
        }
        self.batches += 1;
        report.scanned += batch.scanned;
        report.already_current += batch.current;
        report.newer += batch.newer;
        for failure in &batch.failed {
            tracing::warn!(
                target: "schema_migrate",
                type_name = report.type_name,
                key = %failure.key,
                kind = failure.kind,
                reason = %failure.reason,
                "record cannot be upgraded; left untouched",
            );
        }
        report.failed.extend(batch.failed);
        report.last_key = Some(batch.last_key);
        report.elapsed = self.started.elapsed();
        match &mut self.bar {
            Some(bar) => bar.draw(report, false),
            None => tracing::info!(
                target: "schema_migrate",
                type_name = report.type_name,
                batch = self.batches,
                scanned = report.scanned,
                upgraded = report.upgraded,
                downgraded = report.downgraded,
                already_current = report.already_current,
                failed = report.failed.len(),
                conflicts = report.conflicts.len(),
                last_key = %report.last_key.as_deref().unwrap_or(""),
                dry_run = self.dry_run,
                "batch migration progress",
            ),
        }
    }

    fn finish(mut self) -> Report {
        let report = &mut self.report;
        report.elapsed = self.started.elapsed();
        if let Some(bar) = &mut self.bar {
            bar.draw(report, true);
        }
        tracing::info!(
            target: "schema_migrate",
            type_name = report.type_name,
            scanned = report.scanned,
            upgraded = report.upgraded,
            downgraded = report.downgraded,
            lossy = report.lossy,
            newer = report.newer,
            already_current = report.already_current,
            failed = report.failed.len(),
            conflicts = report.conflicts.len(),
            last_key = report.last_key.as_deref().unwrap_or(""),
            finished = report.finished,
            dry_run = self.dry_run,
            "batch migration done",
        );
        self.report
    }

    fn stopped(self, source: StoreError) -> RunError {
        stopped(self.report, self.started, self.bar, source)
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
    /// The version records were moved to: the write version of the type,
    /// or the one given to [`Migrator::to_version`].
    pub version: u32,
    /// Whether this was a dry run: `upgraded` then counts what would have
    /// been written.
    pub dry_run: bool,
    /// The key the run started after, if it was resumed.
    pub resumed_from: Option<String>,
    /// Records read.
    pub scanned: u64,
    /// Records already at the target version, not written.
    pub already_current: u64,
    /// Records upgraded and written (or, in a dry run, that would be).
    pub upgraded: u64,
    /// Records written down to the target version (or that would be), with
    /// [`Migrator::to_version`].
    pub downgraded: u64,
    /// Of the downgraded records, those that lost information on the way:
    /// read back, they are not what they were (a field added after the
    /// target version held something other than its `add` default, say).
    pub lossy: u64,
    /// Records newer than the write version, left in place (without
    /// [`Migrator::to_version`], a run only raises older records).
    pub newer: u64,
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
    /// Counts a record written (or, in a dry run, that would be).
    fn count_write(&mut self, carrying: bool, down: Option<bool>) {
        self.carried += u64::from(carrying);
        match down {
            None => self.upgraded += 1,
            Some(lossy) => {
                self.downgraded += 1;
                self.lossy += u64::from(lossy);
            }
        }
    }

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
        if self.downgraded > 0 {
            let downgraded = if self.dry_run {
                "would downgrade"
            } else {
                "downgraded"
            };
            writeln!(f, "  {downgraded:<16} {}", self.downgraded)?;
            let lose = if self.dry_run { "would lose" } else { "lost" };
            // Records that read back differently: a field added after the
            // target version held more than its default.
            writeln!(f, "  {:<16} {}", format!("{lose} data"), self.lossy)?;
        }
        if self.newer > 0 {
            writeln!(
                f,
                "  newer            {} (above the write version {}; left in place, `--to {}` writes them down)",
                self.newer, self.version, self.version
            )?;
        }
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
///
/// With the command line (feature `cli`), the line on a terminal is
/// indicatif's bar, with rate and ETA.
struct Bar {
    limit: Option<u64>,
    plain: bool,
    last_draw: Option<Instant>,
    #[cfg(feature = "cli")]
    fancy: Option<super::fancy::Fancy>,
}

impl Bar {
    fn new(limit: Option<u64>, plain: bool) -> Self {
        Bar {
            limit,
            plain,
            last_draw: None,
            #[cfg(feature = "cli")]
            fancy: (!plain).then(|| super::fancy::Fancy::new(limit, "scanned")),
        }
    }

    fn draw(&mut self, report: &Report, last: bool) {
        #[cfg(feature = "cli")]
        if let Some(fancy) = &self.fancy {
            let message = super::fancy::Fancy::report_message(report);
            if last {
                fancy.finish(report.scanned, message);
            } else {
                fancy.show(report.scanned, message);
            }
            return;
        }
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
        if report.downgraded > 0 {
            let down = if report.dry_run {
                "to downgrade"
            } else {
                "downgraded"
            };
            line.push_str(&format!(", {} {down}", report.downgraded));
        }
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
