//! Lazy migration: upgrade a record when it is loaded.

use std::fmt;
use std::marker::PhantomData;

use super::batch::Scope;
use super::codec::Problem;
use super::{Cas, CasWrite, Record, RecordStore, StoreError};
use crate::{DeserializeVersionedOwned, SerializeVersioned, Versioned};

/// Loads and saves values of a versioned type `T` in a [`RecordStore`],
/// upgrading older records as they are loaded.
///
/// With [`Lazy::write_back`] on, a record older than `T`'s write version is
/// written back at that version (`#[schema(write_version = N)]`, by default
/// the current one) with a compare-and-swap on the revision that was read: if
/// someone wrote the record in between, their write stays and the load
/// reports [`WriteBack::Conflict`].
///
/// ```
/// use schema_migrate::store::{sqlite::SqliteStore, Lazy, RecordStore, WriteBack};
/// use schema_migrate::Versioned;
///
/// #[derive(Debug, Versioned)]
/// #[schema(version = 2, migrate(from = 1, add(retries = 3)))]
/// struct Job { name: String, retries: u32 }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("sm-lazy-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let store = SqliteStore::open(dir.join("jobs.db"), "jobs").await?;
/// store.put("job-1", br#"{"_version":1,"name":"sync"}"#).await?;
///
/// let jobs = Lazy::<_, Job>::new(store).write_back(true);
/// let loaded = jobs.load("job-1").await?.expect("job-1 was stored");
/// assert_eq!((loaded.version, loaded.value.retries), (1, 3));
/// assert_eq!(loaded.write_back, WriteBack::Written { revision: 2 });
///
/// // The stored record is now current: the next load has nothing to upgrade.
/// let again = jobs.load("job-1").await?.expect("still there");
/// assert!(!again.was_upgraded());
/// assert_eq!(again.write_back, WriteBack::NotNeeded);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Lazy<S, T> {
    store: S,
    write_back: bool,
    context: Option<Scope>,
    _type: PhantomData<fn() -> T>,
}

impl<S: fmt::Debug, T: Versioned> fmt::Debug for Lazy<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lazy")
            .field("store", &self.store)
            .field("type", &T::NAME)
            .field("write_back", &self.write_back)
            .finish()
    }
}

/// A value loaded by [`Lazy::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// The value, at the current version.
    pub value: T,
    /// The version the record was stored at.
    pub version: u32,
    /// Whether loading upgraded anything: the record, or a versioned value
    /// nested in it (its messages, say), was stored at an older version.
    pub upgraded: bool,
    /// The record's revision: the one read, or the new one if the upgraded
    /// record was written back. Pass it to [`Lazy::save_if`].
    pub revision: u64,
    /// What happened to the stored record.
    pub write_back: WriteBack,
}

impl<T: Versioned> Loaded<T> {
    /// Whether the record, or a versioned value nested in it, was stored
    /// at an older version: [`Loaded::upgraded`].
    pub fn was_upgraded(&self) -> bool {
        self.upgraded
    }
}

/// What [`Lazy::load`] did with the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteBack {
    /// The record was already current: nothing to write.
    NotNeeded,
    /// The record was upgraded in memory only: write-back is off.
    Off,
    /// The upgraded record was written back.
    Written {
        /// The record's new revision.
        revision: u64,
    },
    /// The record changed (or was deleted) between the read and the
    /// write-back: the newer record was left untouched, and the loaded value
    /// is older than what is now stored.
    Conflict,
}

