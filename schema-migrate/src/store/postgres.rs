//! A [`RecordStore`] in a PostgreSQL table.
//!
//! The store's own layout (created by [`PostgresStore::connect`]) is
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
//! place of `_version`). [`PostgresStore::connect_layout`] opens a table the
//! application already has instead: `schema.table`, key columns of text,
//! integer or uuid type (several for a composite key), a JSONB, JSON, TEXT
//! or BYTEA payload column, a revision column or none (compare-and-swap then
//! checks the row's `xmin`, which every update changes), and a `WHERE`
//! condition (see [`Layout`]). Records are visited in the order of the key
//! columns as the database compares them (the own layout's `"C"` collation
//! compares as bytes, as every other backend does).
//!
//! `JSONB` normalizes what it stores: object keys are reordered (the version
//! tag is often not first when read back, which the derive reads anyway),
//! insignificant whitespace is dropped, and of duplicate object keys the
//! last wins. It refuses what is not JSON, and JSON that PostgreSQL text
//! cannot hold (`\u0000`); such a write fails with a [`StoreError`] carrying
//! PostgreSQL's message and nothing of its batch is written.
//!
//! Every batch operation is a single statement over arrays (`unnest`), so a
//! [`put_many`](RecordStore::put_many) or
//! [`compare_and_swap`](RecordStore::compare_and_swap) of any size is one
//! round trip and one transaction.
//!
//! A store holds one connection and runs its operations one at a time on it;
//! clones share it. For parallel work open several stores. If the
//! connection is lost (a server restart, `pg_terminate_backend`), the call
//! that saw it fails with the server's reason, and the next call connects
//! again (a store made by [`PostgresStore::with_client`] cannot: it has no
//! URL).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::layout::{format_key, parse_key, quote_ident, quote_literal, KeyKind, KeyPart};
use super::{Cas, CasWrite, Encoding, Layout, Record, RecordStore, StoreError};

const BACKEND: &str = "postgres";

/// A [`RecordStore`] in one PostgreSQL table.
///
/// ```no_run
/// # async fn demo() -> Result<(), schema_migrate::store::StoreError> {
/// use schema_migrate::store::{postgres::PostgresStore, Layout, RecordStore};
///
/// let store = PostgresStore::connect("postgres://app@localhost/app", "checkpoints").await?;
/// let revision = store.put("conversation-1", br#"{"_version":1,"destination":"Lisbon"}"#).await?;
/// assert_eq!(revision, 1);
///
/// // A table the service already has:
/// let sessions = Layout::table("sessions", ["id"], "state");
/// let existing = PostgresStore::connect_layout("postgres://app@localhost/app", &sessions).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// To connect again after the connection is lost; `None` for a client
    /// the caller connected.
    url: Option<String>,
    table: Table,
    /// `None` after the connection was lost, until the next call connects.
    connection: Mutex<Option<Connection>>,
}

/// What the table looks like, and the statements on it.
struct Table {
    layout: Layout,
    keys: Vec<KeyKind>,
    payload: PayloadKind,
    sql: Sql,
}

/// How the payload column is read and written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PayloadKind {
    /// JSON or JSONB: read as text, written as text cast to the column's type.
    Json(&'static str),
    Text,
    Bytes,
}

struct Sql {
    get: String,
    put: String,
    put_many: String,
    cas: String,
    scan_from_start: String,
    scan_after: String,
}

