//! Opening a store from a URL, for command lines and configuration files.

use super::{Cas, CasWrite, Encoding, Layout, Record, RecordStore, StoreError};

/// Any backend compiled in, chosen at run time by [`open`].
///
/// Each variant exists only with its cargo feature.
#[non_exhaustive]
pub enum AnyStore {
    /// A SQLite file (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::SqliteStore),
    /// A PostgreSQL table (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::PostgresStore),
    /// Redis keys (feature `redis`).
    #[cfg(feature = "redis")]
    Redis(super::redis::RedisStore),
    /// Redis Cluster (feature `redis-cluster`).
    #[cfg(feature = "redis-cluster")]
    RedisCluster(super::redis_cluster::RedisClusterStore),
    /// With no backend feature on, no store can be opened; this variant
    /// cannot be built and only keeps the `match`es below well-formed.
    #[doc(hidden)]
    #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "redis")))]
    Never(std::convert::Infallible),
}

/// Opens the store a URL names, with `name` as its table (SQLite,
/// PostgreSQL) or key prefix (Redis):
///
/// - `sqlite:path/to/file.db` or `sqlite://path/to/file.db`
///   (`sqlite:///abs/path.db` for an absolute path): created if missing;
/// - `postgres://user@host/db` or `postgresql://...`: the table is created if missing;
/// - `redis://host:port/db` (no TLS: `rediss://` is refused, the Redis
///   client is built without it);
/// - `redis+cluster://host:port[,host:port...]`: a Redis Cluster, reached
///   through any of the nodes named (feature `redis-cluster`; see
///   [`redis_cluster`](super::redis_cluster)).
///
/// A URL whose backend's cargo feature is off is an error naming the feature.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("sm-open-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let url = format!("sqlite:{}", dir.join("records.db").display());
/// let store = schema_migrate::store::open(&url, "checkpoints").await?;
///
/// let err = schema_migrate::store::open("mysql://localhost/db", "checkpoints").await.unwrap_err();
/// assert!(err.to_string().contains("mysql"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn open(url: &str, name: &str) -> Result<AnyStore, StoreError> {
    open_url(url, &Layout::new(name), Access::Create).await
}

/// Like [`open`], but creates nothing: the SQLite file and table, or the
/// PostgreSQL table, must exist, so that a dry run writes nothing and a
/// misspelled name is an error rather than a new, empty store. The error
/// names what is missing and is a usage error ([`StoreError::is_usage`]).
/// The SQLite file's journal mode is left as it is.
///
/// Redis has nothing to create; an empty prefix opens as an empty store.
///
/// The ready command line ([`cli`](super::cli)) opens stores this way.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("sm-open-existing-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let url = format!("sqlite:{}", dir.join("typo.db").display());
/// let err = schema_migrate::store::open_existing(&url, "checkpoints").await.unwrap_err();
/// assert!(err.is_usage(), "{err}");
/// assert!(!dir.join("typo.db").exists());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn open_existing(url: &str, name: &str) -> Result<AnyStore, StoreError> {
    open_url(url, &Layout::new(name), Access::Existing).await
}

/// Opens the records a [`Layout`] describes, at a URL as for [`open`]: a
/// table the application already has (SQLite, PostgreSQL), or existing
/// Redis keys ([`Layout::redis_keys`]). Nothing is created; a missing file,
/// table or column, or a key column of an unsupported type, is a usage
/// error ([`StoreError::is_usage`]) naming it.
///
/// ```
/// use schema_migrate::store::{open_layout, Layout};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let err = open_layout("sqlite:no-such.db", &Layout::table("items", ["id"], "data"))
///     .await
///     .unwrap_err();
/// assert!(err.is_usage(), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn open_layout(url: &str, layout: &Layout) -> Result<AnyStore, StoreError> {
    open_url(url, layout, Access::Existing).await
}

/// Like [`open_layout`], for reading only: a SQLite file is opened
/// read-only, so that a dry run works on a file this process may not write.
pub async fn open_layout_read_only(url: &str, layout: &Layout) -> Result<AnyStore, StoreError> {
    open_url(url, layout, Access::ReadOnly).await
}

/// Whether opening may create the file or table, and may write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Create,
    Existing,
    ReadOnly,
}

async fn open_url(url: &str, layout: &Layout, access: Access) -> Result<AnyStore, StoreError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme {
        "sqlite" => {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or_default();
            if path.is_empty() {
                return Err(StoreError::usage(
                    "sqlite",
                    "open",
                    "the URL names no file: expected sqlite:path/to/file.db",
                ));
            }
            open_sqlite(path, layout, access).await
        }
        "postgres" | "postgresql" => open_postgres(url, layout, access).await,
        "redis" => open_redis(url, layout).await,
        "redis+cluster" => open_redis_cluster(url, layout).await,
        "rediss" => Err(StoreError::usage(
            "redis",
            "open",
            "rediss:// (Redis over TLS) is not supported: the Redis client is built \
             without TLS; use redis:// (through a TLS tunnel if the server is remote)",
        )),
        // Only the scheme is echoed: the rest of a URL may hold a password.
        _ => Err(StoreError::usage(
            "store",
            "open",
            format!(
                "unknown store URL scheme {scheme:?}: expected sqlite:PATH, \
                 postgres://..., redis://... or redis+cluster://..."
            ),
        )),
    }
}