/// Why [`Lazy::load`] or [`Lazy::save`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum LazyError {
    /// The store failed.
    Store(StoreError),
    /// The stored record could not be read as the current version: it is
    /// left as it was.
    Upgrade {
        /// The record's key.
        key: String,
        /// Why: a future version, a failed step, invalid data...
        source: crate::Error,
    },
    /// The record's payload could not be read or written back: the store
    /// could not read the row (`unreadable`), the payload is not in the
    /// store's format (`undecodable`), there is nothing at the store's path
    /// (`no_value_at_path`), the record holds a field its version does not
    /// model under a name the current version writes
    /// (`carried_field_collision`), or the value cannot be serialized
    /// (`serialize`). Nothing was written.
    Payload {
        /// The record's key.
        key: String,
        /// A short, stable name of what went wrong (listed above).
        kind: &'static str,
        /// The full message.
        reason: String,
    },
}

impl LazyError {
    fn from_problem(key: &str, problem: Problem) -> Self {
        match problem {
            Problem::Upgrade(source) => LazyError::Upgrade {
                key: key.to_owned(),
                source,
            },
            Problem::Payload { kind, reason } => LazyError::Payload {
                key: key.to_owned(),
                kind,
                reason,
            },
        }
    }
}

impl fmt::Display for LazyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LazyError::Store(e) => e.fmt(f),
            LazyError::Upgrade { key, source } => {
                write!(f, "record {key:?} cannot be loaded: {source}")
            }
            LazyError::Payload { key, reason, .. } => {
                write!(f, "record {key:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for LazyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LazyError::Store(e) => Some(e),
            LazyError::Upgrade { source, .. } => Some(source),
            LazyError::Payload { .. } => None,
        }
    }
}

impl From<StoreError> for LazyError {
    fn from(e: StoreError) -> Self {
        LazyError::Store(e)
    }
}

impl<S, T> Lazy<S, T> {
    /// Wraps `store`; write-back is off until [`Lazy::write_back`] turns it on.
    pub fn new(store: S) -> Self {
        Lazy {
            store,
            write_back: false,
            context: None,
            _type: PhantomData,
        }
    }

    /// Reads and writes each record inside the context `build` makes for it
    /// from its key and context columns; see [`Migrator::context`](super::Migrator::context).
    /// A value saved without a record read first gets a record with only
    /// its key.
    pub fn context<C, E, F>(mut self, build: F) -> Self
    where
        C: Clone + 'static,
        E: fmt::Display,
        F: Fn(&Record) -> Result<C, E> + Send + Sync + 'static,
    {
        self.context = Some(super::batch::scope(build));
        self
    }

    /// `f` inside the context of `record`, if there is one.
    fn scoped<R>(
        &self,
        record: &Record,
        f: impl FnOnce() -> Result<R, Problem>,
    ) -> Result<R, LazyError> {
        let fail = |problem| LazyError::from_problem(&record.key, problem);
        match &self.context {
            None => f().map_err(fail),
            Some(scope) => match super::batch::in_scope(scope, record, f) {
                Ok(result) => result.map_err(fail),
                Err(reason) => Err(LazyError::Payload {
                    key: record.key.clone(),
                    kind: "context",
                    reason,
                }),
            },
        }
    }

    /// Whether [`Lazy::load`] writes upgraded records back.
    pub fn write_back(mut self, on: bool) -> Self {
        self.write_back = on;
        self
    }

    /// The wrapped store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.store
    }
}

