//! PostgreSQL tables that another program made, with plain SQL through
//! `psql`: the command line and the library migrate them in place, and
//! `psql` checks the result from outside.
#![cfg(feature = "postgres")]

use std::time::Duration;

use schema_migrate::store::postgres::PostgresStore;
use schema_migrate::store::{Layout, Lazy, LazyError, RecordStore};
use schema_migrate_tests::servers::postgres::{postgres, Postgres};
use schema_migrate_tests::servers::{unique_name, StartError};
use schema_migrate_tests::store::crash::crash_and_resume_layout;
use schema_migrate_tests::store::fixture::{checkpoint, mixed_version, TripState};

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = schema_migrate_tests::store::cli::run(CHILD, args);
    (out.code, out.stdout, out.stderr)
}

fn psql(server: &Postgres, sql: &str) -> String {
    server.psql(sql).unwrap_or_else(|e| panic!("{e}"))
}

/// `app.sessions(id uuid primary key, state jsonb not null, updated_at
/// timestamptz, note text)`: every session upgraded, `updated_at` and
/// `note` untouched, a field the stored version does not model kept, bad
/// rows reported with their key and left as they were.
#[test]
fn a_sessions_table_with_uuid_keys_in_a_schema() {
    let Some(server) = postgres() else { return };
    let schema = unique_name("app");
    let table = format!("{schema}.sessions");
    let mut sql = format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {table} (id uuid PRIMARY KEY, state jsonb NOT NULL,
                               updated_at timestamptz DEFAULT now() - interval '3 days', note text);"
    );
    for i in 0..30 {
        let (payload, _) = checkpoint(i, mixed_version(i), 1);
        sql.push_str(&format!(
            "INSERT INTO {table} (id, state, note) VALUES (gen_random_uuid(), $j${payload}$j$, 'n{i}');"
        ));
    }
    sql.push_str(&format!(
        r#"INSERT INTO {table} (id, state, note) VALUES
           ('00000000-0000-0000-0000-000000000001', '{{"schema_version":1,"destination":"Lima","tenant":"acme"}}', 'carried'),
           ('00000000-0000-0000-0000-000000000002', '[1, 2]', 'bad'),
           ('00000000-0000-0000-0000-000000000003', '{{"schema_version":9,"destination_city":"Mars"}}', 'bad');"#
    ));
    psql(server, &sql);
    let look = format!("SELECT id, state::text, updated_at, note FROM {table} ORDER BY id");
    let before = psql(server, &look);

    let args = [
        "--store",
        server.url(),
        "--table",
        &table,
        "--key",
        "id",
        "--payload",
        "state",
        "--batch-size",
        "7",
    ];
    let (code, stdout, stderr) = cli(&args);
    assert_eq!(code, Some(1), "failed records exit 1:\n{stdout}{stderr}");
    assert!(stdout.contains("carried fields   1"), "{stdout}");
    assert!(
        stdout.contains("00000000-0000-0000-0000-000000000002: TripState"),
        "{stdout}"
    );
    assert!(
        stdout.contains("00000000-0000-0000-0000-000000000003: TripState: stored at version 9"),
        "{stdout}"
    );

    let after = psql(server, &look);
    for (old, new) in before.lines().zip(after.lines()) {
        let old: Vec<&str> = old.split('|').collect();
        let new: Vec<&str> = new.split('|').collect();
        assert_eq!(
            (old[0], old[2], old[3]),
            (new[0], new[2], new[3]),
            "other columns"
        );
        if old[3] == "bad" {
            assert_eq!(old[1], new[1], "a bad row changed");
            continue;
        }
        let stored = schema_migrate::json::from_str::<TripState>(new[1]).unwrap();
        assert_eq!(stored.version, 4, "{}", new[1]);
    }
    assert_eq!(
        psql(
            server,
            &format!("SELECT state->>'tenant' FROM {table} WHERE note = 'carried'")
        ),
        "acme"
    );
}

