//! Context columns on real engines: LangGraph-style checkpoint tables made
//! with plain SQL, root and subgraph checkpoints side by side, migrated by
//! the command line with `--context-columns` (and by the library with a
//! context built in code), checked from outside with SQL.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{Layout, Lazy, Record};
use schema_migrate_tests::posthog::{AssistantState, GraphCtx};
use schema_migrate_tests::servers::{postgres::Postgres, StartError};

const CHILD: &str = env!("CARGO_BIN_EXE_context_child");

const V1: &str = r#"{"_version":1,"messages":["hi","there"],"streaming":true,"title":"trip"}"#;

const CREATE: &str = "CREATE TABLE checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    thread_type TEXT,
    checkpoint TEXT NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))";

/// Root and subgraph checkpoints of one thread, a task thread's subgraph,
/// and a row whose thread type is missing (no context can be built).
fn rows() -> String {
    [
        ("t1", "", "c1", "'conversation'"),
        ("t1", "planner:1", "c2", "'conversation'"),
        ("t2", "search:7", "c1", "'task'"),
        ("t3", "", "c1", "NULL"),
    ]
    .iter()
    .map(|(thread, ns, id, kind)| {
        format!("INSERT INTO checkpoints VALUES ('{thread}', '{ns}', '{id}', {kind}, '{V1}');")
    })
    .collect()
}

fn args(url: &str, context: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--store",
        url,
        "--table",
        "checkpoints",
        "--key",
        "thread_id,checkpoint_ns,checkpoint_id",
        "--payload",
        "checkpoint",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    if context {
        args.extend([
            "--context-columns".to_owned(),
            "checkpoint_ns,thread_type".to_owned(),
        ]);
    }
    args
}

fn cli(args: &[String]) -> schema_migrate_tests::store::cli::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    schema_migrate_tests::store::cli::run(CHILD, &args)
}

/// `(thread, ns, id) -> checkpoint` read back from the table as JSON.
fn checkpoints(
    select: impl Fn() -> Vec<(String, String, String, String)>,
) -> BTreeMap<(String, String, String), serde_json::Value> {
    select()
        .into_iter()
        .map(|(t, ns, id, state)| ((t, ns, id), serde_json::from_str(&state).unwrap()))
        .collect()
}

fn key(thread: &str, ns: &str, id: &str) -> (String, String, String) {
    (thread.into(), ns.into(), id.into())
}

/// What both engines must hold after the run with context columns.
fn check_migrated(after: &BTreeMap<(String, String, String), serde_json::Value>) {
    let root = &after[&key("t1", "", "c1")];
    assert_eq!(root["_version"], 3);
    assert_eq!(root["messages"], serde_json::json!(["hi", "there"]));
    assert_eq!(root["subgraph_messages"], serde_json::json!([]));
    assert_eq!(root["streaming"], "interactive");
    let sub = &after[&key("t1", "planner:1", "c2")];
    assert_eq!(sub["messages"], serde_json::json!([]));
    assert_eq!(sub["subgraph_messages"], serde_json::json!(["hi", "there"]));
    assert_eq!(
        after[&key("t2", "search:7", "c1")]["streaming"],
        "background"
    );
    // No thread type, no context: reported and left as it was.
    assert_eq!(
        after[&key("t3", "", "c1")],
        serde_json::from_str::<serde_json::Value>(V1).unwrap()
    );
}

fn sqlite_rows(path: &Path) -> Vec<(String, String, String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT thread_id, checkpoint_ns, checkpoint_id, checkpoint FROM checkpoints")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn sqlite_checkpoints_migrate_by_their_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("{CREATE}; {}", rows()))
        .unwrap();
    let url = format!("sqlite:{}", path.display());

    // Without the context columns, no step guesses: every record fails and
    // stays as it was.
    let before = sqlite_rows(&path);
    let out = cli(&args(&url, false));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("needs a context of type"),
        "{}",
        out.stdout
    );
    assert_eq!(sqlite_rows(&path), before);

    // `status` reads them in their context too.
    let mut status = args(&url, true);
    status.insert(0, "status".into());
    let out = cli(&status);
    assert!(
        out.stdout.contains("unreadable     1"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    let out = cli(&args(&url, true));
    assert_eq!(
        out.code,
        Some(1),
        "one record has no context: {}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        schema_migrate_tests::store::cli::count(&out.stdout, "upgraded "),
        3,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(r#"["t3","","c1"]: its context: "#),
        "{}",
        out.stdout
    );
    check_migrated(&checkpoints(|| sqlite_rows(&path)));
}

/// The library: `Lazy` with a context built in code from the record's key
/// and columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_loads_build_the_context_from_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("{CREATE}; {}", rows()))
        .unwrap();
    let layout = Layout::table(
        "checkpoints",
        ["thread_id", "checkpoint_ns", "checkpoint_id"],
        "checkpoint",
    )
    .context_columns(["checkpoint_ns"]);
    let store = SqliteStore::open_layout(&path, &layout).await.unwrap();
    let lazy = Lazy::<_, AssistantState>::new(store)
        .write_back(true)
        .context(|record: &Record| {
            let ns = record.columns["checkpoint_ns"]
                .as_str()
                .ok_or("checkpoint_ns is not text")?;
            Ok::<_, String>(GraphCtx {
                checkpoint_ns: ns.to_owned(),
                thread_type: "conversation".into(),
            })
        });
    let sub = lazy
        .load(r#"["t1","planner:1","c2"]"#)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.value.subgraph_messages, ["hi", "there"]);
    let root = lazy.load(r#"["t1","","c1"]"#).await.unwrap().unwrap();
    assert_eq!(root.value.messages, ["hi", "there"]);
    let after = checkpoints(|| sqlite_rows(&path));
    assert_eq!(
        after[&key("t1", "planner:1", "c2")]["_version"],
        3,
        "written back"
    );
}

#[test]
fn postgres_checkpoints_migrate_by_their_graph() {
    let server = match Postgres::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(e)) => panic!("{e}"),
    };
    server
        .psql(&format!(
            "{}; {}",
            CREATE.replace("checkpoint TEXT", "checkpoint JSONB"),
            rows().replace(&format!("'{V1}'"), &format!("$j${V1}$j$"))
        ))
        .unwrap();
    let out = cli(&args(server.url(), true));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        schema_migrate_tests::store::cli::count(&out.stdout, "upgraded "),
        3,
        "{}",
        out.stdout
    );
    let select = || {
        server
            .psql(
                "SELECT thread_id, checkpoint_ns, checkpoint_id, checkpoint::text FROM checkpoints",
            )
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.splitn(4, '|');
                let mut next = || parts.next().unwrap().to_owned();
                (next(), next(), next(), next())
            })
            .collect()
    };
    check_migrated(&checkpoints(select));
}