impl<S, T> Lazy<S, T>
where
    S: RecordStore,
    T: SerializeVersioned + DeserializeVersionedOwned,
{
    /// Loads the record under `key`, upgrading it if it is older than `T`'s
    /// version; `None` if there is no such record.
    ///
    /// A record that cannot be read (bad JSON, a future version, a failing
    /// step) is a [`LazyError::Upgrade`] and is never written to.
    pub async fn load(&self, key: &str) -> Result<Option<Loaded<T>>, LazyError> {
        let Some(record) = self.store.get(key).await? else {
            return Ok(None);
        };
        let record = readable(record)?;
        let encoding = self.store.encoding();
        let stored = self.scoped(&record, || encoding.read::<T>(&record.payload))?;
        let mut loaded = Loaded {
            value: stored.value,
            version: stored.version,
            upgraded: stored.upgraded,
            revision: record.revision,
            write_back: WriteBack::NotNeeded,
        };
        // A record at or above the write version is never rewritten: during
        // a rolling deploy, the release before this one must still read it.
        let target = T::WRITE_VERSION;
        if super::plan::<T>(loaded.version, loaded.upgraded, target, false) != super::Move::Up {
            return Ok(Some(loaded));
        }
        if !self.write_back {
            loaded.write_back = WriteBack::Off;
            return Ok(Some(loaded));
        }
        let payload = self
            .scoped(&record, || {
                encoding.rewrite(&record.payload, &loaded.value, loaded.version, target, true)
            })?
            .payload;
        let write = CasWrite {
            key: key.to_owned(),
            expected: record.revision,
            read: record.payload,
            payload,
        };
        loaded.write_back = match self.store.compare_and_swap(&[write]).await?.first() {
            Some(Cas::Written { revision }) => {
                loaded.revision = *revision;
                WriteBack::Written {
                    revision: *revision,
                }
            }
            // A store returns one outcome per write; a missing one is not a
            // write that happened, so it is reported as not written.
            Some(Cas::Conflict) | None => WriteBack::Conflict,
        };
        Ok(Some(loaded))
    }

    /// Writes `value` under `key` unconditionally, at the current version;
    /// returns the new revision.
    ///
    /// With a path in the store's [`Encoding`](super::Encoding), the value is
    /// written into the record's envelope, which must exist: it is read and
    /// written back with compare-and-swap, again if someone wrote it
    /// meanwhile, so their changes to the rest of the envelope stay.
    pub async fn save(&self, key: &str, value: &T) -> Result<u64, LazyError> {
        let encoding = self.store.encoding();
        if encoding.path.is_none() {
            let payload = self.scoped(&Record::new(key, Vec::new(), 0), || {
                encoding.write(None, value)
            })?;
            return Ok(self.store.put(key, &payload).await?);
        }
        loop {
            let Some(record) = self.store.get(key).await? else {
                return Err(LazyError::from_problem(key, encoding.no_envelope()));
            };
            let record = readable(record)?;
            let expected = record.revision;
            if let Cas::Written { revision } = self.cas(key, value, record, expected).await? {
                return Ok(revision);
            }
        }
    }

    /// Writes `value` under `key` only if the record's revision is still
    /// `expected` (as returned in [`Loaded::revision`]); a [`Cas::Conflict`]
    /// means someone else wrote it first (or the record is gone) and nothing
    /// was written. The record is read first: a layout without a revision
    /// column compares the payload read, and with a path the value is
    /// written into that record's envelope.
    pub async fn save_if(&self, key: &str, value: &T, expected: u64) -> Result<Cas, LazyError> {
        let Some(record) = self.store.get(key).await? else {
            return Ok(Cas::Conflict);
        };
        self.cas(key, value, readable(record)?, expected).await
    }

    /// Writes `value` into `record` (read under `key`) if it is still at
    /// revision `expected` and holds what was read.
    async fn cas(
        &self,
        key: &str,
        value: &T,
        record: Record,
        expected: u64,
    ) -> Result<Cas, LazyError> {
        if record.revision != expected {
            return Ok(Cas::Conflict);
        }
        let encoding = self.store.encoding();
        let payload = self.scoped(&record, || encoding.write(Some(&record.payload), value))?;
        let write = CasWrite {
            key: key.to_owned(),
            expected,
            read: record.payload,
            payload,
        };
        let outcomes = self.store.compare_and_swap(&[write]).await?;
        Ok(outcomes.first().copied().unwrap_or(Cas::Conflict))
    }
}

/// A record the store could read, or the error naming why it could not.
fn readable(record: Record) -> Result<Record, LazyError> {
    match record.unreadable {
        None => Ok(record),
        Some(reason) => Err(LazyError::Payload {
            key: record.key,
            kind: "unreadable",
            reason,
        }),
    }
}
