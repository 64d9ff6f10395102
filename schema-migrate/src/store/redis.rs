//! A [`RecordStore`] on Redis, with plain data structures only (no modules).
//!
//! # Layout
//!
//! For a prefix `p`, the record under key `k` is the hash `p:k` with two
//! fields: `payload` (the JSON text) and `revision` (a decimal integer,
//! 1 for a new record, bumped by every write). The sorted set `p` is an index
//! of the record keys, every member with score 0, so that Redis orders them
//! by their bytes (`ZRANGEBYLEX`).
//!
//! # Keys another program wrote
//!
//! [`RedisStore::connect_layout`] with [`Layout::redis_keys`] works on
//! existing keys instead: every key matching a `SCAN MATCH` pattern, each a
//! string value holding the payload (or, with [`Layout::hash_field`], one
//! field of a hash). Such keys have no index and no revision: a run lists
//! the matching keys once, when it starts (keys created later are left for
//! the lazy path), visits them in byte order, and a compare-and-swap is a
//! script that writes only if the value is still the one read. A string is
//! written with `SET ... KEEPTTL`, a hash field with `HSET`, so a key's TTL
//! is kept. A matching key of another type, or a hash without the field,
//! is a failed record. [`Record::revision`] is a fingerprint of the value.
//!
//! # Why an index
//!
//! [`RecordStore::scan`] must return keys in ascending byte order strictly
//! after a cursor key, so that a batch migration can stop anywhere and resume
//! after the last key it finished. Redis's own `SCAN` walks its hash table in
//! no useful order and its cursor cannot name a key, so scanning with it
//! would mean listing and sorting *every* key under the prefix for every
//! batch: a full migration of `n` records in batches of `b` would cost
//! `n²/b` key reads. With the index, a batch costs `O(log n + b)` and its
//! order is stable across calls and across concurrent writes. The price is
//! memory, about 90 bytes plus the key per record (measured with Redis 7:
//! 10.4 MB for 100 000 twelve-byte keys, next to 1.26 KB per record for a
//! 1-KB payload), and one rule:
//!
//! **Write records through this store.** Every write the store makes updates
//! the record and its index entry in one atomic script. A record written by
//! other means (`HSET p:k ...` from another program) can be read with
//! [`RecordStore::get`] but is invisible to `scan` until
//! [`RedisStore::reindex`] adds it.
//!
//! # Atomicity
//!
//! Every write is a Lua script (`EVALSHA`), which Redis runs without
//! interleaving any other command: a compare-and-swap compares the revision
//! and writes payload, revision and index entry at once, and a reader sees
//! a record either before or after a write, never half of it. A batch of
//! [`RecordStore::compare_and_swap`] or [`RecordStore::put_many`] writes is
//! one script call, so one round trip, up to [`RedisStore::MAX_BATCH`]
//! writes (larger batches are split into calls of that size, each atomic).
//! Redis does not roll a script back when a command in it fails, so before
//! writing, a script checks every key it is about to touch: it must hold no
//! value of another type, and its `revision`, if any, must be an integer the
//! store can add one to (all digits, at most 18). A call that fails the check
//! fails as a whole, before it has written anything.
//!
//! Scripts touch keys that they compute from the prefix, which Redis allows
//! on a single server (with replicas) but not on Redis Cluster.
//!
//! # Durability
//!
//! Atomicity is the store's; durability is the server's configuration. A
//! write that Redis acknowledged survives a server crash only as far as its
//! persistence allows: with `appendonly yes` and `appendfsync everysec` (the
//! usual setting) up to a second of writes can be lost, with `always` none,
//! and with persistence off none survives a restart. A batch migration keeps
//! every record either old or upgraded whatever the setting, but for agent
//! state you cannot rebuild, run Redis with the append-only file on.
//!
//! # Connection
//!
//! One multiplexed connection is shared by all calls, which pipeline on it.
//! If the connection drops, the call that saw it fails with a [`StoreError`]
//! (a write is never retried behind the caller's back, as it may have been
//! applied) and the next call connects again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

use super::redis_shared::{
    key_record, parse_revision, scripts, to_revision, unexpected_reply, utf8_key, ConnectionSlot,
};
use super::{check_identifier, Cas, CasWrite, Encoding, Layout, Record, RecordStore, StoreError};

