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

/// A table named by an SQL keyword works in every statement, opened either
/// way, and through the CLI.
#[tokio::test]
async fn a_table_named_by_a_keyword_works() {
    use schema_migrate::store::{Cas, CasWrite, RecordStore};

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kw.db");
    for table in ["order", "group", "select"] {
        let store = SqliteStore::open(&path, table).await.expect(table);
        assert_eq!(store.put("a", "1".as_bytes()).await.unwrap(), 1, "{table}");
        assert_eq!(store.put("a", "2".as_bytes()).await.unwrap(), 2, "{table}");
        store
            .put_many(&[("b".into(), "3".into()), ("c".into(), "4".into())])
            .await
            .unwrap();
        let cas = CasWrite {
            read: Vec::new(),
            key: "a".into(),
            expected: 2,
            payload: "5".into(),
        };
        assert_eq!(
            store.compare_and_swap(&[cas]).await.unwrap(),
            [Cas::Written { revision: 3 }]
        );
        assert_eq!(store.get("a").await.unwrap().unwrap().payload, b"5");
        assert_eq!(store.scan(None, 10).await.unwrap().len(), 3);
        assert_eq!(store.scan(Some("a"), 10).await.unwrap().len(), 2);
        let existing = SqliteStore::open_existing(&path, table).await.expect(table);
        assert_eq!(existing.get("c").await.unwrap().unwrap().payload, b"4");
    }

    let store = SqliteStore::open(&path, "order").await.unwrap();
    schema_migrate_tests::store::fill(&store, 10, 1, |_| 1).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_store_child"))
        .args(["--store", &format!("sqlite:{}", path.display())])
        .args(["--table", "order", "--progress", "events"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The three non-JSON records fail; the ten checkpoints upgrade.
    assert!(stdout.contains("upgraded         10"), "{stdout}");
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
        (
            "rediss://localhost:6380",
            "Redis over TLS) is not supported",
        ),
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

/// The ready CLI, as a user's binary runs it: exit 2 on a usage error with
/// a message, 1 when records failed (each listed with its key), 0 when done;
/// `--limit` and `--resume-from` continue where the last run stopped.
#[tokio::test]
async fn cli_exit_status_and_report() {
    use schema_migrate::store::RecordStore;
    use std::process::Command;

    let child = env!("CARGO_BIN_EXE_store_child");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("cli.db").display());

    for args in [
        &["--table", "t"][..],
        &["--store", &url, "--batch-size", "0"],
        &["--store", &url, "--bogus"],
        &["--store", &url, "--limit"],
    ] {
        let out = Command::new(child).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains("Usage:"),
            "{stderr}"
        );
    }
    let help = Command::new(child).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--resume-from <KEY>"));

    let store = SqliteStore::open(dir.path().join("cli.db"), "t")
        .await
        .unwrap();
    schema_migrate_tests::store::fill(&store, 100, 1, |_| 1).await;
    store
        .put("trip-000042-bad", r#"{"schema_version":9}"#.as_bytes())
        .await
        .unwrap();

    let run = |extra: &[&str]| {
        let mut args = vec![
            "--store",
            url.as_str(),
            "--table",
            "t",
            "--progress",
            "events",
        ];
        args.extend_from_slice(extra);
        let out = Command::new(child).args(&args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(&["--dry-run"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("would upgrade    100"), "{stdout}");
    assert!(
        stdout.contains("trip-000042-bad: TripState: stored at version 9"),
        "{stdout}"
    );

    let (code, stdout) = run(&["--limit", "30", "--batch-size", "7"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("--resume-from trip-000029"), "{stdout}");
    let (code, stdout) = run(&["--resume-from", "trip-000029"]);
    assert_eq!(code, Some(1), "the bad record fails: {stdout}");
    assert!(stdout.contains("upgraded         70"), "{stdout}");
    assert!(stdout.contains("resumed after    trip-000029"), "{stdout}");
    let (code, stdout) = run(&[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("already current  100"), "{stdout}");
}

/// Without a terminal, progress is `tracing` events (target
/// `schema_migrate`): one per batch naming the last key done, a warning per
/// failed record with its key, and a summary.
#[test]
fn progress_events_name_the_last_key_done() {
    use schema_migrate::store::{Migrator, Progress, RecordStore};
    use schema_migrate_tests::store::fixture::TripState;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .without_time()
        .finish();
    let dir = tempfile::tempdir().expect("temp dir");
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = SqliteStore::open(dir.path().join("log.db"), "t")
                .await
                .unwrap();
            schema_migrate_tests::store::fill(&store, 25, 1, |_| 2).await;
            store
                .put("trip-000003-future", r#"{"schema_version":8}"#.as_bytes())
                .await
                .unwrap();
            Migrator::<TripState>::new()
                .batch_size(10)
                .progress(Progress::Events)
                .run(&store)
                .await
                .unwrap();
        });
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let progress: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("schema_migrate: batch migration progress"))
        .collect();
    assert_eq!(progress.len(), 3, "{text}");
    assert!(progress[0].contains("last_key=trip-000008"), "{text}");
    assert!(progress[2].contains("last_key=trip-000024"), "{text}");
    assert!(progress[2].contains("scanned=26"), "{text}");
    let warning = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("key=trip-000003-future"))
        .unwrap_or_else(|| panic!("no warning naming the key:\n{text}"));
    assert!(warning.contains("kind=\"future_version\""), "{warning}");
    assert!(text.contains("batch migration done"), "{text}");
}

/// Every `--progress` mode the help text documents is accepted, and
/// `--progress lines` prints plain progress lines naming the last key done.
#[tokio::test]
async fn cli_accepts_every_documented_progress_mode() {
    use schema_migrate::store::cli::{parse, usage, Command as Parsed};
    use schema_migrate::store::Progress;
    use std::process::Command;

    for (mode, want) in [
        ("auto", Progress::Auto),
        ("bar", Progress::Bar),
        ("lines", Progress::Lines),
        ("events", Progress::Events),
    ] {
        assert!(usage("x").contains(mode), "{mode} is not in the help");
        let args = ["--store", "sqlite:x.db", "--progress", mode].map(String::from);
        match parse(args) {
            Ok(Parsed::Run(options)) => assert_eq!(options.progress, want, "{mode}"),
            other => panic!("--progress {mode}: {other:?}"),
        }
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("lines.db"), "t")
        .await
        .unwrap();
    schema_migrate_tests::store::fill(&store, 20, 1, |_| 1).await;
    let url = format!("sqlite:{}", dir.path().join("lines.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_store_child"))
        .args(["--store", &url, "--table", "t", "--progress", "lines"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("20 scanned") && l.contains("at trip-000019")),
        "{stderr}"
    );
}

/// The CLI creates nothing: a misspelled file or table is a usage error
/// (exit 2) naming it, with no file or table left behind, and a dry run on
/// an existing file leaves the file byte-identical (journal mode included).
#[tokio::test]
async fn cli_creates_no_file_or_table_and_a_dry_run_writes_nothing() {
    use std::process::Command;

    let child = env!("CARGO_BIN_EXE_store_child");
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |url: &str, table: &str, extra: &[&str]| {
        let out = Command::new(child)
            .args(["--store", url, "--table", table, "--progress", "events"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // A file that does not exist.
    let typo = dir.path().join("typo.db");
    let typo_url = format!("sqlite:{}", typo.display());
    for extra in [&["--dry-run"][..], &[]] {
        let (code, _, stderr) = run(&typo_url, "checkpoints", extra);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("no SQLite file at"), "{stderr}");
        assert!(!typo.exists(), "the CLI created {}", typo.display());
    }

    // A file made by someone else, in the default rollback journal mode,
    // holding the table `checkpoints`.
    let path = dir.path().join("app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE checkpoints (key TEXT PRIMARY KEY NOT NULL, payload TEXT NOT NULL, revision INTEGER NOT NULL);
             INSERT INTO checkpoints VALUES ('trip-1', '{\"schema_version\":1,\"destination\":\"Oslo\"}', 1);",
        )
        .unwrap();
    }
    let url = format!("sqlite:{}", path.display());
    let before = std::fs::read(&path).unwrap();

    let (code, _, stderr) = run(&url, "chekpoints", &["--dry-run"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("no table `chekpoints` in {url}")),
        "{stderr}"
    );
    let (code, _, stderr) = run(&url, "chekpoints", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stdout, stderr) = run(&url, "checkpoints", &["--dry-run"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("would upgrade    1"), "{stdout}");

    assert_eq!(std::fs::read(&path).unwrap(), before, "the dry run wrote");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the journal mode was switched");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["checkpoints"], "the CLI created a table");
    drop(conn);

    // The real run writes; an empty table is a warning, not an error.
    let (code, stdout, stderr) = run(&url, "checkpoints", &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("upgraded         1"), "{stdout}");
    SqliteStore::open(&path, "empty").await.unwrap();
    let (code, _, stderr) = run(&url, "empty", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: no records found in the table `empty`"),
        "{stderr}"
    );

    // `store::open` still creates, for programs that own their store.
    let owned = dir.path().join("owned.db");
    let store = schema_migrate::store::open(&format!("sqlite:{}", owned.display()), "t")
        .await
        .unwrap();
    drop(store);
    assert!(owned.exists());
}

/// A record the store cannot decode (a payload that is not UTF-8, a
/// revision that is not an integer) stops the run with an error naming its
/// key, so that it can be repaired or deleted and the run resumed.
#[tokio::test]
async fn an_undecodable_record_is_named_by_its_key() {
    use schema_migrate::store::{Migrator, Progress, RecordStore};
    use schema_migrate_tests::store::fixture::TripState;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.db");
    let store = SqliteStore::open(&path, "t").await.unwrap();
    schema_migrate_tests::store::fill(&store, 10, 1, |_| 1).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO t VALUES ('trip-000005-bad', CAST(x'7B22FF22' AS TEXT), 1);
         INSERT INTO t VALUES ('trip-000007-rev', '{}', 'abc');",
    )
    .unwrap();

    // Neither stops a run: each is a failed record, named by its key and
    // left byte-identical, and the run goes on to the end.
    let bad_before = store.get("trip-000005-bad").await.unwrap().unwrap();
    assert_eq!(bad_before.payload, b"{\"\xFF\"");
    let rev = store.get("trip-000007-rev").await.unwrap().unwrap();
    assert_eq!(
        rev.unreadable.as_deref(),
        Some(r#"the revision column `revision` holds "abc", not an integer"#)
    );

    let report = Migrator::<TripState>::new()
        .batch_size(3)
        .progress(Progress::Events)
        .run(&store)
        .await
        .expect("bad records are failures, not errors");
    assert!(report.finished, "{report:#}");
    let failed: Vec<(&str, &str)> = report
        .failed
        .iter()
        .map(|f| (f.key.as_str(), f.kind))
        .collect();
    assert_eq!(
        failed,
        [
            ("trip-000005-bad", "undecodable"),
            ("trip-000007-rev", "unreadable")
        ],
        "{report:#}"
    );
    assert!(report.failed[0].reason.contains("not UTF-8"), "{report:#}");
    assert_eq!(report.upgraded, 10);
    let raw: Vec<u8> = conn
        .query_row(
            "SELECT CAST(payload AS BLOB) FROM t WHERE key = 'trip-000005-bad'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(raw, b"{\"\xFF\"", "left as it was");
    let revision: String = conn
        .query_row(
            "SELECT revision FROM t WHERE key = 'trip-000007-rev'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(revision, "abc", "left as it was");
}

/// Exit statuses: a store named wrongly (invalid table name, unknown URL
/// scheme, missing file) is a usage error, 2; a limit that ends exactly at
/// the last record does not ask to resume; a closed stdout is no panic.
#[tokio::test]
async fn cli_exit_codes_for_store_names_limits_and_a_closed_stdout() {
    use std::process::{Command, Stdio};

    let child = env!("CARGO_BIN_EXE_store_child");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("codes.db");
    let url = format!("sqlite:{}", path.display());
    let store = SqliteStore::open(&path, "t").await.unwrap();
    schema_migrate_tests::store::fill(&store, 30, 1, |_| 1).await;

    for (args, needle) in [
        (&["--store", &url, "--table", "1bad"][..], "no table `1bad`"),
        (
            &["--store", "mysql://localhost/db"],
            "unknown store URL scheme",
        ),
        (&["--store", "sqlite:"], "names no file"),
        (&["--store", "redis://"], "redis"),
    ] {
        let out = Command::new(child).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }

    let run = |extra: &[&str]| {
        let out = Command::new(child)
            .args(["--store", &url, "--table", "t", "--progress", "events"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // A limit that ends exactly at the last record: the run is finished.
    let (code, stdout) = run(&["--dry-run", "--limit", "30", "--batch-size", "10"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("(reached the end)"), "{stdout}");
    assert!(!stdout.contains("--resume-from"), "{stdout}");
    // One short of it: there is more to do.
    let (code, stdout) = run(&["--dry-run", "--limit", "29", "--batch-size", "10"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("--resume-from trip-000028"), "{stdout}");

    // stdout closed before the report is printed: no panic (101), the exit
    // status still says what happened to the records.
    for args in [&["--dry-run"][..], &["--help"]] {
        let mut process = Command::new(child)
            .args(["--store", &url, "--table", "t", "--progress", "events"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(process.stdout.take());
        let out = process.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
