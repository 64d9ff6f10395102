//! A [`RecordStore`] in a PostgreSQL table, with the payload in a `JSONB`
//! column so that records stay queryable.
//!
//! The table (created if missing) is
//!
//! ```sql
//! CREATE TABLE "<table>" (
//!     key      TEXT COLLATE "C" PRIMARY KEY,
//!     payload  JSONB  NOT NULL,
//!     revision BIGINT NOT NULL
//! )
//! ```
//!
//! so the version of every record can be asked of the database directly:
//!
//! ```sql
//! SELECT payload->>'_version' AS version, count(*) FROM "checkpoints" GROUP BY 1;
//! ```
//!
//! (with the type's tag name, [`Versioned::TAG`](crate::Versioned::TAG), in
//! place of `_version`).
//!
//! Keys use the `"C"` collation, so they compare as bytes and
//! [`scan`](RecordStore::scan) returns them in the same order as every other
//! backend. `JSONB` normalizes what it stores: object keys are reordered (the
//! version tag is often not first when read back, which the derive reads
//! anyway), insignificant whitespace is dropped, and of duplicate object keys
//! the last wins. It refuses what is not JSON, and JSON that PostgreSQL text
//! cannot hold (`\u0000`); such a write fails with a [`StoreError`] carrying
//! PostgreSQL's message and nothing of its batch is written.
//!
//! Every batch operation is a single statement over arrays (`unnest`), so a
//! [`put_many`](RecordStore::put_many) or
//! [`compare_and_swap`](RecordStore::compare_and_swap) of any size is one
//! round trip and one transaction.
//!
//! A store holds one connection and runs its operations one at a time on it;
//! clones share it. For parallel work open several stores.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

use super::{Cas, CasWrite, Record, RecordStore, StoreError};

const BACKEND: &str = "postgres";

/// A [`RecordStore`] in one PostgreSQL table.
///
/// ```no_run
/// # async fn demo() -> Result<(), schema_migrate::store::StoreError> {
/// use schema_migrate::store::{postgres::PostgresStore, RecordStore};
///
/// let store = PostgresStore::connect("postgres://app@localhost/app", "checkpoints").await?;
/// let revision = store.put("conversation-1", r#"{"_version":1,"destination":"Lisbon"}"#).await?;
/// assert_eq!(revision, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    table: String,
    /// Shared by clones; small, so that `AnyStore` stays small too.
    connection: Arc<Mutex<Connection>>,
}

/// The client and the statements prepared on it.
struct Connection {
    client: Client,
    get: Statement,
    put: Statement,
    put_many: Statement,
    cas: Statement,
    scan_from_start: Statement,
    scan_after: Statement,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (a libpq-style URL or key-value string, such as
    /// `postgres://user:password@host:5432/database`) without TLS, and
    /// creates `table` if it does not exist.
    ///
    /// `table` must be a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, at
    /// most 63 bytes); it is used quoted, so its case is kept. The connection
    /// runs as a task on the current tokio runtime, which must exist.
    ///
    /// For TLS, connect with your own connector and use
    /// [`PostgresStore::with_client`].
    pub async fn connect(url: &str, table: &str) -> Result<Self, StoreError> {
        validate_table(table)?;
        let client = connect_client(url).await?;
        Self::with_client(client, table).await
    }

    /// Like [`PostgresStore::connect`], but creates nothing: `table` must
    /// exist (checked with `to_regclass`), so that a dry run writes nothing
    /// and a misspelled name is an error ([`StoreError::is_usage`]) rather
    /// than a new, empty table.
    pub async fn connect_existing(url: &str, table: &str) -> Result<Self, StoreError> {
        validate_table(table)?;
        let client = connect_client(url).await?;
        let exists = client
            .query_one(
                "SELECT to_regclass($1::text) IS NOT NULL",
                &[&format!("\"{table}\"")],
            )
            .await
            .and_then(|row| row.try_get::<_, bool>(0))
            .map_err(|e| pg_error("open", e))?;
        if !exists {
            return Err(StoreError::usage(
                BACKEND,
                "open",
                format!(
                    "no table `{table}` in {}: nothing was created",
                    without_password(url)
                ),
            ));
        }
        Self::prepare(client, table).await
    }

    /// Uses an already connected client (for instance one connected with a
    /// TLS connector, whose connection task the caller has spawned), and
    /// creates `table` if it does not exist. The table name rules are those of
    /// [`PostgresStore::connect`].
    pub async fn with_client(client: Client, table: &str) -> Result<Self, StoreError> {
        validate_table(table)?;
        let quoted = format!("\"{table}\"");
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {quoted} (\
                key TEXT COLLATE \"C\" PRIMARY KEY, \
                payload JSONB NOT NULL, \
                revision BIGINT NOT NULL)"
        );
        if let Err(error) = client.batch_execute(&create).await {
            // Two stores creating the same table at once: one of them loses
            // the race on the catalog; the table exists either way.
            let raced = error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION);
            if !raced {
                return Err(pg_error("create table", error));
            }
        }
        Self::prepare(client, table).await
    }

