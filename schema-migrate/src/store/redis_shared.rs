//! What the two Redis backends share: the Lua scripts, the replies of the
//! scripts on existing keys, and revisions as Redis writes them.
//!
//! Single-node Redis ([`RedisStore`](super::redis::RedisStore)) runs a
//! script over many keys at once; Redis Cluster
//! ([`RedisClusterStore`](super::redis_cluster::RedisClusterStore), feature
//! `redis-cluster`) runs the same scripts with one key per call, so that
//! every call touches one hash slot. The checks and the writes are the same
//! text either way.

use std::sync::{Mutex, OnceLock, PoisonError};

use redis::{RedisError, Script};

use super::{Record, StoreError};

/// The check every writing script makes of every key it is about to touch,
/// before it writes anything: Redis does not roll a script back, so a
/// command that fails half way (`HINCRBY` on a revision that is not an
/// integer, or that would overflow) would leave the writes before it
/// applied. The key must be absent or a hash whose `revision`, if any, is
/// all digits and at most 18 of them (below `i64::MAX`, so `HINCRBY` can
/// add one). Returns an error reply naming the key, or nil.
macro_rules! check_function {
    () => {
        r#"
local function check(key)
  local t = redis.call('TYPE', key).ok
  if t == 'none' then return nil end
  if t ~= 'hash' then
    return redis.error_reply('key ' .. key .. ' holds a ' .. t .. ', not a record hash; nothing was written')
  end
  local revision = redis.call('HGET', key, 'revision')
  if revision and (#revision > 18 or not string.match(revision, '^%d+$')) then
    return redis.error_reply('record ' .. key .. ' has revision "' .. revision .. '", not an integer this store wrote; nothing was written')
  end
  return nil
end
"#
    };
}

/// Writes `payload` under a key unconditionally.
///
/// KEYS[1]: the index. ARGV[1]: the key prefix with its colon, then pairs of
/// (key, payload). Returns the new revision of each record, in order.
pub(crate) const PUT_SCRIPT: &str = concat!(
    check_function!(),
    r#"
local index, prefix = KEYS[1], ARGV[1]
for i = 2, #ARGV, 2 do
  local err = check(prefix .. ARGV[i])
  if err then return err end
end
local out = {}
for i = 2, #ARGV, 2 do
  local key = prefix .. ARGV[i]
  redis.call('ZADD', index, 0, ARGV[i])
  redis.call('HSET', key, 'payload', ARGV[i + 1])
  out[#out + 1] = redis.call('HINCRBY', key, 'revision', 1)
end
return out
"#
);

/// Compare-and-swap writes.
///
/// KEYS[1]: the index. ARGV[1]: the key prefix with its colon, then triples
/// of (key, expected revision, payload). Returns, per write, the new
/// revision or -1 for a conflict; a missing record (or a hash without a
/// revision) is a conflict, since compare-and-swap never creates a record.
/// Revisions are compared as the decimal text both sides write, so no
/// floating-point conversion is involved.
pub(crate) const CAS_SCRIPT: &str = concat!(
    check_function!(),
    r#"
local index, prefix = KEYS[1], ARGV[1]
for i = 2, #ARGV, 3 do
  local err = check(prefix .. ARGV[i])
  if err then return err end
end
local out = {}
for i = 2, #ARGV, 3 do
  local key = prefix .. ARGV[i]
  local current = redis.call('HGET', key, 'revision')
  if current ~= false and current == ARGV[i + 1] then
    redis.call('ZADD', index, 0, ARGV[i])
    redis.call('HSET', key, 'payload', ARGV[i + 2])
    out[#out + 1] = redis.call('HINCRBY', key, 'revision', 1)
  else
    out[#out + 1] = -1
  end
end
return out
"#
);

/// Up to ARGV[3] records after ARGV[2] (a `ZRANGEBYLEX` bound: `-` or
/// `(key`). KEYS[1]: the index. ARGV[1]: the key prefix with its colon.
/// Returns a flat list of (key, payload, revision). An index entry whose
/// record is gone (deleted by other means) is skipped, and the scan reads on
/// so that a short answer still means the end.
pub(crate) const SCAN_SCRIPT: &str = r#"
local index, prefix, start, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local out, found = {}, 0
while found < limit do
  local keys = redis.call('ZRANGEBYLEX', index, start, '+', 'LIMIT', 0, limit - found)
  if #keys == 0 then break end
  for _, k in ipairs(keys) do
    local fields = redis.call('HMGET', prefix .. k, 'payload', 'revision')
    if fields[1] and fields[2] then
      out[#out + 1] = k
      out[#out + 1] = fields[1]
      out[#out + 1] = fields[2]
      found = found + 1
    end
  end
  start = '(' .. keys[#keys]
end
return out
"#;

/// Reads existing keys. KEYS: the keys. ARGV[1]: the hash field, or empty
/// for string values. Returns, per key, a status and a value: `ok` and the
/// value, `none` (the key is gone), `nofield` (a hash without the field),
/// or `type` and the type the key holds instead.
pub(crate) const READ_KEYS_SCRIPT: &str = r#"
local field = ARGV[1]
local out = {}
for _, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key).ok
  if t == 'none' then
    out[#out + 1] = 'none'; out[#out + 1] = ''
  elseif field == '' and t == 'string' then
    out[#out + 1] = 'ok'; out[#out + 1] = redis.call('GET', key)
  elseif field ~= '' and t == 'hash' then
    local v = redis.call('HGET', key, field)
    if v then
      out[#out + 1] = 'ok'; out[#out + 1] = v
    else
      out[#out + 1] = 'nofield'; out[#out + 1] = ''
    end
  else
    out[#out + 1] = 'type'; out[#out + 1] = t
  end
end
return out
"#;

/// Compare-and-swap on existing keys. KEYS: the keys. ARGV[1]: the hash
/// field, or empty for string values; then pairs of (value read, new
/// value). Returns, per key, 1 if written or -1 if the key no longer holds
/// the value read. A string keeps its TTL (`KEEPTTL`), as does a hash.
pub(crate) const CAS_KEYS_SCRIPT: &str = r#"
local field = ARGV[1]
local out = {}
for i, key in ipairs(KEYS) do
  local read, new = ARGV[2 * i], ARGV[2 * i + 1]
  local t = redis.call('TYPE', key).ok
  if field == '' and t == 'string' and redis.call('GET', key) == read then
    redis.call('SET', key, new, 'KEEPTTL')
    out[#out + 1] = 1
  elseif field ~= '' and t == 'hash' and redis.call('HGET', key, field) == read then
    redis.call('HSET', key, field, new)
    out[#out + 1] = 1
  else
    out[#out + 1] = -1
  end
end
return out
"#;

/// Writes existing keys unconditionally. KEYS: the keys. ARGV[1]: the hash
/// field, or empty for string values; then the values. A key of another
/// type fails the call before anything is written.
pub(crate) const PUT_KEYS_SCRIPT: &str = r#"
local field = ARGV[1]
for _, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key).ok
  local want = 'string'
  if field ~= '' then want = 'hash' end
  if t ~= 'none' and t ~= want then
    return redis.error_reply('key ' .. key .. ' holds a ' .. t .. ', not a ' .. want .. '; nothing was written')
  end
end
for i, key in ipairs(KEYS) do
  if field == '' then
    redis.call('SET', key, ARGV[i + 1], 'KEEPTTL')
  else
    redis.call('HSET', key, field, ARGV[i + 1])
  end
end
return #KEYS
"#;
/// Writes one record of the own layout unconditionally, without an index
/// (Redis Cluster: one key, so one slot). KEYS[1]: the record's hash.
/// ARGV[1]: the payload. Returns the new revision.
#[cfg(feature = "redis-cluster")]
pub(crate) const PUT_RECORD_SCRIPT: &str = concat!(
    check_function!(),
    r#"
local err = check(KEYS[1])
if err then return err end
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'revision', 1)
"#
);

/// Compare-and-swap of one record of the own layout, without an index
/// (Redis Cluster). KEYS[1]: the record's hash. ARGV[1]: the expected
/// revision, ARGV[2]: the payload. Returns the new revision, or -1 for a
/// conflict (as [`CAS_SCRIPT`]: a missing record is a conflict).
#[cfg(feature = "redis-cluster")]
pub(crate) const CAS_RECORD_SCRIPT: &str = concat!(
    check_function!(),
    r#"
local err = check(KEYS[1])
if err then return err end
local current = redis.call('HGET', KEYS[1], 'revision')
if current ~= false and current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'payload', ARGV[2])
  return redis.call('HINCRBY', KEYS[1], 'revision', 1)
end
return -1
"#
);

/// Reads one record of the own layout, whatever the key holds. KEYS[1]:
/// the record's hash. Returns a status and two values: `ok`, the payload
/// and the revision; `none` (the key is gone); `partial` (a hash without
/// `payload` or `revision`); or `type` and the type the key holds instead.
#[cfg(feature = "redis-cluster")]
pub(crate) const READ_RECORD_SCRIPT: &str = r#"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return {'none', '', ''} end
if t ~= 'hash' then return {'type', t, ''} end
local fields = redis.call('HMGET', KEYS[1], 'payload', 'revision')
if fields[1] and fields[2] then return {'ok', fields[1], fields[2]} end
return {'partial', '', ''}
"#;

/// The scripts, shared by every store of both backends (a script is its text and SHA-1).
pub(crate) struct Scripts {
    pub(crate) put: Script,
    pub(crate) cas: Script,
    pub(crate) scan: Script,
    pub(crate) read_keys: Script,
    pub(crate) cas_keys: Script,
    pub(crate) put_keys: Script,
    #[cfg(feature = "redis-cluster")]
    pub(crate) put_record: Script,
    #[cfg(feature = "redis-cluster")]
    pub(crate) cas_record: Script,
    #[cfg(feature = "redis-cluster")]
    pub(crate) read_record: Script,
}

pub(crate) fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        put: Script::new(PUT_SCRIPT),
        cas: Script::new(CAS_SCRIPT),
        scan: Script::new(SCAN_SCRIPT),
        read_keys: Script::new(READ_KEYS_SCRIPT),
        cas_keys: Script::new(CAS_KEYS_SCRIPT),
        put_keys: Script::new(PUT_KEYS_SCRIPT),
        #[cfg(feature = "redis-cluster")]
        put_record: Script::new(PUT_RECORD_SCRIPT),
        #[cfg(feature = "redis-cluster")]
        cas_record: Script::new(CAS_RECORD_SCRIPT),
        #[cfg(feature = "redis-cluster")]
        read_record: Script::new(READ_RECORD_SCRIPT),
    })
}

pub(crate) fn parse_revision(
    backend: &'static str,
    operation: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<u64, StoreError> {
    let text = String::from_utf8_lossy(bytes);
    text.parse().map_err(|_| {
        StoreError::new(
            backend,
            operation,
            format!("record {key:?}: revision is {text:?}, not a non-negative integer"),
        )
    })
}

pub(crate) fn to_revision(
    backend: &'static str,
    operation: &'static str,
    key: &str,
    revision: i64,
) -> Result<u64, StoreError> {
    u64::try_from(revision).map_err(|_| {
        StoreError::new(
            backend,
            operation,
            format!("record {key:?} got revision {revision}, not a non-negative integer"),
        )
    })
}

pub(crate) fn unexpected_reply(
    backend: &'static str,
    operation: &'static str,
    expected: usize,
    got: usize,
) -> StoreError {
    StoreError::new(
        backend,
        operation,
        format!("the script answered {got} outcomes for {expected} writes"),
    )
}

/// The record a [`READ_KEYS_SCRIPT`] reply names for the key `name`
/// (`status`, `value`): `None` for a key that is gone, an unreadable record
/// for a hash without the field or a key of another type.
pub(crate) fn key_record(name: &str, status: &[u8], value: &[u8], field: &str) -> Option<Record> {
    match status {
        b"ok" => Some(Record::new(name, value.to_vec(), super::fingerprint(value))),
        b"none" => None,
        b"nofield" => Some(Record::unreadable(
            name,
            format!("the hash has no field `{field}`"),
        )),
        _ => Some(Record::unreadable(
            name,
            format!(
                "the key holds a {}, not a {}",
                String::from_utf8_lossy(value),
                if field.is_empty() { "string" } else { "hash" }
            ),
        )),
    }
}

/// A key `SCAN` returned, if it is UTF-8 (record keys are strings); any
/// other is logged and skipped.
pub(crate) fn utf8_key(backend: &'static str, key: Vec<u8>) -> Option<String> {
    match String::from_utf8(key) {
        Ok(key) => Some(key),
        Err(e) => {
            tracing::warn!(
                target: "schema_migrate",
                backend,
                key = %String::from_utf8_lossy(e.as_bytes()),
                "redis store: a matching key is not UTF-8 and is skipped",
            );
            None
        }
    }
}

/// The connection a store reuses until a call finds it broken; the next
/// call then connects again. One for either client (single node, cluster).
pub(crate) struct ConnectionSlot<C>(Mutex<Option<C>>);

impl<C: Clone> ConnectionSlot<C> {
    pub(crate) const fn new() -> Self {
        ConnectionSlot(Mutex::new(None))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<C>> {
        // The slot holds no invariant a panic could break: recover it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection kept, if any.
    pub(crate) fn get(&self) -> Option<C> {
        self.lock().clone()
    }

    /// Keeps `connection` for the next calls.
    pub(crate) fn set(&self, connection: C) {
        *self.lock() = Some(connection);
    }

    /// Forgets the connection if `error` says it is broken.
    pub(crate) fn forget_if_broken(&self, error: &RedisError) {
        if error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error() {
            *self.lock() = None;
        }
    }
}
