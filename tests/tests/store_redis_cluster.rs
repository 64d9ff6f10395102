//! The Redis Cluster store against a real local cluster of three masters
//! started by the test harness (one cluster per test binary, a fresh key
//! prefix or pattern per test; the test that kills connections has its own).
#![cfg(feature = "redis-cluster")]

use std::collections::BTreeSet;
use std::time::Duration;

use schema_migrate::store::redis_cluster::RedisClusterStore;
use schema_migrate::store::{open, open_layout, Cas, CasWrite, Layout, Migrator, RecordStore};
use schema_migrate_tests::servers::redis_cluster::{redis_cluster, RedisCluster, MASTERS};
use schema_migrate_tests::servers::{unique_name, StartError};
use schema_migrate_tests::store::crash::{crash_and_resume, crash_and_resume_layout};
use schema_migrate_tests::store::fixture::{checkpoint, mixed_version, TripState};
use schema_migrate_tests::store::{fill, read, scan_all};
use schema_migrate_tests::store_suite;

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");

/// A store on the shared cluster under a fresh prefix, or `None` when
/// Redis is not installed (reported loudly; a failure under `CI=true`).
async fn fresh_store() -> Option<(RedisClusterStore, &'static RedisCluster)> {
    let cluster = redis_cluster()?;
    let store = RedisClusterStore::connect(cluster.url(), &unique_name("t"))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", cluster.log()));
    Some((store, cluster))
}

/// A fresh store for the backend-generic suite.
async fn fresh() -> Option<RedisClusterStore> {
    fresh_store().await.map(|(store, _)| store)
}

store_suite!(fresh, bad_json: true);

/// `redis-cli -c ARGS...` on the cluster, without the final newline.
fn rcli(cluster: &RedisCluster, args: &[&str]) -> String {
    let out = cluster.cli(args);
    out.strip_suffix('\n').unwrap_or(&out).to_owned()
}

/// The masters serving `keys`, as indexes of the cluster's nodes.
fn masters(cluster: &RedisCluster, keys: impl IntoIterator<Item = String>) -> BTreeSet<usize> {
    keys.into_iter().map(|k| cluster.master_of(&k)).collect()
}

/// The harness itself: three masters that agree on their slots, each
/// answering; dropping the handle stops every node.
#[test]
fn harness_starts_and_stops_a_cluster_of_three_masters() {
    let cluster = match RedisCluster::start() {
        Ok(cluster) => cluster,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(why)) => panic!("{why}"),
    };
    assert_eq!(cluster.nodes().len(), MASTERS);
    let info = cluster.cli(&["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_size:3"), "{info}");
    let ports: Vec<u16> = cluster.nodes().iter().map(|n| n.port()).collect();
    drop(cluster);
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "a node still listens on {port} after drop"
        );
    }
}

/// The crash test of every backend: the batch migrator as a child process
/// over 50k records on the cluster, SIGKILLed half way, then rerun.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_half_way_loses_nothing() {
    let Some(cluster) = redis_cluster() else {
        return;
    };
    let outcome = crash_and_resume(CHILD, cluster.url(), &unique_name("crash")).await;
    eprintln!("redis cluster crash test: {outcome:?}");
}

/// The own layout spreads over every master: one hash `p:k` per record,
/// on its key's slot, and a scan visits the records of all three masters
/// once each, in byte order, resuming after any key.
#[tokio::test]
async fn own_layout_is_spread_over_every_master_and_scanned_in_order() {
    let Some((store, cluster)) = fresh_store().await else {
        return;
    };
    let prefix = store.prefix().to_owned();
    let names: Vec<String> = (0..60).map(|i| format!("k{i:02}")).collect();
    let records: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.clone(), format!("{{\"n\":\"{n}\"}}").into_bytes()))
        .collect();
    store.put_many(&records).await.unwrap();
    let spread = masters(cluster, names.iter().map(|n| format!("{prefix}:{n}")));
    assert_eq!(
        spread.len(),
        MASTERS,
        "60 keys on fewer masters: {spread:?}"
    );
    assert_eq!(
        rcli(cluster, &["HGETALL", &format!("{prefix}:k07")]),
        "payload\n{\"n\":\"k07\"}\nrevision\n1"
    );
    for page in [1, 7, 60, 1000] {
        let keys: Vec<String> = scan_all(&store, page)
            .await
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys, names, "page {page}");
    }
    let after: Vec<String> = store
        .scan(Some("k3"), 3)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(after, ["k30", "k31", "k32"]);
    // Another prefix's records are not this store's.
    let other = RedisClusterStore::connect(cluster.url(), &format!("{prefix}_x"))
        .await
        .unwrap();
    other.put("k00", b"other").await.unwrap();
    assert_eq!(scan_all(&store, 100).await.len(), 60);
    assert_eq!(
        store.get("k00").await.unwrap().unwrap().payload,
        b"{\"n\":\"k00\"}"
    );
}

