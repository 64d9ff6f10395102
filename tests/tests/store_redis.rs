//! The Redis store against a real `redis-server` started by the test harness
//! (one server per test binary, a fresh key prefix per test).

use std::collections::BTreeMap;
use std::sync::Arc;

use schema_migrate::store::redis::RedisStore;
use schema_migrate::store::{Cas, CasWrite, Record, RecordStore};
use schema_migrate_tests::servers::redis::{redis, Redis};
use schema_migrate_tests::servers::unique_name;
use schema_migrate_tests::servers::StartError;
use schema_migrate_tests::store::crash::crash_and_resume;
use schema_migrate_tests::store_suite;

/// A store on the shared server under a fresh prefix, or `None` when Redis
/// is not installed (reported loudly; a failure under `CI=true`).
async fn fresh_store() -> Option<(RedisStore, &'static Redis)> {
    let server = redis()?;
    let store = RedisStore::connect(server.url(), &unique_name("t"))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log()));
    Some((store, server))
}

/// A fresh store for the backend-generic suite.
async fn fresh() -> Option<RedisStore> {
    fresh_store().await.map(|(store, _)| store)
}

store_suite!(fresh, bad_json: true);

/// The batch migrator as a child process over 50k records, SIGKILLed half
/// way, then rerun: nothing lost, nothing half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_half_way_loses_nothing() {
    let Some(server) = redis() else {
        return;
    };
    let outcome = crash_and_resume(
        std::path::Path::new(env!("CARGO_BIN_EXE_store_child")),
        server.url(),
        &unique_name("crash"),
    )
    .await;
    eprintln!("redis crash test: {outcome:?}");
}

fn write(key: &str, expected: u64, payload: &str) -> CasWrite {
    CasWrite {
        key: key.to_owned(),
        expected,
        read: Vec::new(),
        payload: payload.into(),
    }
}

/// Every record under the store's prefix, by scanning in pages of `page`.
async fn scan_all(store: &RedisStore, page: usize) -> Vec<Record> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.scan(after.as_deref(), page).await.expect("scan");
        assert!(
            batch.len() <= page,
            "scan returned {} > {page}",
            batch.len()
        );
        let Some(last) = batch.last() else {
            return all;
        };
        after = Some(last.key.clone());
        all.extend(batch);
    }
}

/// The harness itself: a server starts, answers, and dropping the handle
/// stops it and removes its directory.
#[test]
fn harness_starts_and_stops_a_server() {
    let server = match Redis::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(why)) => panic!("{why}"),
    };
    assert_eq!(server.cli(&["PING"]).trim(), "PONG", "{}", server.log());
    let port = server.port();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port} after drop"
    );
}

