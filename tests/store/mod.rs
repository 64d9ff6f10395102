//! The backend-generic store suite: every check takes any [`RecordStore`]
//! (a fresh, empty table or prefix per check) and panics on a failure.
//!
//! A backend's test file runs them all with [`store_suite!`](crate::store_suite)
//! given an `async fn` that returns a fresh store (or `None` when its server
//! is not installed), and [`crash::crash_and_resume`] with a store URL.

pub mod cli;
pub mod crash;
pub mod fixture;

/// The methods a test wrapper hands to `self.inner` unchanged; each wrapper
/// writes only its own `compare_and_swap`.
macro_rules! pass_through {
    () => {
        fn encoding(&self) -> &schema_migrate::store::Encoding {
            self.inner.encoding()
        }
        fn counts_writes(&self) -> bool {
            self.inner.counts_writes()
        }
        async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
            self.inner.get(key).await
        }
        async fn put(&self, key: &str, payload: &[u8]) -> Result<u64, StoreError> {
            self.inner.put(key, payload).await
        }
        async fn put_many(&self, records: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
            self.inner.put_many(records).await
        }
        async fn scan(&self, after: Option<&str>, limit: usize) -> Result<Vec<Record>, StoreError> {
            self.inner.scan(after, limit).await
        }
    };
}

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use schema_migrate::store::{
    Cas, CasWrite, Lazy, LazyError, Migrator, Progress, Record, RecordStore, StoreError, WriteBack,
};

use fixture::{checkpoint, key, mixed_version, TripState};

/// Runs every check of the suite, each as its own `#[tokio::test]`, on the
/// stores that `$fresh` makes: a path to an `async fn() -> Option<S>` giving
/// a new, empty store per call (`None`: the engine is not installed, already
/// reported; the test returns). `$bad_json` says whether the backend can
/// store a payload that is not JSON (SQLite and Redis can, JSONB cannot).
#[macro_export]
macro_rules! store_suite {
    ($fresh:path, bad_json: $bad_json:expr) => {
        $crate::store_suite!(@tests $fresh, $bad_json,
            cas_and_revisions,
            scan_order_and_resume,
            lazy_load_and_write_back,
            lazy_write_back_conflict_keeps_the_newer_record,
            batch_counts_dry_run_limit_and_resume,
            batch_conflict_keeps_the_newer_record,
            batch_stopped_by_a_store_error_resumes_to_the_end,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_writer_keeps_every_update() {
            let Some(store) = $fresh().await else { return };
            $crate::store::concurrent_writer_keeps_every_update(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bad_records_are_reported_and_left_untouched() {
            let Some(store) = $fresh().await else { return };
            $crate::store::bad_records_are_reported_and_left_untouched(&store, $bad_json).await;
        }
    };
    (@tests $fresh:path, $bad_json:expr, $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(store) = $fresh().await else { return };
                $crate::store::$check(&store).await;
            }
        )*
    };
}

fn write(key: &str, expected: u64, payload: &str) -> CasWrite {
    CasWrite {
        read: Vec::new(),
        key: key.to_owned(),
        expected,
        payload: payload.into(),
    }
}

/// How many of the suite's checks hold on any layout, including tables and
/// keys without a revision column; [`layout_check`] runs one of them.
pub const LAYOUT_CHECKS: usize = 4;

/// Check `n` (below [`LAYOUT_CHECKS`]) of those that hold on any layout, on
/// a fresh, empty store.
pub async fn layout_check<S: RecordStore>(n: usize, store: &S) {
    match n {
        0 => scan_order_and_resume(store).await,
        1 => lazy_write_back_conflict_keeps_the_newer_record(store).await,
        2 => batch_counts_dry_run_limit_and_resume(store).await,
        _ => batch_conflict_keeps_the_newer_record(store).await,
    }
}

/// Every record of the store, read by scanning in pages of `page`, checking
/// on the way that pages are in strictly ascending byte order.
pub async fn scan_all<S: RecordStore>(store: &S, page: usize) -> Vec<Record> {
    let mut all: Vec<Record> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.scan(after.as_deref(), page).await.expect("scan");
        assert!(
            batch.len() <= page,
            "scan returned {} > {page}",
            batch.len()
        );
        for r in &batch {
            if let Some(prev) = all.last() {
                assert!(
                    prev.key.as_bytes() < r.key.as_bytes(),
                    "scan order: {:?} then {:?}",
                    prev.key,
                    r.key
                );
            }
            all.push(r.clone());
        }
        match batch.last() {
            Some(last) => after = Some(last.key.clone()),
            None => return all,
        }
    }
}

