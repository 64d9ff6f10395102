//! Records in a database: lazy migration on load and batch migration.
//!
//! A [`RecordStore`] holds payloads under keys, each with a revision that
//! every write bumps, so that a write can be made conditional on nothing
//! having changed since the read (compare-and-swap). Backends are behind
//! cargo features: `sqlite` (embedded, a single file), `postgres`,
//! `redis` and `redis-cluster`. Each works on a table (or keys) of its own layout, or on the
//! tables and keys a service already has, described by a [`Layout`] or
//! [`Layout::redis_keys`]: any key columns, a payload
//! column in JSON, MessagePack or CBOR, the versioned value at a path inside
//! an envelope, with or without a revision column.

use std::fmt;
use std::future::Future;

mod batch;
#[cfg(feature = "cli")]
pub mod cli;
mod codec;
#[cfg(feature = "cli")]
mod fancy;
mod layout;
mod lazy;
mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis-cluster")]
pub mod redis_cluster;
#[cfg(feature = "redis")]
mod redis_shared;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use batch::{Failure, Migrator, Progress, Report, RunError, DEFAULT_BATCH_SIZE};
pub use codec::{Encoding, Format, Pointer};
pub use layout::{Layout, Partition};
pub use lazy::{Lazy, LazyError, Loaded, WriteBack};
pub use open::{open, open_existing, open_layout, open_layout_read_only, AnyStore};

/// A stored record as read: its key, its payload and its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's key. A composite key (several key columns) is a JSON
    /// array of its parts, such as `["thread-1","","ck-3"]`.
    pub key: String,
    /// The payload, as stored (JSON text, or MessagePack or CBOR bytes).
    pub payload: Vec<u8>,
    /// Bumped by every write; a compare-and-swap names the revision it read.
    /// Where the layout has no revision column it is the row's `xmin` on
    /// PostgreSQL, and elsewhere a 64-bit fingerprint of the payload (whose
    /// bytes a compare-and-swap compares).
    pub revision: u64,
    /// Why the store could not read this record as one (a NULL payload, a
    /// revision that is not an integer): such a record is reported as
    /// failed, with its key, and never written.
    pub unreadable: Option<String>,
    /// The row's context columns ([`Layout::context_columns`]), by name, as
    /// JSON: text as strings, numbers as numbers, JSON as is, NULL as null.
    /// Empty when the layout names none.
    pub columns: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    /// A readable record.
    pub fn new(key: impl Into<String>, payload: impl Into<Vec<u8>>, revision: u64) -> Self {
        Record {
            key: key.into(),
            payload: payload.into(),
            revision,
            unreadable: None,
            columns: serde_json::Map::new(),
        }
    }

    /// A record the store found but cannot read, for the reason given.
    pub fn unreadable(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Record {
            key: key.into(),
            payload: Vec::new(),
            revision: 0,
            unreadable: Some(reason.into()),
            columns: serde_json::Map::new(),
        }
    }

    /// The record with its context columns, from the JSON object the store
    /// selected them as (`None`: the layout names none).
    pub(crate) fn with_columns(mut self, object: Option<&str>) -> Self {
        let Some(object) = object else { return self };
        match serde_json::from_str(object) {
            Ok(columns) => self.columns = columns,
            Err(e) if self.unreadable.is_none() => {
                self.unreadable =
                    Some(format!("its context columns are not readable as JSON: {e}"));
            }
            Err(_) => {}
        }
        self
    }

    /// The payload as text, if it is UTF-8 (a JSON payload is).
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }
}

/// A conditional write: replace the payload of `key` only if the record has
/// not changed since it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasWrite {
    /// The record to write.
    pub key: String,
    /// The revision the writer read.
    pub expected: u64,
    /// The payload the writer read: what a layout without a revision column
    /// compares (SQLite, Redis keys).
    pub read: Vec<u8>,
    /// The new payload.
    pub payload: Vec<u8>,
}

/// The outcome of one [`CasWrite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    /// Written; the record now has this revision (see [`Record::revision`]
    /// for layouts without a revision column).
    Written {
        /// The record's new revision.
        revision: u64,
    },
    /// Not written: the record changed or disappeared since it was read.
    Conflict,
}

/// A key-value store of records with revisions.
///
/// [`RecordStore::scan`] returns records in the order of their keys (as
/// bytes on the store's own layout; in the database's order of the key
/// columns on an existing table), so a scan can resume after any key.
pub trait RecordStore: Send + Sync {
    /// How payloads are encoded, and where in them the versioned value is.
    fn encoding(&self) -> &Encoding {
        &codec::JSON
    }

    /// Whether [`Record::revision`] counts writes (1 for a new record, one
    /// more for each write), as a revision column does; `false` where it is
    /// only a token that every write changes (PostgreSQL's `xmin`, a
    /// fingerprint of the payload).
    fn counts_writes(&self) -> bool {
        true
    }