#[tokio::test]
async fn revisions_start_at_one_and_every_write_adds_one() {
    let Some((store, _)) = fresh_store().await else {
        return;
    };
    assert_eq!(store.get("thread-1").await.unwrap(), None);
    assert_eq!(
        store
            .put("thread-1", r#"{"v":1}"#.as_bytes())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .put("thread-1", r#"{"v":2}"#.as_bytes())
            .await
            .unwrap(),
        2
    );
    let record = store.get("thread-1").await.unwrap().expect("written");
    assert_eq!(record, Record::new("thread-1", r#"{"v":2}"#, 2));
    let outcomes = store
        .compare_and_swap(&[write("thread-1", 2, r#"{"v":3}"#)])
        .await
        .unwrap();
    assert_eq!(outcomes, [Cas::Written { revision: 3 }]);
    let many: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("thread-{i}"),
                format!(r#"{{"many":{i}}}"#).into_bytes(),
            )
        })
        .collect();
    store.put_many(&many).await.unwrap();
    let revisions: Vec<(String, u64)> = scan_all(&store, 10)
        .await
        .into_iter()
        .map(|r| (r.key, r.revision))
        .collect();
    assert_eq!(
        revisions,
        [
            ("thread-0".to_owned(), 1),
            ("thread-1".to_owned(), 4),
            ("thread-2".to_owned(), 1)
        ]
    );
}

#[tokio::test]
async fn compare_and_swap_never_overwrites_a_newer_record() {
    let Some((store, _)) = fresh_store().await else {
        return;
    };
    store.put("a", "1".as_bytes()).await.unwrap();
    store.put("b", "1".as_bytes()).await.unwrap();
    store.put("b", "2".as_bytes()).await.unwrap();
    let outcomes = store
        .compare_and_swap(&[
            write("a", 1, "a-new"),   // current: written
            write("b", 1, "b-stale"), // b is at 2: conflict
            write("c", 0, "c-new"),   // absent: CAS never creates
            write("d", 3, "d-new"),   // absent: conflict
            write("a", 0, "a-again"), // revision 0 never exists
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Cas::Written { revision: 2 },
            Cas::Conflict,
            Cas::Conflict,
            Cas::Conflict,
            Cas::Conflict,
        ]
    );
    assert_eq!(store.get("a").await.unwrap().unwrap().payload, b"a-new");
    assert_eq!(store.get("b").await.unwrap().unwrap().payload, b"2");
    assert_eq!(store.get("b").await.unwrap().unwrap().revision, 2);
    assert_eq!(store.get("c").await.unwrap(), None);
    assert_eq!(store.get("d").await.unwrap(), None);
    // A conflicting write creates no index entry either.
    let keys: Vec<String> = scan_all(&store, 10)
        .await
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["a", "b"]);
    store.put("c", "c-new".as_bytes()).await.unwrap();

    // Two writes to one key in one batch apply in order: the second sees
    // the first's revision.
    let outcomes = store
        .compare_and_swap(&[
            write("c", 1, "c2"),
            write("c", 1, "stale"),
            write("c", 2, "c3"),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Cas::Written { revision: 2 },
            Cas::Conflict,
            Cas::Written { revision: 3 }
        ]
    );
    assert_eq!(store.get("c").await.unwrap().unwrap().payload, b"c3");
    assert_eq!(store.compare_and_swap(&[]).await.unwrap(), []);
}

/// Concurrent read-modify-write loops on one record: no increment is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compare_and_swap_loses_no_update() {
    let Some((store, _)) = fresh_store().await else {
        return;
    };
    let store = Arc::new(store);
    store.put("counter", "0".as_bytes()).await.unwrap();
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 40;
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                loop {
                    let record = store.get("counter").await.unwrap().unwrap();
                    let next = record.text().unwrap().parse::<u64>().unwrap() + 1;
                    let outcome = store
                        .compare_and_swap(&[write("counter", record.revision, &next.to_string())])
                        .await
                        .unwrap();
                    match outcome[..] {
                        [Cas::Written { revision }] => {
                            assert_eq!(revision, record.revision + 1);
                            break;
                        }
                        [Cas::Conflict] => conflicts += 1,
                        _ => panic!("{outcome:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let record = store.get("counter").await.unwrap().unwrap();
    assert_eq!(
        record.payload,
        (TASKS * INCREMENTS).to_string().into_bytes()
    );
    assert_eq!(record.revision, TASKS * INCREMENTS + 1);
    eprintln!("{conflicts} conflicts retried");
}

/// Keys come back in ascending byte order, including non-ASCII keys, and a
/// scan resumes strictly after any key, with any page size.
#[tokio::test]
async fn scan_is_in_byte_order_and_resumes_after_any_key() {
    let Some((store, _)) = fresh_store().await else {
        return;
    };
    let keys = [
        "b", "a", "ä", "Z", "a\u{0}", "日本", "", "aa", "é", "a b", "~", "\u{7f}", "😀", "a:b",
        "ｚ", "A", "0", "a*",
    ];
    let mut records: Vec<(String, Vec<u8>)> = keys
        .iter()
        .map(|k| (k.to_string(), format!("{{\"k\":{k:?}}}").into_bytes()))
        .collect();
    store.put_many(&records).await.unwrap();
    records.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let expected: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
    for page in [1, 2, 3, 7, 100] {
        let got = scan_all(&store, page).await;
        let got_keys: Vec<&str> = got.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(got_keys, expected, "page size {page}");
        for (record, (key, payload)) in got.iter().zip(&records) {
            assert_eq!((&record.key, &record.payload), (key, payload));
        }
    }
    // Strictly after any key, present or not.
    for (i, key) in expected.iter().enumerate() {
        let after = store.scan(Some(key), 100).await.unwrap();
        let after: Vec<&str> = after.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(after, &expected[i + 1..], "after {key:?}");
    }
    let after_absent = store.scan(Some("a\u{0}\u{0}"), 100).await.unwrap();
    assert_eq!(after_absent[0].key, "a b");
    assert_eq!(store.scan(None, 0).await.unwrap(), []);
    // An unbounded page is every record, not an error.
    assert_eq!(
        store.scan(None, usize::MAX).await.unwrap().len(),
        keys.len()
    );
    assert_eq!(store.scan(Some("😀😀"), 10).await.unwrap(), []);
}

/// A scan resumed after concurrent inserts sees the inserts past its cursor
/// and none before it: the order is stable across calls.
#[tokio::test]
async fn scan_cursor_is_stable_across_concurrent_writes() {
    let Some((store, _)) = fresh_store().await else {
        return;
    };
    let records: Vec<(String, Vec<u8>)> = (0..100)
        .map(|i| (format!("k{i:03}"), b"{}".to_vec()))
        .collect();
    store.put_many(&records).await.unwrap();
    let first = store.scan(None, 50).await.unwrap();
    let cursor = first.last().unwrap().key.clone();
    assert_eq!(cursor, "k049");
    store.put("k010x", "{}".as_bytes()).await.unwrap(); // before the cursor
    store.put("k049x", "{}".as_bytes()).await.unwrap(); // just after it
    store
        .put("k000", "{\"changed\":1}".as_bytes())
        .await
        .unwrap(); // rewritten before it
    let rest = store.scan(Some(&cursor), 1000).await.unwrap();
    let keys: Vec<&str> = rest.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), 51);
    assert_eq!(keys[0], "k049x");
    assert_eq!(keys[1], "k050");
    assert_eq!(*keys.last().unwrap(), "k099");
}

#[tokio::test]
async fn prefixes_are_isolated() {
    let Some((a, server)) = fresh_store().await else {
        return;
    };
    // Prefix `b` begins with prefix `a`'s name: still nothing shared.
    let b = RedisStore::connect(server.url(), &format!("{}_x", a.prefix()))
        .await
        .unwrap();
    a.put("k", "from-a".as_bytes()).await.unwrap();
    a.put("x:k", "from-a-nested".as_bytes()).await.unwrap();
    b.put("k", "from-b".as_bytes()).await.unwrap();
    assert_eq!(a.get("k").await.unwrap().unwrap().payload, b"from-a");
    assert_eq!(b.get("k").await.unwrap().unwrap().payload, b"from-b");
    assert_eq!(b.get("x:k").await.unwrap(), None);
    let a_keys: Vec<String> = scan_all(&a, 10).await.into_iter().map(|r| r.key).collect();
    let b_keys: Vec<String> = scan_all(&b, 10).await.into_iter().map(|r| r.key).collect();
    assert_eq!(a_keys, ["k", "x:k"]);
    assert_eq!(b_keys, ["k"]);
    // The documented layout: a hash per record and a sorted-set index.
    let hash = server.cli(&["HGETALL", &format!("{}:k", a.prefix())]);
    assert_eq!(
        hash.lines().collect::<Vec<_>>(),
        ["payload", "from-a", "revision", "1"]
    );
    assert_eq!(server.cli(&["TYPE", a.prefix()]).trim(), "zset");
}

#[tokio::test]
async fn invalid_prefixes_and_urls_are_clear_errors() {
    let Some(server) = redis() else {
        return;
    };
    for prefix in ["", "a:b", "x y", "a*", "9lives", "drop table", "{t}", "é"] {
        let error = RedisStore::connect(server.url(), prefix)
            .await
            .expect_err(prefix);
        assert_eq!((error.backend(), error.operation()), ("redis", "open"));
        let text = error.to_string();
        assert!(text.contains("invalid key prefix"), "{text}");
        assert!(text.contains(&format!("{prefix:?}")), "{text}");
    }
    for prefix in ["_", "Agent_State_2", "a9"] {
        let store = RedisStore::connect(server.url(), prefix)
            .await
            .expect(prefix);
        assert_eq!(store.prefix(), prefix);
    }
    for url in ["http://127.0.0.1:1/", "redis://127.0.0.1:1/", "not a url"] {
        let error = RedisStore::connect(url, "ok").await.expect_err(url);
        assert_eq!(error.operation(), "connect", "{url}: {error}");
        assert!(error
            .to_string()
            .starts_with("redis store: connect failed: "));
    }
    // The password of a URL never appears in an error.
    let error = RedisStore::connect("redis://user:hunter2@127.0.0.1:1/", "ok")
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        !format!("{error} {error:?}").contains("hunter2"),
        "{error:?}"
    );
}

/// A batch that touches a key holding another type fails before writing
/// anything, and the store reports the key.
#[tokio::test]
async fn a_foreign_key_fails_the_batch_before_any_write() {
    let Some((store, server)) = fresh_store().await else {
        return;
    };
    store.put("ok", "1".as_bytes()).await.unwrap();
    server.cli(&["SET", &format!("{}:foreign", store.prefix()), "not a hash"]);
    let error = store
        .compare_and_swap(&[write("ok", 1, "2"), write("foreign", 0, "x")])
        .await
        .expect_err("a string under the prefix");
    assert!(error.to_string().contains("foreign"), "{error}");
    assert_eq!(store.get("ok").await.unwrap().unwrap().payload, b"1");
    let error = store
        .put_many(&[("new".into(), "1".into()), ("foreign".into(), "x".into())])
        .await
        .expect_err("a string under the prefix");
    assert!(error.to_string().contains("holds a string"), "{error}");
    assert_eq!(store.get("new").await.unwrap(), None);
    let keys: Vec<String> = scan_all(&store, 10)
        .await
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["ok"]);
    // A hash missing the revision field is not taken for a record either.
    server.cli(&["HSET", &format!("{}:half", store.prefix()), "payload", "{}"]);
    let error = store.get("half").await.expect_err("no revision");
    assert!(
        error.to_string().contains("not written by this store"),
        "{error}"
    );
    let outcomes = store
        .compare_and_swap(&[write("half", 0, "x")])
        .await
        .unwrap();
    assert_eq!(outcomes, [Cas::Conflict]);
}

/// Records written behind the store's back are read by `get`, seen by `scan`
/// after `reindex`, and a deleted record's stale index entry is skipped
/// without shortening a page.
#[tokio::test]
async fn reindex_adopts_records_and_scan_skips_deleted_ones() {
    let Some((store, server)) = fresh_store().await else {
        return;
    };
    let prefix = store.prefix().to_owned();
    store
        .put_many(&[
            ("a".into(), "1".into()),
            ("b".into(), "1".into()),
            ("c".into(), "1".into()),
        ])
        .await
        .unwrap();
    server.cli(&[
        "HSET",
        &format!("{prefix}:imported"),
        "payload",
        "{}",
        "revision",
        "7",
    ]);
    assert_eq!(store.get("imported").await.unwrap().unwrap().revision, 7);
    let keys: Vec<String> = scan_all(&store, 10)
        .await
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(store.reindex().await.unwrap(), 1);
    assert_eq!(store.reindex().await.unwrap(), 0);
    server.cli(&["DEL", &format!("{prefix}:b")]);
    let page = store.scan(None, 3).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["a", "c", "imported"]);
    // The imported record takes part in compare-and-swap like any other.
    let outcomes = store
        .compare_and_swap(&[write("imported", 7, "{\"x\":1}")])
        .await
        .unwrap();
    assert_eq!(outcomes, [Cas::Written { revision: 8 }]);
}

