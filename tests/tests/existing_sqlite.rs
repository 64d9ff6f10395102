//! SQLite tables that another program made, with plain SQL: the command
//! line and the library migrate them in place, and everything is checked
//! from outside with SQL afterwards.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use rusqlite::{params, Connection};
use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{Format, Layout, Lazy, Migrator, Progress, RecordStore, WriteBack};
use schema_migrate_tests::store::crash::crash_and_resume_layout;
use schema_migrate_tests::store::fixture::{checkpoint, mixed_version, TripState};

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");

/// Runs the ready command line; returns (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = schema_migrate_tests::store::cli::run(CHILD, args);
    (out.code, out.stdout, out.stderr)
}

/// The command line for `items(id, data, ...)` in the file `url` names.
fn items_args(url: &str) -> [&str; 8] {
    [
        "--store",
        url,
        "--table",
        "items",
        "--key",
        "id",
        "--payload",
        "data",
    ]
}

fn url(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

/// Every row of `table`, every column as SQLite holds it, by rowid.
fn rows(conn: &Connection, table: &str) -> BTreeMap<i64, Vec<rusqlite::types::Value>> {
    let mut stmt = conn
        .prepare(&format!("SELECT rowid, * FROM {table}"))
        .unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |row| {
        let values = (1..n).map(|i| row.get(i)).collect::<Result<Vec<_>, _>>()?;
        Ok((row.get(0)?, values))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn text(value: &rusqlite::types::Value) -> &str {
    match value {
        rusqlite::types::Value::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

/// `items(id INTEGER PRIMARY KEY, data TEXT, note TEXT)`: every record is
/// upgraded, `note` is untouched, a field version 1 did not model is kept,
/// and bad rows are reported with their key and left byte-identical.
#[test]
fn an_items_table_keeps_other_columns_unknown_fields_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, data TEXT, note TEXT)")
        .unwrap();
    let mut expected = BTreeMap::new();
    for i in 1..=40 {
        let (payload, value) = checkpoint(i, mixed_version(i), 1);
        conn.execute(
            "INSERT INTO items VALUES (?1, ?2, ?3)",
            params![i as i64, payload, format!("note {i}")],
        )
        .unwrap();
        expected.insert(i as i64, value);
    }
    let bad = [
        // Written by a program that keeps a field of its own.
        (
            41,
            Some(r#"{"schema_version":1,"destination":"Lima","tenant":{"id":7}}"#),
        ),
        (42, None),
        (43, Some("not json")),
        // `destination_city` is not a field of version 2, but version 4 writes it.
        (
            44,
            Some(
                r#"{"schema_version":2,"destination":"Rome","travelers":2,"destination_city":"Milan"}"#,
            ),
        ),
        (
            45,
            Some(r#"{"schema_version":9,"destination_city":"Mars"}"#),
        ),
    ];
    for (id, data) in bad {
        conn.execute(
            "INSERT INTO items VALUES (?1, ?2, 'kept')",
            params![id, data],
        )
        .unwrap();
    }
    let before = rows(&conn, "items");
    let url = url(&path);
    let args = items_args(&url);

    let (code, stdout, stderr) = cli(&[&args[..], &["--dry-run"]].concat());
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(rows(&conn, "items"), before, "a dry run wrote");

    let (code, stdout, stderr) = cli(&args);
    assert_eq!(code, Some(1), "failed records exit 1:\n{stdout}{stderr}");
    assert!(stdout.contains("carried fields   1"), "{stdout}");
    for (key, reason) in [
        ("42", "the payload column `data` holds NULL"),
        ("43", "TripState: expected ident"),
        (
            "44",
            "holds a field `destination_city` that version does not model",
        ),
        ("45", "stored at version 9"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("{key} is not reported:\n{stdout}"));
        assert!(line.contains(reason), "{key}: {line}");
    }

    let after = rows(&conn, "items");
    for (id, row) in &after {
        let was = &before[id];
        if (42..=45).contains(id) {
            assert_eq!(row, was, "bad row {id} changed");
            continue;
        }
        assert_eq!(row[2], was[2], "row {id}: note changed");
        let data = text(&row[1]);
        if data != text(&was[1]) {
            // Written by the migration: the tag first.
            assert!(data.starts_with(r#"{"schema_version":4,"#), "{data}");
        }
        let stored = schema_migrate::json::from_str::<TripState>(data).unwrap();
        assert_eq!(stored.version, 4);
        if let Some(value) = expected.get(id) {
            assert_eq!(&stored.value, value, "row {id}");
        }
    }
    let carried: serde_json::Value = serde_json::from_str(text(&after[&41][1])).unwrap();
    assert_eq!(carried["tenant"], serde_json::json!({"id": 7}), "{carried}");
    assert_eq!(carried["destination_city"], "Lima");

    // Everything that can be is current: a rerun writes nothing.
    let (code, stdout, _) = cli(&args);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("upgraded         0"), "{stdout}");
    assert_eq!(rows(&conn, "items"), after);
}

/// The LangGraph layout: a composite key, the agent state at
/// `/channel_values/trip` inside the checkpoint. Stopped by `--limit`, the
/// printed hint, run through `bash -c` as printed, resumes exactly after
/// the last key, with keys holding spaces, quotes and newlines. The rest of
/// the envelope keeps its bytes.
#[test]
fn langgraph_checkpoints_resume_from_the_printed_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE checkpoints (
             thread_id TEXT NOT NULL,
             checkpoint_ns TEXT NOT NULL DEFAULT '',
             checkpoint_id TEXT NOT NULL,
             parent_checkpoint_id TEXT,
             checkpoint TEXT NOT NULL,
             metadata TEXT,
             PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
         )",
    )
    .unwrap();
    let threads = [
        "plain",
        "with space",
        "it's \"quoted\"",
        "new\nline",
        "$(touch pwned) `x` \\",
    ];
    let mut old = 0;
    let mut n = 0;
    for (t, thread) in threads.iter().enumerate() {
        for (s, ns) in ["", "sub graph"].iter().enumerate() {
            for c in 0..4 {
                let i = t * 100 + s * 10 + c;
                let version = mixed_version(i);
                old += usize::from(version < 4);
                let (trip, _) = checkpoint(i, version, 1);
                // Python's json.dumps spacing, which the envelope keeps.
                let envelope = format!(
                    r#"{{"v": 1, "id": "ck-{c}", "channel_values": {{"messages": ["hi"], "trip": {trip}}}, "channel_versions": {{"trip": 3}}}}"#
                );
                conn.execute(
                    "INSERT INTO checkpoints VALUES (?1, ?2, ?3, NULL, ?4, '{}')",
                    params![thread, ns, format!("ck-{c}"), envelope],
                )
                .unwrap();
                n += 1;
            }
        }
    }
    let before = rows(&conn, "checkpoints");
    let url = url(&path);
    let args = [
        "--store",
        &url,
        "--table",
        "checkpoints",
        "--key",
        "thread_id,checkpoint_ns,checkpoint_id",
        "--payload",
        "checkpoint",
        "--path",
        "/channel_values/trip",
        "--batch-size",
        "3",
        "--limit",
        "7",
    ];
    let resumed = schema_migrate_tests::store::cli::run_resuming(CHILD, &args);
    assert!(resumed.runs > 5 && resumed.failed == 0, "{resumed:?}");
    let (scanned, upgraded) = (resumed.scanned as usize, resumed.upgraded as usize);
    assert_eq!(
        (scanned, upgraded),
        (n, old),
        "visited each record exactly once"
    );

    let after = rows(&conn, "checkpoints");
    for (rowid, row) in &after {
        let was = &before[rowid];
        assert_eq!(row[..4], was[..4], "key or parent changed");
        assert_eq!(row[5], was[5], "metadata changed");
        let (new, old) = (text(&row[4]), text(&was[4]));
        let prefix = r#"{"v": 1, "id": "ck-"#;
        assert!(new.starts_with(prefix) && old.starts_with(prefix));
        let tail = r#"}, "channel_versions": {"trip": 3}}"#;
        assert!(new.ends_with(tail), "the envelope changed: {new}");
        let envelope: serde_json::Value = serde_json::from_str(new).unwrap();
        let trip = envelope["channel_values"]["trip"].to_string();
        let stored = schema_migrate::json::from_str::<TripState>(&trip).unwrap();
        assert_eq!(stored.version, 4);
        assert_eq!(
            envelope["channel_values"]["messages"],
            serde_json::json!(["hi"])
        );
    }

    // The library on the same layout: a lazy load of one composite key.
    let layout = Layout::table(
        "checkpoints",
        ["thread_id", "checkpoint_ns", "checkpoint_id"],
        "checkpoint",
    )
    .path("/channel_values/trip")
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open_layout(&path, &layout).await.unwrap();
        let key = r#"["new\nline","sub graph","ck-2"]"#;
        let loaded = Lazy::<_, TripState>::new(&store)
            .load(key)
            .await
            .unwrap()
            .expect("the record");
        assert_eq!(
            (loaded.version, loaded.write_back),
            (4, WriteBack::NotNeeded)
        );
        assert!(Lazy::<_, TripState>::new(&store)
            .load(r#"["new\nline","sub graph","ck-9"]"#)
            .await
            .unwrap()
            .is_none());
    });
}

/// MessagePack and CBOR in BLOB columns, with `--format`.
#[test]
fn messagepack_and_cbor_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blobs.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE mp (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
         CREATE TABLE cb (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    )
    .unwrap();
    let encode = |format: &str, value: &serde_json::Value| -> Vec<u8> {
        match format {
            "msgpack" => rmp_serde::to_vec_named(value).unwrap(),
            _ => {
                let mut out = Vec::new();
                ciborium::into_writer(value, &mut out).unwrap();
                out
            }
        }
    };
    for (table, format) in [("mp", "msgpack"), ("cb", "cbor")] {
        let mut expected = BTreeMap::new();
        for i in 0..20 {
            let (payload, value) = checkpoint(i, mixed_version(i), 2);
            let mut json: serde_json::Value = serde_json::from_str(&payload).unwrap();
            if i == 3 {
                json["origin"] = "imported".into();
            }
            conn.execute(
                &format!("INSERT INTO {table} VALUES (?1, ?2)"),
                params![i as i64, encode(format, &json)],
            )
            .unwrap();
            expected.insert(i as i64, value);
        }
        conn.execute(&format!("INSERT INTO {table} VALUES (99, x'c1ffff')"), [])
            .unwrap();
        let url = url(&path);
        let (code, stdout, stderr) = cli(&[
            "--store",
            &url,
            "--table",
            table,
            "--key",
            "id",
            "--payload",
            "body",
            "--format",
            format,
        ]);
        assert_eq!(code, Some(1), "{stdout}{stderr}");
        assert!(stdout.contains("99: "), "{stdout}");
        let mut stmt = conn
            .prepare(&format!("SELECT id, body FROM {table} ORDER BY id"))
            .unwrap();
        let bodies: Vec<(i64, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (id, body) in bodies {
            if id == 99 {
                assert_eq!(body, b"\xc1\xff\xff", "the bad blob changed");
                continue;
            }
            let value: TripState = match format {
                "msgpack" => rmp_serde::from_slice(&body).unwrap(),
                _ => ciborium::from_reader(&body[..]).unwrap(),
            };
            assert_eq!(value, expected[&id], "{format} row {id}");
            let raw: serde_json::Value = match format {
                "msgpack" => rmp_serde::from_slice(&body).unwrap(),
                _ => ciborium::from_reader(&body[..]).unwrap(),
            };
            assert_eq!(raw["schema_version"], 4);
            if id == 3 {
                assert_eq!(raw["origin"], "imported", "{format}: the carried field");
            }
        }
    }
}

/// Without a revision column: SIGKILL half way and a resume lose nothing,
/// and a concurrent writer's updates all survive (compare-and-swap on the
/// payload as read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_revision_column_crash_and_concurrent_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE sessions (k TEXT PRIMARY KEY, state TEXT NOT NULL, touched INTEGER DEFAULT 0);
         CREATE TABLE other (k TEXT PRIMARY KEY, state TEXT NOT NULL);",
    )
    .unwrap();
    let layout = Layout::table("sessions", ["k"], "state");
    let outcome = crash_and_resume_layout(
        CHILD,
        &url(&path),
        &layout,
        &["--table", "sessions", "--key", "k", "--payload", "state"],
    )
    .await;
    eprintln!("sqlite crash test without a revision column: {outcome:?}");

    let store = SqliteStore::open_layout(&path, &Layout::table("other", ["k"], "state"))
        .await
        .unwrap();
    assert!(!store.counts_writes());
    schema_migrate_tests::store::concurrent_writer_keeps_every_update(store).await;
}

/// The generic checks that hold on any layout, on a table without a
/// revision column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_suite_on_a_table_without_a_revision_column() {
    use schema_migrate_tests::store as suite;
    for check in 0..suite::LAYOUT_CHECKS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suite.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, doc TEXT, n INTEGER DEFAULT 7)")
            .unwrap();
        let store = SqliteStore::open_layout(&path, &Layout::table("t", ["id"], "doc"))
            .await
            .unwrap();
        suite::layout_check(check, &store).await;
    }
}

