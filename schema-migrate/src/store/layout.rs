//! Where records live: the store's own table, or a table (or Redis keys)
//! that a service already has.

use super::codec::Encoding;
use super::StoreError;

/// Where the records are and how they are stored: a table with key
/// columns, a payload column and an optional revision column, or Redis keys
/// matching a pattern; and the payload's [`Encoding`].
///
/// [`Layout::new`] is the store's own layout (`key`, `payload`, `revision`),
/// which [`open`](super::open) creates. [`Layout::table`] describes a table
/// the service already has, and [`Layout::redis_keys`] existing Redis keys;
/// [`open_layout`](super::open_layout) opens either on any backend. Every
/// other column of a row, and everything of a payload outside
/// [`Encoding::path`], is left as it was.
///
/// ```
/// use schema_migrate::store::{Format, Layout};
///
/// // LangGraph-style checkpoints: a composite key, the agent state inside an envelope.
/// let checkpoints = Layout::table("checkpoints", ["thread_id", "checkpoint_ns", "checkpoint_id"], "checkpoint")
///     .path("/channel_values/trip")?;
/// // MessagePack in a BYTEA column, only some rows, a revision column bumped by every writer.
/// let blobs = Layout::table("app.blobs", ["id"], "body")
///     .format(Format::MessagePack)
///     .revision("version")
///     .filter("kind = 'trip'");
/// // Plain Redis string keys written by another program.
/// let sessions = Layout::redis_keys("session:*");
/// # let _ = (checkpoints, blobs, sessions);
/// # Ok::<(), schema_migrate::store::StoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Layout {
    /// The table (`schema.table` allowed on PostgreSQL), or on Redis the key
    /// prefix of the store's own layout.
    pub table: String,
    /// The key columns, in the order records are visited.
    pub key: Vec<String>,
    /// The column holding the payload.
    pub payload: String,
    /// An integer column that every writer bumps; `None` when there is none
    /// (compare-and-swap then checks the row's `xmin` on PostgreSQL and the
    /// payload as read elsewhere).
    pub revision: Option<String>,
    /// Only the rows matching this SQL condition (the operator's own text).
    pub filter: Option<String>,
    /// Redis: the existing keys matching this `SCAN` pattern, instead of the
    /// store's own layout.
    pub key_pattern: Option<String>,
    /// Redis, with [`Layout::key_pattern`]: the payload is this field of a
    /// hash, not a string value.
    pub hash_field: Option<String>,
    /// How the payload is encoded, and where the versioned value is in it.
    pub encoding: Encoding,
    /// Columns read with each record into [`Record::columns`](super::Record::columns),
    /// for the steps' context (`--context-columns`).
    pub context_columns: Vec<String>,
    /// Only the records of this partition (`--partition I/N`).
    pub partition: Option<Partition>,
}

/// One of `count` disjoint parts of a store's records: the records whose
/// key hashes to `index` (`--partition I/N`). N processes with I = 0..N-1
/// together visit every record exactly once, with no coordination between
/// them, each resuming on its own.
///
/// The hash is computed where the records are: on SQLite by a function the
/// store registers on its connection, on PostgreSQL by the server's
/// `hashtextextended` over the key columns' text, on Redis from the key
/// names it lists. A key's partition never changes, so a record that
/// exists when the runs start is visited by exactly one of them; one
/// inserted during the runs is visited if its key sorts after where its
/// partition's run has got to, and otherwise is left, as in a single run,
/// to the lazy path (the release writing it writes its write version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// This part, from 0.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Partition {
    /// Part `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index < count).then_some(Partition { index, count })
    }

    /// Whether a key named as the store names it (`Record::key`) is in this
    /// part, by the client-side hash (Redis, and SQLite's function).
    pub fn contains(&self, key: &str) -> bool {
        self.of(key) == self.index
    }

    /// The part `key` is in, by the client-side hash: FNV-1a over its bytes.
    pub fn of(&self, key: &str) -> u32 {
        // Cannot truncate: the remainder is below `count`, a u32.
        (super::fingerprint(key.as_bytes()) % u64::from(self.count)) as u32
    }
}

impl std::str::FromStr for Partition {
    type Err = String;

