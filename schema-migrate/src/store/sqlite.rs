//! The embedded default backend: one SQLite file, no server.
//!
//! Records live in one table, `key TEXT PRIMARY KEY, payload TEXT, revision
//! INTEGER`. The payload is stored as text, exactly as written, so what a
//! failed migration leaves behind is byte-identical to what was there.
//!
//! `rusqlite` is synchronous: the connection sits behind a mutex and every
//! call runs on tokio's blocking pool, so a store call never stalls the
//! async workers. The file is opened in WAL mode, so readers (another
//! process polling the file, say) do not block the writer.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{check_identifier, Cas, CasWrite, Record, RecordStore, StoreError};

const BACKEND: &str = "sqlite";

/// A [`RecordStore`] in a table of a SQLite file.
///
/// ```
/// use schema_migrate::store::{sqlite::SqliteStore, RecordStore};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("sm-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = SqliteStore::open(dir.join("records.db"), "checkpoints").await?;
/// let revision = store.put("trip-1", r#"{"schema_version":4}"#).await?;
/// assert_eq!(revision, 1);
/// assert_eq!(store.get("trip-1").await?.map(|r| r.revision), Some(1));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    sql: Sql,
}

/// The statements, with the table name in them, built once.
struct Sql {
    get: String,
    put: String,
    cas: String,
    scan_from_start: String,
    scan_after: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the SQLite file at `path` and the table
    /// `table` in it, and switches the file to WAL mode.
    ///
    /// `table` must be a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`);
    /// anything else is refused rather than quoted.
    ///
    /// This is for a program that owns its store. To migrate a store that
    /// must already exist (a command line, where a typo must not create an
    /// empty file and report success), use [`SqliteStore::open_existing`].
    pub async fn open(path: impl AsRef<Path>, table: &str) -> Result<Self, StoreError> {
        check_identifier(BACKEND, "table", table)?;
        let path = path.as_ref().to_owned();
        let table = table.to_owned();
        blocking("open", move || {
            let conn = Connection::open(&path)?;
            // Another process (a second migrator, the application) may hold
            // the write lock for a moment: wait for it instead of failing.
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            // WAL: readers do not block the writer and the writer does not
            // block readers; a crash leaves the last committed transaction.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // A rowid table, not WITHOUT ROWID: payloads are about a
            // kilobyte, and rows that large in the key's B-tree halve the
            // batch throughput (measured: 27k against 52k records/s).
            let quoted = quote(&table);
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {quoted} (
                     key TEXT PRIMARY KEY NOT NULL,
                     payload TEXT NOT NULL,
                     revision INTEGER NOT NULL
                 )"
            ))?;
            Ok(Self::with_connection(conn, &table))
        })
        .await
    }

    /// Opens the SQLite file at `path` and the table `table` in it, both of
    /// which must exist: nothing is created and the file's journal mode is
    /// left as it is, so opening for a dry run writes nothing. A missing
    /// file or table is an error ([`StoreError::is_usage`]) naming it.
    ///
    /// The table name rules are those of [`SqliteStore::open`].
    pub async fn open_existing(path: impl AsRef<Path>, table: &str) -> Result<Self, StoreError> {
        check_identifier(BACKEND, "table", table)?;
        let path = path.as_ref().to_owned();
        let table = table.to_owned();
        let shown = path.display().to_string();
        let name = table.clone();
        if !path.is_file() {
            return Err(StoreError::usage(
                BACKEND,
                "open",
                format!("no SQLite file at {shown} (sqlite:{shown}): nothing was created"),
            ));
        }
        let opened = blocking("open", move || {
            // No SQLITE_OPEN_CREATE: a file removed since the check above is
            // an error, not a new empty database.
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&path, flags)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE)",
                params![table],
                |row| row.get(0),
            )?;
            Ok(exists.then(|| Self::with_connection(conn, &table)))
        })
        .await?;
        opened.ok_or_else(|| {
            StoreError::usage(
                BACKEND,
                "open",
                format!("no table `{name}` in sqlite:{shown}: nothing was created"),
            )
        })
    }

    /// The store over an open connection whose table exists.
    fn with_connection(conn: Connection, table: &str) -> Self {
        // Quoted, so that a name that is a keyword (`order`) works.
        let table = quote(table);
        // Keys are TEXT with SQLite's default BINARY collation, which
        // compares with memcmp: byte order, as the trait promises.
        let sql = Sql {
            get: format!("SELECT payload, revision FROM {table} WHERE key = ?1"),
            put: format!(
                "INSERT INTO {table} (key, payload, revision) VALUES (?1, ?2, 1)
                 ON CONFLICT (key) DO UPDATE SET payload = excluded.payload,
                 revision = {table}.revision + 1
                 RETURNING revision"
            ),
            cas: format!(
                "UPDATE {table} SET payload = ?1, revision = revision + 1
                 WHERE key = ?2 AND revision = ?3
                 RETURNING revision"
            ),
            scan_from_start: format!(
                "SELECT key, payload, revision FROM {table} ORDER BY key LIMIT ?1"
            ),
            scan_after: format!(
                "SELECT key, payload, revision FROM {table} WHERE key > ?1 ORDER BY key LIMIT ?2"
            ),
        };
        SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                sql,
            }),
        }
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<R: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection, &Sql) -> Result<R, BoxError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(operation, move || {
            // A panic while holding the lock cannot leave a transaction
            // half-applied (rusqlite rolls back on drop), so a poisoned lock
            // still guards a consistent connection.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &inner.sql)
        })
        .await
    }
}