/// LangGraph's checkpoints: a composite key, the agent state at
/// `/channel_values/trip`, `--where` on the namespace. Only the root
/// checkpoints change, and in them only the trip; a checkpoint without a
/// trip is a failed record.
#[test]
fn langgraph_checkpoints_with_a_path_and_a_condition() {
    let Some(server) = postgres() else { return };
    let table = unique_name("checkpoints");
    let mut sql = format!(
        "CREATE TABLE {table} (thread_id text NOT NULL, checkpoint_ns text NOT NULL DEFAULT '',
             checkpoint_id text NOT NULL, parent_checkpoint_id text, type text, checkpoint jsonb NOT NULL,
             metadata jsonb NOT NULL DEFAULT '{{}}',
             PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id));"
    );
    for t in 0..4 {
        for ns in ["", "agent:1"] {
            for c in 0..5 {
                let i = t * 100 + c;
                let (trip, _) = checkpoint(i, mixed_version(i), 1);
                sql.push_str(&format!(
                    "INSERT INTO {table} VALUES ('thread {t}', '{ns}', 'ck-{c}', NULL, 'json',
                     $j${{\"v\": 1, \"ts\": \"2024-05-01T00:00:00\", \"channel_values\": {{\"messages\": [{{\"content\": \"hi\"}}], \"trip\": {trip}}}, \"channel_versions\": {{\"trip\": \"00000003.0.1\"}}}}$j$,
                     '{{\"step\": {c}}}');"
                ));
            }
        }
    }
    sql.push_str(&format!(
        "INSERT INTO {table} VALUES ('thread 9', '', 'ck-0', NULL, 'json', '{{\"v\": 1, \"channel_values\": {{}}}}');"
    ));
    psql(server, &sql);
    let look = format!(
        "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, metadata::text,
                (checkpoint #- '{{channel_values,trip}}')::text,
                checkpoint->'channel_values'->'trip'->>'schema_version', checkpoint::text
         FROM {table} ORDER BY 1, 2, 3"
    );
    let before = psql(server, &look);
    let (code, stdout, stderr) = cli(&[
        "--store",
        server.url(),
        "--table",
        &table,
        "--key",
        "thread_id,checkpoint_ns,checkpoint_id",
        "--payload",
        "checkpoint",
        "--path",
        "/channel_values/trip",
        "--where",
        "checkpoint_ns = ''",
        "--batch-size",
        "4",
    ]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(r#"["thread 9","","ck-0"]: nothing at /channel_values/trip"#),
        "{stdout}"
    );
    assert!(stdout.contains("scanned          21"), "{stdout}");
    let after = psql(server, &look);
    for (old, new) in before.lines().zip(after.lines()) {
        let old: Vec<&str> = old.splitn(9, '|').collect();
        let new: Vec<&str> = new.splitn(9, '|').collect();
        assert_eq!(old[..7], new[..7], "outside the trip: {new:?}");
        if old[1].is_empty() && !old[7].is_empty() {
            assert_eq!(new[7], "4", "{new:?}");
        } else {
            assert_eq!(
                old[8], new[8],
                "a row outside --where or without a trip changed"
            );
        }
    }
}

/// MessagePack in a BYTEA column with a revision column every writer
/// bumps: each upgraded row's revision goes up by exactly one (NULL
/// becomes 1), a current row keeps its revision.
#[test]
fn messagepack_in_bytea_with_a_revision_column() {
    let Some(server) = postgres() else { return };
    let table = unique_name("blobs");
    let mut sql =
        format!("CREATE TABLE {table} (id bigint PRIMARY KEY, body bytea NOT NULL, rev integer);");
    for i in 0..20i64 {
        let (payload, _) = checkpoint(i as usize, mixed_version(i as usize), 1);
        let json: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let hex: String = rmp_serde::to_vec_named(&json)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let rev = if i % 5 == 0 {
            "NULL".to_owned()
        } else {
            i.to_string()
        };
        sql.push_str(&format!(
            "INSERT INTO {table} VALUES ({i}, '\\x{hex}', {rev});"
        ));
    }
    psql(server, &sql);
    let (code, stdout, stderr) = cli(&[
        "--store",
        server.url(),
        "--table",
        &table,
        "--key",
        "id",
        "--payload",
        "body",
        "--format",
        "msgpack",
        "--revision",
        "rev",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let rows = psql(
        server,
        &format!("SELECT id, encode(body, 'hex'), coalesce(rev, -1) FROM {table} ORDER BY id"),
    );
    for line in rows.lines() {
        let fields: Vec<&str> = line.split('|').collect();
        let i: usize = fields[0].parse().unwrap();
        let bytes: Vec<u8> = (0..fields[1].len())
            .step_by(2)
            .map(|j| u8::from_str_radix(&fields[1][j..j + 2], 16).unwrap())
            .collect();
        let value: TripState = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(value, checkpoint(i, mixed_version(i), 1).1);
        let upgraded = mixed_version(i) < 4;
        let want = match (i.is_multiple_of(5), upgraded) {
            (true, true) => 1,   // NULL becomes 1
            (true, false) => -1, // NULL stays NULL
            (false, bump) => i as i64 + i64::from(bump),
        };
        assert_eq!(fields[2].parse::<i64>().unwrap(), want, "row {i}");
    }
}

/// Without a revision column (compare-and-swap on `xmin`): SIGKILL half
/// way and a resume lose nothing; a concurrent writer's updates survive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_revision_column_crash_and_concurrent_writer() {
    let Some(server) = postgres() else { return };
    let crash = unique_name("plain");
    let writer = unique_name("plain");
    psql(
        server,
        &format!(
            "CREATE TABLE {crash} (k text PRIMARY KEY, doc jsonb NOT NULL, seen int DEFAULT 0);
             CREATE TABLE {writer} (k text PRIMARY KEY, doc jsonb NOT NULL);"
        ),
    );
    let outcome = crash_and_resume_layout(
        CHILD,
        server.url(),
        &Layout::table(crash.as_str(), ["k"], "doc"),
        &["--table", &crash, "--key", "k", "--payload", "doc"],
    )
    .await;
    eprintln!("postgres crash test without a revision column: {outcome:?}");

    let store =
        PostgresStore::connect_layout(server.url(), &Layout::table(writer.as_str(), ["k"], "doc"))
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
    let Some(server) = postgres() else { return };
    for check in 0..suite::LAYOUT_CHECKS {
        let table = unique_name("suite");
        psql(
            server,
            &format!("CREATE TABLE {table} (id text COLLATE \"C\" PRIMARY KEY, doc jsonb, n int DEFAULT 7)"),
        );
        let layout = Layout::table(table.as_str(), ["id"], "doc");
        let store = PostgresStore::connect_layout(server.url(), &layout)
            .await
            .unwrap();
        suite::layout_check(check, &store).await;
    }
}

/// Wrongly named tables and columns, and columns of types a layout cannot
/// use, are usage errors (exit 2) naming them.
#[test]
fn wrong_names_and_types_are_usage_errors() {
    let Some(server) = postgres() else { return };
    let table = unique_name("names");
    psql(
        server,
        &format!("CREATE TABLE {table} (id numeric PRIMARY KEY, k text, doc jsonb, n text)"),
    );
    for (extra, needle) in [
        (
            &["--key", "id", "--payload", "doc"][..],
            "key column `id` is of type numeric",
        ),
        (
            &["--key", "k", "--payload", "doc", "--revision", "n"],
            "revision column `n` is of type text",
        ),
        (
            &["--key", "k", "--payload", "doc", "--format", "cbor"],
            "binary payloads live in a BYTEA column",
        ),
        (&["--key", "k", "--payload", "body"], "has no column `body`"),
    ] {
        let mut args = vec!["--store", server.url(), "--table", table.as_str()];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = cli(&args);
        assert_eq!(code, Some(2), "{extra:?}: {stdout}{stderr}");
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
    let (code, _, stderr) = cli(&[
        "--store",
        server.url(),
        "--table",
        "no_such.table",
        "--key",
        "k",
        "--payload",
        "doc",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no table `no_such.table`"), "{stderr}");
}

/// A long-running lazy loader survives a lost connection: a terminated
/// backend and a server restart each fail one call, with the server's
/// reason, and the next call connects again, on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_loop_recovers_from_a_terminated_backend_and_a_restart() {
    let server = match Postgres::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(e)) => panic!("{e}"),
    };
    let (payload, value) = checkpoint(1, 1, 1);
    server
        .psql(&format!(
            "CREATE TABLE sessions (id int PRIMARY KEY, state jsonb NOT NULL);
             INSERT INTO sessions VALUES (1, $j${payload}$j$);"
        ))
        .unwrap();
    let store =
        PostgresStore::connect_layout(server.url(), &Layout::table("sessions", ["id"], "state"))
            .await
            .unwrap();
    let lazy = Lazy::<_, TripState>::new(&store);
    let load = || async { lazy.load("1").await };
    assert_eq!(load().await.unwrap().unwrap().value, value);

    // Idle when its backend is terminated: the next call connects again.
    let terminate = |condition: &str| {
        server
            .psql(&format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND {condition}"
            ))
            .unwrap()
    };
    terminate("true");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        load().await.unwrap().unwrap().value,
        value,
        "connected again"
    );

    // Terminated in the middle of a call (waiting for a lock another
    // session holds): that call fails with the server's reason.
    let mut locker = std::process::Command::new(server.psql_binary())
        .args([
            "-X",
            "-q",
            "-c",
            "BEGIN; LOCK TABLE sessions; SELECT pg_sleep(5); COMMIT;",
            server.url(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waiting = "wait_event_type = 'Lock'";
    let in_flight = tokio::spawn({
        let store = store.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Lazy::<_, TripState>::new(store).load("1").await
        }
    });
    let mut terminated = "0".to_owned();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        terminated = terminate(waiting);
        if terminated != "0" {
            break;
        }
    }
    assert_eq!(terminated, "1", "the load never waited for the lock");
    match in_flight.await.unwrap() {
        Err(LazyError::Store(e)) => assert!(
            {
                eprintln!("the call in flight: {e}");
                true
            } && e
                .to_string()
                .contains("terminating connection due to administrator command"),
            "{e}"
        ),
        other => panic!("the call in flight fails: {other:?}"),
    }
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(
        load().await.unwrap().unwrap().value,
        value,
        "connected again"
    );

    server.restart().unwrap();
    let mut errors = 0;
    let mut recovered = None;
    for _ in 0..50 {
        match load().await {
            Ok(loaded) => {
                recovered = loaded;
                break;
            }
            Err(_) => {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(errors <= 1, "{errors} failed calls after one restart");
    assert_eq!(
        recovered.map(|l| l.value),
        Some(value),
        "the same store reads again"
    );
}

/// `json` and `text` payload columns, besides `jsonb`: each keeps its type,
/// and a `json` column keeps its text outside the versioned value.
#[test]
fn json_and_text_payload_columns() {
    let Some(server) = postgres() else { return };
    for ty in ["json", "text"] {
        let table = unique_name(ty);
        let (trip, value) = checkpoint(3, 1, 1);
        psql(
            server,
            &format!(
                "CREATE TABLE {table} (id int PRIMARY KEY, doc {ty});
                 INSERT INTO {table} VALUES (1, $j${{\"meta\":  {{\"a\" : 1}}, \"trip\": {trip}}}$j$);"
            ),
        );
        let (code, stdout, stderr) = cli(&[
            "--store",
            server.url(),
            "--table",
            &table,
            "--key",
            "id",
            "--payload",
            "doc",
            "--path",
            "/trip",
        ]);
        assert_eq!(code, Some(0), "{ty}: {stdout}{stderr}");
        let doc = psql(server, &format!("SELECT doc::text FROM {table}"));
        assert!(
            doc.starts_with(r#"{"meta":  {"a" : 1}, "trip": {"schema_version":4,"#),
            "{ty}: {doc}"
        );
        let envelope: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let read =
            schema_migrate::json::from_str::<TripState>(&envelope["trip"].to_string()).unwrap();
        assert_eq!(read.value, value, "{ty}");
        assert_eq!(
            psql(server, &format!("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attname = 'doc'")),
            ty
        );
    }
}