/// A dry run opens the file read-only: it works on a file this process may
/// not write, and a resume that finds nothing says so.
#[test]
fn a_dry_run_reads_a_read_only_file_and_an_empty_resume_warns() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, data TEXT)")
        .unwrap();
    let (payload, _) = checkpoint(1, 1, 1);
    conn.execute("INSERT INTO items VALUES (1, ?1)", params![payload])
        .unwrap();
    drop(conn);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = std::fs::read(&path).unwrap();
    let url = url(&path);
    let args = items_args(&url);
    // Root writes whatever the mode says: run the CLI as `nobody` then.
    let root = schema_migrate_tests::servers::running_as_root();
    let run = |extra: &[&str]| {
        let mut command = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", CHILD]);
            c
        } else {
            Command::new(CHILD)
        };
        let out = command.args(args).args(extra).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["--dry-run"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("would upgrade    1"), "{stdout}");
    let (code, _, stderr) = run(&[]);
    assert_eq!(
        code,
        Some(3),
        "writing a read-only file is a store error: {stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let (code, _, stderr) = run(&["--dry-run", "--resume-from", "1"]);
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("warning: no records found in the table `items` after 1"),
        "{stderr}"
    );
}

/// Wrongly named tables, columns and key types are usage errors (exit 2)
/// naming them; nothing is created.
#[test]
fn wrong_names_and_types_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, data TEXT, weight REAL)")
        .unwrap();
    let url = url(&path);
    for (extra, needle) in [
        (
            &["--key", "idd", "--payload", "data"][..],
            "has no column `idd` (its columns: id, data, weight)",
        ),
        (
            &["--key", "weight", "--payload", "data"],
            "key column `weight` is declared REAL",
        ),
        (
            &["--key", "id", "--payload", "id"],
            "column `id` is named twice",
        ),
        (&["--match", "x:*"], "--match replaces --prefix"),
        (
            &["--key", "id", "--payload", "data", "--format", "xml"],
            "expected json, msgpack or cbor",
        ),
        (
            &[
                "--key",
                "id",
                "--payload",
                "data",
                "--path",
                "channel_values",
            ],
            "starts with `/`",
        ),
    ] {
        let mut args = vec!["--store", url.as_str()];
        if extra.contains(&"--match") {
            args.extend(["--prefix", "p"]);
        } else {
            args.extend(["--table", "items"]);
        }
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = cli(&args);
        assert_eq!(code, Some(2), "{extra:?}: {stdout}{stderr}");
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
}