/// A dropped connection fails the call that sees it, and the next call
/// connects again.
#[tokio::test]
async fn a_dropped_connection_is_an_error_then_reconnects() {
    // Its own server: killing clients must not disturb the other tests.
    let server = match Redis::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(why)) => panic!("{why}"),
    };
    let store = RedisStore::connect(server.url(), "dropped").await.unwrap();
    store.put("k", "1".as_bytes()).await.unwrap();
    server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    let mut errors = 0;
    let mut recovered = None;
    for _ in 0..3 {
        match store.get("k").await {
            Ok(record) => {
                recovered = record;
                break;
            }
            Err(error) => {
                assert_eq!(error.operation(), "get");
                errors += 1;
            }
        }
    }
    assert!(errors <= 1, "{errors} errors after one dropped connection");
    assert_eq!(recovered.map(|r| r.payload).as_deref(), Some(&b"1"[..]));
}

/// Big batches: `put_many` and `compare_and_swap` over more than one script
/// call's worth, with 1-KB payloads.
#[tokio::test]
async fn batches_larger_than_one_script_call() {
    let Some((store, _)) = fresh_store().await else {
        return;
    };
    let n = RedisStore::MAX_BATCH + 1234;
    let payload = "x".repeat(1000);
    let records: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("r{i:08}"),
                format!("{{\"i\":{i},\"pad\":\"{payload}\"}}").into_bytes(),
            )
        })
        .collect();
    store.put_many(&records).await.unwrap();
    let writes: Vec<CasWrite> = (0..n)
        .map(|i| write(&format!("r{i:08}"), if i % 1000 == 0 { 5 } else { 1 }, "{}"))
        .collect();
    let outcomes = store.compare_and_swap(&writes).await.unwrap();
    assert_eq!(outcomes.len(), n);
    let conflicts = outcomes.iter().filter(|o| **o == Cas::Conflict).count();
    assert_eq!(conflicts, n.div_ceil(1000));
    let mut seen = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.scan(after.as_deref(), 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        for record in page {
            seen.insert(record.key, (record.revision, record.payload.len()));
        }
    }
    assert_eq!(seen.len(), n);
    for (i, (key, (revision, len))) in seen.iter().enumerate() {
        assert_eq!(key, &format!("r{i:08}"));
        if i % 1000 == 0 {
            assert_eq!((*revision, *len > 1000), (1, true), "{key}");
        } else {
            assert_eq!((*revision, *len), (2, 2), "{key}");
        }
    }
}

