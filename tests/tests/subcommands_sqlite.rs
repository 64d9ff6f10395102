//! The command line's subcommands (`status`, `check`, `history`, `migrate`)
//! on a SQLite file another program made with plain SQL, run as a user
//! runs the binary, and its progress bar on a (pseudo-)terminal.

use std::path::Path;
use std::process::Command;

use rusqlite::Connection;
use schema_migrate_tests::store::fixture::TripState;

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");

/// `checkpoints(id, state)`: one record at each version 1 to 4, one a
/// step refuses (5000 travelers), one from a newer release, one not JSON,
/// one NULL.
fn app_db(dir: &Path) -> String {
    let path = dir.join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        r#"CREATE TABLE checkpoints (id TEXT PRIMARY KEY, state TEXT, updated_at TEXT);
        INSERT INTO checkpoints VALUES
          ('trip-1', '{"schema_version":1,"destination":"Oslo"}', 'a'),
          ('trip-2', '{"schema_version":2,"destination":"Rome","travelers":2}', 'b'),
          ('trip-3', '{"schema_version":3,"destination_city":"Lima","travelers":5000}', 'c'),
          ('trip-4', '{"schema_version":4,"destination_city":"Kyiv","travelers":{"adults":1,"children":0}}', 'd'),
          ('trip-5', '{"schema_version":9,"destination_city":"Mars"}', 'e'),
          ('trip-6', 'not json', 'f'),
          ('trip-7', NULL, 'g');"#,
    )
    .unwrap();
    format!("sqlite:{}", path.display())
}

const TABLE: [&str; 6] = [
    "--table",
    "checkpoints",
    "--key",
    "id",
    "--payload",
    "state",
];

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = Command::new(CHILD)
        .args(args)
        .env_remove("SCHEMA_MIGRATE_STORE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn with<'a>(head: &[&'a str], url: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut args = head.to_vec();
    args.extend(["--store", url]);
    args.extend(TABLE);
    args.extend(tail);
    args
}

#[test]
fn status_counts_records_per_version_and_names_the_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let url = app_db(dir.path());
    let before = std::fs::read(dir.path().join("app.db")).unwrap();

    let out = run(&with(&["status"], &url, &[]), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        r#"Status of TripState (version 4, reads 1 to 4) in the table `checkpoints`
  version  records
        1        1  older: `migrate` upgrades them (3 steps)
        2        1  older: `migrate` upgrades them (2 steps)
        4        1  current
        9        1  newer than this program (it reads up to 4): left alone
  unreadable     3
  scanned        7  (reached the end)
unreadable records:
  trip-3 (step_failed): TripState: migration step 3 -> 4 ("Travelers by type") failed at transform(travelers: u32 => travelers_by_type): 5000 travelers is more than 1000
  trip-6 (invalid_data): TripState: expected ident at line 1 column 2
  trip-7 (unreadable): the payload column `state` holds NULL
"#
    );
    // Not a terminal: no bar drawn.
    assert_eq!(out.stderr, "");

    let out = run(&with(&["status"], &url, &["--json"]), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    assert_eq!(json["type"], "TripState");
    assert_eq!(json["version"], 4);
    assert_eq!(json["scanned"], 7);
    assert_eq!(json["finished"], true);
    assert_eq!(
        json["versions"],
        serde_json::json!([
            {"version": 1, "records": 1},
            {"version": 2, "records": 1},
            {"version": 4, "records": 1},
        ])
    );
    assert_eq!(
        json["future"],
        serde_json::json!([{"version": 9, "records": 1}])
    );
    let unreadable: Vec<(&str, &str)> = json["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["key"].as_str().unwrap(), u["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        unreadable,
        [
            ("trip-3", "step_failed"),
            ("trip-6", "invalid_data"),
            ("trip-7", "unreadable")
        ]
    );

    // A limit stops the count and says where to go on.
    let out = run(&with(&["status"], &url, &["--limit", "2"]), &[]);
    assert!(
        out.stdout
            .contains("scanned        2  (stopped by --limit: continue with --resume-from trip-2)"),
        "{}",
        out.stdout
    );
    let out = run(
        &with(&["status"], &url, &["--resume-from", "trip-2", "--json"]),
        &[],
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["scanned"], 5);

    assert_eq!(
        std::fs::read(dir.path().join("app.db")).unwrap(),
        before,
        "status wrote to the file"
    );
}