    /// `I/N`, as `--partition` takes it.
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = || {
            let (i, n) = s.split_once('/')?;
            Partition::new(i.trim().parse().ok()?, n.trim().parse().ok()?)
        };
        parse().ok_or_else(|| {
            format!(
                "expected I/N with 0 <= I < N, such as 0/4 (the first of four parts), got {s:?}"
            )
        })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Layout {
    /// The store's own layout in `table` (on Redis, under the key prefix
    /// `table`): columns `key`, `payload` (JSON) and `revision`.
    pub fn new(table: impl Into<String>) -> Self {
        Layout {
            table: table.into(),
            key: vec!["key".to_owned()],
            payload: "payload".to_owned(),
            revision: Some("revision".to_owned()),
            filter: None,
            key_pattern: None,
            hash_field: None,
            encoding: Encoding::default(),
            context_columns: Vec::new(),
            partition: None,
        }
    }

    /// A table the service already has: its key columns (text, integer or
    /// uuid; several for a composite key) and its payload column (TEXT,
    /// JSON, JSONB, BLOB or BYTEA). No revision column until
    /// [`Layout::revision`] names one.
    pub fn table<K: Into<String>>(
        table: impl Into<String>,
        key: impl IntoIterator<Item = K>,
        payload: impl Into<String>,
    ) -> Self {
        Layout {
            key: key.into_iter().map(Into::into).collect(),
            payload: payload.into(),
            revision: None,
            ..Layout::new(table)
        }
    }

    /// Redis keys that another program wrote, matching `pattern` (`SCAN
    /// MATCH` syntax, such as `session:*`), each a string value holding the
    /// payload (or a hash, with [`Layout::hash_field`]).
    pub fn redis_keys(pattern: impl Into<String>) -> Self {
        Layout {
            key_pattern: Some(pattern.into()),
            revision: None,
            ..Layout::new("")
        }
    }

    /// The integer column that every writer bumps.
    pub fn revision(mut self, column: impl Into<String>) -> Self {
        self.revision = Some(column.into());
        self
    }

    /// Only the rows matching this SQL condition.
    pub fn filter(mut self, condition: impl Into<String>) -> Self {
        self.filter = Some(condition.into());
        self
    }

    /// Reads these columns of each row with the record, into
    /// [`Record::columns`](super::Record::columns): what a migration's context
    /// is built from (the graph a checkpoint belongs to, the thread's type).
    pub fn context_columns<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        columns: I,
    ) -> Self {
        self.context_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Only the records of `partition`: see [`Partition`].
    pub fn partition(mut self, partition: Partition) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Redis: the payload is this field of each matching hash.
    pub fn hash_field(mut self, field: impl Into<String>) -> Self {
        self.hash_field = Some(field.into());
        self
    }

    /// How the payload is encoded ([`Format::Json`](super::Format::Json) by default).
    pub fn format(mut self, format: super::Format) -> Self {
        self.encoding.format = format;
        self
    }

    /// A JSON Pointer (RFC 6901) to the versioned value inside the payload,
    /// such as `/channel_values/trip`; an invalid pointer is an error.
    pub fn path(mut self, pointer: &str) -> Result<Self, StoreError> {
        self.encoding.path = Some(
            super::Pointer::parse(pointer)
                .map_err(|e| StoreError::usage("store", "open", format!("--path: {e}")))?,
        );
        Ok(self)
    }

    /// Refuses what no backend can use: no key or payload column, a key
    /// column named twice, Redis settings on a table, or a format this
    /// build lacks.
    pub(crate) fn check_table(&self, backend: &'static str) -> Result<(), StoreError> {
        let usage = |message: String| Err(StoreError::usage(backend, "open", message));
        if let Err(message) = self.encoding.format.check_compiled() {
            return usage(message);
        }
        if self.key_pattern.is_some() || self.hash_field.is_some() {
            return usage(
                "--match and --hash-field name Redis keys; this store is a table".to_owned(),
            );
        }
        if self.table.is_empty() {
            return usage("no table named".to_owned());
        }
        if self.key.is_empty() || self.key.iter().any(String::is_empty) {
            return usage("no key column named (--key COL[,COL...])".to_owned());
        }
        if self.payload.is_empty() {
            return usage("no payload column named (--payload COL)".to_owned());
        }
        let mut columns: Vec<&str> = self.key.iter().map(String::as_str).collect();
        columns.push(&self.payload);
        columns.extend(self.revision.as_deref());
        for (i, column) in columns.iter().enumerate() {
            if columns[..i].contains(column) {
                return usage(format!(
                    "column `{column}` is named twice among the key, payload and revision columns"
                ));
            }
        }
        Ok(())
    }
}

impl Layout {
    /// Refuses table settings on Redis, `--hash-field` without `--match`,
    /// and a format this build lacks.
    pub(crate) fn check_redis(&self) -> Result<(), StoreError> {
        let usage = |message: &str| Err(StoreError::usage("redis", "open", message.to_owned()));
        if let Err(message) = self.encoding.format.check_compiled() {
            return usage(&message);
        }
        let table_like = self.key != ["key"] || self.payload != "payload" || self.filter.is_some();
        if table_like {
            return usage(
                "--key, --payload and --where name columns of a table; Redis keys are chosen with \
                 --match PATTERN (and --hash-field NAME for hashes)",
            );
        }
        if !self.context_columns.is_empty() {
            return usage(
                "--context-columns names columns of a table; a Redis key has only its name, which \
                 a context built in code can use (Migrator::context)",
            );
        }
        match (&self.key_pattern, &self.hash_field) {
            (None, Some(_)) => usage("--hash-field goes with --match PATTERN"),
            (Some(pattern), _) if pattern.is_empty() => {
                usage("--match needs a pattern, such as session:*")
            }
            (Some(_), _) if self.revision.is_some() => usage(
                "--revision names a column of a table; Redis keys written by another program have \
                 none (their value as read is compared)",
            ),
            _ => Ok(()),
        }
    }
}

/// One part of a record's key, as the database compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyPart {
    Int(i64),
    Text(String),
}