/// Fills records `0..n` in one `put_many` per 5,000 records, each at
/// `version(i)` with `messages` messages; returns the values they must read
/// as, by key.
pub async fn fill<S: RecordStore>(
    store: &S,
    n: usize,
    messages: usize,
    version: impl Fn(usize) -> u32,
) -> BTreeMap<String, TripState> {
    let mut expected = BTreeMap::new();
    let mut chunk = Vec::new();
    for i in 0..n {
        let (payload, value) = checkpoint(i, version(i), messages);
        chunk.push((key(i), payload.into_bytes()));
        expected.insert(key(i), value);
        if chunk.len() == 5000 || i + 1 == n {
            store.put_many(&chunk).await.expect("put_many");
            chunk.clear();
        }
    }
    expected
}

/// Reads a payload as the fixture type, with its stored version.
#[track_caller]
pub fn read(record: &Record) -> (TripState, u32) {
    let stored = schema_migrate::json::from_slice::<TripState>(&record.payload)
        .unwrap_or_else(|e| panic!("record {:?} does not load: {e}", record.key));
    (stored.value, stored.version)
}

/// Revisions: 1 on creation, +1 per write; CAS writes only on the revision
/// read, reports a conflict otherwise (and for a missing record), and a batch
/// of CAS writes gets one outcome per write, in order.
pub async fn cas_and_revisions<S: RecordStore>(store: &S) {
    assert_eq!(store.get("a").await.unwrap(), None);
    assert_eq!(store.put("a", r#"{"n":1}"#.as_bytes()).await.unwrap(), 1);
    assert_eq!(store.put("a", r#"{"n":2}"#.as_bytes()).await.unwrap(), 2);
    let a = store.get("a").await.unwrap().expect("a was written");
    assert_eq!((a.key.as_str(), a.revision), ("a", 2));
    let value: serde_json::Value = serde_json::from_slice(&a.payload).unwrap();
    assert_eq!(value, serde_json::json!({"n": 2}));

    store.put("b", r#"{"n":1}"#.as_bytes()).await.unwrap();
    let outcomes = store
        .compare_and_swap(&[
            write("a", 2, r#"{"n":3}"#),    // the revision read: written
            write("b", 7, r#"{"n":99}"#),   // a stale revision: conflict
            write("nope", 1, r#"{"n":1}"#), // no such record: conflict
            write("b", 1, r#"{"n":2}"#),    // then b at its real revision
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Cas::Written { revision: 3 },
            Cas::Conflict,
            Cas::Conflict,
            Cas::Written { revision: 2 }
        ]
    );
    let b: serde_json::Value =
        serde_json::from_slice(&store.get("b").await.unwrap().unwrap().payload).unwrap();
    assert_eq!(
        b,
        serde_json::json!({"n": 2}),
        "the conflicting write was applied"
    );
    assert_eq!(
        store.get("nope").await.unwrap(),
        None,
        "CAS created a record"
    );
    // The same stale write again: still a conflict, nothing changes.
    assert_eq!(
        store
            .compare_and_swap(&[write("a", 2, r#"{"n":4}"#)])
            .await
            .unwrap(),
        [Cas::Conflict]
    );
    assert_eq!(store.get("a").await.unwrap().unwrap().revision, 3);
    assert_eq!(store.compare_and_swap(&[]).await.unwrap(), []);

    // put_many creates and replaces, each bumping its own revision.
    store
        .put_many(&[
            ("a".into(), r#"{"n":5}"#.into()),
            ("c".into(), r#"{"n":1}"#.into()),
        ])
        .await
        .unwrap();
    assert_eq!(store.get("a").await.unwrap().unwrap().revision, 4);
    assert_eq!(store.get("c").await.unwrap().unwrap().revision, 1);
    store.put_many(&[]).await.unwrap();
}

/// Scan: ascending byte order (not locale, not length), strictly after the
/// cursor, at most `limit`, resumable from any key, even a key that is not
/// stored; unusual keys (spaces, quotes, non-ASCII, `*`, `:`) round-trip.
pub async fn scan_order_and_resume<S: RecordStore>(store: &S) {
    let keys = [
        "b", "a", "B", "a b", "a:1", "a*", "ab", "é", "z", "Z9", "it's", "10", "9", "日本", "a\"q",
        "a%_",
    ];
    for k in keys {
        store
            .put(k, serde_json::json!({ "k": k }).to_string().as_bytes())
            .await
            .unwrap();
    }
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));

    for page in [1, 3, 100] {
        let all = scan_all(store, page).await;
        let got: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(got, sorted, "page size {page}");
        for r in &all {
            let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            assert_eq!(v["k"], r.key.as_str(), "payload of {:?}", r.key);
        }
    }
    // Strictly after a stored key, and after a key that is not stored.
    let after_a = store.scan(Some("a"), 2).await.unwrap();
    let got: Vec<&str> = after_a.iter().map(|r| r.key.as_str()).collect();
    let i = sorted.iter().position(|k| *k == "a").unwrap();
    assert_eq!(got, &sorted[i + 1..i + 3]);
    let after_missing = store.scan(Some("aa"), 100).await.unwrap();
    let want: Vec<&str> = sorted
        .iter()
        .copied()
        .filter(|k| k.as_bytes() > b"aa".as_slice())
        .collect();
    let got: Vec<&str> = after_missing.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(got, want);
    assert!(store.scan(Some("\u{10FFFF}"), 10).await.unwrap().is_empty());
    assert!(store.scan(None, 0).await.unwrap().is_empty());
}

/// Lazy load: old records upgrade in memory (write-back off: the record is
/// untouched), or are written back once (write-back on), current records are
/// never written; a missing key is `None`; a bad record is a typed error
/// with its key.
pub async fn lazy_load_and_write_back<S: RecordStore>(store: &S) {
    let mut expected = BTreeMap::new();
    for (i, version) in [(0, 1), (1, 2), (2, 3), (3, 4)] {
        let (payload, value) = checkpoint(i, version, 2);
        store.put(&key(i), payload.as_bytes()).await.unwrap();
        expected.insert(i, (payload, value, version));
    }

    let read_only = Lazy::<_, TripState>::new(store);
    for (i, (_, value, version)) in &expected {
        let loaded = read_only.load(&key(*i)).await.unwrap().expect("stored");
        assert_eq!(&loaded.value, value);
        assert_eq!(loaded.version, *version);
        assert_eq!(loaded.was_upgraded(), *version < 4);
        assert_eq!(loaded.revision, 1);
        let want = if *version < 4 {
            WriteBack::Off
        } else {
            WriteBack::NotNeeded
        };
        assert_eq!(loaded.write_back, want);
        let record = store.get(&key(*i)).await.unwrap().unwrap();
        assert_eq!(record.revision, 1, "write-back off wrote {}", key(*i));
    }

    let lazy = Lazy::<_, TripState>::new(store).write_back(true);
    for (i, (_, value, version)) in &expected {
        let loaded = lazy.load(&key(*i)).await.unwrap().expect("stored");
        assert_eq!(&loaded.value, value);
        assert_eq!(loaded.version, *version);
        if *version < 4 {
            assert_eq!(loaded.write_back, WriteBack::Written { revision: 2 });
            assert_eq!(loaded.revision, 2);
        } else {
            assert_eq!(loaded.write_back, WriteBack::NotNeeded);
            assert_eq!(loaded.revision, 1);
        }
        // Stored now at the current version, with the same content.
        let record = store.get(&key(*i)).await.unwrap().unwrap();
        let (again, stored_at) = read(&record);
        assert_eq!((&again, stored_at), (value, 4));
        let second = lazy.load(&key(*i)).await.unwrap().unwrap();
        assert_eq!(second.write_back, WriteBack::NotNeeded);
    }

    assert!(lazy.load("no-such-key").await.unwrap().is_none());

    // save and save_if.
    let (_, mut value, _) = expected[&0].clone();
    value.budget = Some(1.5);
    let revision = lazy.save(&key(0), &value).await.unwrap();
    assert_eq!(revision, 3);
    assert_eq!(
        lazy.save_if(&key(0), &value, 2).await.unwrap(),
        Cas::Conflict
    );
    assert_eq!(
        lazy.save_if(&key(0), &value, 3).await.unwrap(),
        Cas::Written { revision: 4 }
    );
    assert_eq!(
        lazy.load(&key(0)).await.unwrap().unwrap().value.budget,
        Some(1.5)
    );

    // A future version: a typed error naming the key, and the record stays.
    let future = r#"{"schema_version":9,"destination_city":"Mars"}"#;
    store.put("future", future.as_bytes()).await.unwrap();
    let before = store.get("future").await.unwrap().unwrap();
    match lazy.load("future").await {
        Err(LazyError::Upgrade { key, source }) => {
            assert_eq!(key, "future");
            assert_eq!(source.kind(), "future_version");
        }
        other => panic!("expected an upgrade error, got {other:?}"),
    }
    assert_eq!(store.get("future").await.unwrap().unwrap(), before);
}

/// A store that lets another writer in between a read and a
/// compare-and-swap: before each CAS it writes `payload` to the first key of
/// the batch, as a concurrent application would. Everything else is the
/// real store underneath.
pub struct Interleaved<'a, S> {
    /// The real store.
    pub inner: &'a S,
    /// What the "other writer" writes.
    pub payload: String,
    /// The keys the other writer wrote, in order.
    pub wrote: Mutex<Vec<String>>,
}

impl<S: RecordStore> RecordStore for Interleaved<'_, S> {
    pass_through!();
    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        if let Some(first) = writes.first() {
            self.inner.put(&first.key, self.payload.as_bytes()).await?;
            self.wrote.lock().unwrap().push(first.key.clone());
        }
        self.inner.compare_and_swap(writes).await
    }
}

/// Lazy write-back when someone writes between the read and the write-back:
/// the load reports a conflict and the other writer's record stays.
pub async fn lazy_write_back_conflict_keeps_the_newer_record<S: RecordStore>(store: &S) {
    let (old, _) = checkpoint(1, 1, 1);
    store.put(&key(1), old.as_bytes()).await.unwrap();
    let (newer, newer_value) = checkpoint(1, 4, 3);
    let interleaved = Interleaved {
        inner: store,
        payload: newer.clone(),
        wrote: Mutex::new(Vec::new()),
    };
    let lazy = Lazy::<_, TripState>::new(&interleaved).write_back(true);
    let loaded = lazy.load(&key(1)).await.unwrap().expect("stored");
    assert_eq!(loaded.write_back, WriteBack::Conflict);
    assert_eq!(loaded.version, 1);
    let record = store.get(&key(1)).await.unwrap().unwrap();
    if store.counts_writes() {
        assert_eq!(record.revision, 2, "only the other writer wrote");
    }
    assert_eq!(
        read(&record),
        (newer_value, 4),
        "the newer record was overwritten"
    );
}

/// Batch report counts; a dry run writes nothing; a limit stops early and
/// the run resumes after the report's last key to the end.
pub async fn batch_counts_dry_run_limit_and_resume<S: RecordStore>(store: &S) {
    let n = 1000;
    let expected = fill(store, n, 2, mixed_version).await;
    let old = (0..n).filter(|&i| mixed_version(i) < 4).count() as u64;
    let before = scan_all(store, 400).await;

    let dry = Migrator::<TripState>::new()
        .dry_run(true)
        .batch_size(64)
        .progress(Progress::Events)
        .run(store)
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.scanned, n as u64);
    assert_eq!(dry.upgraded, old);
    assert_eq!(dry.already_current, n as u64 - old);
    assert!(dry.failed.is_empty() && dry.conflicts.is_empty());
    assert!(dry.finished);
    assert_eq!(dry.last_key.as_deref(), Some(key(n - 1).as_str()));
    assert_eq!(scan_all(store, 400).await, before, "the dry run wrote");

    // A limit that ends mid-batch.
    let first = Migrator::<TripState>::new()
        .batch_size(64)
        .limit(300)
        .progress(Progress::Events)
        .run(store)
        .await
        .unwrap();
    assert_eq!(first.scanned, 300);
    assert!(!first.finished);
    let last = first.last_key.clone().expect("a last key");
    assert_eq!(last, key(299));
    let upgraded_first = (0..300).filter(|&i| mixed_version(i) < 4).count() as u64;
    assert_eq!(first.upgraded, upgraded_first);
    for r in scan_all(store, 400).await {
        let (value, version) = read(&r);
        assert_eq!(&value, &expected[&r.key]);
        let i: usize = r.key["trip-".len()..].parse().unwrap();
        let want = if i < 300 { 4 } else { mixed_version(i) };
        assert_eq!(version, want, "{} after the limited run", r.key);
    }

    let rest = Migrator::<TripState>::new()
        .batch_size(64)
        .resume_from(last.clone())
        .progress(Progress::Events)
        .run(store)
        .await
        .unwrap();
    assert_eq!(rest.resumed_from.as_deref(), Some(last.as_str()));
    assert_eq!(rest.scanned, n as u64 - 300);
    assert_eq!(rest.upgraded, old - upgraded_first);
    assert!(rest.finished);
    let text = rest.to_string();
    assert!(
        text.contains("upgraded") && text.contains("records/s"),
        "{text}"
    );

    let after = scan_all(store, 400).await;
    assert_eq!(after.len(), n);
    for (r, b) in after.iter().zip(&before) {
        let (value, version) = read(r);
        assert_eq!((&value, version), (&expected[&r.key], 4));
        let (_, old_version) = read(b);
        let bump = u64::from(old_version < 4);
        if store.counts_writes() {
            assert_eq!(r.revision, b.revision + bump, "{} written too often", r.key);
        } else {
            assert_eq!(
                r.revision != b.revision,
                bump == 1,
                "{} written or not",
                r.key
            );
        }
    }

    // Everything current: a rerun writes nothing.
    let again = Migrator::<TripState>::new().run(store).await.unwrap();
    assert_eq!((again.upgraded, again.already_current), (0, n as u64));
    assert_eq!(scan_all(store, 400).await, after);
}

/// Batch: a record written by someone else between the batch's read and its
/// write is a conflict, counted and skipped, and the newer record stays;
/// the rest of the batch is written.
pub async fn batch_conflict_keeps_the_newer_record<S: RecordStore>(store: &S) {
    let expected = fill(store, 50, 1, |_| 1).await;
    let (newer, newer_value) = checkpoint(7, 4, 2);
    let interleaved = Interleaved {
        inner: store,
        payload: newer,
        wrote: Mutex::new(Vec::new()),
    };
    let report = Migrator::<TripState>::new()
        .batch_size(10)
        .progress(Progress::Events)
        .run(&interleaved)
        .await
        .unwrap();
    let overwritten = interleaved.wrote.lock().unwrap().clone();
    assert_eq!(overwritten.len(), 5, "one interleaved write per batch");
    assert_eq!(report.conflicts, overwritten);
    assert_eq!(report.upgraded, 45);
    for r in scan_all(store, 100).await {
        let (value, version) = read(&r);
        assert_eq!(version, 4);
        if overwritten.contains(&r.key) {
            assert_eq!(
                value, newer_value,
                "{}: the newer record was overwritten",
                r.key
            );
            if store.counts_writes() {
                assert_eq!(r.revision, 2);
            }
        } else {
            assert_eq!(value, expected[&r.key]);
        }
    }
}

/// Bad records (bad JSON when the backend can store it, a step that fails,
/// a future version, a wrong field type, no tag at all) are reported with
/// their key and kind, left byte-identical, and the run goes on to upgrade
/// everything else.
pub async fn bad_records_are_reported_and_left_untouched<S: RecordStore>(
    store: &S,
    can_store_bad_json: bool,
) {
    let expected = fill(store, 200, 1, mixed_version).await;
    let mut bad = vec![
        (
            "trip-000050-step",
            r#"{"schema_version":3,"destination_city":"Crowd","travelers":5000}"#.to_owned(),
            "step_failed",
        ),
        (
            "trip-000100-future",
            r#"{"schema_version":7,"destination_city":"Mars","pets":2}"#.to_owned(),
            "future_version",
        ),
        (
            "trip-000150-type",
            r#"{"schema_version":2,"destination":["not","a","string"],"travelers":2}"#.to_owned(),
            "invalid_data",
        ),
        (
            "trip-000160-tag",
            r#"{"schema_version":"four","destination_city":"Rome"}"#.to_owned(),
            "invalid_tag",
        ),
    ];
    if can_store_bad_json {
        bad.push((
            "trip-000020-json",
            r#"{"schema_version":1,"destination":"Par"#.to_owned(),
            "invalid_data",
        ));
    }
    for (k, payload, _) in &bad {
        store.put(k, payload.as_bytes()).await.unwrap();
    }
    let mut before = BTreeMap::new();
    for (k, _, _) in &bad {
        before.insert(*k, store.get(k).await.unwrap().unwrap());
    }

    let report = Migrator::<TripState>::new()
        .batch_size(16)
        .progress(Progress::Events)
        .run(store)
        .await
        .unwrap();
    let mut want: Vec<(&str, &str)> = bad.iter().map(|(k, _, kind)| (*k, *kind)).collect();
    want.sort();
    let got: Vec<(&str, &str)> = report
        .failed
        .iter()
        .map(|f| (f.key.as_str(), f.kind))
        .collect();
    assert_eq!(got, want, "{report:#}");
    for f in &report.failed {
        assert!(
            f.reason.contains("TripState"),
            "reason names the type: {}",
            f.reason
        );
    }
    let step = report
        .failed
        .iter()
        .find(|f| f.kind == "step_failed")
        .unwrap();
    assert!(
        step.reason.contains("5000 travelers"),
        "the step's own error: {}",
        step.reason
    );
    assert_eq!(report.scanned, 200 + bad.len() as u64);
    let old = (0..200).filter(|&i| mixed_version(i) < 4).count() as u64;
    assert_eq!(report.upgraded, old, "the run stopped at a bad record");
    assert!(report.to_string().contains("trip-000100-future"));

    for (k, record) in &before {
        assert_eq!(
            &store.get(k).await.unwrap().unwrap(),
            record,
            "bad record {k} was changed"
        );
    }
    for (k, value) in &expected {
        let (got, version) = read(&store.get(k).await.unwrap().unwrap());
        assert_eq!((&got, version), (value, 4));
    }
}

/// A store whose `compare_and_swap` call number `fail_at` (from 1) fails
/// before reaching the real store, as an engine error would; everything
/// else is the real store underneath.
pub struct FailingCas<'a, S> {
    /// The real store.
    pub inner: &'a S,
    /// Which call fails.
    pub fail_at: usize,
    /// Calls so far.
    pub calls: AtomicUsize,
}

impl<S: RecordStore> RecordStore for FailingCas<'_, S> {
    pass_through!();
    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call == self.fail_at {
            return Err(StoreError::new(
                "test",
                "compare_and_swap",
                "injected failure",
            ));
        }
        self.inner.compare_and_swap(writes).await
    }
}

/// A store error on the third batch's write stops the run with a
/// `RunError` whose report ends at the second batch's last key; nothing of
/// the third batch is written, and resuming after that key finishes the
/// job: every record current, each written exactly once.
pub async fn batch_stopped_by_a_store_error_resumes_to_the_end<S: RecordStore>(store: &S) {
    let n = 100;
    let expected = fill(store, n, 1, |i| [1, 2, 3][i % 3]).await;
    let failing = FailingCas {
        inner: store,
        fail_at: 3,
        calls: AtomicUsize::new(0),
    };
    let error = Migrator::<TripState>::new()
        .batch_size(10)
        .progress(Progress::Events)
        .run(&failing)
        .await
        .expect_err("the third write fails");
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert_eq!(error.report.last_key.as_deref(), Some(key(19).as_str()));
    assert_eq!((error.report.scanned, error.report.upgraded), (20, 20));
    assert!(!error.report.finished);
    for r in scan_all(store, 1000).await {
        let i: usize = r.key["trip-".len()..].parse().unwrap();
        let (value, version) = read(&r);
        assert_eq!(&value, &expected[&r.key], "{}", r.key);
        if i < 20 {
            assert_eq!((version, r.revision), (4, 2), "{} not written once", r.key);
        } else {
            let want = [1, 2, 3][i % 3];
            assert_eq!(
                (version, r.revision),
                (want, 1),
                "{} written after the error",
                r.key
            );
        }
    }

    let rest = Migrator::<TripState>::new()
        .batch_size(10)
        .resume_from(error.report.last_key.clone().unwrap())
        .progress(Progress::Events)
        .run(store)
        .await
        .unwrap();
    assert!(rest.finished);
    assert_eq!((rest.scanned, rest.upgraded), (80, 80));
    let all = scan_all(store, 1000).await;
    assert_eq!(all.len(), n);
    for r in &all {
        let (value, version) = read(r);
        assert_eq!(
            (&value, version, r.revision),
            (&expected[&r.key], 4, 2),
            "{}",
            r.key
        );
    }
}

/// The store the concurrency check migrates: its second
/// `compare_and_swap` waits until the writer has made `hold_for` writes,
/// so that the writer's updates land while the batch runs, between the
/// batch's reads and its writes, on any engine however fast.
struct Overlapped<S> {
    inner: Arc<S>,
    writes: Arc<AtomicUsize>,
    hold_for: usize,
    cas_calls: AtomicUsize,
}

impl<S: RecordStore> RecordStore for Overlapped<S> {
    pass_through!();
    async fn compare_and_swap(&self, writes: &[CasWrite]) -> Result<Vec<Cas>, StoreError> {
        if self.cas_calls.fetch_add(1, Ordering::SeqCst) == 1 {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while self.writes.load(Ordering::Acquire) < self.hold_for {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the writer made no progress"
                );
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        self.inner.compare_and_swap(writes).await
    }
}

/// A writer updates records (with current and with old-version payloads)
/// while a batch runs in small batches; afterwards every record holds the
/// writer's last update (upgraded or not, same content) or, if the writer
/// never touched it, its own upgraded content; nothing is lost.
pub async fn concurrent_writer_keeps_every_update<S: RecordStore + 'static>(store: S) {
    let n = 3000;
    let store = Arc::new(store);
    let expected = fill(&*store, n, 1, |i| [1, 2, 3][i % 3]).await;
    let done = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    // The batch's second write waits for this many of the writer's updates,
    // so that they land while the batch runs, whatever the engine's speed.
    let hold_for = 20;

    // The writer is its own task, so that it runs in parallel with the
    // batch's parsing, between its read and its compare-and-swap.
    let writer = tokio::spawn({
        let (store, done, writes) = (Arc::clone(&store), Arc::clone(&done), Arc::clone(&writes));
        async move {
            let mut last: BTreeMap<String, TripState> = BTreeMap::new();
            let mut round = 0usize;
            let mut during = 0usize;
            // Keep writing until the batch is over, and at least 1,500 writes
            // so that the writer overlaps the batch even on a fast engine.
            while !done.load(Ordering::Acquire) || round < 1500 {
                // A stride through the keyspace, so that writes land ahead
                // of, behind and inside the batch being migrated.
                let i = (round * 7919) % n;
                let version = [1, 4][round % 2];
                let (payload, mut value) = checkpoint(i, version, 1);
                // Mark the write so it cannot be confused with the original.
                value.destination_city = format!("written by the writer, round {round}");
                let payload = payload.replace(
                    &format!("\"city-{i}\""),
                    &format!("{:?}", value.destination_city),
                );
                store.put(&key(i), payload.as_bytes()).await.unwrap();
                last.insert(key(i), value);
                writes.fetch_add(1, Ordering::Release);
                round += 1;
                during += usize::from(!done.load(Ordering::Acquire));
            }
            (last, during)
        }
    });
    let overlapped = Overlapped {
        inner: Arc::clone(&store),
        writes: Arc::clone(&writes),
        hold_for,
        cas_calls: AtomicUsize::new(0),
    };
    let report = Migrator::<TripState>::new()
        .batch_size(500)
        .progress(Progress::Events)
        .run(&overlapped)
        .await;
    done.store(true, Ordering::Release);
    let report = report.unwrap();
    let (written, during) = writer.await.expect("the writer panicked");
    assert!(report.failed.is_empty(), "{report:#}");
    assert_eq!(report.scanned, n as u64);
    // Otherwise the check below would pass with a writer that ran only
    // after the batch, and prove nothing about concurrency.
    assert!(
        during >= hold_for,
        "only {during} of the writer's updates landed while the batch ran"
    );

    let records = scan_all(&*store, 1000).await;
    assert_eq!(records.len(), n, "records lost");
    for r in &records {
        let (value, _) = read(r);
        match written.get(&r.key) {
            Some(w) => assert_eq!(&value, w, "{}: the writer's last update is lost", r.key),
            None => {
                assert_eq!(&value, &expected[&r.key], "{}", r.key);
                assert_eq!(read(r).1, 4, "{} not upgraded", r.key);
            }
        }
    }
    eprintln!(
        "concurrency: {} records written by the writer, {during} writes while the batch ran; \
         {} conflicts skipped, {} upgraded",
        written.len(),
        report.conflicts.len(),
        report.upgraded
    );
}
