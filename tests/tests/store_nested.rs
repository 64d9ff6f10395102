//! A record that is current itself but holds versioned values stored at an
//! older version (its messages, which have their own history) is not
//! "already current": the batch migrator and lazy write-back rewrite it, so
//! the nested values are stored upgraded too.

#![cfg(feature = "sqlite")]

use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{Lazy, Migrator, Progress, RecordStore, WriteBack};
use schema_migrate_tests::store::fixture::TripState;

/// Version 4 itself, with one version-1 message (no timestamp).
const CURRENT_WITH_OLD_MESSAGE: &str = r#"{"schema_version":4,"destination_city":"Oslo","travelers":{"adults":1,"children":0},"messages":[{"_version":1,"role":"user","content":"hi"}]}"#;
const CURRENT_THROUGHOUT: &str = r#"{"schema_version":4,"destination_city":"Lima","travelers":{"adults":2,"children":0},"messages":[{"_version":2,"role":"user","content":"hi","at":7}]}"#;

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::open(dir.path().join("nested.db"), "trips")
        .await
        .unwrap();
    store
        .put("a", CURRENT_WITH_OLD_MESSAGE.as_bytes())
        .await
        .unwrap();
    store.put("b", CURRENT_THROUGHOUT.as_bytes()).await.unwrap();
    store
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_batch_rewrites_records_whose_nested_values_are_old() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let report = Migrator::<TripState>::new()
            .progress(Progress::Events)
            .run(&store)
            .await
            .unwrap();
        assert_eq!(
            (report.upgraded, report.already_current),
            (1, 1),
            "{report}"
        );
        let a = store.get("a").await.unwrap().unwrap();
        assert_eq!(a.revision, 2);
        let text = a.text().unwrap();
        assert!(
            text.contains(r#"{"_version":2,"role":"user","content":"hi","at":0}"#),
            "{text}"
        );
        let b = store.get("b").await.unwrap().unwrap();
        assert_eq!((b.revision, b.text().unwrap()), (1, CURRENT_THROUGHOUT));

        let again = Migrator::<TripState>::new()
            .progress(Progress::Events)
            .run(&store)
            .await
            .unwrap();
        assert_eq!((again.upgraded, again.already_current), (0, 2), "{again}");
    });
}

#[test]
fn lazy_write_back_rewrites_records_whose_nested_values_are_old() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let trips = Lazy::<_, TripState>::new(&store).write_back(true);
        let a = trips.load("a").await.unwrap().unwrap();
        assert_eq!(a.version, 4);
        assert!(a.was_upgraded());
        assert_eq!(a.write_back, WriteBack::Written { revision: 2 });
        let b = trips.load("b").await.unwrap().unwrap();
        assert!(!b.was_upgraded());
        assert_eq!(b.write_back, WriteBack::NotNeeded);
    });
}
