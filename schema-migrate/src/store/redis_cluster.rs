//! A [`RecordStore`] on Redis Cluster (feature `redis-cluster`), with the
//! layouts of the single-node [`RedisStore`](super::redis::RedisStore),
//! spread over the cluster's own hash slots.
//!
//! # URL
//!
//! `redis+cluster://[user[:password]@]host:port[,host:port...]`: one or
//! more nodes of the cluster (any of them; the client asks them for the
//! rest). A cluster has only database 0, so the URL names none. No TLS.
//!
//! # Layout
//!
//! For a prefix `p`, the record under key `k` is the hash `p:k` with the
//! fields `payload` and `revision`, as on a single node: each record lives
//! on the slot of its own key, so records spread over every master. There
//! is no sorted-set index (one key lives on one slot, and a script may only
//! touch keys of one slot), so a run lists the keys the way it does for
//! keys another program wrote.
//!
//! With [`Layout::redis_keys`] (and [`Layout::hash_field`]) the store works
//! on existing string keys or hash fields matching a pattern, as on a
//! single node; a string keeps its TTL (`SET ... KEEPTTL`), as does a hash.
//!
//! # Scan
//!
//! [`RecordStore::scan`] asks the cluster for its masters (`CLUSTER SLOTS`)
//! and runs `SCAN MATCH` on each of them (never on a replica, which would
//! list the same keys twice), then sorts the keys in byte order. The
//! listing is taken when a scan starts from the beginning (or when a
//! resumed run scans first) and kept for the run: a scan resumes strictly
//! after any key, as on every backend, and **a record created after the
//! listing is left for the lazy path** (it is written at the current
//! version anyway, or upgraded when loaded).
//!
//! # Atomicity
//!
//! Every write is the same Lua script as on a single node, called with
//! one key, so that it runs on that key's slot: a compare-and-swap compares
//! and writes one record atomically, and a reader sees a record either
//! before or after a write. A batch of writes is one call per record, up to
//! [`RedisClusterStore::IN_FLIGHT`] of them at once on the masters (two
//! writes to one key are never in flight together, so they apply in
//! order), not one atomic call: if a call fails, the batch's other records
//! may or may not be written, and every record is whole, old or new. A
//! batch migration that stops there resumes as on any backend.
//!
//! # Connection
//!
//! One cluster connection (the redis crate's `ClusterClient`) is shared by
//! all calls: it follows `MOVED` and `ASK` redirections and reconnects to a
//! node that dropped its connection. If the whole connection fails, the
//! call that saw it fails with a [`StoreError`] and the next call connects
//! again. A call whose connection a node dropped without an answer fails
//! after 10 seconds rather than waiting forever.
//!
//! ```no_run
//! # async fn demo() -> Result<(), schema_migrate::store::StoreError> {
//! use schema_migrate::store::redis_cluster::RedisClusterStore;
//! use schema_migrate::store::{Layout, RecordStore};
//!
//! let url = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000";
//! let store = RedisClusterStore::connect(url, "checkpoints").await?;
//! let revision = store.put("thread-1", br#"{"schema_version":4}"#).await?;
//! assert_eq!(store.get("thread-1").await?.map(|r| r.revision), Some(revision));
//!
//! // Keys another program wrote, on every master.
//! let sessions = RedisClusterStore::connect_layout(url, &Layout::redis_keys("session:*")).await?;
//! let first_page = sessions.scan(None, 100).await?;
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{RedisError, Value};

use super::redis_shared::{
    key_record, parse_revision, scripts, to_revision, utf8_key, ConnectionSlot,
};
use super::{check_identifier, Cas, CasWrite, Encoding, Layout, Record, RecordStore, StoreError};

const BACKEND: &str = "redis-cluster";

/// The URL scheme of a cluster.
const SCHEME: &str = "redis+cluster://";

/// A [`RecordStore`] on a Redis Cluster. See the [module docs](self) for
/// the URL, the layout and its guarantees.
///
/// Cloning is cheap: clones share one connection.
#[derive(Clone)]
pub struct RedisClusterStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: ClusterClient,
    /// The nodes the URL names, `host:port` (never the password), for Debug.
    nodes: Vec<String>,
    connection: ConnectionSlot<ClusterConnection>,
    prefix: String,
    /// The prefix with its colon; empty for existing keys.
    key_prefix: String,
    /// The `SCAN MATCH` pattern: the prefix's records, or the layout's.
    pattern: String,
    /// The hash field of existing keys; empty for string values. `None`:
    /// the store's own layout.
    field: Option<String>,
    layout: Layout,
    /// The record keys in byte order, listed when a run starts.
    listing: Mutex<Option<Arc<Vec<String>>>>,
}