/// Keys that `redis-cli -c` wrote on all three masters (string values,
/// one with a TTL), migrated by the library: every key upgraded, the TTL
/// kept, keys outside the pattern never read; a key another writer changed
/// after the read is a conflict and keeps the other writer's value.
#[tokio::test]
async fn keys_written_by_redis_cli_on_every_master_migrated_by_the_library() {
    let Some(cluster) = redis_cluster() else {
        return;
    };
    let tag = unique_name("lib");
    let names: Vec<String> = (0..30).map(|i| format!("{tag}:session:{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        rcli(
            cluster,
            &["SET", name, &checkpoint(i, mixed_version(i), 1).0],
        );
    }
    assert_eq!(masters(cluster, names.iter().cloned()).len(), MASTERS);
    rcli(cluster, &["EXPIRE", &names[3], "100000"]);
    let outside = format!("{tag}:other");
    rcli(
        cluster,
        &[
            "SET",
            &outside,
            r#"{"schema_version":1,"destination":"Nowhere"}"#,
        ],
    );

    let layout = Layout::redis_keys(format!("{tag}:session:*"));
    let store = open_layout(cluster.url(), &layout).await.unwrap();
    assert_eq!(store.backend(), "redis-cluster");
    assert!(!store.counts_writes());

    // A concurrent writer changes session:05 between the read and the write.
    let read = store.get(&names[5]).await.unwrap().unwrap();
    rcli(cluster, &["SET", &names[5], &checkpoint(500, 4, 1).0]);
    let outcome = store
        .compare_and_swap(&[CasWrite {
            key: names[5].clone(),
            expected: read.revision,
            read: read.payload.clone(),
            payload: b"{\"stale\":true}".to_vec(),
        }])
        .await
        .unwrap();
    assert_eq!(outcome, [Cas::Conflict]);
    assert_eq!(rcli(cluster, &["GET", &names[5]]), checkpoint(500, 4, 1).0);

    let report = Migrator::<TripState>::new()
        .batch_size(7)
        .run(&store)
        .await
        .unwrap();
    assert!(report.finished);
    assert_eq!(report.scanned, 30);
    for (i, name) in names.iter().enumerate() {
        let value = rcli(cluster, &["GET", name]);
        let stored = schema_migrate::json::from_str::<TripState>(&value).unwrap();
        let want = if i == 5 {
            checkpoint(500, 4, 1).1
        } else {
            checkpoint(i, mixed_version(i), 1).1
        };
        assert_eq!((stored.version, stored.value), (4, want), "{name}");
    }
    let ttl: i64 = rcli(cluster, &["TTL", &names[3]]).parse().unwrap();
    assert!(ttl > 90_000, "the TTL was dropped: {ttl}");
    assert_eq!(rcli(cluster, &["TTL", &names[4]]), "-1");
    assert_eq!(
        rcli(cluster, &["GET", &outside]),
        r#"{"schema_version":1,"destination":"Nowhere"}"#
    );
}

/// The same by the ready command line on hash fields: `--store
/// redis+cluster://...` with `--match` and `--hash-field`, in small batches
/// resumed from the printed hint; other fields of each hash and a hash
/// without the field are left as they were.
#[test]
fn hash_fields_on_every_master_migrated_by_the_cli() {
    let Some(cluster) = redis_cluster() else {
        return;
    };
    let tag = unique_name("cli");
    let names: Vec<String> = (0..24).map(|i| format!("{tag}:user:{i:02}")).collect();
    let mut old = 0;
    for (i, name) in names.iter().enumerate() {
        old += u64::from(mixed_version(i) < 4);
        rcli(
            cluster,
            &[
                "HSET",
                name,
                "state",
                &checkpoint(i, mixed_version(i), 1).0,
                "name",
                "bob",
            ],
        );
    }
    assert_eq!(masters(cluster, names.iter().cloned()).len(), MASTERS);
    rcli(cluster, &["EXPIRE", &names[1], "100000"]);
    let bare = format!("{tag}:user:zz");
    rcli(cluster, &["HSET", &bare, "name", "ann"]);
    let pattern = format!("{tag}:user:*");
    let args = [
        "--store",
        cluster.url(),
        "--match",
        &pattern,
        "--hash-field",
        "state",
        "--batch-size",
        "5",
        "--limit",
        "10",
    ];
    let resumed = schema_migrate_tests::store::cli::run_resuming(CHILD, &args);
    assert!(
        resumed
            .last
            .contains(&format!("{bare}: the hash has no field `state`")),
        "{resumed:?}"
    );
    assert_eq!(
        (resumed.scanned, resumed.upgraded, resumed.failed),
        (25, old, 1),
        "each key visited once: {resumed:?}"
    );
    for (i, name) in names.iter().enumerate() {
        let state = rcli(cluster, &["HGET", name, "state"]);
        let stored = schema_migrate::json::from_str::<TripState>(&state).unwrap();
        assert_eq!(
            (stored.version, stored.value),
            (4, checkpoint(i, mixed_version(i), 1).1),
            "{name}"
        );
        assert_eq!(rcli(cluster, &["HGET", name, "name"]), "bob");
    }
    let ttl: i64 = rcli(cluster, &["TTL", &names[1]]).parse().unwrap();
    assert!(ttl > 90_000, "the TTL was dropped: {ttl}");
    assert_eq!(rcli(cluster, &["HGETALL", &bare]), "name\nann");
}

