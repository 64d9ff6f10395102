//! The embedded default backend: one SQLite file, no server.
//!
//! The store's own layout is one table, `key TEXT PRIMARY KEY, payload TEXT,
//! revision INTEGER`. [`SqliteStore::open_layout`] opens a table the
//! application already has instead (any key columns of integer or text
//! type, a TEXT or BLOB payload column, a revision column or none; see
//! [`Layout`]). The payload is stored as written, so what a failed migration
//! leaves behind is byte-identical to what was there.
//!
//! `rusqlite` is synchronous: the connection sits behind a mutex and every
//! call runs on tokio's blocking pool, so a store call never stalls the
//! async workers. A file the store creates is switched to WAL mode, so
//! readers (another process polling the file, say) do not block the writer;
//! an existing file's settings are left as they are.
//!
//! Without a revision column, compare-and-swap compares the payload as read
//! (as bytes, whether it is stored as TEXT or BLOB), and
//! [`Record::revision`] is a 64-bit fingerprint of the payload.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension};

use super::layout::{format_key, parse_key, quote_ident, quote_literal, KeyKind, KeyPart};
use super::{check_identifier, Cas, CasWrite, Encoding, Layout, Record, RecordStore, StoreError};

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
/// let revision = store.put("trip-1", br#"{"schema_version":4}"#).await?;
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
    layout: Layout,
    kinds: Vec<KeyKind>,
    /// The payload column is declared BLOB: JSON is written there as a blob
    /// too, so the column keeps the storage class its application reads.
    blob_payload: bool,
}

/// What the catalog says of the layout's columns.
struct Columns {
    keys: Vec<KeyKind>,
    blob_payload: bool,
    /// The context columns as one JSON object (`json_object(...)`), if any.
    context: Option<String>,
}

/// The statements, with the table and column names in them, built once.
struct Sql {
    get: String,
    put: String,
    cas: String,
    scan_from_start: String,
    scan_after: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.inner.layout.table)
            .finish_non_exhaustive()
    }
}

/// How a file is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Created if missing, with the store's own table, in WAL mode.
    Create,
    /// Must exist; read and written.
    Existing,
    /// Must exist; only read (a dry run on a file it may not write).
    ReadOnly,
}