#[test]
fn check_is_a_dry_run_that_exits_1_while_any_record_would_fail() {
    let dir = tempfile::tempdir().unwrap();
    let url = app_db(dir.path());
    let before = std::fs::read(dir.path().join("app.db")).unwrap();

    let out = run(&with(&["check"], &url, &["--progress", "events"]), &[]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("Dry run (nothing written) of TripState to version 4\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  would upgrade    2\n  failed           4\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    trip-5: TripState: stored at version 9, newer than the version 4"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(
            "check failed: 4 record(s) would fail to upgrade to version 4 (listed above); repair them, or the steps, before deploying\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(dir.path().join("app.db")).unwrap(),
        before,
        "check wrote"
    );

    // Repaired: the gate opens, and still nothing is written.
    let conn = Connection::open(dir.path().join("app.db")).unwrap();
    conn.execute(
        "DELETE FROM checkpoints WHERE id IN ('trip-3','trip-5','trip-6','trip-7')",
        [],
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(dir.path().join("app.db")).unwrap();
    let out = run(&with(&["check"], &url, &["--progress", "events"]), &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.ends_with(
            "check passed: every record scanned can be read at version 4 (2 would be upgraded)\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(dir.path().join("app.db")).unwrap(),
        before,
        "check wrote"
    );

    // A store that is not there is a usage error, as for migrate.
    let missing = format!("sqlite:{}", dir.path().join("typo.db").display());
    let out = run(&with(&["check"], &missing, &[]), &[]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("no SQLite file at"), "{}", out.stderr);
}

#[test]
fn migrate_is_the_default_and_the_store_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let url = app_db(dir.path());

    // The same dry run, by subcommand and by default; the URL from the
    // environment.
    let mut explicit = vec!["migrate", "--dry-run", "--progress", "events"];
    explicit.extend(TABLE);
    let mut default = vec!["--dry-run", "--progress", "events"];
    default.extend(TABLE);
    let env = [("SCHEMA_MIGRATE_STORE", url.as_str())];
    let a = run(&explicit, &env);
    let b = run(&default, &env);
    assert_eq!(
        (a.code, b.code),
        (Some(1), Some(1)),
        "{}{}",
        a.stdout,
        a.stderr
    );
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("elapsed"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&a.stdout), strip(&b.stdout));
    assert!(a.stdout.contains("would upgrade    2"), "{}", a.stdout);

    // Without the variable and without --store: a usage error naming it.
    let out = run(&default, &[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.starts_with(
            "error: the following required arguments were not provided:\n  --store <URL>"
        ),
        "{}",
        out.stderr
    );

    // The real run writes, and the rows' other columns stay.
    let out = run(&with(&["migrate"], &url, &["--progress", "events"]), &[]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("  upgraded         2\n"),
        "{}",
        out.stdout
    );
    let out = run(&with(&["status"], &url, &["--json"]), &[]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["versions"],
        serde_json::json!([{"version": 4, "records": 3}])
    );
    let conn = Connection::open(dir.path().join("app.db")).unwrap();
    let updated: String = conn
        .query_row(
            "SELECT updated_at FROM checkpoints WHERE id = 'trip-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(updated, "a");

    // A subcommand after top-level options is refused, not guessed.
    let out = run(&["--store", &url, "status"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn history_prints_the_changelog_and_help_shows_subcommands_and_examples() {
    let out = run(&["history"], &[]);
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stdout, schema_migrate::changelog::<TripState>());
    assert!(out.stdout.contains("## Version 3: Renamed destination\n\nFrom version 2.\n\n- `destination` is renamed to `destination_city`.\n"));

    let out = run(&["--help"], &[]);
    assert_eq!(out.code, Some(0));
    for needle in [
        "Usage: store_child [OPTIONS] --store <URL>",
        "  status ",
        "  check ",
        "  history ",
        "[env: SCHEMA_MIGRATE_STORE]",
        "store_child status --store sqlite:app.db",
        "Exit status: 0 done, 1 some records failed",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            out.stdout
        );
    }
    // The environment's value (a password, say) is never shown.
    let out = run(
        &["--help"],
        &[("SCHEMA_MIGRATE_STORE", "postgres://u:secret@h/db")],
    );
    assert!(!out.stdout.contains("secret"), "{}", out.stdout);

    let out = run(&["status", "--help"], &[]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("--json"), "{}", out.stdout);
    let option = |help: &str, name: &str| help.lines().any(|l| l.trim_start().starts_with(name));
    assert!(!option(&out.stdout, "--dry-run"), "{}", out.stdout);
    let out = run(&["migrate", "--help"], &[]);
    assert!(option(&out.stdout, "--dry-run"), "{}", out.stdout);
    assert!(!option(&out.stdout, "--json"), "{}", out.stdout);
}

/// `--progress bar` draws the bar off a terminal too: with `--limit` the
/// count is known, so it has a bar, a rate and an ETA; without, a spinner
/// with the rate.
#[test]
fn a_forced_bar_shows_rate_and_eta() {
    let dir = tempfile::tempdir().unwrap();
    let url = app_db(dir.path());

    let out = run(
        &with(
            &["check"],
            &url,
            &["--progress", "bar", "--limit", "4", "--batch-size", "2"],
        ),
        &[],
    );
    assert_eq!(out.code, Some(1));
    let last = out.stderr.rsplit('\r').next().unwrap_or_default();
    assert!(
        out.stderr
            .contains("[########################] 4/4 scanned, "),
        "{:?}",
        out.stderr
    );
    assert!(out.stderr.contains(" records/s, ETA "), "{:?}", out.stderr);
    assert!(
        out.stderr
            .contains("2 to upgrade, 1 current, 1 failed, 0 conflicts, at trip-4"),
        "{last:?}"
    );
    // The report is on stdout, apart from the bar.
    assert!(!out.stdout.contains("ETA"), "{}", out.stdout);

    let out = run(&with(&["status"], &url, &["--progress", "bar"]), &[]);
    assert!(out.stderr.contains("7 scanned, "), "{:?}", out.stderr);
    assert!(
        out.stderr
            .contains("/s: 1 current, 2 older, 1 newer, 3 unreadable"),
        "{:?}",
        out.stderr
    );
    assert!(!out.stderr.contains("ETA"), "{:?}", out.stderr);
}

/// On a real pseudo-terminal (util-linux `script`), `--progress auto`
/// draws the bar; piped, it prints plain lines (as before the bar).
#[test]
fn auto_progress_draws_the_bar_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = app_db(dir.path());
    let args = with(&["check"], &url, &["--limit", "2", "--batch-size", "1"]);

    let piped = run(&args, &[]);
    assert!(!piped.stderr.contains("ETA"), "{:?}", piped.stderr);
    assert!(
        piped.stderr.contains("2 scanned, 2 to upgrade"),
        "{:?}",
        piped.stderr
    );

    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "util-linux `script` is needed for the pseudo-terminal test"
        );
        return;
    };
    let line = std::iter::once(CHILD)
        .chain(args.iter().copied())
        .map(schema_migrate::store::cli::shell_quote)
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(script)
        .args(["-qec", &line, "/dev/null"])
        .env_remove("SCHEMA_MIGRATE_STORE")
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{tty}");
    assert!(tty.contains("2/2 scanned"), "{tty:?}");
    assert!(tty.contains("ETA"), "{tty:?}");
    assert!(tty.contains("check passed"), "{tty:?}");
}

/// An empty (or misnamed) table is counted as such, with the same warning
/// as `migrate`: a status of nothing is more often a wrong name.
#[test]
fn status_of_an_empty_table_warns() {
    let dir = tempfile::tempdir().unwrap();
    let url = app_db(dir.path());
    let conn = Connection::open(dir.path().join("app.db")).unwrap();
    conn.execute_batch("CREATE TABLE empty (id TEXT PRIMARY KEY, state TEXT);")
        .unwrap();
    drop(conn);
    let out = run(
        &[
            "status",
            "--store",
            &url,
            "--table",
            "empty",
            "--key",
            "id",
            "--payload",
            "state",
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "warning: no records found in the table `empty`: is the name right?\n"
    );
    assert!(
        out.stdout.contains("  scanned        0  (reached the end)"),
        "{}",
        out.stdout
    );

    let out = run(
        &[
            "status",
            "--store",
            &url,
            "--table",
            "emtpy",
            "--key",
            "id",
            "--payload",
            "state",
        ],
        &[],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("no table `emtpy`"), "{}", out.stderr);
}