    /// Prepares the statements on `table`, which exists.
    async fn prepare(client: Client, table: &str) -> Result<Self, StoreError> {
        let quoted = format!("\"{table}\"");
        let prepare = |sql: String| {
            let client = &client;
            async move {
                client
                    .prepare(&sql)
                    .await
                    .map_err(|e| pg_error("prepare", e))
            }
        };
        let get = prepare(format!(
            "SELECT payload::text, revision FROM {quoted} WHERE key = $1::text"
        ))
        .await?;
        let put = prepare(format!(
            "INSERT INTO {quoted} AS t (key, payload, revision) \
             VALUES ($1::text, $2::text::jsonb, 1) \
             ON CONFLICT (key) DO UPDATE SET payload = EXCLUDED.payload, revision = t.revision + 1 \
             RETURNING t.revision"
        ))
        .await?;
        // Keys are deduplicated before the statement (ON CONFLICT cannot touch a
        // row twice); `n` is how many puts of the key the batch held, so the
        // revision counts every one of them.
        let put_many = prepare(format!(
            "INSERT INTO {quoted} AS t (key, payload, revision) \
             SELECT u.key, u.payload::jsonb, u.n \
             FROM unnest($1::text[], $2::text[], $3::int8[]) AS u(key, payload, n) \
             ON CONFLICT (key) DO UPDATE \
             SET payload = EXCLUDED.payload, revision = t.revision + EXCLUDED.revision"
        ))
        .await?;
        // Under READ COMMITTED, a row changed by a concurrent transaction is
        // re-checked against `t.revision = w.expected` after that transaction
        // commits, so a write never lands on a revision it did not read.
        let cas = prepare(format!(
            "UPDATE {quoted} AS t SET payload = w.payload::jsonb, revision = t.revision + 1 \
             FROM unnest($1::text[], $2::int8[], $3::text[]) WITH ORDINALITY \
                  AS w(key, expected, payload, ord) \
             WHERE t.key = w.key AND t.revision = w.expected \
             RETURNING w.ord, t.revision"
        ))
        .await?;
        let scan_from_start = prepare(format!(
            "SELECT key, payload::text, revision FROM {quoted} ORDER BY key LIMIT $1::int8"
        ))
        .await?;
        let scan_after = prepare(format!(
            "SELECT key, payload::text, revision FROM {quoted} \
             WHERE key > $1::text ORDER BY key LIMIT $2::int8"
        ))
        .await?;

        Ok(PostgresStore {
            table: table.to_owned(),
            connection: Arc::new(Mutex::new(Connection {
                client,
                get,
                put,
                put_many,
                cas,
                scan_from_start,
                scan_after,
            })),
        })
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

/// Connects to `url` without TLS, running the connection as a task on the
/// current tokio runtime.
async fn connect_client(url: &str) -> Result<Client, StoreError> {
    // A URL that does not parse is the caller's to fix, not the server failing.
    if let Err(error) = url.parse::<tokio_postgres::Config>() {
        return Err(StoreError::usage(BACKEND, "connect", PgError(error)));
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        StoreError::new(
            BACKEND,
            "connect",
            "no tokio runtime: connect from inside a tokio runtime, which runs the connection",
        )
    })?;
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| pg_error("connect", e))?;
    runtime.spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(target: "schema_migrate", %error, "postgres store: the connection failed");
        }
    });
    Ok(client)
}