impl SqliteStore {
    /// Opens (creating if missing) the SQLite file at `path` and the table
    /// `table` of the store's own layout in it, and switches the file to
    /// WAL mode.
    ///
    /// This is for a program that owns its store. To migrate a store that
    /// must already exist (a command line, where a typo must not create an
    /// empty file and report success), use [`SqliteStore::open_existing`];
    /// for a table of another layout, [`SqliteStore::open_layout`].
    pub async fn open(path: impl AsRef<Path>, table: &str) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), Layout::new(table), Access::Create).await
    }

    /// Opens the SQLite file at `path` and the table `table` of the store's
    /// own layout in it, both of which must exist: nothing is created and
    /// the file's journal mode is left as it is. A missing file or table is
    /// an error ([`StoreError::is_usage`]) naming it.
    pub async fn open_existing(path: impl AsRef<Path>, table: &str) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), Layout::new(table), Access::Existing).await
    }

    /// Opens an existing table of any layout in the SQLite file at `path`
    /// (see [`Layout::table`]); nothing is created and no setting of the
    /// file is changed. A missing file, table or column, or a key column
    /// of a type other than integer or text, is an error
    /// ([`StoreError::is_usage`]) naming it.
    ///
    /// ```
    /// use schema_migrate::store::{sqlite::SqliteStore, Layout, RecordStore};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let dir = std::env::temp_dir().join(format!("sm-layout-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("app.db");
    /// let conn = rusqlite::Connection::open(&path)?;
    /// conn.execute_batch(r#"CREATE TABLE items (id INTEGER PRIMARY KEY, data TEXT);
    ///                       INSERT INTO items VALUES (7, '{"_version":1}');"#)?;
    ///
    /// let store = SqliteStore::open_layout(&path, &Layout::table("items", ["id"], "data")).await?;
    /// let record = store.get("7").await?.expect("row 7");
    /// assert_eq!(record.text(), Some(r#"{"_version":1}"#));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn open_layout(path: impl AsRef<Path>, layout: &Layout) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), layout.clone(), Access::Existing).await
    }

    /// Like [`SqliteStore::open_layout`], but read-only: for a dry run,
    /// which then works on a file this process may not write. Every write
    /// fails.
    pub async fn open_read_only(
        path: impl AsRef<Path>,
        layout: &Layout,
    ) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), layout.clone(), Access::ReadOnly).await
    }

    async fn open_with(path: &Path, layout: Layout, access: Access) -> Result<Self, StoreError> {
        if access == Access::Create {
            // The table this store creates: a plain name, as a program that
            // owns its store would choose.
            check_identifier(BACKEND, "table", &layout.table)?;
        }
        layout.check_table(BACKEND)?;
        let path: PathBuf = path.to_owned();
        let shown = path.display().to_string();
        let url = format!("sqlite:{shown}");
        if access != Access::Create && !path.is_file() {
            return Err(StoreError::usage(
                BACKEND,
                "open",
                format!("no SQLite file at {shown} (sqlite:{shown}): nothing was created"),
            ));
        }
        let opened = blocking("open", move || {
            let conn = match access {
                Access::Create => Connection::open(&path)?,
                // No SQLITE_OPEN_CREATE: a file removed since the check
                // above is an error, not a new empty database.
                Access::Existing | Access::ReadOnly => {
                    let rw = if access == Access::ReadOnly {
                        OpenFlags::SQLITE_OPEN_READ_ONLY
                    } else {
                        OpenFlags::SQLITE_OPEN_READ_WRITE
                    };
                    Connection::open_with_flags(
                        &path,
                        rw | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?
                }
            };
            // Another process (a second migrator, the application) may hold
            // the write lock for a moment: wait for it instead of failing.
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            register_partition(&conn)?;
            if access == Access::Create {
                // WAL: readers do not block the writer and the writer does
                // not block readers; a crash leaves the last committed
                // transaction.
                conn.pragma_update(None, "journal_mode", "WAL")?;
                // A rowid table, not WITHOUT ROWID: payloads are about a
                // kilobyte, and rows that large in the key's B-tree halve
                // the batch throughput (measured: 27k against 52k records/s).
                conn.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {} (
                         key TEXT PRIMARY KEY NOT NULL,
                         payload TEXT NOT NULL,
                         revision INTEGER NOT NULL
                     )",
                    quote_ident(&layout.table, false)
                ))?;
            }
            Ok(match columns(&conn, &layout, &url)? {
                Ok(columns) => Ok(Self::with_connection(conn, layout, columns)),
                Err(message) => Err(message),
            })
        })
        .await?;
        opened.map_err(|message| StoreError::usage(BACKEND, "open", message))
    }

    /// The store over an open connection whose table has the columns.
    fn with_connection(conn: Connection, layout: Layout, catalog: Columns) -> Self {
        let table = quote_ident(&layout.table, false);
        let keys: Vec<String> = layout.key.iter().map(|k| quote_ident(k, false)).collect();
        let payload = quote_ident(&layout.payload, false);
        let revision = layout.revision.as_deref().map(|r| quote_ident(r, false));
        let n = keys.len();
        let key_list = keys.join(", ");
        // `?1 .. ?n`, starting at `from`.
        let params = |from: usize| {
            (from..from + n)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let key_is = |from: usize| {
            keys.iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ?{}", from + i))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let (tuple, tuple_params) = if n == 1 {
            (key_list.clone(), params(1))
        } else {
            (format!("({key_list})"), format!("({})", params(1)))
        };
        let mut columns = match &revision {
            Some(r) => format!("{key_list}, {payload}, {r}"),
            None => format!("{key_list}, {payload}"),
        };
        if let Some(context) = &catalog.context {
            columns.push_str(", ");
            columns.push_str(context);
        }
        // The user's condition and the partition's, both in the engine.
        let conditions: Vec<String> = layout
            .filter
            .iter()
            .map(|f| format!("({f})"))
            .chain(layout.partition.map(|p| {
                format!(
                    "{PARTITION_FUNCTION}({}, {key_list}) = {}",
                    p.count, p.index
                )
            }))
            .collect();
        let filter = conditions
            .iter()
            .map(|c| format!("{c} AND "))
            .collect::<String>();
        let filter_only = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = Sql {
            get: format!("SELECT {columns} FROM {table} WHERE {}", key_is(1)),
            put: match &revision {
                Some(r) => format!(
                    "INSERT INTO {table} ({key_list}, {payload}, {r}) VALUES ({}, ?{}, 1)
                     ON CONFLICT ({key_list}) DO UPDATE SET {payload} = excluded.{payload},
                     {r} = coalesce({table}.{r}, 0) + 1
                     RETURNING {r}",
                    params(1),
                    n + 1
                ),
                None => format!(
                    "INSERT INTO {table} ({key_list}, {payload}) VALUES ({}, ?{})
                     ON CONFLICT ({key_list}) DO UPDATE SET {payload} = excluded.{payload}
                     RETURNING 0",
                    params(1),
                    n + 1
                ),
            },
            // ?1: the new payload, ?2: the revision or payload read, then the key.
            cas: match &revision {
                Some(r) => format!(
                    "UPDATE {table} SET {payload} = ?1, {r} = coalesce({r}, 0) + 1
                     WHERE coalesce({r}, 0) = ?2 AND {}
                     RETURNING {r}",
                    key_is(3)
                ),
                None => format!(
                    "UPDATE {table} SET {payload} = ?1
                     WHERE CAST({payload} AS BLOB) = ?2 AND {}
                     RETURNING 0",
                    key_is(3)
                ),
            },
            scan_from_start: format!(
                "SELECT {columns} FROM {table} {filter_only} ORDER BY {key_list} LIMIT ?1"
            ),
            scan_after: format!(
                "SELECT {columns} FROM {table} WHERE {filter}{tuple} > {tuple_params}
                 ORDER BY {key_list} LIMIT ?{}",
                n + 1
            ),
        };
        SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                sql,
                layout,
                kinds: catalog.keys,
                blob_payload: catalog.blob_payload,
            }),
        }
    }

    /// The layout this store was opened with.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<R: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection, &Inner) -> Result<R, BoxError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(operation, move || {
            // A panic while holding the lock cannot leave a transaction
            // half-applied (rusqlite rolls back on drop), so a poisoned lock
            // still guards a consistent connection.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &inner)
        })
        .await
    }

    /// The key printed as `key`, as values to bind.
    fn key_values(&self, key: &str) -> Result<Vec<Value>, StoreError> {
        key_values(&self.inner.kinds, key).map_err(|e| StoreError::new(BACKEND, "key", e))
    }
}