/// The client, the statements prepared on it, and what the connection task
/// heard from the server when the connection ended.
struct Connection {
    client: Client,
    closed_because: Arc<std::sync::Mutex<Option<String>>>,
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
            .field("table", &self.inner.table.layout.table)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (a libpq-style URL or key-value string, such as
    /// `postgres://user:password@host:5432/database`) without TLS, and
    /// creates `table` of the store's own layout if it does not exist.
    ///
    /// `table` must be a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, at
    /// most 63 bytes); it is used quoted, so its case is kept. The connection
    /// runs as a task on the current tokio runtime, which must exist.
    ///
    /// For TLS, connect with your own connector and use
    /// [`PostgresStore::with_client`].
    pub async fn connect(url: &str, table: &str) -> Result<Self, StoreError> {
        validate_table(table)?;
        let (client, closed) = connect_client(url).await?;
        create_table(&client, table).await?;
        Self::open(Some(url), client, closed, Layout::new(table)).await
    }

    /// Like [`PostgresStore::connect`], but creates nothing: `table` must
    /// exist, so that a dry run writes nothing and a misspelled name is an
    /// error ([`StoreError::is_usage`]) rather than a new, empty table.
    pub async fn connect_existing(url: &str, table: &str) -> Result<Self, StoreError> {
        validate_table(table)?;
        Self::connect_layout(url, &Layout::new(table)).await
    }

    /// Connects to `url` and opens a table the application already has, as
    /// `layout` describes it ([`Layout::table`]); nothing is created. A
    /// missing table or column, or a column of a type the layout cannot use,
    /// is an error ([`StoreError::is_usage`]) naming it and its type.
    pub async fn connect_layout(url: &str, layout: &Layout) -> Result<Self, StoreError> {
        let (client, closed) = connect_client(url).await?;
        Self::open(Some(url), client, closed, layout.clone()).await
    }

    /// Uses an already connected client (for instance one connected with a
    /// TLS connector, whose connection task the caller has spawned), and
    /// creates `table` if it does not exist. The table name rules are those of
    /// [`PostgresStore::connect`]. Such a store cannot connect again if the
    /// connection is lost.
    pub async fn with_client(client: Client, table: &str) -> Result<Self, StoreError> {
        validate_table(table)?;
        create_table(&client, table).await?;
        Self::open(None, client, Default::default(), Layout::new(table)).await
    }

    async fn open(
        url: Option<&str>,
        client: Client,
        closed_because: Arc<std::sync::Mutex<Option<String>>>,
        layout: Layout,
    ) -> Result<Self, StoreError> {
        layout.check_table(BACKEND)?;
        let shown = url.map_or_else(|| "the database".to_owned(), without_password);
        let table = describe_table(&client, layout, &shown).await?;
        let connection = prepare(client, closed_because, &table.sql).await?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                url: url.map(str::to_owned),
                table,
                connection: Mutex::new(Some(connection)),
            }),
        })
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.inner.table.layout.table
    }

    /// The layout this store was opened with.
    pub fn layout(&self) -> &Layout {
        &self.inner.table.layout
    }

    /// Runs `f` on the connection, connecting first if the last one was
    /// lost; a call that loses the connection forgets it, with the server's
    /// reason in its error.
    async fn call<'s, R>(
        &'s self,
        operation: &'static str,
        f: impl for<'c> FnOnce(
            &'c mut Connection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<R, tokio_postgres::Error>> + Send + 'c>,
        >,
    ) -> Result<R, StoreError> {
        let mut slot = self.inner.connection.lock().await;
        if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
            *slot = None;
        }
        if slot.is_none() {
            let Some(url) = &self.inner.url else {
                return Err(StoreError::new(
                    BACKEND,
                    operation,
                    "the connection was lost, and a store made with_client cannot connect again",
                ));
            };
            let (client, closed) = connect_client(url).await?;
            *slot = Some(prepare(client, closed, &self.inner.table.sql).await?);
        }
        let connection = slot.as_mut().expect("connected above");
        match f(connection).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let lost = e.is_closed() || connection.client.is_closed() || ends_session(&e);
                let because = connection.closed_because.clone();
                if lost {
                    *slot = None;
                }
                Err(pg_error_with(operation, e, lost.then_some(&*because)))
            }
        }
    }

    fn key_texts(&self, key: &str) -> Result<Vec<String>, StoreError> {
        parse_key(&self.inner.table.keys, key)
            .map(|parts| parts.into_iter().map(part_text).collect())
            .map_err(|e| StoreError::new(BACKEND, "key", e))
    }
}

