//! The crash test: a batch migration run by a child process (the ready CLI)
//! is killed with SIGKILL half way; every record must still load, old or
//! fully upgraded, and a rerun must finish the job without losing anything.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use schema_migrate::store::{open, open_layout, AnyStore, Layout, Record, RecordStore};

use super::fixture::{key, mixed_version, TripState};
use super::{fill, read, scan_all};

/// How many records the crash test writes.
pub const RECORDS: usize = 50_000;

/// What [`crash_and_resume`] saw, for the test's output and the report.
#[derive(Debug, Clone)]
pub struct CrashOutcome {
    /// Records in the store.
    pub records: usize,
    /// Records stored at an old version before the first run.
    pub old: usize,
    /// Of those, how many were upgraded when the child was killed.
    pub upgraded_at_kill: usize,
    /// How long the first run ran before the kill.
    pub killed_after: Duration,
    /// How long the rerun took.
    pub rerun: Duration,
}

/// Fills `RECORDS` mixed-version records into the store `url` names (table
/// or prefix `name`, which must be empty), starts `child` (a binary whose
/// `main` is `schema_migrate::store::cli::run::<fixture::TripState>()`) on
/// it, SIGKILLs it once about half the old records are current, checks
/// every record, reruns the child to completion and checks again.
pub async fn crash_and_resume(child: impl AsRef<Path>, url: &str, name: &str) -> CrashOutcome {
    let store = open(url, name)
        .await
        .unwrap_or_else(|e| panic!("open {name}: {e}"));
    crash_and_resume_on(child.as_ref(), url, store, &["--table", name]).await
}

/// [`crash_and_resume`] on an existing table or existing keys: `layout`
/// names them to the library, `layout_args` to the command line (such as
/// `--table items --key id --payload data`).
pub async fn crash_and_resume_layout(
    child: impl AsRef<Path>,
    url: &str,
    layout: &Layout,
    layout_args: &[&str],
) -> CrashOutcome {
    let store = open_layout(url, layout)
        .await
        .unwrap_or_else(|e| panic!("open {layout:?}: {e}"));
    crash_and_resume_on(child.as_ref(), url, store, layout_args).await
}

async fn crash_and_resume_on(
    child: &Path,
    url: &str,
    store: AnyStore,
    layout_args: &[&str],
) -> CrashOutcome {
    assert!(
        store.scan(None, 1).await.unwrap().is_empty(),
        "the crash test needs an empty table/prefix"
    );
    let expected = fill(&store, RECORDS, 2, mixed_version).await;
    // What the engine holds (PostgreSQL normalizes JSONB text): a record
    // that was not upgraded must still be exactly this.
    let before: BTreeMap<String, Record> = scan_all(&store, 5000)
        .await
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    assert_eq!(before.len(), RECORDS);
    let old: Vec<usize> = (0..RECORDS).filter(|&i| mixed_version(i) < 4).collect();
    // The batch goes in key order, so once this record is current about
    // half of the old ones are.
    let half = key(old[old.len() / 2]);

    let mut args = vec!["--store", url];
    args.extend_from_slice(layout_args);
    args.extend(["--batch-size", "250", "--progress", "events"]);
    let started = Instant::now();
    let mut run = Command::new(child)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", child.display()));
    loop {
        if let Some(status) = run.try_wait().expect("poll the child") {
            panic!(
                "the child exited ({status}) before it could be killed half way; \
                 the crash test proves nothing"
            );
        }
        let record = store.get(&half).await.expect("poll").expect("still there");
        if read(&record).1 == 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the child did not reach half way in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Past the batch that made `half` current, the child is somewhere in
    // the next one: wait a varying 0-40 ms so that, run after run, the kill
    // lands at different points (reading, upgrading, inside a transaction).
    let jitter = Duration::from_micros(u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
            % 40_000,
    ));
    tokio::time::sleep(jitter).await;
    // `Child::kill` is SIGKILL on Unix: no cleanup, no flush, like a crash.
    run.kill().expect("SIGKILL the child");
    let status = run.wait().expect("reap the child");
    let killed_after = started.elapsed();
    assert!(!status.success(), "the child was not killed: {status}");

    // Every record loads, and is either exactly as it was or fully upgraded.
    let after_kill = scan_all(&store, 5000).await;
    assert_eq!(after_kill.len(), RECORDS, "records lost by the kill");
    let mut upgraded_at_kill = 0;
    for r in &after_kill {
        let was = &before[&r.key];
        if r == was {
            continue;
        }
        let (value, version) = read(r);
        assert_eq!(version, 4, "{}: changed but not current", r.key);
        assert_eq!(
            value, expected[&r.key],
            "{}: partial or wrong upgrade",
            r.key
        );
        if store.counts_writes() {
            assert_eq!(r.revision, was.revision + 1, "{}: written twice", r.key);
        }
        assert!(read(was).1 < 4, "{}: a current record was rewritten", r.key);
        upgraded_at_kill += 1;
    }
    assert!(
        upgraded_at_kill > 0 && upgraded_at_kill < old.len(),
        "killed at {upgraded_at_kill} of {} old records: not half way",
        old.len()
    );

    let started = Instant::now();
    let output = Command::new(child)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("rerun the child");
    let rerun = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "rerun failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let remaining = old.len() - upgraded_at_kill;
    assert!(
        stdout.contains(&format!("upgraded         {remaining}")),
        "the rerun should upgrade the {remaining} records left:\n{stdout}"
    );

    let done = scan_all(&store, 5000).await;
    assert_eq!(done.len(), RECORDS, "records lost by the rerun");
    for r in &done {
        let (value, version) = read(r);
        assert_eq!(version, 4, "{} not current after the rerun", r.key);
        let value: &TripState = &value;
        assert_eq!(value, &expected[&r.key], "{}: content changed", r.key);
    }
    CrashOutcome {
        records: RECORDS,
        old: old.len(),
        upgraded_at_kill,
        killed_after,
        rerun,
    }
}
