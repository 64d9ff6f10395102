//! A rolling deploy and its rollback, end to end, on one SQLite table made
//! with plain SQL and checked from outside with SQL:
//!
//! 1. release A (writes 3) and release B (reads 4, writes 3) run side by
//!    side on the same records, B's lazy loader writing back;
//! 2. release C (writes 4) takes over and raises every record to 4;
//! 3. the rollback: release C's command line writes every record down to 3
//!    (`--to 3`, a dry run first), and release A reads all of them.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{Layout, Lazy, Migrator, Progress, RecordStore, WriteBack};
use schema_migrate_tests::rollout::{a, b, by_type, c};

const RELEASE_C_CLI: &str = env!("CARGO_BIN_EXE_rollout_child");

/// `key -> state` as the table holds it.
fn states(path: &Path) -> BTreeMap<String, String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT thread_id, state FROM agent_state")
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn version_of(state: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(state).unwrap()["_version"]
        .as_u64()
        .unwrap()
}

fn layout() -> Layout {
    Layout::table("agent_state", ["thread_id"], "state")
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open_layout(path, &layout()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_deploy_and_its_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        r#"
        CREATE TABLE agent_state (thread_id TEXT PRIMARY KEY, state TEXT NOT NULL, note TEXT);
        INSERT INTO agent_state VALUES ('t1', '{"_version":1,"destination":"Lima"}', 'a');
        INSERT INTO agent_state VALUES ('t2', '{"_version":2,"destination":"Oslo","travelers":2}', 'b');
        INSERT INTO agent_state VALUES ('t3', '{"_version":3,"city":"Rome","travelers":3}', 'c');
        "#,
    )
    .unwrap();
    drop(conn);

    // 1. A and B side by side. B's lazy loader raises the old records to 3,
    // never to 4, and A reads everything B wrote.
    let release_b = Lazy::<_, b::TripState>::new(open(&path).await).write_back(true);
    for key in ["t1", "t2", "t3"] {
        let loaded = release_b.load(key).await.unwrap().unwrap();
        let expected = if key == "t3" {
            WriteBack::NotNeeded
        } else {
            WriteBack::Written {
                revision: loaded.revision,
            }
        };
        assert_eq!(loaded.write_back, expected, "{key}");
    }
    let after_b = states(&path);
    assert!(after_b.values().all(|s| version_of(s) == 3), "{after_b:?}");
    assert_eq!(
        after_b["t1"],
        r#"{"_version":3,"city":"Lima","travelers":1}"#
    );
    // B saves a conversation with two travelers: version 3 on disk, which A reads.
    let state = b::TripState {
        city: "Quito".into(),
        travelers: by_type(2),
        budget: None,
    };
    release_b.save("t4", &state).await.unwrap();
    let release_a = Lazy::<_, a::TripState>::new(open(&path).await);
    for key in ["t1", "t2", "t3", "t4"] {
        let loaded = release_a.load(key).await.unwrap().unwrap();
        assert_eq!(loaded.version, 3, "{key}");
    }
    assert_eq!(
        release_a.load("t4").await.unwrap().unwrap().value.travelers,
        2
    );
    // A record release C already wrote (a canary) is read by B and never
    // rewritten by B's lazy loader.
    let canary = c::TripState {
        city: "Cusco".into(),
        travelers: by_type(1),
        budget: Some(900),
    };
    release_b
        .store()
        .put("t5", serde_json::to_string(&canary).unwrap().as_bytes())
        .await
        .unwrap();
    let before = states(&path)["t5"].clone();
    let loaded = release_b.load("t5").await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.write_back),
        (4, WriteBack::NotNeeded)
    );
    assert_eq!(
        states(&path)["t5"],
        before,
        "B leaves a version-4 record as it is"
    );
    // B's batch run raises nothing (all at 3) and leaves the canary in place.
    let report = Migrator::<b::TripState>::new()
        .progress(Progress::Events)
        .run(release_b.store())
        .await
        .unwrap();
    assert_eq!(
        (
            report.version,
            report.upgraded,
            report.already_current,
            report.newer
        ),
        (3, 0, 4, 1),
        "{report}"
    );

    // 2. Release C raises every record to 4.
    let report = Migrator::<c::TripState>::new()
        .progress(Progress::Events)
        .run(&open(&path).await)
        .await
        .unwrap();
    assert_eq!(
        (report.upgraded, report.already_current),
        (4, 1),
        "{report}"
    );
    assert!(states(&path).values().all(|s| version_of(s) == 4));
    // A conversation gets a budget under C: that is what a rollback loses.
    let release_c = Lazy::<_, c::TripState>::new(open(&path).await);
    let mut t2 = release_c.load("t2").await.unwrap().unwrap().value;
    t2.budget = Some(1200);
    release_c.save("t2", &t2).await.unwrap();

    // 3. The rollback from C: a dry run says what would happen and writes
    // nothing; then every record is written down to 3 and A reads them all.
    let before = states(&path);
    let args = |dry: bool| {
        let url = format!("sqlite:{}", path.display());
        let mut args: Vec<String> = [
            "--store",
            &url,
            "--table",
            "agent_state",
            "--key",
            "thread_id",
            "--payload",
            "state",
            "--to",
            "3",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        if dry {
            args.push("--dry-run".into());
        }
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        schema_migrate_tests::store::cli::run(RELEASE_C_CLI, &args)
    };
    let dry = run(args(true));
    assert_eq!(dry.code, Some(0), "{}{}", dry.stdout, dry.stderr);
    assert!(dry.stdout.contains("to version 3"), "{}", dry.stdout);
    assert_eq!(
        schema_migrate_tests::store::cli::count(&dry.stdout, "would downgrade "),
        5,
        "{}",
        dry.stdout
    );
    assert_eq!(
        schema_migrate_tests::store::cli::count(&dry.stdout, "would lose data "),
        2,
        "{}",
        dry.stdout
    );
    assert_eq!(states(&path), before, "a dry run writes nothing");

    let done = run(args(false));
    assert_eq!(done.code, Some(0), "{}{}", done.stdout, done.stderr);
    assert_eq!(
        schema_migrate_tests::store::cli::count(&done.stdout, "downgraded "),
        5,
        "{}",
        done.stdout
    );
    let after = states(&path);
    assert!(after.values().all(|s| version_of(s) == 3), "{after:?}");
    assert_eq!(after["t2"], r#"{"_version":3,"city":"Oslo","travelers":2}"#);
    let conn = Connection::open(&path).unwrap();
    let notes: Vec<String> = conn
        .prepare("SELECT note FROM agent_state WHERE note IS NOT NULL ORDER BY thread_id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(notes, ["a", "b", "c"], "other columns are untouched");
    let release_a = Lazy::<_, a::TripState>::new(open(&path).await);
    for key in ["t1", "t2", "t3", "t4", "t5"] {
        let loaded = release_a.load(key).await.unwrap().unwrap();
        assert_eq!(
            (loaded.version, loaded.write_back),
            (3, WriteBack::NotNeeded),
            "{key}"
        );
    }
    // Running it again has nothing left to do.
    let again = run(args(false));
    assert_eq!(
        schema_migrate_tests::store::cli::count(&again.stdout, "already current "),
        5,
        "{}",
        again.stdout
    );
}

/// `--to` a version the type cannot write is refused before anything is
/// read, with the step and op that cannot be undone.
#[test]
fn to_a_version_that_cannot_be_written_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE agent_state (thread_id TEXT PRIMARY KEY, state TEXT NOT NULL);",
        )
        .unwrap();
    let url = format!("sqlite:{}", path.display());
    let base = [
        "--store",
        url.as_str(),
        "--table",
        "agent_state",
        "--key",
        "thread_id",
        "--payload",
        "state",
    ];
    let out =
        schema_migrate_tests::store::cli::run(RELEASE_C_CLI, &[&base[..], &["--to", "9"]].concat());
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("TripState: no version 9 to write; it reads versions 1 to 4"),
        "{}",
        out.stderr
    );
    let out =
        schema_migrate_tests::store::cli::run(RELEASE_C_CLI, &[&base[..], &["--to", "x"]].concat());
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}