fn part_text(part: KeyPart) -> String {
    match part {
        KeyPart::Int(n) => n.to_string(),
        KeyPart::Text(t) => t,
    }
}

async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {} (\
            key TEXT COLLATE \"C\" PRIMARY KEY, \
            payload JSONB NOT NULL, \
            revision BIGINT NOT NULL)",
        quote_ident(table, false)
    );
    if let Err(error) = client.batch_execute(&create).await {
        // Two stores creating the same table at once: one of them loses
        // the race on the catalog; the table exists either way.
        let raced = error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION);
        if !raced {
            return Err(pg_error("create table", error));
        }
    }
    Ok(())
}

/// Looks the layout's table and columns up in the catalog and builds the
/// statements; what the user named wrongly is a usage error.
async fn describe_table(client: &Client, layout: Layout, shown: &str) -> Result<Table, StoreError> {
    let usage = |message: String| StoreError::usage(BACKEND, "open", message);
    let qualified = quote_ident(&layout.table, true);
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&qualified],
        )
        .await
        .map_err(|e| pg_error("open", e))?;
    if rows.is_empty() {
        return Err(usage(format!(
            "no table `{}` in {shown}: nothing was created",
            layout.table
        )));
    }
    let columns: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let type_of = |column: &str| -> Result<&str, StoreError> {
        columns
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, ty)| ty.as_str())
            .ok_or_else(|| {
                let have: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
                usage(format!(
                    "table `{}` has no column `{column}` (its columns: {})",
                    layout.table,
                    have.join(", ")
                ))
            })
    };
    for column in &layout.context_columns {
        type_of(column)?;
    }
    let mut keys = Vec::new();
    for column in &layout.key {
        keys.push(match type_of(column)? {
            "int2" | "int4" | "int8" => KeyKind::Int,
            "text" | "varchar" | "bpchar" | "name" => KeyKind::Text,
            "uuid" => KeyKind::Uuid,
            other => {
                return Err(usage(format!(
                    "key column `{column}` is of type {other}: a key column is text, an integer or a uuid"
                )))
            }
        });
    }
    let payload = match type_of(&layout.payload)? {
        "jsonb" => PayloadKind::Json("jsonb"),
        "json" => PayloadKind::Json("json"),
        "text" | "varchar" => PayloadKind::Text,
        "bytea" => PayloadKind::Bytes,
        other => {
            return Err(usage(format!(
                "payload column `{}` is of type {other}: a payload column is JSONB, JSON, TEXT or BYTEA",
                layout.payload
            )))
        }
    };
    if payload != PayloadKind::Bytes && !layout.encoding.format.is_text() {
        return Err(usage(format!(
            "payload column `{}` holds text, but the format is {}: binary payloads live in a BYTEA column",
            layout.payload, layout.encoding.format
        )));
    }
    if let Some(revision) = &layout.revision {
        let ty = type_of(revision)?;
        if !matches!(ty, "int2" | "int4" | "int8") {
            return Err(usage(format!(
                "revision column `{revision}` is of type {ty}: a revision column is an integer"
            )));
        }
    }
    let sql = statements(&layout, &keys, payload);
    Ok(Table {
        layout,
        keys,
        payload,
        sql,
    })
}