/// Plain keys on the cluster: SIGKILL half way and a resume lose nothing.
/// The fixture writes `trip-NNNNNN` keys, so this is the only test of the
/// shared cluster with keys outside a test's own prefix (a cluster has only
/// database 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_keys_crash_half_way_loses_nothing() {
    let Some(cluster) = redis_cluster() else {
        return;
    };
    let layout = Layout::redis_keys("trip-*");
    let outcome =
        crash_and_resume_layout(CHILD, cluster.url(), &layout, &["--match", "trip-*"]).await;
    eprintln!("redis cluster crash test on plain keys: {outcome:?}");
}

/// Bad URLs and prefixes are usage errors that never echo a password; a
/// cluster that does not answer is a connect error.
#[tokio::test]
async fn invalid_urls_and_prefixes_are_clear_errors() {
    let Some(cluster) = redis_cluster() else {
        return;
    };
    for prefix in ["", "a:b", "a*", "{t}"] {
        let error = RedisClusterStore::connect(cluster.url(), prefix)
            .await
            .expect_err(prefix);
        assert!(error.is_usage(), "{error}");
        assert!(error.to_string().contains("invalid key prefix"), "{error}");
    }
    for url in [
        "redis+cluster://u:hunter2@127.0.0.1",
        "redis+cluster://u:hunter2@127.0.0.1:1/2",
    ] {
        let error = open(url, "ok").await.expect_err(url);
        assert!(error.is_usage(), "{url}: {error}");
        assert!(
            !format!("{error} {error:?}").contains("hunter2"),
            "{error:?}"
        );
    }
    let error = open("redis+cluster://u:hunter2@127.0.0.1:1", "ok")
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(error.operation(), "connect", "{error}");
    assert!(
        !format!("{error} {error:?}").contains("hunter2"),
        "{error:?}"
    );
}

/// Killing the store's connections to one master (`CLIENT KILL`) again and
/// again during a batch migration: the client reconnects, at most the call
/// that saw a dead connection fails, and a resumed run finishes with every
/// record upgraded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_mid_run_are_survived() {
    // Its own cluster: killing clients must not disturb the other tests.
    let cluster = match RedisCluster::start() {
        Ok(cluster) => cluster,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(why)) => panic!("{why}"),
    };
    let store = RedisClusterStore::connect(cluster.url(), "killed")
        .await
        .unwrap();
    let n = 3000;
    let expected = fill(&store, n, 1, |i| [1, 2, 3][i % 3]).await;
    let killer_port = cluster.nodes()[1].port();
    let killer = std::thread::spawn(move || {
        let mut killed = 0;
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(15));
            let out = std::process::Command::new("redis-cli")
                .args([
                    "-p",
                    &killer_port.to_string(),
                    "CLIENT",
                    "KILL",
                    "TYPE",
                    "normal",
                ])
                .output()
                .expect("redis-cli");
            killed += String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<u64>()
                .unwrap_or(0);
        }
        killed
    });
    let mut errors = 0;
    let mut after: Option<String> = None;
    let mut upgraded = 0;
    loop {
        let mut migrator = Migrator::<TripState>::new().batch_size(50);
        if let Some(after) = &after {
            migrator = migrator.resume_from(after.clone());
        }
        match migrator.run(&store).await {
            Ok(report) => {
                upgraded += report.upgraded;
                break;
            }
            Err(error) => {
                errors += 1;
                assert!(errors <= 20, "too many failed runs: {error}");
                upgraded += error.report.upgraded;
                if let Some(last) = error.report.last_key.clone() {
                    after = Some(last);
                }
            }
        }
    }
    let killed = killer.join().unwrap();
    assert!(killed > 0, "no connection was killed");
    eprintln!("{killed} connections killed, {errors} runs stopped and resumed");
    // A run that stopped may have written part of its last batch, which
    // the resumed run finds current: its report counts at most every record.
    assert!(upgraded <= n as u64, "{upgraded} upgrades of {n} records");
    let all = scan_all(&store, 500).await;
    assert_eq!(all.len(), n);
    for record in all {
        let (value, version) = read(&record);
        assert_eq!(
            (version, &value),
            (4, &expected[&record.key]),
            "{}",
            record.key
        );
        assert_eq!(record.revision, 2, "{} written more than once", record.key);
    }
}
