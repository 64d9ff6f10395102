//! The PostgreSQL store against a real server started by the test harness
//! (one server for this test binary, a fresh table per test): the
//! backend-generic suite, the SIGKILL crash test, and checks of what is
//! particular to PostgreSQL (JSONB, the "C" collation, one statement per
//! batch, two connections racing).
#![cfg(feature = "postgres")]

use schema_migrate::store::postgres::PostgresStore;
use schema_migrate::store::{Cas, CasWrite, RecordStore};
use schema_migrate_tests::servers::postgres::{postgres, Postgres};
use schema_migrate_tests::servers::StartError;
use schema_migrate_tests::servers::{self, unique_name};
use schema_migrate_tests::store::crash::crash_and_resume;
use schema_migrate_tests::store_suite;

/// A store on a fresh table of the shared server, for the generic suite.
async fn fresh_store() -> Option<PostgresStore> {
    fresh().await.map(|(_, store)| store)
}

// JSONB refuses a payload that is not JSON, so the suite's bad-JSON record
// cannot be stored (that refusal is checked below).
store_suite!(fresh_store, bad_json: false);

/// The batch migrator as a child process over 50k records, SIGKILLed half
/// way, then rerun: nothing lost, nothing half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_half_way_loses_nothing() {
    let Some(server) = postgres() else {
        return;
    };
    let outcome = crash_and_resume(
        env!("CARGO_BIN_EXE_store_child"),
        server.url(),
        &unique_name("crash"),
    )
    .await;
    eprintln!("postgres crash test: {outcome:?}");
}

/// The shared server and a store on a fresh table, or `None` when
/// PostgreSQL is not installed (reported loudly; a failure under CI).
async fn fresh() -> Option<(&'static Postgres, PostgresStore)> {
    let server = postgres()?;
    let table = unique_name("t");
    let store = PostgresStore::connect(server.url(), &table)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", server.url(), server.log()));
    Some((server, store))
}

fn write(key: &str, expected: u64, payload: &str) -> CasWrite {
    CasWrite {
        key: key.to_owned(),
        expected,
        read: Vec::new(),
        payload: payload.into(),
    }
}

/// The harness itself: a server starts, answers queries, and dropping the
/// handle stops it and removes its directory.
#[test]
fn harness_starts_and_stops_a_server() {
    let server = match Postgres::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(why)) => panic!("{why}"),
    };
    assert_eq!(server.psql("SELECT 40 + 2").as_deref(), Ok("42"));
    let port = server.port();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port} after drop"
    );
    let leftover = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!("schema-migrate-pg_{}_", std::process::id())))
        .count();
    // The shared server of this binary may be running in its own dir.
    assert!(leftover <= 1, "{leftover} server dirs left");
}

