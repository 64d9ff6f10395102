//! `status` and `check` on PostgreSQL and Redis, where what they print
//! differs from SQLite: a JSONB table in a schema (a NULL payload, a value
//! a newer release wrote), and Redis keys matched by a pattern (a key of
//! another type). The data is made by `psql` and `redis-cli`, as another
//! program would.

use schema_migrate_tests::servers::postgres::postgres;
use schema_migrate_tests::servers::redis::redis;
use schema_migrate_tests::servers::unique_name;

const CHILD: &str = env!("CARGO_BIN_EXE_store_child");

fn cli(args: &[&str]) -> schema_migrate_tests::store::cli::Output {
    schema_migrate_tests::store::cli::run(CHILD, args)
}

#[test]
fn status_and_check_on_a_postgres_table() {
    let Some(server) = postgres() else { return };
    let schema = unique_name("status");
    let table = format!("{schema}.sessions");
    server
        .psql(&format!(
            r#"CREATE SCHEMA {schema};
            CREATE TABLE {table} (id int PRIMARY KEY, state jsonb);
            INSERT INTO {table} VALUES
              (1, '{{"schema_version":1,"destination":"Oslo"}}'),
              (2, '{{"schema_version":4,"destination_city":"Kyiv","travelers":{{"adults":1,"children":0}}}}'),
              (3, '{{"schema_version":9}}'),
              (4, NULL);"#
        ))
        .unwrap();
    let args = |sub: &'static str| {
        vec![
            sub,
            "--store",
            server.url(),
            "--table",
            &table,
            "--key",
            "id",
            "--payload",
            "state",
        ]
    };

    let out = cli(&args("status"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "Status of TripState (version 4, reads 1 to 4) in the table `{table}`
  version  records
        1        1  older: `migrate` upgrades them (3 steps)
        4        1  current
        9        1  newer than this program (it reads up to 4): left alone
  unreadable     1
  scanned        4  (reached the end)
unreadable records:
  4 (unreadable): the payload column `state` is NULL
"
        )
    );

    let out = cli(&args("check"));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("check failed: 2 record(s) would fail"),
        "{}",
        out.stdout
    );
    // Nothing written: record 1 is still at version 1.
    let v = server
        .psql(&format!(
            "SELECT state->>'schema_version' FROM {table} WHERE id = 1"
        ))
        .unwrap();
    assert_eq!(v.trim(), "1");
}

#[test]
fn status_and_check_on_redis_keys() {
    let Some(server) = redis() else { return };
    let db = "11";
    for (key, value) in [
        (
            "status:1",
            r#"{"schema_version":2,"destination":"Rome","travelers":2}"#,
        ),
        (
            "status:2",
            r#"{"schema_version":4,"destination_city":"Kyiv","travelers":{"adults":1,"children":0}}"#,
        ),
        (
            "status:3",
            r#"{"schema_version":3,"destination_city":"Lima","travelers":5000}"#,
        ),
    ] {
        server.cli(&["-n", db, "SET", key, value]);
    }
    server.cli(&["-n", db, "RPUSH", "status:list", "a"]);
    let url = format!("redis://127.0.0.1:{}/{db}", server.port());

    let out = cli(&["status", "--store", &url, "--match", "status:*", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    assert_eq!(
        json["versions"],
        serde_json::json!([{"version": 2, "records": 1}, {"version": 4, "records": 1}])
    );
    let kinds: Vec<(&str, &str)> = json["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["key"].as_str().unwrap(), u["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("status:3", "step_failed"), ("status:list", "unreadable")]
    );

    let out = cli(&["status", "--store", &url, "--match", "status:*"]);
    assert!(
        out.stdout
            .starts_with("Status of TripState (version 4, reads 1 to 4) matching `status:*`\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  status:list (unreadable): the key holds a list, not a string"),
        "{}",
        out.stdout
    );

    let out = cli(&[
        "check",
        "--store",
        &url,
        "--match",
        "status:*",
        "--progress",
        "events",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("check failed: 2 record(s) would fail"),
        "{}",
        out.stdout
    );
    let stored = server.cli(&["-n", db, "GET", "status:1"]);
    assert!(
        stored.contains(r#""schema_version":2"#),
        "check wrote: {stored}"
    );
}
