//! Records in a database: lazy migration on load and batch migration.
//!
//! A [`RecordStore`] holds JSON payloads under string keys, each with a
//! revision that every write bumps, so that a write can be made conditional
//! on nothing having changed since the read (compare-and-swap). Backends are
//! behind cargo features: `sqlite` (embedded, a single file), `postgres`
//! (a `JSONB` column) and `redis`.

use std::fmt;
use std::future::Future;

mod batch;
pub mod cli;
mod lazy;
mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use batch::{Failure, Migrator, Progress, Report, RunError, DEFAULT_BATCH_SIZE};
pub use lazy::{Lazy, LazyError, Loaded, WriteBack};
pub use open::{open, open_existing, AnyStore};

/// A stored record as read: its key, its JSON payload and its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's key.
    pub key: String,
    /// The payload, as JSON text.
    pub payload: String,
    /// Bumped by every write; a compare-and-swap names the revision it read.
    pub revision: u64,
}

/// A conditional write: replace the payload of `key` only if its revision is
/// still `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasWrite {
    /// The record to write.
    pub key: String,
    /// The revision the writer read.
    pub expected: u64,
    /// The new payload, as JSON text.
    pub payload: String,
}

/// The outcome of one [`CasWrite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    /// Written; the record now has this revision.
    Written {
        /// The record's new revision.
        revision: u64,
    },
    /// Not written: the record changed or disappeared since it was read.
    Conflict,
}

/// A key-value store of JSON records with revisions.
///
/// Keys are compared as bytes: [`RecordStore::scan`] returns them in that
/// order on every backend, so a scan can resume after any key.
pub trait RecordStore: Send + Sync {
    /// Reads one record, or `None` if there is no record under `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Writes `payload` under `key` unconditionally, creating the record or
    /// replacing it; returns the new revision.
    fn put(&self, key: &str, payload: &str)
        -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Writes many records unconditionally, in one transaction where the
    /// engine has them.
    fn put_many(
        &self,
        records: &[(String, String)],
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
            fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send {
                (**self).get(key)
            }

            fn put(&self, key: &str, payload: &str) -> impl Future<Output = Result<u64, StoreError>> + Send {
                (**self).put(key, payload)
            }

            fn put_many(&self, records: &[(String, String)]) -> impl Future<Output = Result<(), StoreError>> + Send {
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

    /// The backend: `"sqlite"`, `"postgres"` or `"redis"`.
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