/// How a key column's values are read and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Int,
    Text,
    /// PostgreSQL `uuid`: written and read as text, compared as uuid.
    Uuid,
}

/// A record's key as printed: a single part as its text, several as a JSON
/// array (strings and numbers).
pub(crate) fn format_key(parts: &[KeyPart]) -> String {
    match parts {
        [KeyPart::Text(text)] => text.clone(),
        [KeyPart::Int(n)] => n.to_string(),
        parts => {
            let values: Vec<serde_json::Value> = parts
                .iter()
                .map(|p| match p {
                    KeyPart::Int(n) => serde_json::Value::from(*n),
                    KeyPart::Text(t) => serde_json::Value::from(t.as_str()),
                })
                .collect();
            serde_json::Value::Array(values).to_string()
        }
    }
}

/// Reads back a key printed by [`format_key`] for columns of these kinds;
/// the error says what was expected.
pub(crate) fn parse_key(kinds: &[KeyKind], key: &str) -> Result<Vec<KeyPart>, String> {
    let part = |kind: KeyKind, text: &str| match kind {
        KeyKind::Int => text
            .parse::<i64>()
            .map(KeyPart::Int)
            .map_err(|_| format!("key {key:?}: {text:?} is not an integer")),
        KeyKind::Text | KeyKind::Uuid => Ok(KeyPart::Text(text.to_owned())),
    };
    if let [kind] = kinds {
        return Ok(vec![part(*kind, key)?]);
    }
    let values: Vec<serde_json::Value> = serde_json::from_str(key).map_err(|_| {
        format!(
            "key {key:?}: a key of {} columns is a JSON array of its parts, such as [\"a\",1]",
            kinds.len()
        )
    })?;
    if values.len() != kinds.len() {
        return Err(format!(
            "key {key:?} has {} parts, the key has {} columns",
            values.len(),
            kinds.len()
        ));
    }
    kinds
        .iter()
        .zip(&values)
        .map(|(kind, value)| match value {
            serde_json::Value::String(s) => part(*kind, s),
            serde_json::Value::Number(n) if *kind == KeyKind::Int => n
                .as_i64()
                .map(KeyPart::Int)
                .ok_or_else(|| format!("key {key:?}: {n} is not a 64-bit integer")),
            other => Err(format!("key {key:?}: {other} is not a key part")),
        })
        .collect()
}

/// A table or column name as a quoted SQL identifier: any name works, a
/// quote in it is doubled. `schema.table` is split at the first dot when
/// `qualified` (PostgreSQL).
pub(crate) fn quote_ident(name: &str, qualified: bool) -> String {
    let one = |part: &str| format!("\"{}\"", part.replace('"', "\"\""));
    match name.split_once('.') {
        Some((schema, table)) if qualified => format!("{}.{}", one(schema), one(table)),
        _ => one(name),
    }
}

/// `text` as a SQL string literal.
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_and_parse_back() {
        let kinds = [KeyKind::Text, KeyKind::Text, KeyKind::Int];
        let parts = vec![
            KeyPart::Text("thread \"1\"\n".into()),
            KeyPart::Text(String::new()),
            KeyPart::Int(-3),
        ];
        let printed = format_key(&parts);
        assert_eq!(printed, r#"["thread \"1\"\n","",-3]"#);
        assert_eq!(parse_key(&kinds, &printed).unwrap(), parts);
        assert_eq!(
            parse_key(&[KeyKind::Int], "42").unwrap(),
            [KeyPart::Int(42)]
        );
        assert!(parse_key(&[KeyKind::Int], "4 2").is_err());
        assert!(parse_key(&kinds, r#"["a",""]"#)
            .unwrap_err()
            .contains("2 parts"));
        assert_eq!(
            parse_key(&[KeyKind::Text], r#"["a"]"#).unwrap(),
            [KeyPart::Text(r#"["a"]"#.into())]
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("app.sessions", true), r#""app"."sessions""#);
        assert_eq!(quote_ident("a\"b", false), r#""a""b""#);
        assert_eq!(quote_ident("a.b", false), r#""a.b""#);
    }
}
