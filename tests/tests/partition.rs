//! `--partition I/N` on every backend, as separate processes (the ready
//! command line), on tables and keys made with plain SQL and `redis-cli`:
//!
//! - dry runs of the N parts together count every record exactly once;
//! - the N parts run at once while a writer keeps inserting: every record
//!   that existed is upgraded by exactly one part (its revision bumped once),
//!   none is missed, and each part's report accounts for what it saw;
//! - a part stopped by `--limit` resumes on its own from its printed hint,
//!   while the others run.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::Connection;
use schema_migrate::store::Partition;
use schema_migrate_tests::servers::postgres::Postgres;
use schema_migrate_tests::servers::redis::Redis;
use schema_migrate_tests::servers::redis_cluster::RedisCluster;
use schema_migrate_tests::servers::StartError;
use schema_migrate_tests::store::cli::{count, run, run_resuming};
use schema_migrate_tests::store::fixture::{checkpoint, key, mixed_version};

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");
const RECORDS: usize = 240;
const PARTS: u32 = 3;

/// Old records (at versions 1 to 3) among the first `RECORDS`.
fn old_records() -> u64 {
    (0..RECORDS).filter(|&i| mixed_version(i) < 4).count() as u64
}

fn spawn(args: &[String]) -> Child {
    Command::new(CHILD)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn with_partition(base: &[String], i: u32, extra: &[&str]) -> Vec<String> {
    let mut args = base.to_vec();
    args.push("--partition".into());
    args.push(format!("{i}/{PARTS}"));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Every check, on a store holding `RECORDS` records (a revision column or
/// field bumped by every write) that `insert(i)` adds to.
fn check_partitions(
    base: &[String],
    insert: impl Fn(usize) + Send + Sync + 'static,
    revisions: impl Fn() -> Vec<(String, u64, u64)>,
) {
    // 1. Dry runs: the parts' counts add up to every record, once.
    let mut scanned = 0;
    let mut would = 0;
    for i in 0..PARTS {
        let args = with_partition(base, i, &["--dry-run"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(CHILD, &args);
        assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
        scanned += count(&out.stdout, "scanned ");
        would += count(&out.stdout, "would upgrade ");
    }
    assert_eq!((scanned, would), (RECORDS as u64, old_records()));

    // 2. The parts at once, while a writer inserts current records; part 0
    // is stopped by --limit again and again and resumes on its own from the
    // hint it prints each time.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = RECORDS;
            while !stop.load(Ordering::Relaxed) && i < RECORDS + 200 {
                insert(i);
                i += 1;
            }
            i - RECORDS
        })
    };
    let children: Vec<Child> = (1..PARTS)
        .map(|i| spawn(&with_partition(base, i, &["--batch-size", "20"])))
        .collect();
    let first = with_partition(base, 0, &["--limit", "30", "--batch-size", "7"]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let resumed = run_resuming(CHILD, &first);
    assert!(resumed.runs > 1, "part 0 was stopped and resumed");
    let mut upgraded = resumed.upgraded;
    let mut scanned = resumed.scanned;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        upgraded += count(&stdout, "upgraded ");
        scanned += count(&stdout, "scanned ");
    }
    stop.store(true, Ordering::Relaxed);
    let inserted = writer.join().unwrap() as u64;
    assert_eq!(
        upgraded,
        old_records(),
        "every old record upgraded by one part"
    );
    assert!(
        (RECORDS as u64..=RECORDS as u64 + inserted).contains(&scanned),
        "scanned {scanned}: every record once, plus some of the {inserted} inserted"
    );
    // From outside: every record is current, and each old one was written
    // exactly once (its revision bumped by one).
    for (key, version, revision) in revisions() {
        assert_eq!(version, 4, "{key}");
        let i: usize = key.trim_start_matches("trip-").parse().unwrap();
        let expected = u64::from(i < RECORDS && mixed_version(i) < 4);
        assert_eq!(
            revision,
            1 + expected,
            "{key}: written {} times",
            revision.saturating_sub(1)
        );
    }
}

fn version_of(payload: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(payload).unwrap()["schema_version"]
        .as_u64()
        .unwrap()
}

#[test]
fn sqlite_parts_visit_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE trips (id TEXT PRIMARY KEY, state TEXT NOT NULL, rev INTEGER NOT NULL)")
        .unwrap();
    for i in 0..RECORDS {
        let (payload, _) = checkpoint(i, mixed_version(i), 1);
        conn.execute("INSERT INTO trips VALUES (?1, ?2, 1)", (key(i), payload))
            .unwrap();
    }
    drop(conn);
    let url = format!("sqlite:{}", path.display());
    let base: Vec<String> = [
        "--store",
        &url,
        "--table",
        "trips",
        "--key",
        "id",
        "--payload",
        "state",
        "--revision",
        "rev",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let insert_path = path.clone();
    let insert = move |i: usize| {
        let conn = Connection::open(&insert_path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        let (payload, _) = checkpoint(i, 4, 1);
        conn.execute("INSERT INTO trips VALUES (?1, ?2, 1)", (key(i), payload))
            .unwrap();
    };
    let revisions = move || {
        let conn = Connection::open(&path).unwrap();
        let mut stmt = conn.prepare("SELECT id, state, rev FROM trips").unwrap();
        stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .unwrap()
        .map(|r| {
            let (k, s, v) = r.unwrap();
            (k, version_of(&s), v as u64)
        })
        .collect()
    };
    check_partitions(&base, insert, revisions);
}

#[test]
fn postgres_parts_visit_every_record_once() {
    let server = match Postgres::start() {
        Ok(server) => Arc::new(server),
        Err(StartError::Missing) => return,
        Err(StartError::Failed(e)) => panic!("{e}"),
    };
    let mut sql = String::from(
        "CREATE TABLE trips (id text PRIMARY KEY, state jsonb NOT NULL, rev bigint NOT NULL);",
    );
    for i in 0..RECORDS {
        let (payload, _) = checkpoint(i, mixed_version(i), 1);
        sql.push_str(&format!(
            "INSERT INTO trips VALUES ('{}', $j${payload}$j$, 1);",
            key(i)
        ));
    }
    server.psql(&sql).unwrap();
    let base: Vec<String> = [
        "--store",
        server.url(),
        "--table",
        "trips",
        "--key",
        "id",
        "--payload",
        "state",
        "--revision",
        "rev",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let writer = Arc::clone(&server);
    let insert = move |i: usize| {
        let (payload, _) = checkpoint(i, 4, 1);
        writer
            .psql(&format!(
                "INSERT INTO trips VALUES ('{}', $j${payload}$j$, 1)",
                key(i)
            ))
            .unwrap();
    };
    let revisions = move || {
        server
            .psql("SELECT id, state->>'schema_version', rev FROM trips")
            .unwrap()
            .lines()
            .map(|l| {
                let mut parts = l.split('|');
                let mut next = || parts.next().unwrap().to_owned();
                (next(), next().parse().unwrap(), next().parse().unwrap())
            })
            .collect()
    };
    check_partitions(&base, insert, revisions);
}

/// Keys written by another program (`set`) under `url`: the parts split the
/// key listing. Redis keys have no revision field, so "written once" is
/// checked by the parts' upgraded counts adding up, and every key being
/// current afterwards (`get`).
fn check_redis_parts(url: &str, set: impl Fn(&str, &str), get: impl Fn(&str) -> String) {
    for i in 0..RECORDS {
        let (payload, _) = checkpoint(i, mixed_version(i), 1);
        set(&format!("session:{}", key(i)), &payload);
    }
    let base: Vec<String> = ["--store", url, "--match", "session:*"]
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut scanned = 0;
    let mut upgraded = 0;
    let children: Vec<Child> = (0..PARTS)
        .map(|i| spawn(&with_partition(&base, i, &[])))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        scanned += count(&stdout, "scanned ");
        upgraded += count(&stdout, "upgraded ");
    }
    assert_eq!((scanned, upgraded), (RECORDS as u64, old_records()));
    for i in 0..RECORDS {
        let payload = get(&format!("session:{}", key(i)));
        assert_eq!(version_of(payload.trim()), 4, "{}", key(i));
    }
}

/// Keys written by `redis-cli` on a single node.
#[test]
fn redis_parts_visit_every_key_once() {
    let server = match Redis::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(e)) => panic!("{e}"),
    };
    check_redis_parts(
        server.url(),
        |k, v| {
            server.cli(&["SET", k, v]);
        },
        |k| server.cli(&["GET", k]),
    );
}

#[test]
fn a_partition_is_a_hash_of_the_key_and_bad_ones_are_usage_errors() {
    let parts: Vec<Partition> = (0..4).map(|i| Partition::new(i, 4).unwrap()).collect();
    for k in ["a", "trip-000001", r#"["t","","c"]"#] {
        assert_eq!(parts.iter().filter(|p| p.contains(k)).count(), 1, "{k}");
    }
    assert_eq!("1/4".parse::<Partition>().unwrap(), parts[1]);
    for bad in ["4/4", "1/0", "x/2", "1", "-1/2"] {
        assert!(bad.parse::<Partition>().is_err(), "{bad}");
        let flag = format!("--partition={bad}");
        let out = run(CHILD, &["--store", "sqlite:nowhere.db", &flag]);
        assert_eq!(out.code, Some(2), "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("I/N"), "{}", out.stderr);
    }
}

/// A Redis Cluster of three masters, keys written by `redis-cli -c` on
/// every master: the parts split the listing of all masters' keys.
#[test]
fn redis_cluster_parts_visit_every_key_once() {
    let cluster = match RedisCluster::start() {
        Ok(cluster) => cluster,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(e)) => panic!("{e}"),
    };
    check_redis_parts(
        cluster.url(),
        |k, v| {
            cluster.cli(&["SET", k, v]);
        },
        |k| cluster.cli(&["GET", k]),
    );
}