impl std::fmt::Debug for RedisClusterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClusterStore")
            .field("nodes", &self.inner.nodes)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisClusterStore {
    /// How many one-key calls a batch (a scan page, a `put_many`, a
    /// `compare_and_swap`) has in flight at once.
    pub const IN_FLIGHT: usize = 256;

    /// How long connecting to a node may take before it fails.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// How long one call may wait for its answer before it fails: a
    /// request on a connection that a node dropped must not wait forever.
    const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

    /// Connects to the cluster at `url` (see the [module docs](self)) and
    /// uses the records under `prefix`: the hashes `{prefix}:{key}`.
    ///
    /// `prefix` must be an identifier (`[A-Za-z_][A-Za-z0-9_]*`). Fails if
    /// the prefix is invalid, the URL cannot be parsed or no node answers.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_layout(url, &Layout::new(prefix)).await
    }

    /// Connects to the cluster at `url` and uses the records `layout`
    /// names: the store's own layout under the prefix [`Layout::table`]
    /// ([`Layout::new`]), or the existing keys matching a pattern
    /// ([`Layout::redis_keys`], with [`Layout::hash_field`] for hashes).
    pub async fn connect_layout(url: &str, layout: &Layout) -> Result<Self, StoreError> {
        layout.check_redis()?;
        let (pattern, key_prefix, field) = match &layout.key_pattern {
            Some(pattern) => (
                pattern.clone(),
                String::new(),
                Some(layout.hash_field.clone().unwrap_or_default()),
            ),
            None => {
                check_identifier(BACKEND, "key prefix", &layout.table)?;
                // An identifier holds no glob character.
                (
                    format!("{}:*", layout.table),
                    format!("{}:", layout.table),
                    None,
                )
            }
        };
        let (nodes, urls) = parse_url(url)?;
        let client = ClusterClient::builder(urls)
            .connection_timeout(Self::CONNECT_TIMEOUT)
            .response_timeout(Self::RESPONSE_TIMEOUT)
            .build()
            .map_err(|e| StoreError::usage(BACKEND, "connect", e))?;
        let store = RedisClusterStore {
            inner: Arc::new(Inner {
                client,
                nodes,
                connection: ConnectionSlot::new(),
                prefix: layout.table.clone(),
                key_prefix,
                pattern,
                field,
                layout: layout.clone(),
                listing: Mutex::new(None),
            }),
        };
        store.connection("connect").await?;
        Ok(store)
    }

    /// The key prefix of the store's own layout.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The masters of the cluster, each as one slot it serves, in the
    /// order `CLUSTER SLOTS` gives them (a master serving several ranges
    /// appears once).
    async fn masters(&self, connection: &mut ClusterConnection) -> Result<Vec<u16>, StoreError> {
        let ranges: Vec<Vec<Value>> = self.check(
            "scan",
            redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(connection)
                .await,
        )?;
        let mut seen: Vec<(String, i64)> = Vec::new();
        let mut slots = Vec::new();
        for range in &ranges {
            let parsed = match range.as_slice() {
                [start, _end, master, ..] => redis::from_redis_value::<u16>(start)
                    .and_then(|start| {
                        redis::from_redis_value::<(String, i64)>(&first_two(master)?)
                            .map(|address| (start, address))
                    })
                    .ok(),
                _ => None,
            };
            let Some((start, address)) = parsed else {
                return Err(StoreError::new(
                    BACKEND,
                    "scan",
                    format!("CLUSTER SLOTS answered a range that is not (start, end, master): {range:?}"),
                ));
            };
            if !seen.contains(&address) {
                seen.push(address);
                slots.push(start);
            }
        }
        if slots.is_empty() {
            return Err(StoreError::new(
                BACKEND,
                "scan",
                "CLUSTER SLOTS lists no master: the cluster serves no slot",
            ));
        }
        Ok(slots)
    }

    /// The record keys in byte order (without the prefix), from every
    /// master: listed anew when a scan starts from the beginning, or when
    /// none was listed yet (a resumed run).
    async fn listing(&self, fresh: bool) -> Result<Arc<Vec<String>>, StoreError> {
        if !fresh {
            if let Some(listing) = self.listing_slot().clone() {
                return Ok(listing);
            }
        }
        let mut connection = self.connection("scan").await?;
        let mut found: Vec<String> = Vec::new();
        for slot in self.masters(&mut connection).await? {
            let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
                slot,
                SlotAddr::Master,
            )));
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&self.inner.pattern)
                    .arg("COUNT")
                    .arg(1000);
                let reply =
                    self.check("scan", connection.route_command(&scan, route.clone()).await)?;
                let (next, batch): (u64, Vec<Vec<u8>>) =
                    self.check("scan", redis::from_owned_redis_value(reply))?;
                found.extend(batch.into_iter().filter_map(|key| {
                    let key = utf8_key(BACKEND, key)?;
                    Some(match key.strip_prefix(&self.inner.key_prefix) {
                        Some(name) => name.to_owned(),
                        None => key,
                    })
                }));
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        // SCAN may return a key more than once.
        found.sort_unstable();
        found.dedup();
        // The names are the record keys (own layout or existing keys): a
        // part keeps its own before anything is read.
        if let Some(partition) = &self.inner.layout.partition {
            found.retain(|key| partition.contains(key));
        }
        let listing = Arc::new(found);
        *self.listing_slot() = Some(Arc::clone(&listing));
        Ok(listing)
    }

    fn listing_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Vec<String>>>> {
        // The slot holds no invariant a panic could break: recover it.
        self.inner
            .listing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The shared connection, connecting first if there is none (or the
    /// last one broke).
    async fn connection(&self, operation: &'static str) -> Result<ClusterConnection, StoreError> {
        if let Some(connection) = self.inner.connection.get() {
            return Ok(connection);
        }
        let connection = self
            .inner
            .client
            .get_async_connection()
            .await
            .map_err(|e| StoreError::new(BACKEND, operation, e))?;
        self.inner.connection.set(connection.clone());
        Ok(connection)
    }

    /// Maps a Redis error to a [`StoreError`], forgetting a broken
    /// connection so that the next call connects again.
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

    /// Like [`Self::check`], naming the key the call was about (a script's
    /// own error replies name it already).
    fn check_key<T>(
        &self,
        operation: &'static str,
        key: &str,
        result: Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        result.map_err(|e| {
            self.inner.connection.forget_if_broken(&e);
            if e.to_string().contains(key) {
                StoreError::new(BACKEND, operation, e)
            } else {
                StoreError::new(BACKEND, operation, format!("key {key:?}: {e}"))
            }
        })
    }

    /// The record under `name`: `None` if the key is gone; an unreadable
    /// record if it holds something else.
    async fn read(
        &self,
        connection: &mut ClusterConnection,
        operation: &'static str,
        name: &str,
    ) -> Result<Option<Record>, StoreError> {
        let key = format!("{}{name}", self.inner.key_prefix);
        match &self.inner.field {
            Some(field) => {
                let pair: Vec<Vec<u8>> = self.check_key(
                    operation,
                    &key,
                    scripts()
                        .read_keys
                        .key(&key)
                        .arg(field)
                        .invoke_async(connection)
                        .await,
                )?;
                match pair.as_slice() {
                    [status, value] => Ok(key_record(name, status, value, field)),
                    _ => Err(odd_reply(operation, &key, pair.len())),
                }
            }
            None => {
                let reply: Vec<Vec<u8>> = self.check_key(
                    operation,
                    &key,
                    scripts()
                        .read_record
                        .key(&key)
                        .invoke_async(connection)
                        .await,
                )?;
                let [status, payload, revision] = reply.as_slice() else {
                    return Err(odd_reply(operation, &key, reply.len()));
                };
                match status.as_slice() {
                    b"ok" => Ok(Some(Record::new(
                        name,
                        payload.clone(),
                        parse_revision(BACKEND, operation, name, revision)?,
                    ))),
                    b"none" => Ok(None),
                    b"partial" => Ok(Some(Record::unreadable(
                        name,
                        format!(
                            "the hash {key} lacks a `payload` or `revision` field: it was not \
                             written by this store"
                        ),
                    ))),
                    _ => Ok(Some(Record::unreadable(
                        name,
                        format!(
                            "the key {key} holds a {}, not a record hash",
                            String::from_utf8_lossy(payload)
                        ),
                    ))),
                }
            }
        }
    }

    /// Writes one record unconditionally; returns its new revision.
    async fn write(
        &self,
        connection: &mut ClusterConnection,
        operation: &'static str,
        name: &str,
        payload: &[u8],
    ) -> Result<u64, StoreError> {
        let key = format!("{}{name}", self.inner.key_prefix);
        match &self.inner.field {
            Some(field) => {
                let _: i64 = self.check_key(
                    operation,
                    &key,
                    scripts()
                        .put_keys
                        .key(&key)
                        .arg(field)
                        .arg(payload)
                        .invoke_async(connection)
                        .await,
                )?;
                Ok(super::fingerprint(payload))
            }
            None => {
                let revision: i64 = self.check_key(
                    operation,
                    &key,
                    scripts()
                        .put_record
                        .key(&key)
                        .arg(payload)
                        .invoke_async(connection)
                        .await,
                )?;
                to_revision(BACKEND, operation, name, revision)
            }
        }
    }

    /// One compare-and-swap.
    async fn swap(
        &self,
        connection: &mut ClusterConnection,
        write: &CasWrite,
    ) -> Result<Cas, StoreError> {
        const OPERATION: &str = "compare_and_swap";
        let key = format!("{}{}", self.inner.key_prefix, write.key);
        let written: i64 = match &self.inner.field {
            Some(field) => {
                let written: Vec<i64> = self.check_key(
                    OPERATION,
                    &key,
                    scripts()
                        .cas_keys
                        .key(&key)
                        .arg(field)
                        .arg(&write.read)
                        .arg(&write.payload)
                        .invoke_async(connection)
                        .await,
                )?;
                match written.as_slice() {
                    [1] => {
                        return Ok(Cas::Written {
                            revision: super::fingerprint(&write.payload),
                        })
                    }
                    [_] => -1,
                    _ => return Err(odd_reply(OPERATION, &key, written.len())),
                }
            }
            None => self.check_key(
                OPERATION,
                &key,
                scripts()
                    .cas_record
                    .key(&key)
                    .arg(write.expected.to_string())
                    .arg(&write.payload)
                    .invoke_async(connection)
                    .await,
            )?,
        };
        if written < 0 {
            Ok(Cas::Conflict)
        } else {
            Ok(Cas::Written {
                revision: to_revision(BACKEND, OPERATION, &write.key, written)?,
            })
        }
    }
}

impl RecordStore for RedisClusterStore {
    fn encoding(&self) -> &Encoding {
        &self.inner.layout.encoding
    }

    fn counts_writes(&self) -> bool {
        self.inner.field.is_none()
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let mut connection = self.connection("get").await?;
        let record = self.read(&mut connection, "get", key).await?;
        match record {
            // On the own layout a key that is not a record is an error, as
            // on a single node; existing keys report it on the record.
            Some(Record {
                unreadable: Some(reason),
                ..
            }) if self.inner.field.is_none() => Err(StoreError::new(BACKEND, "get", reason)),
            record => Ok(record),
        }
    }

    async fn put(&self, key: &str, payload: &[u8]) -> Result<u64, StoreError> {
        let mut connection = self.connection("put").await?;
        self.write(&mut connection, "put", key, payload).await
    }

    async fn put_many(&self, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection("put_many").await?;
        for (key, payload) in records {
            self.write(&mut connection, "put_many", key, payload)
                .await?;
        }
        Ok(())
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        let mut outcomes = Vec::with_capacity(writes.len());
        if writes.is_empty() {
            return Ok(outcomes);
        }
        let connection = self.connection("compare_and_swap").await?;
        for wave in waves(writes, |write| write.key.as_str()) {
            let calls = wave.iter().map(|write| {
                let mut connection = connection.clone();
                async move { self.swap(&mut connection, write).await }
            });
            for outcome in join_all(calls).await {
                outcomes.push(outcome?);
            }
        }
        Ok(outcomes)
    }

    async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let listing = self.listing(after.is_none()).await?;
        let start = match after {
            Some(after) => listing.partition_point(|k| k.as_str() <= after),
            None => 0,
        };
        let connection = self.connection("scan").await?;
        let mut records = Vec::new();
        let mut next = start;
        // Keys deleted since the listing are skipped; read on so that a
        // short answer still means the end.
        while records.len() < limit && next < listing.len() {
            let wave = (limit - records.len()).min(Self::IN_FLIGHT);
            let names = &listing[next..(next + wave).min(listing.len())];
            next += names.len();
            let calls = names.iter().map(|name| {
                let mut connection = connection.clone();
                async move { self.read(&mut connection, "scan", name).await }
            });
            for record in join_all(calls).await {
                records.extend(record?);
            }
        }
        Ok(records)
    }
}