/// The statements on the table. Key values travel as text and are cast to
/// the column's type; several writes travel as arrays (`unnest`).
fn statements(layout: &Layout, keys: &[KeyKind], payload: PayloadKind) -> Sql {
    let table = quote_ident(&layout.table, true);
    let key_cols: Vec<String> = layout.key.iter().map(|k| quote_ident(k, false)).collect();
    let n = key_cols.len();
    let key_list = key_cols.join(", ");
    let p = quote_ident(&layout.payload, false);
    let r = layout.revision.as_deref().map(|r| quote_ident(r, false));
    let cast = |kind: KeyKind| match kind {
        KeyKind::Int => "int8",
        KeyKind::Text => "text",
        KeyKind::Uuid => "uuid",
    };
    // `$i::text::<type>` for the key parts from `$from`.
    let key_params = |from: usize| -> Vec<String> {
        keys.iter()
            .enumerate()
            .map(|(i, kind)| format!("${}::text::{}", from + i, cast(*kind)))
            .collect()
    };
    let key_is = |from: usize| -> String {
        key_cols
            .iter()
            .zip(key_params(from))
            .map(|(c, v)| format!("t.{c} = {v}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let read_payload = match payload {
        PayloadKind::Json(_) | PayloadKind::Text => format!("t.{p}::text"),
        PayloadKind::Bytes => format!("t.{p}"),
    };
    let (payload_type, payload_value) = match payload {
        PayloadKind::Json(ty) => ("text", format!("::text::{ty}")),
        PayloadKind::Text => ("text", "::text".to_owned()),
        PayloadKind::Bytes => ("bytea", "::bytea".to_owned()),
    };
    let revision_out = match &r {
        Some(r) => format!("coalesce(t.{r}, 0)::int8"),
        None => "t.xmin::text::int8".to_owned(),
    };
    // The context columns as one JSON object: text as strings, numbers as
    // numbers, json and jsonb as they are, NULL as null.
    let context_out = if layout.context_columns.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = layout
            .context_columns
            .iter()
            .map(|c| format!("{}, t.{}", quote_literal(c), quote_ident(c, false)))
            .collect();
        format!(", jsonb_build_object({})::text", pairs.join(", "))
    };
    let select = format!(
        "SELECT {}, {read_payload}, {revision_out}{context_out} FROM {table} AS t",
        key_cols
            .iter()
            .map(|c| format!("t.{c}::text"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The user's condition and the partition's: the server hashes the key
    // columns' text (joined by a unit separator), so only this part's rows
    // leave it.
    let partition = layout.partition.map(|p| {
        let text = key_cols
            .iter()
            .map(|c| format!("t.{c}::text"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "(hashtextextended(concat_ws(chr(31), {text}), 0) & 9223372036854775807) % {} = {}",
            p.count, p.index
        )
    });
    let filter = match (layout.filter.as_deref(), partition) {
        (Some(f), Some(p)) => Some(format!("({f}) AND {p}")),
        (Some(f), None) => Some(format!("({f})")),
        (None, p) => p,
    };
    let tuple = |cols: &[String], params: Vec<String>| {
        if cols.len() == 1 {
            format!("t.{} > {}", cols[0], params[0])
        } else {
            let cols: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
            format!("({}) > ({})", cols.join(", "), params.join(", "))
        }
    };
    let order = key_cols
        .iter()
        .map(|c| format!("t.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let scan_from_start = format!(
        "{select} {} ORDER BY {order} LIMIT $1::int8",
        filter
            .as_ref()
            .map_or(String::new(), |f| format!("WHERE {f}"))
    );
    let after = tuple(&key_cols, key_params(1));
    let scan_after = format!(
        "{select} WHERE {}{after} ORDER BY {order} LIMIT ${}::int8",
        filter
            .as_ref()
            .map_or(String::new(), |f| format!("{f} AND ")),
        n + 1
    );
    let get = format!("{select} WHERE {}", key_is(1));
    let values = format!("{}, ${}{payload_value}", key_params(1).join(", "), n + 1);
    let put = match &r {
        Some(r) => format!(
            "INSERT INTO {table} AS t ({key_list}, {p}, {r}) VALUES ({values}, 1) \
             ON CONFLICT ({key_list}) DO UPDATE SET {p} = EXCLUDED.{p}, {r} = coalesce(t.{r}, 0) + 1 \
             RETURNING {revision_out}"
        ),
        None => format!(
            "INSERT INTO {table} AS t ({key_list}, {p}) VALUES ({values}) \
             ON CONFLICT ({key_list}) DO UPDATE SET {p} = EXCLUDED.{p} \
             RETURNING {revision_out}"
        ),
    };
    // The arrays: one text[] per key column, the payloads, then the
    // revisions read (or counts, for put_many).
    let arrays: Vec<String> = (1..=n)
        .map(|i| format!("${i}::text[]"))
        .chain([
            format!("${}::{payload_type}[]", n + 1),
            format!("${}::int8[]", n + 2),
        ])
        .collect();
    let names: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let typed_key = |i: usize| format!("u.k{i}::{}", cast(keys[i]));
    // Keys are deduplicated before the statement (ON CONFLICT cannot touch a
    // row twice); `n` is how many puts of the key the batch held, so the
    // revision counts every one of them.
    let put_many = {
        let select_keys: Vec<String> = (0..n).map(typed_key).collect();
        let converted = match payload {
            PayloadKind::Json(ty) => format!("u.payload::{ty}"),
            _ => "u.payload".to_owned(),
        };
        match &r {
            Some(r) => format!(
                "INSERT INTO {table} AS t ({key_list}, {p}, {r}) \
                 SELECT {}, {converted}, u.n FROM unnest({}) AS u({}, payload, n) \
                 ON CONFLICT ({key_list}) DO UPDATE \
                 SET {p} = EXCLUDED.{p}, {r} = coalesce(t.{r}, 0) + EXCLUDED.{r}",
                select_keys.join(", "),
                arrays.join(", "),
                names.join(", ")
            ),
            None => format!(
                "INSERT INTO {table} AS t ({key_list}, {p}) \
                 SELECT {}, {converted} FROM unnest({}) AS u({}, payload, n) \
                 ON CONFLICT ({key_list}) DO UPDATE SET {p} = EXCLUDED.{p}",
                select_keys.join(", "),
                arrays.join(", "),
                names.join(", ")
            ),
        }
    };
    // Under READ COMMITTED, a row changed by a concurrent transaction is
    // re-checked against the revision (or xmin) after that transaction
    // commits, so a write never lands on a row it did not read.
    let cas = {
        let key_match: Vec<String> = key_cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t.{c} = {}", typed_key(i)))
            .collect();
        let converted = match payload {
            PayloadKind::Json(ty) => format!("u.payload::{ty}"),
            _ => "u.payload".to_owned(),
        };
        let (set, compare) = match &r {
            Some(r) => (
                format!("{p} = {converted}, {r} = coalesce(t.{r}, 0) + 1"),
                format!("coalesce(t.{r}, 0) = u.expected"),
            ),
            None => (
                format!("{p} = {converted}"),
                "t.xmin::text::int8 = u.expected".to_owned(),
            ),
        };
        format!(
            "UPDATE {table} AS t SET {set} \
             FROM unnest({}) WITH ORDINALITY AS u({}, payload, expected, ord) \
             WHERE {} AND {compare} \
             RETURNING u.ord, {revision_out}",
            arrays.join(", "),
            names.join(", "),
            key_match.join(" AND ")
        )
    };
    Sql {
        get,
        put,
        put_many,
        cas,
        scan_from_start,
        scan_after,
    }
}

/// Prepares the statements on a new client.
async fn prepare(
    client: Client,
    closed_because: Arc<std::sync::Mutex<Option<String>>>,
    sql: &Sql,
) -> Result<Connection, StoreError> {
    let prepare = |sql: &str| {
        let client = &client;
        let sql = sql.to_owned();
        async move {
            client
                .prepare(&sql)
                .await
                .map_err(|e| pg_error("prepare", e))
        }
    };
    Ok(Connection {
        get: prepare(&sql.get).await?,
        put: prepare(&sql.put).await?,
        put_many: prepare(&sql.put_many).await?,
        cas: prepare(&sql.cas).await?,
        scan_from_start: prepare(&sql.scan_from_start).await?,
        scan_after: prepare(&sql.scan_after).await?,
        client,
        closed_because,
    })
}

/// Connects to `url` without TLS, running the connection as a task on the
/// current tokio runtime; the task keeps the server's last word (why it
/// closed the connection) for the error of the call that finds it closed.
async fn connect_client(
    url: &str,
) -> Result<(Client, Arc<std::sync::Mutex<Option<String>>>), StoreError> {
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
    let closed_because: Arc<std::sync::Mutex<Option<String>>> = Default::default();
    let slot = Arc::clone(&closed_because);
    runtime.spawn(async move {
        if let Err(error) = connection.await {
            let reason = PgError(error).to_string();
            tracing::warn!(target: "schema_migrate", error = %reason, "postgres store: the connection failed");
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        }
    });
    Ok((client, closed_because))
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

/// A payload parameter, as the payload column takes it.
fn payload_param(
    kind: PayloadKind,
    payload: &[u8],
) -> Result<Box<dyn ToSql + Sync + Send>, String> {
    match kind {
        PayloadKind::Bytes => Ok(Box::new(payload.to_vec())),
        PayloadKind::Json(_) | PayloadKind::Text => std::str::from_utf8(payload)
            .map(|s| Box::new(s.to_owned()) as Box<dyn ToSql + Sync + Send>)
            .map_err(|_| {
                "the payload is not UTF-8 text, which a text or JSON column needs".to_owned()
            }),
    }
}

impl Table {
    /// The record in a row of the select list: key parts, payload, revision.
    fn record(
        &self,
        row: &tokio_postgres::Row,
        known_key: Option<&str>,
    ) -> Result<Record, StoreError> {
        let n = self.keys.len();
        let key = match known_key {
            Some(key) => key.to_owned(),
            None => {
                let mut parts = Vec::with_capacity(n);
                for (i, kind) in self.keys.iter().enumerate() {
                    let text: String = row.try_get(i).map_err(|e| pg_error("scan", e))?;
                    parts.push(match kind {
                        KeyKind::Int => KeyPart::Int(text.parse().map_err(|_| {
                            StoreError::new(
                                BACKEND,
                                "scan",
                                format!("key {text:?} is not an integer"),
                            )
                        })?),
                        KeyKind::Text | KeyKind::Uuid => KeyPart::Text(text),
                    });
                }
                format_key(&parts)
            }
        };
        let payload: Option<Vec<u8>> = match self.payload {
            PayloadKind::Bytes => row.try_get(n),
            _ => row
                .try_get::<_, Option<String>>(n)
                .map(|t| t.map(String::into_bytes)),
        }
        .map_err(|e| {
            StoreError::new(
                BACKEND,
                "scan",
                format!("record {key:?}: payload: {}", PgError(e)),
            )
        })?;
        let Some(payload) = payload else {
            return Ok(Record::unreadable(
                key,
                format!("the payload column `{}` is NULL", self.layout.payload),
            ));
        };
        let revision: i64 = row.try_get(n + 1).map_err(|e| {
            StoreError::new(
                BACKEND,
                "scan",
                format!("record {key:?}: revision: {}", PgError(e)),
            )
        })?;
        let context: Option<String> = if self.layout.context_columns.is_empty() {
            None
        } else {
            Some(row.try_get(n + 2).map_err(|e| {
                StoreError::new(
                    BACKEND,
                    "scan",
                    format!("record {key:?}: context columns: {}", PgError(e)),
                )
            })?)
        };
        Ok(match u64::try_from(revision) {
            Ok(revision) => Record::new(key, payload, revision).with_columns(context.as_deref()),
            Err(_) => Record::unreadable(
                key,
                format!(
                    "the revision column holds {revision}, which no writer that bumps it writes"
                ),
            ),
        })
    }
}

impl RecordStore for PostgresStore {
    fn encoding(&self) -> &Encoding {
        &self.inner.table.layout.encoding
    }

    fn counts_writes(&self) -> bool {
        self.inner.table.layout.revision.is_some()
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let texts = self.key_texts(key)?;
        let row = self
            .call("get", |c| {
                Box::pin(async move {
                    let params: Vec<&(dyn ToSql + Sync)> =
                        texts.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
                    c.client.query_opt(&c.get, &params).await
                })
            })
            .await?;
        row.map(|row| self.inner.table.record(&row, Some(key)))
            .transpose()
    }

    async fn put(&self, key: &str, payload: &[u8]) -> Result<u64, StoreError> {
        let texts = self.key_texts(key)?;
        let payload = payload_param(self.inner.table.payload, payload)
            .map_err(|e| StoreError::new(BACKEND, "put", format!("record {key:?}: {e}")))?;
        let row = self
            .call("put", |c| {
                Box::pin(async move {
                    let mut params: Vec<&(dyn ToSql + Sync)> =
                        texts.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
                    params.push(&*payload as &(dyn ToSql + Sync));
                    c.client.query_one(&c.put, &params).await
                })
            })
            .await?;
        let revision: i64 = row.try_get(0).map_err(|e| pg_error("put", e))?;
        Ok(revision.max(0) as u64)
    }

    async fn put_many(&self, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // The last payload of a key wins, and the key's revision goes up by
        // the number of times the batch names it, as with one put each.
        let mut slot: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        let mut unique: Vec<(&str, &[u8], i64)> = Vec::with_capacity(records.len());
        for (key, payload) in records {
            match slot.get(key.as_str()) {
                Some(&i) => {
                    unique[i].1 = payload;
                    unique[i].2 += 1;
                }
                None => {
                    slot.insert(key, unique.len());
                    unique.push((key, payload, 1));
                }
            }
        }
        let columns = self.columns("put_many", unique.iter().map(|(k, p, n)| (*k, *p, *n)))?;
        self.call("put_many", |c| {
            Box::pin(async move { c.client.execute(&c.put_many, &columns.params()).await })
        })
        .await?;
        Ok(())
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen = std::collections::HashSet::with_capacity(writes.len());
        let unique = writes.iter().all(|w| seen.insert(w.key.as_str()));
        let expected = |w: &CasWrite| i64::try_from(w.expected).unwrap_or(-1);
        if unique {
            // One statement: atomic on its own.
            let columns = self.columns(
                "compare_and_swap",
                writes
                    .iter()
                    .map(|w| (w.key.as_str(), &w.payload[..], expected(w))),
            )?;
            let rows = self
                .call("compare_and_swap", |c| {
                    Box::pin(async move { c.client.query(&c.cas, &columns.params()).await })
                })
                .await?;
            return outcomes(writes.len(), rows);
        }
        // A key named twice: the writes apply in order, each seeing the ones
        // before it (the second of two writes that expect the same revision
        // conflicts), all in one transaction.
        let each = writes
            .iter()
            .map(|w| {
                self.columns(
                    "compare_and_swap",
                    std::iter::once((w.key.as_str(), &w.payload[..], expected(w))),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rows = self
            .call("compare_and_swap", |c| {
                Box::pin(async move {
                    let transaction = c.client.transaction().await?;
                    let mut all = Vec::with_capacity(each.len());
                    for columns in &each {
                        all.push(transaction.query(&c.cas, &columns.params()).await?);
                    }
                    transaction.commit().await?;
                    Ok(all)
                })
            })
            .await?;
        let mut result = Vec::with_capacity(writes.len());
        for rows in rows {
            result.extend(outcomes(1, rows)?);
        }
        Ok(result)
    }

    async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = after.map(|key| self.key_texts(key)).transpose()?;
        let rows = self
            .call("scan", |c| {
                Box::pin(async move {
                    match &after {
                        None => c.client.query(&c.scan_from_start, &[&limit]).await,
                        Some(texts) => {
                            let mut params: Vec<&(dyn ToSql + Sync)> =
                                texts.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
                            params.push(&limit);
                            c.client.query(&c.scan_after, &params).await
                        }
                    }
                })
            })
            .await?;
        rows.iter()
            .map(|row| self.inner.table.record(row, None))
            .collect()
    }
}

/// The array parameters of an `unnest` statement: one text array per key
/// column, the payloads, and an integer per row.
struct Columns {
    keys: Vec<Vec<String>>,
    texts: Vec<String>,
    bytes: Vec<Vec<u8>>,
    numbers: Vec<i64>,
    binary: bool,
}

impl Columns {
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> =
            self.keys.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
        if self.binary {
            params.push(&self.bytes);
        } else {
            params.push(&self.texts);
        }
        params.push(&self.numbers);
        params
    }
}

impl PostgresStore {
    fn columns<'a>(
        &self,
        operation: &'static str,
        rows: impl Iterator<Item = (&'a str, &'a [u8], i64)>,
    ) -> Result<Columns, StoreError> {
        let binary = self.inner.table.payload == PayloadKind::Bytes;
        let mut columns = Columns {
            keys: vec![Vec::new(); self.inner.table.keys.len()],
            texts: Vec::new(),
            bytes: Vec::new(),
            numbers: Vec::new(),
            binary,
        };
        for (key, payload, number) in rows {
            for (column, part) in columns.keys.iter_mut().zip(self.key_texts(key)?) {
                column.push(part);
            }
            if binary {
                columns.bytes.push(payload.to_vec());
            } else {
                columns.texts.push(
                    String::from_utf8(payload.to_vec()).map_err(|_| {
                        StoreError::new(
                            BACKEND,
                            operation,
                            format!("record {key:?}: the payload is not UTF-8 text, which a text or JSON column needs"),
                        )
                    })?,
                );
            }
            columns.numbers.push(number);
        }
        Ok(columns)
    }
}

/// Maps the rows a compare-and-swap returned (`ord`, new revision) back to
/// one outcome per write.
fn outcomes(writes: usize, rows: Vec<tokio_postgres::Row>) -> Result<Vec<Cas>, StoreError> {
    let mut outcomes = vec![Cas::Conflict; writes];
    for row in rows {
        let ord: i64 = row
            .try_get(0)
            .map_err(|e| pg_error("compare_and_swap", e))?;
        let revision: i64 = row
            .try_get(1)
            .map_err(|e| pg_error("compare_and_swap", e))?;
        let slot = usize::try_from(ord)
            .ok()
            .and_then(|ord| ord.checked_sub(1))
            .and_then(|i| outcomes.get_mut(i))
            .ok_or_else(|| {
                StoreError::new(
                    BACKEND,
                    "compare_and_swap",
                    format!("the server returned write number {ord} of {writes}"),
                )
            })?;
        *slot = Cas::Written {
            revision: revision.max(0) as u64,
        };
    }
    Ok(outcomes)
}

/// Whether the server ended the session with this error (a FATAL error such
/// as `pg_terminate_backend`'s, or a connection exception), though the
/// client may not have noticed the connection closing yet.
fn ends_session(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        matches!(db.severity(), "FATAL" | "PANIC") || db.code().code().starts_with("08")
    })
}

/// Refuses a table name that is not a plain SQL identifier, before it gets
/// near a statement: the store's own table, which it may create.
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

/// A lost connection's error with the server's reason, which the client's
/// own error ("connection closed") does not carry.
fn pg_error_with(
    operation: &'static str,
    error: tokio_postgres::Error,
    closed_because: Option<&std::sync::Mutex<Option<String>>>,
) -> StoreError {
    let reason =
        closed_because.and_then(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).clone());
    match reason {
        Some(reason) => StoreError::new(
            BACKEND,
            operation,
            format!(
                "{}: the server closed the connection: {reason} (the next call connects again)",
                PgError(error)
            ),
        ),
        None => pg_error(operation, error),
    }
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