/// The CLI on a prefix with no records: nothing to create, so it runs, but
/// warns that nothing was found under the prefix (a misspelled prefix).
#[tokio::test]
async fn cli_warns_when_the_prefix_holds_no_records() {
    let Some((store, server)) = fresh_store().await else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_store_child"))
        .args([
            "--store",
            server.url(),
            "--prefix",
            store.prefix(),
            "--progress",
            "events",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: no records found under the prefix `{}`",
            store.prefix()
        )),
        "{stderr}"
    );
    assert_eq!(server.cli(&["EXISTS", store.prefix()]).trim(), "0");
}

/// A record whose revision is not an integer the store can bump (text, or
/// at i64::MAX) fails the whole call before any write: Redis does not roll
/// a script back, so checking as it writes would leave the batch half
/// applied.
#[tokio::test]
async fn a_corrupt_revision_fails_the_batch_before_any_write() {
    let Some((store, server)) = fresh_store().await else {
        return;
    };
    let prefix = store.prefix().to_owned();
    store
        .put_many(&[
            ("a".into(), "1".into()),
            ("b".into(), "1".into()),
            ("c".into(), "1".into()),
        ])
        .await
        .unwrap();
    let snapshot = |store: RedisStore| async move { scan_all(&store, 10).await };

    // i64::MAX: equal to what the writer expects, so the CAS would write
    // the payload, then fail to bump the revision.
    let max = i64::MAX.to_string();
    server.cli(&["HSET", &format!("{prefix}:b"), "revision", &max]);
    let before = snapshot(store.clone()).await;
    let error = store
        .compare_and_swap(&[
            write("a", 1, "2"),
            write("b", i64::MAX as u64, "2"),
            write("c", 1, "2"),
        ])
        .await
        .expect_err("a revision that cannot be bumped");
    assert!(
        error.to_string().contains(&format!("{prefix}:b")),
        "{error}"
    );
    assert_eq!(
        snapshot(store.clone()).await,
        before,
        "the CAS half-applied"
    );
    let error = store
        .put_many(&[("a".into(), "3".into()), ("b".into(), "3".into())])
        .await
        .expect_err("a revision that cannot be bumped");
    assert!(error.to_string().contains("nothing was written"), "{error}");
    assert_eq!(
        snapshot(store.clone()).await,
        before,
        "put_many half-applied"
    );

    // Not a number at all.
    server.cli(&["HSET", &format!("{prefix}:b"), "revision", "12x"]);
    let error = store
        .put_many(&[
            ("a".into(), "4".into()),
            ("new".into(), "4".into()),
            ("b".into(), "4".into()),
        ])
        .await
        .expect_err("a revision that is not a number");
    assert!(error.to_string().contains("12x"), "{error}");
    assert_eq!(store.get("a").await.unwrap().unwrap().payload, b"1");
    assert_eq!(store.get("new").await.unwrap(), None);
    let error = store
        .put("b", "5".as_bytes())
        .await
        .expect_err("a revision that is not a number");
    assert!(error.to_string().contains("nothing was written"), "{error}");
    assert_eq!(
        server
            .cli(&["HGET", &format!("{prefix}:b"), "payload"])
            .trim(),
        "1"
    );
    let error = store
        .compare_and_swap(&[write("a", 1, "6"), write("b", 12, "6")])
        .await
        .expect_err("a revision that is not a number");
    assert!(error.to_string().contains("12x"), "{error}");
    assert_eq!(store.get("a").await.unwrap().unwrap().revision, 1);

    // Repaired, the same batch goes through.
    server.cli(&["HSET", &format!("{prefix}:b"), "revision", "1"]);
    let outcomes = store
        .compare_and_swap(&[write("a", 1, "7"), write("b", 1, "7")])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [Cas::Written { revision: 2 }, Cas::Written { revision: 2 }]
    );
}