/// An engine error, or a record the store cannot decode (named by its key).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn blocking<R: Send + 'static>(
    operation: &'static str,
    f: impl FnOnce() -> Result<R, BoxError> + Send + 'static,
) -> Result<R, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| StoreError::new(BACKEND, operation, e)),
        Err(join) => Err(StoreError::new(BACKEND, operation, join)),
    }
}

/// `table` (a checked identifier, so it holds no quote) as a quoted SQL
/// identifier, so that a name that is a keyword (`order`, `group`) works.
fn quote(table: &str) -> String {
    format!("\"{table}\"")
}

fn revision(value: i64) -> u64 {
    // Revisions start at 1 and only grow.
    value.max(0) as u64
}

fn expected(value: u64) -> i64 {
    // A revision above i64::MAX cannot be stored, so it matches no row.
    i64::try_from(value).unwrap_or(-1)
}

impl RecordStore for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let key = key.to_owned();
        self.with_conn("get", move |conn, sql| {
            let mut stmt = conn.prepare_cached(&sql.get)?;
            let mut rows = stmt.query(params![key])?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            let (payload, revision) = payload_and_revision(&key, row, 0)?;
            Ok(Some(Record {
                key,
                payload,
                revision,
            }))
        })
        .await
    }

    async fn put(&self, key: &str, payload: &str) -> Result<u64, StoreError> {
        let (key, payload) = (key.to_owned(), payload.to_owned());
        self.with_conn("put", move |conn, sql| {
            let mut stmt = conn.prepare_cached(&sql.put)?;
            let rev: i64 = stmt.query_row(params![key, payload], |row| row.get(0))?;
            Ok(revision(rev))
        })
        .await
    }

    async fn put_many(&self, records: &[(String, String)]) -> Result<(), StoreError> {
        let records = records.to_vec();
        self.with_conn("put_many", move |conn, sql| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&sql.put)?;
                for (key, payload) in &records {
                    stmt.query_row(params![key, payload], |_| Ok(()))?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        let writes = writes.to_vec();
        self.with_conn("compare_and_swap", move |conn, sql| {
            let tx = conn.transaction()?;
            let mut outcomes = Vec::with_capacity(writes.len());
            {
                let mut stmt = tx.prepare_cached(&sql.cas)?;
                for w in &writes {
                    let rev: Option<i64> = stmt
                        .query_row(params![w.payload, w.key, expected(w.expected)], |row| {
                            row.get(0)
                        })
                        .optional()?;
                    outcomes.push(match rev {
                        Some(rev) => Cas::Written {
                            revision: revision(rev),
                        },
                        None => Cas::Conflict,
                    });
                }
            }
            // Nothing is visible until this commit; an error or a kill before
            // it leaves every record of the batch as it was.
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
        let after = after.map(str::to_owned);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn("scan", move |conn, sql| {
            let mut stmt;
            let mut rows = match &after {
                None => {
                    stmt = conn.prepare_cached(&sql.scan_from_start)?;
                    stmt.query(params![limit])?
                }
                Some(after) => {
                    stmt = conn.prepare_cached(&sql.scan_after)?;
                    stmt.query(params![after, limit])?
                }
            };
            let mut records = Vec::new();
            while let Some(row) = rows.next()? {
                let key = match row.get_ref(0)? {
                    ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec()).map_err(|_| {
                        format!(
                            "a record's key {:?} is not valid UTF-8",
                            String::from_utf8_lossy(bytes)
                        )
                    })?,
                    other => {
                        return Err(
                            format!("a record's key is {}, not text", describe(other)).into()
                        )
                    }
                };
                let (payload, revision) = payload_and_revision(&key, row, 1)?;
                records.push(Record {
                    key,
                    payload,
                    revision,
                });
            }
            Ok(records)
        })
        .await
    }
}

/// The payload and revision in columns `first` and `first + 1` of the row
/// of `key`; what cannot be decoded is an error naming the key, so that the
/// record can be repaired or deleted and a run resumed.
fn payload_and_revision(
    key: &str,
    row: &rusqlite::Row<'_>,
    first: usize,
) -> Result<(String, u64), BoxError> {
    let payload = match row.get_ref(first)? {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| format!("record {key:?}: payload is not valid UTF-8"))?
            .to_owned(),
        other => {
            return Err(format!("record {key:?}: payload is {}, not text", describe(other)).into())
        }
    };
    let revision = match row.get_ref(first + 1)? {
        ValueRef::Integer(value) => revision(value),
        ValueRef::Text(text) => {
            return Err(format!(
                "record {key:?}: revision is {:?}, not an integer",
                String::from_utf8_lossy(text)
            )
            .into())
        }
        other => {
            return Err(format!(
                "record {key:?}: revision is {}, not an integer",
                describe(other)
            )
            .into())
        }
    };
    Ok((payload, revision))
}

/// A stored value's type, for messages.
fn describe(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}
