//! The store suite on SQLite: a fresh file per test, no server needed.

use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate_tests::store::crash::crash_and_resume;
use schema_migrate_tests::store_suite;

/// A fresh store in its own temporary directory. The directory is leaked
/// into the OS temp dir for the test's lifetime and removed by the OS, since
/// the store (and its open file) outlives any guard held here.
async fn fresh() -> Option<SqliteStore> {
    let dir = tempfile::Builder::new()
        .prefix("sm-store-test-")
        .tempdir()
        .expect("temp dir")
        .keep();
    Some(
        SqliteStore::open(dir.join("records.db"), "records")
            .await
            .expect("open"),
    )
}

store_suite!(fresh, bad_json: true);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_half_way_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("crash.db").display());
    let outcome = crash_and_resume(env!("CARGO_BIN_EXE_store_child"), &url, "checkpoints").await;
    eprintln!("sqlite crash test: {outcome:?}");
}

#[tokio::test]
async fn table_names_are_identifiers_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    for bad in ["", "1abc", "a-b", "t; DROP TABLE x", "a b", "\"q\"", "é"] {
        let err = SqliteStore::open(dir.path().join("x.db"), bad)
            .await
            .expect_err(bad);
        assert!(
            err.to_string().contains("invalid table name"),
            "{bad:?}: {err}"
        );
    }
    SqliteStore::open(dir.path().join("x.db"), "_Ok_9")
        .await
        .expect("a valid name");
}

#[tokio::test]
async fn open_dispatches_on_the_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("open.db");
    for url in [
        format!("sqlite:{}", path.display()),
        format!("sqlite://{}", path.display()),
    ] {
        let store = schema_migrate::store::open(&url, "t").await.expect(&url);
        assert_eq!(store.backend(), "sqlite");
    }
    for (url, needle) in [
        ("mysql://localhost/db", "unknown store URL scheme \"mysql\""),
        ("sqlite:", "names no file"),
        ("records.db", "unknown store URL scheme"),
    ] {
        let err = schema_migrate::store::open(url, "t").await.expect_err(url);
        assert!(err.to_string().contains(needle), "{url}: {err}");
    }
    // The password of a URL never appears in an error.
    let err = schema_migrate::store::open("mongodb://user:hunter2@host/db", "t")
        .await
        .expect_err("unknown scheme");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