/// `url` without the password of its user part, for messages.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(user, _)| user);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    // A query string may hold a password too.
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    format!("{scheme}://{authority}{path}")
}

impl RecordStore for PostgresStore {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let connection = self.connection.lock().await;
        let row = connection
            .client
            .query_opt(&connection.get, &[&key])
            .await
            .map_err(|e| pg_error("get", e))?;
        row.map(|row| {
            Ok(Record {
                key: key.to_owned(),
                payload: row.try_get(0).map_err(|e| {
                    StoreError::new(
                        BACKEND,
                        "get",
                        format!("record {key:?}: payload: {}", PgError(e)),
                    )
                })?,
                revision: revision("get", row.try_get(1).map_err(|e| pg_error("get", e))?)
                    .map_err(|e| {
                        StoreError::new(BACKEND, "get", format!("record {key:?}: {}", e.source))
                    })?,
            })
        })
        .transpose()
    }

    async fn put(&self, key: &str, payload: &str) -> Result<u64, StoreError> {
        let connection = self.connection.lock().await;
        let row = connection
            .client
            .query_one(&connection.put, &[&key, &payload])
            .await
            .map_err(|e| pg_error("put", e))?;
        revision("put", row.try_get(0).map_err(|e| pg_error("put", e))?)
    }

    async fn put_many(&self, records: &[(String, String)]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // The last payload of a key wins, and the key's revision goes up by
        // the number of times the batch names it, as with one put each.
        let mut slot: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        let mut keys: Vec<&str> = Vec::with_capacity(records.len());
        let mut payloads: Vec<&str> = Vec::with_capacity(records.len());
        let mut counts: Vec<i64> = Vec::with_capacity(records.len());
        for (key, payload) in records {
            match slot.get(key.as_str()) {
                Some(&i) => {
                    payloads[i] = payload;
                    counts[i] += 1;
                }
                None => {
                    slot.insert(key, keys.len());
                    keys.push(key);
                    payloads.push(payload);
                    counts.push(1);
                }
            }
        }
        let connection = self.connection.lock().await;
        connection
            .client
            .execute(&connection.put_many, &[&keys, &payloads, &counts])
            .await
            .map_err(|e| pg_error("put_many", e))?;
        Ok(())
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.lock().await;
        let mut seen = std::collections::HashSet::with_capacity(writes.len());
        let unique = writes.iter().all(|w| seen.insert(w.key.as_str()));
        if unique {
            // One statement: atomic on its own.
            let connection = &*connection;
            return cas_batch(&connection.client, &connection.cas, writes).await;
        }
        // A key named twice: the writes apply in order, each seeing the ones
        // before it (the second of two writes that expect the same revision
        // conflicts), all in one transaction.
        let Connection { client, cas, .. } = &mut *connection;
        let transaction = client
            .transaction()
            .await
            .map_err(|e| pg_error("compare_and_swap", e))?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            let outcome = cas_batch(&transaction, cas, std::slice::from_ref(write)).await?;
            outcomes.extend(outcome);
        }
        transaction
            .commit()
            .await
            .map_err(|e| pg_error("compare_and_swap", e))?;
        Ok(outcomes)
    }

    async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.connection.lock().await;
        let rows = match after {
            None => {
                connection
                    .client
                    .query(&connection.scan_from_start, &[&limit])
                    .await
            }
            Some(after) => {
                connection
                    .client
                    .query(&connection.scan_after, &[&after, &limit])
                    .await
            }
        }
        .map_err(|e| pg_error("scan", e))?;
        rows.into_iter()
            .map(|row| {
                let key: String = row.try_get(0).map_err(|e| pg_error("scan", e))?;
                // Name the record in what cannot be read, so that it can be
                // repaired or deleted and a run resumed.
                let named = |what: &str, error: &dyn fmt::Display| {
                    StoreError::new(BACKEND, "scan", format!("record {key:?}: {what}: {error}"))
                };
                let payload = row.try_get(1).map_err(|e| named("payload", &PgError(e)))?;
                let stored: i64 = row.try_get(2).map_err(|e| named("revision", &PgError(e)))?;
                let revision = u64::try_from(stored)
                    .map_err(|_| named("revision", &format!("{stored}, which no store writes")))?;
                Ok(Record {
                    key,
                    payload,
                    revision,
                })
            })
            .collect()
    }
}