const BACKEND: &str = "redis";

/// A [`RecordStore`] on a Redis server. See the [module docs](self) for the
/// layout and its guarantees.
///
/// ```no_run
/// # async fn demo() -> Result<(), schema_migrate::store::StoreError> {
/// use schema_migrate::store::redis::RedisStore;
/// use schema_migrate::store::RecordStore;
///
/// let store = RedisStore::connect("redis://127.0.0.1:6379", "checkpoints").await?;
/// let revision = store.put("thread-1", br#"{"schema_version":4}"#).await?;
/// assert_eq!(store.get("thread-1").await?.map(|r| r.revision), Some(revision));
/// # Ok(())
/// # }
/// ```
///
/// Cloning is cheap: clones share one connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    connection: ConnectionSlot<MultiplexedConnection>,
    prefix: String,
    key_prefix: String,
    layout: Layout,
    /// Existing keys ([`Layout::redis_keys`]) instead of the own layout.
    keys: Option<Keys>,
}

/// Existing keys matching a pattern.
struct Keys {
    pattern: String,
    /// The hash field holding the payload; empty for string values.
    field: String,
    /// The matching keys in byte order, listed when a run starts.
    listing: Mutex<Option<Arc<Vec<String>>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.inner.client.get_connection_info().addr)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The most writes one script call carries; a larger
    /// [`RecordStore::compare_and_swap`] or [`RecordStore::put_many`] is
    /// split into calls of this size, each atomic on its own.
    pub const MAX_BATCH: usize = 50_000;

    /// How long connecting may take before it fails.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Connects to the Redis server at `url` (`redis://[user:password@]host[:port][/db]`,
    /// or `redis+unix:///path`) and uses the records under `prefix`: the
    /// hashes `{prefix}:{key}` and the index `{prefix}`.
    ///
    /// `prefix` must be an identifier (`[A-Za-z_][A-Za-z0-9_]*`), so that no
    /// prefix's keys can be mistaken for another's. Fails if the prefix is
    /// invalid, the URL cannot be parsed or the server does not answer.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_layout(url, &Layout::new(prefix)).await
    }

    /// Connects to the Redis server at `url` and uses the records `layout`
    /// names: the store's own layout under the prefix [`Layout::table`]
    /// ([`Layout::new`]), or the existing keys matching a pattern
    /// ([`Layout::redis_keys`], with [`Layout::hash_field`] for hashes).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), schema_migrate::store::StoreError> {
    /// use schema_migrate::store::{redis::RedisStore, Layout};
    ///
    /// let sessions = RedisStore::connect_layout("redis://127.0.0.1:6379", &Layout::redis_keys("session:*")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_layout(url: &str, layout: &Layout) -> Result<Self, StoreError> {
        layout.check_redis()?;
        let keys = match &layout.key_pattern {
            Some(pattern) => Some(Keys {
                pattern: pattern.clone(),
                field: layout.hash_field.clone().unwrap_or_default(),
                listing: Mutex::new(None),
            }),
            None => {
                check_identifier(BACKEND, "key prefix", &layout.table)?;
                None
            }
        };
        let prefix = layout.table.clone();
        // A URL that does not parse is the caller's to fix, not the server failing.
        let client = Client::open(url).map_err(|e| StoreError::usage(BACKEND, "connect", e))?;
        let store = RedisStore {
            inner: Arc::new(Inner {
                client,
                connection: ConnectionSlot::new(),
                key_prefix: format!("{prefix}:"),
                prefix,
                layout: layout.clone(),
                keys,
            }),
        };
        let mut connection = store.connection("connect").await?;
        // Load the scripts now, so that a server that refuses them (scripting
        // disabled by ACL, say) fails here rather than at the first write.
        let scripts = scripts();
        for script in [
            &scripts.put,
            &scripts.cas,
            &scripts.scan,
            &scripts.read_keys,
            &scripts.cas_keys,
            &scripts.put_keys,
        ] {
            let loaded = script.prepare_invoke().load_async(&mut connection).await;
            store.check("connect", loaded)?;
        }
        Ok(store)
    }

    /// The prefix this store was opened with.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Adds to the index every record hash under the prefix that is not in
    /// it, such as records written by another program, so that
    /// [`RecordStore::scan`] sees them; returns how many were added.
    ///
    /// This walks all keys matching `{prefix}:*` with `SCAN`, so it costs a
    /// pass over the keyspace; it is meant for an import, not for every run.
    pub async fn reindex(&self) -> Result<u64, StoreError> {
        if self.inner.keys.is_some() {
            return Err(StoreError::usage(
                BACKEND,
                "reindex",
                "this store works on existing keys matching a pattern, which need no index",
            ));
        }
        let mut connection = self.connection("reindex").await?;
        let index = self.inner.prefix.as_str();
        let pattern = format!("{}*", self.inner.key_prefix);
        let mut cursor: u64 = 0;
        let mut added = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self.check(
                "reindex",
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .arg("TYPE")
                    .arg("hash")
                    .query_async(&mut connection)
                    .await,
            )?;
            let members: Vec<(u8, &str)> = keys
                .iter()
                .filter_map(|key| key.strip_prefix(&self.inner.key_prefix))
                .map(|key| (0, key))
                .collect();
            if !members.is_empty() {
                let new: u64 = self.check(
                    "reindex",
                    redis::cmd("ZADD")
                        .arg(index)
                        .arg(&members)
                        .query_async(&mut connection)
                        .await,
                )?;
                added += new;
            }
            if next == 0 {
                return Ok(added);
            }
            cursor = next;
        }
    }

    /// The shared connection, connecting first if there is none.
    async fn connection(
        &self,
        operation: &'static str,
    ) -> Result<MultiplexedConnection, StoreError> {
        if let Some(connection) = self.inner.connection.get() {
            return Ok(connection);
        }
        let config = AsyncConnectionConfig::new().set_connection_timeout(Self::CONNECT_TIMEOUT);
        let connection = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| StoreError::new(BACKEND, operation, e))?;
        self.inner.connection.set(connection.clone());
        Ok(connection)
    }

    /// Maps a Redis error to a [`StoreError`], forgetting a broken connection
    /// so that the next call connects again.
    fn check<T>(
        &self,
        operation: &'static str,
        result: Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        result.map_err(|e| {
            self.inner.connection.forget_if_broken(&e);
            StoreError::new(BACKEND, operation, e)
        })
    }
}