fn key_values(kinds: &[KeyKind], key: &str) -> Result<Vec<Value>, String> {
    Ok(parse_key(kinds, key)?
        .into_iter()
        .map(|part| match part {
            KeyPart::Int(n) => Value::Integer(n),
            KeyPart::Text(t) => Value::Text(t),
        })
        .collect())
}

/// The kinds of the layout's key columns and the payload column's storage,
/// after checking that the table and every column exist; `Ok(Err(message))`
/// for what the user named wrongly.
fn columns(
    conn: &Connection,
    layout: &Layout,
    url: &str,
) -> Result<Result<Columns, String>, BoxError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?1 COLLATE NOCASE)",
        params![layout.table],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(Err(format!(
            "no table `{}` in {url}: nothing was created",
            layout.table
        )));
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT name, type FROM pragma_table_info({})",
        quote_literal(&layout.table)
    ))?;
    let declared: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let find = |column: &str| {
        declared
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column))
            .map(|(_, ty)| ty.to_ascii_uppercase())
    };
    let mut named: Vec<&str> = vec![&layout.payload];
    named.extend(layout.revision.as_deref());
    named.extend(layout.context_columns.iter().map(String::as_str));
    for column in named.iter().chain(
        layout
            .key
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .iter(),
    ) {
        if find(column).is_none() {
            let have: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
            return Ok(Err(format!(
                "table `{}` in {url} has no column `{column}` (its columns: {})",
                layout.table,
                have.join(", ")
            )));
        }
    }
    let mut kinds = Vec::new();
    for column in &layout.key {
        // SQLite's type affinity rules: INT anywhere is an integer column;
        // CHAR, CLOB or TEXT, or no type, text.
        let ty = find(column).unwrap_or_default();
        let kind = if ty.contains("INT") {
            KeyKind::Int
        } else if ty.is_empty()
            || ["CHAR", "CLOB", "TEXT", "UUID"]
                .iter()
                .any(|t| ty.contains(t))
        {
            KeyKind::Text
        } else {
            return Ok(Err(format!(
                "key column `{column}` is declared {ty}: a key column holds integers or text"
            )));
        };
        kinds.push(kind);
    }
    let blob_payload = find(&layout.payload).is_some_and(|ty| ty.contains("BLOB"));
    // Each as its JSON value; a column declared JSON holds JSON text, read
    // as the value it spells rather than as a string.
    let context = (!layout.context_columns.is_empty()).then(|| {
        let pairs: Vec<String> = layout
            .context_columns
            .iter()
            .map(|c| {
                let ident = quote_ident(c, false);
                let value = if find(c).is_some_and(|ty| ty.contains("JSON")) {
                    format!("json({ident})")
                } else {
                    ident
                };
                format!("{}, {value}", quote_literal(c))
            })
            .collect();
        format!("json_object({})", pairs.join(", "))
    });
    Ok(Ok(Columns {
        keys: kinds,
        blob_payload,
        context,
    }))
}