/// Runs the compare-and-swap statement over `writes` (whose keys are
/// distinct) and maps the returned rows back to one outcome per write.
async fn cas_batch<C: tokio_postgres::GenericClient>(
    client: &C,
    statement: &Statement,
    writes: &[CasWrite],
) -> Result<Vec<Cas>, StoreError> {
    let keys: Vec<&str> = writes.iter().map(|w| w.key.as_str()).collect();
    // A revision beyond BIGINT was never handed out: it matches no row, so
    // -1 (which no row has either) stands in for it.
    let expected: Vec<i64> = writes
        .iter()
        .map(|w| i64::try_from(w.expected).unwrap_or(-1))
        .collect();
    let payloads: Vec<&str> = writes.iter().map(|w| w.payload.as_str()).collect();
    let rows = client
        .query(statement, &[&keys, &expected, &payloads])
        .await
        .map_err(|e| pg_error("compare_and_swap", e))?;
    let mut outcomes = vec![Cas::Conflict; writes.len()];
    for row in rows {
        let ord: i64 = row
            .try_get(0)
            .map_err(|e| pg_error("compare_and_swap", e))?;
        let new_revision = revision(
            "compare_and_swap",
            row.try_get(1)
                .map_err(|e| pg_error("compare_and_swap", e))?,
        )?;
        let slot = usize::try_from(ord)
            .ok()
            .and_then(|ord| ord.checked_sub(1))
            .and_then(|i| outcomes.get_mut(i))
            .ok_or_else(|| {
                StoreError::new(
                    BACKEND,
                    "compare_and_swap",
                    format!("the server returned write number {ord} of {}", writes.len()),
                )
            })?;
        *slot = Cas::Written {
            revision: new_revision,
        };
    }
    Ok(outcomes)
}

/// A stored revision as `u64`; a negative one was not written by a store.
fn revision(operation: &'static str, stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored).map_err(|_| {
        StoreError::new(
            BACKEND,
            operation,
            format!("the revision column holds {stored}, which no store writes"),
        )
    })
}

/// Refuses a table name that is not a plain SQL identifier, before it gets
/// near a statement.
fn validate_table(table: &str) -> Result<(), StoreError> {
    super::check_identifier(BACKEND, "table", table)?;
    // PostgreSQL would silently truncate a longer name.
    if table.len() > 63 {
        return Err(StoreError::usage(
            BACKEND,
            "open",
            format!(
                "invalid table name {table:?}: {} bytes, PostgreSQL allows at most 63",
                table.len()
            ),
        ));
    }
    Ok(())
}

/// A tokio-postgres error whose text includes the server's message (the
/// error's own text is only "db error" for those).
#[derive(Debug)]
struct PgError(tokio_postgres::Error);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{db}"),
            None => match std::error::Error::source(&self.0) {
                Some(cause) => write!(f, "{}: {cause}", self.0),
                None => write!(f, "{}", self.0),
            },
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn pg_error(operation: &'static str, error: tokio_postgres::Error) -> StoreError {
    StoreError::new(BACKEND, operation, PgError(error))
}

#[cfg(test)]
mod tests {
    use super::validate_table;

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["checkpoints", "_t", "Agent_State_2", &"a".repeat(63)] {
            assert!(validate_table(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1table",
            "a-b",
            "a b",
            "t\"; DROP TABLE x; --",
            "schema.table",
            "café",
            &"a".repeat(64),
        ] {
            let error = validate_table(bad).expect_err(bad).to_string();
            assert!(error.contains("invalid table name"), "{error}");
        }
    }
}