#[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
async fn open_sqlite(path: &str, layout: &Layout, access: Access) -> Result<AnyStore, StoreError> {
    #[cfg(feature = "sqlite")]
    return {
        use super::sqlite::SqliteStore;
        match access {
            Access::Create => SqliteStore::open(path, &layout.table).await,
            Access::Existing => SqliteStore::open_layout(path, layout).await,
            Access::ReadOnly => SqliteStore::open_read_only(path, layout).await,
        }
        .map(AnyStore::Sqlite)
    };
    #[cfg(not(feature = "sqlite"))]
    Err(feature_off("sqlite"))
}

#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
async fn open_postgres(url: &str, layout: &Layout, access: Access) -> Result<AnyStore, StoreError> {
    #[cfg(feature = "postgres")]
    return {
        use super::postgres::PostgresStore;
        match access {
            Access::Create => PostgresStore::connect(url, &layout.table).await,
            Access::Existing | Access::ReadOnly => PostgresStore::connect_layout(url, layout).await,
        }
        .map(AnyStore::Postgres)
    };
    #[cfg(not(feature = "postgres"))]
    Err(feature_off("postgres"))
}

#[cfg_attr(not(feature = "redis"), allow(unused_variables))]
async fn open_redis(url: &str, layout: &Layout) -> Result<AnyStore, StoreError> {
    #[cfg(feature = "redis")]
    return super::redis::RedisStore::connect_layout(url, layout)
        .await
        .map(AnyStore::Redis);
    #[cfg(not(feature = "redis"))]
    Err(feature_off("redis"))
}

#[cfg_attr(not(feature = "redis-cluster"), allow(unused_variables))]
async fn open_redis_cluster(url: &str, layout: &Layout) -> Result<AnyStore, StoreError> {
    #[cfg(feature = "redis-cluster")]
    return super::redis_cluster::RedisClusterStore::connect_layout(url, layout)
        .await
        .map(AnyStore::RedisCluster);
    #[cfg(not(feature = "redis-cluster"))]
    Err(feature_off("redis-cluster"))
}

#[allow(dead_code, reason = "used only by the backends whose feature is off")]
fn feature_off(backend: &'static str) -> StoreError {
    StoreError::usage(
        backend,
        "open",
        format!(
            "this build has no {backend} support: enable the `{backend}` feature of \
             schema-migrate (features = [\"{backend}\"])"
        ),
    )
}

/// Runs the same expression on whichever backend `self` holds.
macro_rules! dispatch {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($store) => $call,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($store) => $call,
            #[cfg(feature = "redis")]
            AnyStore::Redis($store) => $call,
            #[cfg(feature = "redis-cluster")]
            AnyStore::RedisCluster($store) => $call,
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "redis")))]
            AnyStore::Never(never) => match *never {},
        }
    };
}

impl std::fmt::Debug for AnyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the backends' own Debug: a client's may print its connection
        // string, password included.
        f.debug_tuple("AnyStore").field(&self.backend()).finish()
    }
}

impl AnyStore {
    /// The backend: `"sqlite"`, `"postgres"`, `"redis"` or `"redis-cluster"`.
    pub fn backend(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "postgres",
            #[cfg(feature = "redis")]
            AnyStore::Redis(_) => "redis",
            #[cfg(feature = "redis-cluster")]
            AnyStore::RedisCluster(_) => "redis-cluster",
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "redis")))]
            AnyStore::Never(never) => match *never {},
        }
    }
}

// With no backend compiled in, the methods have nothing to pass the
// arguments to.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "redis")),
    allow(unused_variables)
)]
impl RecordStore for AnyStore {
    fn encoding(&self) -> &Encoding {
        dispatch!(self, s => s.encoding())
    }

    fn counts_writes(&self) -> bool {
        dispatch!(self, s => s.counts_writes())
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        dispatch!(self, s => s.get(key).await)
    }

    async fn put(&self, key: &str, payload: &[u8]) -> Result<u64, StoreError> {
        dispatch!(self, s => s.put(key, payload).await)
    }

    async fn put_many(&self, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_many(records).await)
    }

    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        dispatch!(self, s => s.compare_and_swap(writes).await)
    }

    async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
        dispatch!(self, s => s.scan(after, limit).await)
    }
}