/// Existing keys ([`Layout::redis_keys`]).
impl RedisStore {
    /// The matching keys in byte order: listed anew when a scan starts from
    /// the beginning, or when none was listed yet (a resumed run).
    async fn listing(&self, keys: &Keys, fresh: bool) -> Result<Arc<Vec<String>>, StoreError> {
        if !fresh {
            if let Some(listing) = keys
                .listing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return Ok(listing);
            }
        }
        let mut connection = self.connection("scan").await?;
        let mut cursor: u64 = 0;
        let mut found: Vec<String> = Vec::new();
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = self.check(
                "scan",
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&keys.pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut connection)
                    .await,
            )?;
            found.extend(batch.into_iter().filter_map(|key| utf8_key(BACKEND, key)));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        found.sort_unstable();
        found.dedup();
        if let Some(partition) = &self.inner.layout.partition {
            found.retain(|key| partition.contains(key));
        }
        let listing = Arc::new(found);
        *keys.listing.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&listing));
        Ok(listing)
    }

    async fn scan_keys(
        &self,
        keys: &Keys,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let listing = self.listing(keys, after.is_none()).await?;
        let mut start = match after {
            Some(after) => listing.partition_point(|k| k.as_str() <= after),
            None => 0,
        };
        let mut records = Vec::new();
        // Keys deleted since the listing are skipped; read on so that a
        // short answer still means the end.
        while records.len() < limit && start < listing.len() {
            let end = (start + limit - records.len()).min(listing.len());
            records.extend(self.read_keys(keys, &listing[start..end]).await?);
            start = end;
        }
        Ok(records)
    }

    /// The records under `names`; a key that is gone is left out.
    async fn read_keys(&self, keys: &Keys, names: &[String]) -> Result<Vec<Record>, StoreError> {
        let mut connection = self.connection("get").await?;
        let mut records = Vec::with_capacity(names.len());
        for chunk in names.chunks(Self::MAX_BATCH) {
            let mut call = scripts().read_keys.prepare_invoke();
            for name in chunk {
                call.key(name);
            }
            call.arg(&keys.field);
            let flat: Vec<Vec<u8>> = self.check("get", call.invoke_async(&mut connection).await)?;
            if flat.len() != 2 * chunk.len() {
                return Err(unexpected_reply(
                    BACKEND,
                    "get",
                    chunk.len(),
                    flat.len() / 2,
                ));
            }
            for (name, pair) in chunk.iter().zip(flat.chunks(2)) {
                records.extend(key_record(name, &pair[0], &pair[1], &keys.field));
            }
        }
        Ok(records)
    }

    async fn cas_keys(&self, keys: &Keys, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        let mut connection = self.connection("compare_and_swap").await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for chunk in writes.chunks(Self::MAX_BATCH) {
            let mut call = scripts().cas_keys.prepare_invoke();
            call.arg(&keys.field);
            for write in chunk {
                call.key(&write.key).arg(&write.read).arg(&write.payload);
            }
            let written: Vec<i64> =
                self.check("compare_and_swap", call.invoke_async(&mut connection).await)?;
            if written.len() != chunk.len() {
                return Err(unexpected_reply(
                    BACKEND,
                    "compare_and_swap",
                    chunk.len(),
                    written.len(),
                ));
            }
            outcomes.extend(chunk.iter().zip(written).map(|(write, written)| {
                if written > 0 {
                    Cas::Written {
                        revision: super::fingerprint(&write.payload),
                    }
                } else {
                    Cas::Conflict
                }
            }));
        }
        Ok(outcomes)
    }

    async fn put_keys(&self, keys: &Keys, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut connection = self.connection("put").await?;
        for chunk in records.chunks(Self::MAX_BATCH) {
            let mut call = scripts().put_keys.prepare_invoke();
            call.arg(&keys.field);
            for (key, payload) in chunk {
                call.key(key).arg(payload);
            }
            let _: i64 = self.check("put", call.invoke_async(&mut connection).await)?;
        }
        Ok(())
    }
}