/// `items` cut into runs of at most [`RedisClusterStore::IN_FLIGHT`] in
/// which no key appears twice, in order: the calls of one run may be in
/// flight together, and a key's second write waits for its first.
fn waves<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<&[T]> {
    let mut waves = Vec::new();
    let mut start = 0;
    let mut keys = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        if i - start == RedisClusterStore::IN_FLIGHT || !keys.insert(key(item)) {
            waves.push(&items[start..i]);
            start = i;
            keys.clear();
            keys.insert(key(item));
        }
    }
    if start < items.len() {
        waves.push(&items[start..]);
    }
    waves
}

/// The first two elements of a `CLUSTER SLOTS` node entry (host, port).
fn first_two(node: &Value) -> Result<Value, RedisError> {
    match node {
        Value::Array(items) if items.len() >= 2 => Ok(Value::Array(items[..2].to_vec())),
        _ => Err(RedisError::from((
            redis::ErrorKind::TypeError,
            "a CLUSTER SLOTS node is not (host, port, ...)",
        ))),
    }
}

fn odd_reply(operation: &'static str, key: &str, got: usize) -> StoreError {
    StoreError::new(
        BACKEND,
        operation,
        format!("key {key:?}: the script answered {got} values, not the expected reply"),
    )
}

/// The nodes of a `redis+cluster://` URL: as `host:port` (for messages,
/// never the password) and as the client's `redis://` URLs.
fn parse_url(url: &str) -> Result<(Vec<String>, Vec<String>), StoreError> {
    // Only fixed text in messages: the URL may hold a password.
    let usage = |message: String| Err(StoreError::usage(BACKEND, "open", message));
    let Some(rest) = url.strip_prefix(SCHEME) else {
        return usage(format!(
            "expected a URL {SCHEME}HOST:PORT[,HOST:PORT...], not one of another scheme"
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (user, hosts) = match rest.rsplit_once('@') {
        Some((user, hosts)) => (format!("{user}@"), hosts),
        None => (String::new(), rest),
    };
    if hosts.contains(['/', '?', '#']) {
        return usage(format!(
            "a Redis Cluster has only database 0 and this URL takes no options: expected \
             {SCHEME}HOST:PORT[,HOST:PORT...]"
        ));
    }
    let mut nodes = Vec::new();
    let mut urls = Vec::new();
    for node in hosts.split(',') {
        let port_ok = match node.rsplit_once(':') {
            Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
            None => false,
        };
        if !port_ok {
            return usage(format!(
                "node {node:?} of the URL is not HOST:PORT: expected \
                 {SCHEME}HOST:PORT[,HOST:PORT...]"
            ));
        }
        nodes.push(node.to_owned());
        urls.push(format!("redis://{user}{node}"));
    }
    Ok((nodes, urls))
}

#[cfg(test)]
mod tests {
    use super::{parse_url, waves, RedisClusterStore};

    #[test]
    fn waves_never_hold_a_key_twice() {
        let keys = ["a", "b", "a", "c", "c", "d"];
        let cut: Vec<Vec<&str>> = waves(&keys, |k| k).into_iter().map(<[_]>::to_vec).collect();
        assert_eq!(cut, [vec!["a", "b"], vec!["a", "c"], vec!["c", "d"]]);
        let many: Vec<String> = (0..RedisClusterStore::IN_FLIGHT * 2 + 1)
            .map(|i| i.to_string())
            .collect();
        let sizes: Vec<usize> = waves(&many, String::as_str)
            .iter()
            .map(|w| w.len())
            .collect();
        assert_eq!(
            sizes,
            [
                RedisClusterStore::IN_FLIGHT,
                RedisClusterStore::IN_FLIGHT,
                1
            ]
        );
        assert!(waves(&[] as &[String], String::as_str).is_empty());
    }

    #[test]
    fn cluster_urls() {
        let (nodes, urls) = parse_url("redis+cluster://127.0.0.1:7000,[::1]:7001/").unwrap();
        assert_eq!(nodes, ["127.0.0.1:7000", "[::1]:7001"]);
        assert_eq!(urls, ["redis://127.0.0.1:7000", "redis://[::1]:7001"]);
        let (nodes, urls) = parse_url("redis+cluster://u:hunter2@a:1,b:2").unwrap();
        assert_eq!(nodes, ["a:1", "b:2"]);
        assert_eq!(urls, ["redis://u:hunter2@a:1", "redis://u:hunter2@b:2"]);
        for bad in [
            "redis://a:1",
            "redis+cluster://",
            "redis+cluster://a",
            "redis+cluster://a:1,,b:2",
            "redis+cluster://a:1/3",
            "redis+cluster://a:99999",
            "redis+cluster://u:hunter2@a:x",
        ] {
            let error = parse_url(bad).expect_err(bad);
            assert!(error.is_usage(), "{bad}: {error}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }
}