/// Lazy write-back on an existing table keeps the other columns and a
/// field the stored version does not model; the migrator on the same table
/// then finds nothing to do.
#[tokio::test]
async fn lazy_write_back_on_an_existing_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazy.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        r#"CREATE TABLE items (id INTEGER PRIMARY KEY, data TEXT, note TEXT);
           INSERT INTO items VALUES (1, '{"schema_version":1,"destination":"Oslo","x-trace":[1,2]}', 'n');"#,
    )
    .unwrap();
    let store = SqliteStore::open_layout(
        &path,
        &Layout::table("items", ["id"], "data").format(Format::Json),
    )
    .await
    .unwrap();
    let lazy = Lazy::<_, TripState>::new(&store).write_back(true);
    let loaded = lazy.load("1").await.unwrap().unwrap();
    assert!(matches!(loaded.write_back, WriteBack::Written { .. }));
    let (data, note): (String, String) = conn
        .query_row("SELECT data, note FROM items WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(note, "n");
    assert!(
        data.starts_with(r#"{"schema_version":4,"destination_city":"Oslo""#),
        "{data}"
    );
    assert!(data.ends_with(r#","x-trace":[1,2]}"#), "{data}");
    let report = Migrator::<TripState>::new()
        .progress(Progress::Events)
        .run(&store)
        .await
        .unwrap();
    assert_eq!((report.scanned, report.already_current), (1, 1));
    assert_eq!(
        store.get("1").await.unwrap().unwrap().text(),
        Some(data.as_str())
    );
}

/// JSON in a column declared BLOB is written back as a blob, JSON in a TEXT
/// column as text: the column keeps the storage class its application reads.
#[test]
fn json_keeps_the_payload_columns_storage_class() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classes.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE b (id INTEGER PRIMARY KEY, doc BLOB); CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT);")
        .unwrap();
    let (payload, value) = checkpoint(1, 1, 1);
    conn.execute("INSERT INTO b VALUES (1, ?1)", params![payload.as_bytes()])
        .unwrap();
    conn.execute("INSERT INTO t VALUES (1, ?1)", params![payload])
        .unwrap();
    let url = url(&path);
    for (table, class) in [("b", "blob"), ("t", "text")] {
        let (code, stdout, stderr) = cli(&[
            "--store",
            &url,
            "--table",
            table,
            "--key",
            "id",
            "--payload",
            "doc",
        ]);
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        let (stored_class, bytes): (String, Vec<u8>) = conn
            .query_row(
                &format!("SELECT typeof(doc), CAST(doc AS BLOB) FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(stored_class, class, "{table}");
        let stored = schema_migrate::json::from_slice::<TripState>(&bytes).unwrap();
        assert_eq!((stored.version, &stored.value), (4, &value));
    }
}