impl RecordStore for RedisStore {
    fn encoding(&self) -> &Encoding {
        &self.inner.layout.encoding
    }

    fn counts_writes(&self) -> bool {
        self.inner.keys.is_none()
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        if let Some(keys) = &self.inner.keys {
            let mut records = self.read_keys(keys, &[key.to_owned()]).await?;
            return Ok(records.pop());
        }
        let mut connection = self.connection("get").await?;
        let (payload, revision): (Option<Vec<u8>>, Option<Vec<u8>>) = self.check(
            "get",
            redis::cmd("HMGET")
                .arg(format!("{}{key}", self.inner.key_prefix))
                .arg("payload")
                .arg("revision")
                .query_async(&mut connection)
                .await,
        )?;
        match (payload, revision) {
            (None, None) => Ok(None),
            (Some(payload), Some(revision)) => Ok(Some(Record::new(
                key,
                payload,
                parse_revision(BACKEND, "get", key, &revision)?,
            ))),
            _ => Err(StoreError::new(
                BACKEND,
                "get",
                format!(
                    "the hash {}{key} lacks a `payload` or `revision` field: it was not written by this store",
                    self.inner.key_prefix
                ),
            )),
        }
    }

    async fn put(&self, key: &str, payload: &[u8]) -> Result<u64, StoreError> {
        if let Some(keys) = &self.inner.keys {
            return self
                .put_keys(keys, &[(key.to_owned(), payload.to_vec())])
                .await
                .map(|()| super::fingerprint(payload));
        }
        let mut connection = self.connection("put").await?;
        let revisions: Vec<i64> = self.check(
            "put",
            scripts()
                .put
                .key(&self.inner.prefix)
                .arg(&self.inner.key_prefix)
                .arg(key)
                .arg(payload)
                .invoke_async(&mut connection)
                .await,
        )?;
        match revisions.as_slice() {
            [revision] => to_revision(BACKEND, "put", key, *revision),
            _ => Err(unexpected_reply(BACKEND, "put", 1, revisions.len())),
        }
    }