/// The SQL function giving a row's partition: `(count, key columns...)`.
const PARTITION_FUNCTION: &str = "schema_migrate_partition";

/// Registers [`PARTITION_FUNCTION`] on `conn`: the part of `count` that the
/// key, named as the store names it, hashes to (see [`super::Partition`]).
fn register_partition(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        PARTITION_FUNCTION,
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let count: i64 = ctx.get(0)?;
            let count = u32::try_from(count)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| {
                    rusqlite::Error::UserFunctionError("partition count out of range".into())
                })?;
            let mut parts = Vec::with_capacity(ctx.len().saturating_sub(1));
            for i in 1..ctx.len() {
                parts.push(match ctx.get_raw(i) {
                    ValueRef::Integer(v) => KeyPart::Int(v),
                    ValueRef::Text(t) => KeyPart::Text(String::from_utf8_lossy(t).into_owned()),
                    // Not a key a record can have: no part takes it.
                    _ => return Ok(-1i64),
                });
            }
            let partition = super::Partition { index: 0, count };
            Ok(i64::from(partition.of(&format_key(&parts))))
        },
    )
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

fn revision(value: i64) -> u64 {
    // Revisions start at 1 and only grow.
    value.max(0) as u64
}

fn expected(value: u64) -> i64 {
    // A revision above i64::MAX cannot be stored, so it matches no row.
    i64::try_from(value).unwrap_or(-1)
}

impl Inner {
    /// A payload as the column stores it: JSON as text (but in a BLOB
    /// column as a blob), MessagePack and CBOR as blobs.
    fn payload_value(&self, payload: &[u8]) -> Value {
        match std::str::from_utf8(payload) {
            Ok(text) if self.layout.encoding.format.is_text() && !self.blob_payload => {
                Value::Text(text.to_owned())
            }
            _ => Value::Blob(payload.to_vec()),
        }
    }

    /// The written revision: the column's, or the payload's fingerprint.
    fn written(&self, returned: i64, payload: &[u8]) -> u64 {
        match self.layout.revision {
            Some(_) => revision(returned),
            None => super::fingerprint(payload),
        }
    }