#[tokio::test]
async fn revisions_count_every_write_and_cas_never_overwrites_a_newer_record() {
    let Some((_, store)) = fresh().await else {
        return;
    };
    assert_eq!(store.get("k").await.unwrap(), None);
    assert_eq!(store.put("k", r#"{"n":1}"#.as_bytes()).await.unwrap(), 1);
    assert_eq!(store.put("k", r#"{"n":2}"#.as_bytes()).await.unwrap(), 2);
    let record = store.get("k").await.unwrap().unwrap();
    assert_eq!((record.key.as_str(), record.revision), ("k", 2));
    assert_eq!(record.payload, br#"{"n": 2}"#, "JSONB's normalized text");

    let outcomes = store
        .compare_and_swap(&[write("k", 2, r#"{"n":3}"#)])
        .await
        .unwrap();
    assert_eq!(outcomes, [Cas::Written { revision: 3 }]);
    // A writer that read revision 2 is too late now.
    let outcomes = store
        .compare_and_swap(&[write("k", 2, r#"{"stale":true}"#)])
        .await
        .unwrap();
    assert_eq!(outcomes, [Cas::Conflict]);
    let record = store.get("k").await.unwrap().unwrap();
    assert_eq!(
        (record.text().unwrap(), record.revision),
        (r#"{"n": 3}"#, 3)
    );

    // A batch: outcomes in order, a missing record and an impossible
    // revision are conflicts, the rest are written.
    store.put("other", "1".as_bytes()).await.unwrap();
    let outcomes = store
        .compare_and_swap(&[
            write("missing", 1, "0"),
            write("k", 3, r#"{"n":4}"#),
            write("other", u64::MAX, "0"),
            write("other", 1, "2"),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Cas::Conflict,
            Cas::Written { revision: 4 },
            Cas::Conflict,
            Cas::Written { revision: 2 },
        ]
    );
    assert_eq!(
        store.get("missing").await.unwrap(),
        None,
        "CAS never creates"
    );
    assert_eq!(store.get("other").await.unwrap().unwrap().payload, b"2");

    // A key named twice: applied in order, the second sees the first.
    let outcomes = store
        .compare_and_swap(&[
            write("k", 4, r#"{"n":5}"#),
            write("k", 4, r#"{"lost":true}"#),
            write("k", 5, r#"{"n":6}"#),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Cas::Written { revision: 5 },
            Cas::Conflict,
            Cas::Written { revision: 6 },
        ]
    );
    assert_eq!(
        store.get("k").await.unwrap().unwrap().text().unwrap(),
        r#"{"n": 6}"#
    );
    assert_eq!(store.compare_and_swap(&[]).await.unwrap(), []);
}

#[tokio::test]
async fn put_many_writes_all_and_counts_repeated_keys() {
    let Some((_, store)) = fresh().await else {
        return;
    };
    store.put("a", "0".as_bytes()).await.unwrap();
    let records: Vec<(String, Vec<u8>)> = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "[]")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    store.put_many(&records).await.unwrap();
    store.put_many(&[]).await.unwrap();
    let all = store.scan(None, 10).await.unwrap();
    let seen: Vec<(&str, &str, u64)> = all
        .iter()
        .map(|r| (r.key.as_str(), r.text().unwrap(), r.revision))
        .collect();
    // As if put one by one: "a" written three times in all, the last wins.
    assert_eq!(seen, [("a", "3", 3), ("b", "2", 1), ("c", "[]", 1)]);
}

#[tokio::test]
async fn scan_orders_keys_by_bytes_and_resumes_after_any_key() {
    let Some((_, store)) = fresh().await else {
        return;
    };
    let mut keys: Vec<String> = [
        "a",
        "B",
        "b",
        "Z",
        "é",
        "e",
        "z",
        "ü",
        "\u{1F600}",
        "a\u{7f}",
        "ab",
        "a b",
        "",
        "日本",
        "10",
        "9",
        "_",
        "~",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    let records: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i.to_string().into_bytes()))
        .collect();
    store.put_many(&records).await.unwrap();
    keys.sort(); // Rust orders strings by their UTF-8 bytes.

    let all: Vec<String> = store
        .scan(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(all, keys);

    // Pages of 4, each resuming strictly after the last key of the one before.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.scan(after.as_deref(), 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        paged.extend(page.into_iter().map(|r| r.key));
    }
    assert_eq!(paged, keys);

    // Resuming after a key that is not stored starts at the next one (0x7F
    // sorts after 'b').
    let next = store.scan(Some("aa"), 3).await.unwrap();
    assert_eq!(
        next.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["ab", "a\u{7f}", "b"]
    );
    assert!(store.scan(Some("\u{10FFFF}"), 5).await.unwrap().is_empty());
    assert!(store.scan(None, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn payloads_stay_queryable_as_jsonb_and_read_back_through_the_derive() {
    use schema_migrate_tests::travel::TripState;
    let Some((server, store)) = fresh().await else {
        return;
    };
    store
        .put(
            "v1",
            r#"{"schema_version":1,"destination":"Lisbon"}"#.as_bytes(),
        )
        .await
        .unwrap();
    store
        .put(
            "v4",
            br#"{"schema_version":4,"destination_city":"Oslo","travelers":{"adults":2,"children":1}}"#,
        )
        .await
        .unwrap();
    let versions = server
        .psql(&format!(
            "SELECT key || '=' || (payload->>'schema_version') FROM \"{}\" ORDER BY key",
            store.table()
        ))
        .unwrap();
    assert_eq!(versions, "v1=1\nv4=4");

    // JSONB moves the tag away from the front; the derive finds it anyway.
    let stored = store
        .get("v4")
        .await
        .unwrap()
        .unwrap()
        .text()
        .unwrap()
        .to_owned();
    assert!(!stored.starts_with(r#"{"schema_version""#), "{stored}");
    let read = schema_migrate::json::from_str::<TripState>(&stored).unwrap();
    assert_eq!(
        (read.value.destination_city.as_str(), read.version),
        ("Oslo", 4)
    );
    let old = store
        .get("v1")
        .await
        .unwrap()
        .unwrap()
        .text()
        .unwrap()
        .to_owned();
    let read = schema_migrate::json::from_str::<TripState>(&old).unwrap();
    assert!(read.was_upgraded());
    assert_eq!(read.value.travelers.adults, 1);
}

#[tokio::test]
async fn invalid_json_is_refused_with_the_servers_message_and_nothing_of_its_batch_lands() {
    let Some((_, store)) = fresh().await else {
        return;
    };
    let error = store.put("k", "{not json".as_bytes()).await.unwrap_err();
    let text = error.to_string();
    assert_eq!((error.backend(), error.operation()), ("postgres", "put"));
    assert!(
        text.contains("invalid input syntax for type json"),
        "{text}"
    );
    assert_eq!(store.get("k").await.unwrap(), None);

    // JSON that PostgreSQL text cannot hold.
    let text = store
        .put("k", r#""\u0000""#.as_bytes())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("unsupported Unicode escape sequence"),
        "{text}"
    );

    store.put("k", "1".as_bytes()).await.unwrap();
    let batch = [
        ("a".to_owned(), b"1".to_vec()),
        ("k".to_owned(), b"2".to_vec()),
        ("b".to_owned(), b"[1,".to_vec()),
    ];
    let text = store.put_many(&batch).await.unwrap_err().to_string();
    assert!(text.contains("put_many failed"), "{text}");
    let left: Vec<_> = store.scan(None, 10).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!((left[0].text().unwrap(), left[0].revision), ("1", 1));

    let text = store
        .compare_and_swap(&[write("k", 1, "3"), write("k", 2, "nope")])
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("compare_and_swap failed"), "{text}");
    let record = store.get("k").await.unwrap().unwrap();
    assert_eq!((record.text().unwrap(), record.revision), ("1", 1));
}

#[tokio::test]
async fn table_names_are_validated_before_connecting_and_kept_apart() {
    for bad in [
        "",
        "1t",
        "t; DROP TABLE users",
        "t\"",
        "a.b",
        "naïve",
        "t-1",
    ] {
        // The URL is never reached: the name is refused first.
        let error = PostgresStore::connect("postgres://nobody@127.0.0.1:1/none", bad)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid table name"), "{bad:?}: {error}");
    }
    let long = "t".repeat(64);
    let error = PostgresStore::connect("postgres://nobody@127.0.0.1:1/none", &long)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("at most 63"), "{error}");

    let Some(server) = postgres() else {
        return;
    };
    // Case is kept: two names differing in case are two tables.
    let name = unique_name("Case");
    let upper = PostgresStore::connect(server.url(), &name).await.unwrap();
    let lower = PostgresStore::connect(server.url(), &name.to_lowercase())
        .await
        .unwrap();
    upper.put("k", "1".as_bytes()).await.unwrap();
    assert_eq!(lower.get("k").await.unwrap(), None);
    // Connecting again to an existing table keeps its records.
    let again = PostgresStore::connect(server.url(), &name).await.unwrap();
    assert_eq!(again.get("k").await.unwrap().unwrap().payload, b"1");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_connect_error() {
    let port = servers::free_port().unwrap();
    let error = PostgresStore::connect(&format!("postgres://nobody@127.0.0.1:{port}/db"), "t")
        .await
        .unwrap_err();
    assert_eq!(error.operation(), "connect");
    assert!(
        error.to_string().contains("postgres store: connect failed"),
        "{error}"
    );
    let error = PostgresStore::connect("not a url at all=", "t")
        .await
        .unwrap_err();
    assert_eq!(error.operation(), "connect", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_on_two_connections_never_both_win() {
    let Some((server, store)) = fresh().await else {
        return;
    };
    let other = PostgresStore::connect(server.url(), store.table())
        .await
        .unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("k{i:03}")).collect();
    let records: Vec<(String, Vec<u8>)> = keys.iter().map(|k| (k.clone(), "0".into())).collect();
    store.put_many(&records).await.unwrap();
    let store = std::sync::Arc::new(store);
    let other = std::sync::Arc::new(other);

    // Both read revision 1 of every key and try to write it, in batches.
    let batch = |tag: &'static str| -> Vec<CasWrite> {
        keys.iter()
            .map(|k| write(k, 1, &format!("\"{tag}\"")))
            .collect()
    };
    let (first, second) = (batch("first"), batch("second"));
    let a = tokio::spawn({
        let store = store.clone();
        async move {
            let mut outcomes = Vec::new();
            for chunk in first.chunks(10) {
                outcomes.extend(store.compare_and_swap(chunk).await.unwrap());
            }
            outcomes
        }
    });
    let b = tokio::spawn({
        let other = other.clone();
        async move {
            let mut outcomes = Vec::new();
            for chunk in second.chunks(10).rev() {
                outcomes.splice(0..0, other.compare_and_swap(chunk).await.unwrap());
            }
            outcomes
        }
    });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    for (i, key) in keys.iter().enumerate() {
        let record = store.get(key).await.unwrap().unwrap();
        assert_eq!(record.revision, 2, "{key}: exactly one write landed");
        let expected = match (a[i], b[i]) {
            (Cas::Written { revision: 2 }, Cas::Conflict) => "\"first\"",
            (Cas::Conflict, Cas::Written { revision: 2 }) => "\"second\"",
            outcomes => panic!("{key}: {outcomes:?}"),
        };
        assert_eq!(
            record.text().unwrap(),
            expected,
            "{key}: the winner's payload"
        );
    }
}

/// The CLI creates no table: a misspelled one is a usage error (exit 2)
/// naming it, without the URL's password, and no table appears; an existing
/// table migrates as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_creates_no_table() {
    let Some((server, store)) = fresh().await else {
        return;
    };
    store
        .put(
            "trip-1",
            r#"{"schema_version":1,"destination":"Oslo"}"#.as_bytes(),
        )
        .await
        .unwrap();
    let typo = format!("{}_typo", store.table());
    let child = env!("CARGO_BIN_EXE_store_child");
    for extra in [&["--dry-run"][..], &[]] {
        let out = std::process::Command::new(child)
            .args([
                "--store",
                server.url(),
                "--table",
                &typo,
                "--progress",
                "events",
            ])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("no table `{typo}` in ")),
            "{stderr}"
        );
        assert_eq!(
            server
                .psql(&format!("SELECT to_regclass('\"{typo}\"') IS NULL"))
                .as_deref(),
            Ok("t"),
            "the CLI created {typo}"
        );
    }
    let out = std::process::Command::new(child)
        .args([
            "--store",
            server.url(),
            "--table",
            store.table(),
            "--progress",
            "events",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("upgraded         1"), "{stdout}");
}