    async fn put_many(&self, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(keys) = &self.inner.keys {
            return self.put_keys(keys, records).await;
        }
        let mut connection = self.connection("put_many").await?;
        for chunk in records.chunks(Self::MAX_BATCH) {
            let mut call = scripts().put.key(&self.inner.prefix);
            call.arg(&self.inner.key_prefix);
            for (key, payload) in chunk {
                call.arg(key).arg(payload);
            }
            let revisions: Vec<i64> =
                self.check("put_many", call.invoke_async(&mut connection).await)?;
            if revisions.len() != chunk.len() {
                return Err(unexpected_reply(
                    BACKEND,
                    "put_many",
                    chunk.len(),
                    revisions.len(),
                ));
            }
        }
        Ok(())
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        let mut outcomes = Vec::with_capacity(writes.len());
        if writes.is_empty() {
            return Ok(outcomes);
        }
        if let Some(keys) = &self.inner.keys {
            return self.cas_keys(keys, writes).await;
        }
        let mut connection = self.connection("compare_and_swap").await?;
        for chunk in writes.chunks(Self::MAX_BATCH) {
            let mut call = scripts().cas.key(&self.inner.prefix);
            call.arg(&self.inner.key_prefix);
            for write in chunk {
                call.arg(&write.key)
                    .arg(write.expected.to_string())
                    .arg(&write.payload);
            }
            let revisions: Vec<i64> =
                self.check("compare_and_swap", call.invoke_async(&mut connection).await)?;
            if revisions.len() != chunk.len() {
                return Err(unexpected_reply(
                    BACKEND,
                    "compare_and_swap",
                    chunk.len(),
                    revisions.len(),
                ));
            }
            for (write, revision) in chunk.iter().zip(revisions) {
                outcomes.push(if revision < 0 {
                    Cas::Conflict
                } else {
                    Cas::Written {
                        revision: to_revision(BACKEND, "compare_and_swap", &write.key, revision)?,
                    }
                });
            }
        }
        Ok(outcomes)
    }

    async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Some(keys) = &self.inner.keys {
            return self.scan_keys(keys, after, limit).await;
        }
        let Some(partition) = self.inner.layout.partition else {
            return self.scan_page(after, limit).await;
        };
        // The index is read in key order and this part's records kept: every
        // part reads every record here (the keys-by-pattern layout filters
        // the key listing before reading instead).
        let mut cursor = after.map(str::to_owned);
        let mut records = Vec::new();
        while records.len() < limit {
            let page = self.scan_page(cursor.as_deref(), limit).await?;
            let full = page.len() == limit;
            cursor = page.last().map(|r| r.key.clone());
            records.extend(page.into_iter().filter(|r| partition.contains(&r.key)));
            if !full {
                break;
            }
        }
        // Resuming after the last record returned reads the rest again.
        records.truncate(limit);
        Ok(records)
    }
}

impl RedisStore {
    /// Up to `limit` records of the store's own layout after `after`.
    async fn scan_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let mut connection = self.connection("scan").await?;
        let start = match after {
            Some(key) => format!("({key}"),
            None => "-".to_owned(),
        };
        // Lua numbers are doubles: keep the limit where they are exact.
        let limit = limit.min(1 << 52);
        let flat: Vec<Vec<u8>> = self.check(
            "scan",
            scripts()
                .scan
                .key(&self.inner.prefix)
                .arg(&self.inner.key_prefix)
                .arg(start)
                .arg(limit)
                .invoke_async(&mut connection)
                .await,
        )?;
        if flat.len() % 3 != 0 {
            return Err(StoreError::new(
                BACKEND,
                "scan",
                format!(
                    "the scan script answered {} values, not (key, payload, revision) triples",
                    flat.len()
                ),
            ));
        }
        let mut records = Vec::with_capacity(flat.len() / 3);
        let mut values = flat.into_iter();
        while let (Some(key), Some(payload), Some(revision)) =
            (values.next(), values.next(), values.next())
        {
            let key = String::from_utf8(key).map_err(|e| {
                StoreError::new(
                    BACKEND,
                    "scan",
                    format!(
                        "a record's key {:?} is not valid UTF-8",
                        String::from_utf8_lossy(e.as_bytes())
                    ),
                )
            })?;
            let revision = parse_revision(BACKEND, "scan", &key, &revision)?;
            records.push(Record::new(key, payload, revision));
        }
        Ok(records)
    }
}
