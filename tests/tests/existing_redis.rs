//! Redis keys that another program wrote with `redis-cli`: string values
//! and hash fields matched by a pattern, migrated in place and checked
//! with `redis-cli` afterwards.
#![cfg(feature = "redis")]

use schema_migrate::store::redis::RedisStore;
use schema_migrate::store::{Layout, RecordStore};
use schema_migrate_tests::servers::redis::{redis, Redis};
use schema_migrate_tests::store::crash::crash_and_resume_layout;
use schema_migrate_tests::store::fixture::{checkpoint, mixed_version, TripState};

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = schema_migrate_tests::store::cli::run(CHILD, args);
    (out.code, out.stdout, out.stderr)
}

/// `redis-cli -n DB ARGS...`, its output without the final newline.
fn rcli(server: &Redis, db: u8, args: &[&str]) -> String {
    let db = db.to_string();
    let mut all = vec!["-n", db.as_str()];
    all.extend_from_slice(args);
    let out = server.cli(&all);
    out.strip_suffix('\n').unwrap_or(&out).to_owned()
}

fn db_url(server: &Redis, db: u8) -> String {
    format!("redis://127.0.0.1:{}/{db}", server.port())
}

/// `session:*` string keys: every session upgraded (the tag first), TTLs
/// kept, a field the stored version does not model carried, keys of
/// another type and future versions reported and untouched, keys outside
/// the pattern never read.
#[test]
fn string_keys_matching_a_pattern() {
    let Some(server) = redis() else { return };
    let db = 7;
    for i in 0..25 {
        let (payload, _) = checkpoint(i, mixed_version(i), 1);
        rcli(server, db, &["SET", &format!("session:{i:02}"), &payload]);
    }
    rcli(server, db, &["EXPIRE", "session:03", "100000"]);
    rcli(
        server,
        db,
        &[
            "SET",
            "session:carry",
            r#"{"schema_version":2,"destination":"Oslo","travelers":3,"x-client":"ios"}"#,
        ],
    );
    rcli(
        server,
        db,
        &["SET", "session:future", r#"{"schema_version":7}"#],
    );
    rcli(server, db, &["RPUSH", "session:list", "a"]);
    rcli(
        server,
        db,
        &[
            "SET",
            "other:1",
            r#"{"schema_version":1,"destination":"Nowhere"}"#,
        ],
    );
    let url = db_url(server, db);

    let (code, stdout, stderr) =
        cli(&["--store", &url, "--match", "session:*", "--batch-size", "4"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("scanned          28"), "{stdout}");
    assert!(stdout.contains("carried fields   1"), "{stdout}");
    assert!(
        stdout.contains("session:list: the key holds a list, not a string"),
        "{stdout}"
    );
    assert!(
        stdout.contains("session:future: TripState: stored at version 7"),
        "{stdout}"
    );

    for i in 0..25 {
        let value = rcli(server, db, &["GET", &format!("session:{i:02}")]);
        let stored = schema_migrate::json::from_str::<TripState>(&value).unwrap();
        assert_eq!(
            (stored.version, stored.value),
            (4, checkpoint(i, mixed_version(i), 1).1)
        );
    }
    let ttl: i64 = rcli(server, db, &["TTL", "session:03"]).parse().unwrap();
    assert!(ttl > 90_000, "the TTL was dropped: {ttl}");
    assert_eq!(rcli(server, db, &["TTL", "session:04"]), "-1");
    let carried = rcli(server, db, &["GET", "session:carry"]);
    assert!(
        carried.starts_with(r#"{"schema_version":4,"destination_city":"Oslo""#),
        "{carried}"
    );
    assert!(carried.ends_with(r#","x-client":"ios"}"#), "{carried}");
    assert_eq!(
        rcli(server, db, &["GET", "session:future"]),
        r#"{"schema_version":7}"#
    );
    assert_eq!(
        rcli(server, db, &["GET", "other:1"]),
        r#"{"schema_version":1,"destination":"Nowhere"}"#
    );
}

/// `--hash-field`: the payload is one field of each hash; the hash's other
/// fields stay, a hash without the field is a failed record. Keys with
/// spaces, quotes and newlines resume from the printed hint.
#[test]
fn hash_fields_and_the_resume_hint() {
    let Some(server) = redis() else { return };
    let db = 8;
    let names = [
        "user:plain",
        "user:with space",
        "user:it's \"q\"",
        "user:new\nline",
        "user:$(x)",
    ];
    let mut old = 0;
    for (n, name) in names.iter().enumerate() {
        for i in 0..3 {
            let key = format!("{name}-{i}");
            let version = mixed_version(n * 3 + i);
            old += usize::from(version < 4);
            let (payload, _) = checkpoint(n * 3 + i, version, 1);
            rcli(
                server,
                db,
                &["HSET", &key, "state", &payload, "name", "bob"],
            );
        }
    }
    rcli(server, db, &["HSET", "user:zz-nostate", "name", "ann"]);
    let url = db_url(server, db);
    let args = [
        "--store",
        &url,
        "--match",
        "user:*",
        "--hash-field",
        "state",
        "--batch-size",
        "2",
        "--limit",
        "4",
    ];
    let resumed = schema_migrate_tests::store::cli::run_resuming(CHILD, &args);
    assert!(
        resumed
            .last
            .contains("user:zz-nostate: the hash has no field `state`"),
        "{resumed:?}"
    );
    let (scanned, upgraded, failed) = (resumed.scanned, resumed.upgraded as usize, resumed.failed);
    assert_eq!(
        (scanned, upgraded, failed),
        (16, old, 1),
        "each key visited once"
    );
    for (n, name) in names.iter().enumerate() {
        for i in 0..3 {
            let key = format!("{name}-{i}");
            let state = rcli(server, db, &["HGET", &key, "state"]);
            let stored = schema_migrate::json::from_str::<TripState>(&state).unwrap();
            assert_eq!(
                (stored.version, stored.value),
                (4, checkpoint(n * 3 + i, mixed_version(n * 3 + i), 1).1)
            );
            assert_eq!(rcli(server, db, &["HGET", &key, "name"]), "bob");
        }
    }
    assert_eq!(
        rcli(server, db, &["HGETALL", "user:zz-nostate"]),
        "name\nann"
    );
}

/// Plain keys have no revision: SIGKILL half way and a resume lose nothing,
/// and a concurrent writer's updates survive (the script compares the
/// value read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_keys_crash_and_concurrent_writer() {
    let Some(server) = redis() else { return };
    let layout = Layout::redis_keys("trip-*");
    let outcome =
        crash_and_resume_layout(CHILD, &db_url(server, 9), &layout, &["--match", "trip-*"]).await;
    eprintln!("redis crash test on plain keys: {outcome:?}");

    let store = RedisStore::connect_layout(&db_url(server, 10), &layout)
        .await
        .unwrap();
    assert!(!store.counts_writes());
    schema_migrate_tests::store::concurrent_writer_keeps_every_update(store).await;
}

/// The generic checks that hold on any layout, on plain keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_suite_on_plain_keys() {
    use schema_migrate_tests::store as suite;
    let Some(server) = redis() else { return };
    for check in 0..suite::LAYOUT_CHECKS {
        // Each check on a database of its own, so every key is its record.
        let url = db_url(server, 11 + check as u8);
        let store = RedisStore::connect_layout(&url, &Layout::redis_keys("*"))
            .await
            .unwrap();
        suite::layout_check(check, &store).await;
    }
}

/// Settings that belong to a table are usage errors on Redis.
#[test]
fn table_settings_on_redis_are_usage_errors() {
    let Some(server) = redis() else { return };
    for (args, needle) in [
        (
            &["--match", "s:*", "--key", "id"][..],
            "--match names Redis keys",
        ),
        (&["--hash-field", "state"], "--hash-field goes with --match"),
        (
            &["--match", "s:*", "--revision", "rev"],
            "Redis keys written by another program have none",
        ),
        (
            &["--table", "t", "--key", "id", "--payload", "p"],
            "Redis keys are chosen with --match",
        ),
    ] {
        let mut all = vec!["--store", server.url()];
        all.extend_from_slice(args);
        let (code, stdout, stderr) = cli(&all);
        assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