    /// The record in `row`, whose key parts are its first columns (read
    /// unless the caller knows the key).
    fn record(&self, row: &rusqlite::Row<'_>, key: Option<&str>) -> Result<Record, BoxError> {
        let n = self.kinds.len();
        let key = match key {
            Some(key) => key.to_owned(),
            None => {
                let mut parts = Vec::with_capacity(n);
                for i in 0..n {
                    parts.push(match row.get_ref(i)? {
                        ValueRef::Integer(v) => KeyPart::Int(v),
                        ValueRef::Text(bytes) => {
                            KeyPart::Text(String::from_utf8(bytes.to_vec()).map_err(|_| {
                                format!(
                                    "a record's key {:?} is not valid UTF-8",
                                    String::from_utf8_lossy(bytes)
                                )
                            })?)
                        }
                        other => {
                            return Err(format!(
                                "a record's key column `{}` holds {}, not an integer or text",
                                self.layout.key[i],
                                describe(other)
                            )
                            .into())
                        }
                    });
                }
                format_key(&parts)
            }
        };
        let payload_column = &self.layout.payload;
        let payload = match row.get_ref(n)? {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes.to_vec(),
            other => {
                return Ok(Record::unreadable(
                    key,
                    format!(
                        "the payload column `{payload_column}` holds {}",
                        describe(other)
                    ),
                ))
            }
        };
        let revision = match (&self.layout.revision, row.get_ref(n + 1).ok()) {
            (None, _) => super::fingerprint(&payload),
            (Some(_), Some(ValueRef::Integer(value))) => revision(value),
            (Some(_), Some(ValueRef::Null)) => 0,
            (Some(column), other) => {
                let what = match other {
                    Some(ValueRef::Text(text)) => format!("{:?}", String::from_utf8_lossy(text)),
                    Some(other) => describe(other).to_owned(),
                    None => "nothing".to_owned(),
                };
                return Ok(Record::unreadable(
                    key,
                    format!("the revision column `{column}` holds {what}, not an integer"),
                ));
            }
        };
        let record = Record::new(key, payload, revision);
        if self.layout.context_columns.is_empty() {
            return Ok(record);
        }
        let at = n + 1 + usize::from(self.layout.revision.is_some());
        let object = match row.get_ref(at)? {
            ValueRef::Text(text) => Some(String::from_utf8_lossy(text).into_owned()),
            _ => Some(String::new()),
        };
        Ok(record.with_columns(object.as_deref()))
    }
}

impl RecordStore for SqliteStore {
    fn encoding(&self) -> &Encoding {
        &self.inner.layout.encoding
    }

    fn counts_writes(&self) -> bool {
        self.inner.layout.revision.is_some()
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let values = self.key_values(key)?;
        let key = key.to_owned();
        self.with_conn("get", move |conn, inner| {
            let mut stmt = conn.prepare_cached(&inner.sql.get)?;
            let mut rows = stmt.query(params_from_iter(values))?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            Ok(Some(inner.record(row, Some(&key))?))
        })
        .await
    }

    async fn put(&self, key: &str, payload: &[u8]) -> Result<u64, StoreError> {
        let mut values = self.key_values(key)?;
        let payload = payload.to_vec();
        self.with_conn("put", move |conn, inner| {
            values.push(inner.payload_value(&payload));
            let mut stmt = conn.prepare_cached(&inner.sql.put)?;
            let rev: i64 = stmt.query_row(params_from_iter(values), |row| row.get(0))?;
            Ok(inner.written(rev, &payload))
        })
        .await
    }

    async fn put_many(&self, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let records = records
            .iter()
            .map(|(key, payload)| Ok((self.key_values(key)?, payload.clone())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.with_conn("put_many", move |conn, inner| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&inner.sql.put)?;
                for (mut values, payload) in records {
                    values.push(inner.payload_value(&payload));
                    stmt.query_row(params_from_iter(values), |_| Ok(()))?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        let writes = writes
            .iter()
            .map(|w| Ok((self.key_values(&w.key)?, w.clone())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.with_conn("compare_and_swap", move |conn, inner| {
            let tx = conn.transaction()?;
            let mut outcomes = Vec::with_capacity(writes.len());
            {
                let mut stmt = tx.prepare_cached(&inner.sql.cas)?;
                for (key, w) in writes {
                    let compared = match inner.layout.revision {
                        Some(_) => Value::Integer(expected(w.expected)),
                        None => Value::Blob(w.read),
                    };
                    let mut values = vec![inner.payload_value(&w.payload), compared];
                    values.extend(key);
                    let rev: Option<i64> = stmt
                        .query_row(params_from_iter(values), |row| row.get(0))
                        .optional()?;
                    outcomes.push(match rev {
                        Some(rev) => Cas::Written {
                            revision: inner.written(rev, &w.payload),
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
        let after = after.map(|key| self.key_values(key)).transpose()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn("scan", move |conn, inner| {
            let mut stmt;
            let mut rows = match after {
                None => {
                    stmt = conn.prepare_cached(&inner.sql.scan_from_start)?;
                    stmt.query(params![limit])?
                }
                Some(mut values) => {
                    values.push(Value::Integer(limit));
                    stmt = conn.prepare_cached(&inner.sql.scan_after)?;
                    stmt.query(params_from_iter(values))?
                }
            };
            let mut records = Vec::new();
            while let Some(row) = rows.next()? {
                records.push(inner.record(row, None)?);
            }
            Ok(records)
        })
        .await
    }
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