    /// Reads one record, or `None` if there is no record under `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Writes `payload` under `key` unconditionally, creating the record or
    /// replacing it; returns the new revision.
    fn put(
        &self,
        key: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Writes many records unconditionally, in one transaction where the
    /// engine has them.
    fn put_many(
        &self,
        records: &[(String, Vec<u8>)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Compare-and-swap writes, applied together in one transaction where the
    /// engine has them. Returns one outcome per write, in order; a write whose
    /// record changed since it was read is a [`Cas::Conflict`], not an error,
    /// and never overwrites the newer record.
    fn compare_and_swap(
        &self,
        writes: &[CasWrite],
    ) -> impl Future<Output = Result<Vec<Cas>, StoreError>> + Send;

    /// Up to `limit` records whose keys come strictly after `after` (from the
    /// first key if `None`), in ascending byte order of their keys.
    fn scan(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;
}

/// Sharing a store: a reference or an `Arc` is a store too, so that a
/// [`Lazy`] wrapper and a [`Migrator`] can work on one connection.
macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: RecordStore> RecordStore for $ty {
            fn encoding(&self) -> &Encoding {
                (**self).encoding()
            }

            fn counts_writes(&self) -> bool {
                (**self).counts_writes()
            }

            fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send {
                (**self).get(key)
            }

            fn put(&self, key: &str, payload: &[u8]) -> impl Future<Output = Result<u64, StoreError>> + Send {
                (**self).put(key, payload)
            }

            fn put_many(&self, records: &[(String, Vec<u8>)]) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).put_many(records)
            }

            fn compare_and_swap(&self, writes: &[CasWrite]) -> impl Future<Output = Result<Vec<Cas>, StoreError>> + Send {
                (**self).compare_and_swap(writes)
            }

            fn scan(&self, after: Option<&str>, limit: usize) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send {
                (**self).scan(after, limit)
            }
        }
    )*};
}

forward_store!(&S, std::sync::Arc<S>);

/// An error from a store's engine: connecting, reading or writing failed.
#[derive(Debug)]
pub struct StoreError {
    backend: &'static str,
    operation: &'static str,
    /// The store was named wrongly (see [`StoreError::is_usage`]).
    usage: bool,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// Wraps an engine error. `operation` says what was being done, such as
    /// `"connect"`, `"get"` or `"compare_and_swap"`.
    pub fn new(
        backend: &'static str,
        operation: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError {
            backend,
            operation,
            usage: false,
            source: source.into(),
        }
    }

    /// An error in how the store was named rather than in the engine: an
    /// invalid table name or prefix, an unknown URL scheme, a backend not
    /// compiled in, a file or table that does not exist.
    pub(crate) fn usage(
        backend: &'static str,
        operation: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError {
            usage: true,
            ..StoreError::new(backend, operation, source)
        }
    }

    /// Whether the store was named wrongly (an invalid table name or prefix,
    /// an unknown URL scheme, a backend this build lacks, a file or table
    /// that does not exist) rather than the engine failing: fix the command
    /// line or configuration; retrying will not help.
    pub fn is_usage(&self) -> bool {
        self.usage
    }

    /// The backend: `"sqlite"`, `"postgres"`, `"redis"` or `"redis-cluster"`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// What was being done when it failed.
    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} store: {} failed: {}",
            self.backend, self.operation, self.source
        )
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The revision of a record in a layout without a revision column (SQLite,
/// Redis keys): a 64-bit FNV-1a hash of its payload, so that
/// [`Lazy::save_if`] can tell that a record changed since it was loaded.
/// The compare-and-swap itself compares the payload's bytes.
#[cfg_attr(not(any(feature = "sqlite", feature = "redis")), allow(dead_code))]
pub(crate) fn fingerprint(payload: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in payload {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Checks that `name` (a table name or key prefix) is a plain SQL identifier,
/// `[A-Za-z_][A-Za-z0-9_]*`, so that it can be spliced into a statement
/// without quoting: anything else is refused, never escaped.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "redis")),
    allow(dead_code)
)]
pub(crate) fn check_identifier(
    backend: &'static str,
    what: &'static str,
    name: &str,
) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::usage(
            backend,
            "open",
            format!(
                "invalid {what} name {name:?}: expected letters, digits and \
                 underscores, not starting with a digit ([A-Za-z_][A-Za-z0-9_]*)"
            ),
        ))
    }
}

/// What a migration does with a record, by the version it is stored at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    /// At the target: left as it is.
    Keep,
    /// Older than the target: written at the target.
    Up,
    /// Newer than the target, which was asked for: written at the target.
    Down,
    /// Newer than the target, which is only the write version: left in
    /// place (a newer release wrote it; the release writing the target
    /// reads it).
    Newer,
}

/// The move of a record of `T` stored at `stored` toward `target`;
/// `upgraded`: reading it upgraded it or a value nested in it; `down`: the
/// target was asked for, so newer records are written down to it.
pub(crate) fn plan<T: crate::Versioned>(
    stored: u32,
    upgraded: bool,
    target: u32,
    down: bool,
) -> Move {
    use std::cmp::Ordering;
    match stored.cmp(&target) {
        Ordering::Less => Move::Up,
        // At the current version, a nested value that was upgraded is
        // written up too; at an older target the record stays as written.
        Ordering::Equal if upgraded && target == T::VERSION => Move::Up,
        Ordering::Equal => Move::Keep,
        Ordering::Greater if down => Move::Down,
        Ordering::Greater => Move::Newer,
    }
}
