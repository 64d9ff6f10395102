//! Store throughput: batch-upgrade 100k records of about 1 KB, all stored by
//! release 1 of the travel state (so each goes through three steps, and each
//! of its messages through its own step), on each backend, in the store's own
//! layout and in a table (or keys) an application made itself. Beside every
//! migration, the engine's own rewrite rate of the same rows: read a batch,
//! write every payload back unchanged with the same statements, no decoding.
//! The ratio of the two is what DESIGN section 6 sets a target for (>= 0.8).
//! The derive's own cost (parse + upgrade + serialize, no store) is the first
//! row.
//!
//! Run with `cargo bench -p schema-migrate-examples --bench store`.
//!
//! SQLite always runs (a file in the temp directory). PostgreSQL and Redis
//! run on the server that `STORE_BENCH_POSTGRES_URL` / `STORE_BENCH_REDIS_URL`
//! name, where each run writes a fresh table / key prefix `bench_<pid>_<n>`
//! (or a Redis database of its own for plain keys) and leaves it there (point
//! them at a throwaway server); without them, on a throwaway server started
//! here as the tests start theirs (PostgreSQL with `fsync` off, Redis without
//! persistence), when the binaries are installed. Optional:
//! `STORE_BENCH_RECORDS` (default 100000), `STORE_BENCH_RUNS` (default 3).

use std::hint::black_box;
use std::time::{Duration, Instant};

use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{
    open, open_layout, Cas, CasWrite, Layout, Migrator, Progress, RecordStore, StoreError,
};
use schema_migrate_examples::{checkpoint, TripState};
use schema_migrate_tests::servers::{postgres::Postgres, redis::Redis};

const COMMAND: &str = "cargo bench -p schema-migrate-examples --bench store";

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}: expected a number, got {v:?}")),
        Err(_) => default,
    }
}

/// One run on a freshly filled store: the engine's rewrite of every record,
/// then the migration of every record.
struct Run {
    fill: Duration,
    rewrite: Duration,
    migrate: Duration,
    /// The engine writing the migration's own bytes (the upgraded payloads,
    /// computed beforehand) over a fresh fill: read a batch, write it, no
    /// decoding. What the migration costs the engine, without the migrator.
    rewrite_upgraded: Duration,
}

/// Fills `store` (empty) with `records`, times the engine's own rewrite of
/// all of them (scan a batch, compare-and-swap every payload back unchanged),
/// then one batch migration, and checks that every record was upgraded.
async fn run_on<S: RecordStore>(
    store: &S,
    records: &[(String, Vec<u8>)],
    upgraded: &std::collections::HashMap<String, Vec<u8>>,
    batch_size: usize,
) -> Result<Run, StoreError> {
    let started = Instant::now();
    for chunk in records.chunks(5000) {
        store.put_many(chunk).await?;
    }
    let fill = started.elapsed();

    let rewrite = rewrite_all(store, batch_size, |r| r.payload.clone()).await?;

    let report = Migrator::<TripState>::new()
        .batch_size(batch_size)
        .progress(Progress::Events)
        .run(store)
        .await
        .map_err(|e| e.source)?;
    assert_eq!(report.upgraded, records.len() as u64, "{report}");
    assert!(report.failed.is_empty(), "{report:#}");

    for chunk in records.chunks(5000) {
        store.put_many(chunk).await?;
    }
    let rewrite_upgraded = rewrite_all(store, batch_size, |r| upgraded[&r.key].clone()).await?;
    Ok(Run {
        fill,
        rewrite,
        migrate: report.elapsed,
        rewrite_upgraded,
    })
}

/// Reads every record, a batch at a time, and writes `payload(record)`
/// back with compare-and-swap, no decoding; the time it took.
async fn rewrite_all<S: RecordStore>(
    store: &S,
    batch_size: usize,
    payload: impl Fn(&schema_migrate::store::Record) -> Vec<u8>,
) -> Result<Duration, StoreError> {
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    loop {
        let batch = store.scan(cursor.as_deref(), batch_size).await?;
        let Some(last) = batch.last() else { break };
        cursor = Some(last.key.clone());
        let writes: Vec<CasWrite> = batch
            .into_iter()
            .map(|r| CasWrite {
                payload: payload(&r),
                key: r.key,
                expected: r.revision,
                read: r.payload,
            })
            .collect();
        let outcomes = store.compare_and_swap(&writes).await?;
        assert!(outcomes.iter().all(|o| matches!(o, Cas::Written { .. })));
    }
    Ok(started.elapsed())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn print_row(name: &str, layout: &str, batch: usize, n: usize, runs: &[Run]) {
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let rates = |f: fn(&Run) -> Duration| median(runs.iter().map(|r| rate(f(r))).collect());
    // Each run's pair, measured one after the other on the same rows.
    let ratios = |f: fn(&Run) -> Duration| -> (f64, f64, f64) {
        let all: Vec<f64> = runs
            .iter()
            .map(|r| f(r).as_secs_f64() / r.migrate.as_secs_f64())
            .collect();
        let (lo, hi) = all
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        (median(all), lo, hi)
    };
    let (ratio, lo, hi) = ratios(|r| r.rewrite);
    let (to_upgraded, up_lo, up_hi) = ratios(|r| r.rewrite_upgraded);
    println!(
        "| {name} | {layout} | {batch} | {:.0} | {:.0} | **{ratio:.2}x** ({lo:.2}-{hi:.2}) | {} | {:.0} | {to_upgraded:.2}x ({up_lo:.2}-{up_hi:.2}) | {:.0} |",
        rates(|r| r.rewrite),
        rates(|r| r.migrate),
        if ratio >= 0.8 { "ok" } else { "**MISS**" },
        rates(|r| r.rewrite_upgraded),
        rates(|r| r.fill),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = env_usize("STORE_BENCH_RECORDS", 100_000);
    let runs = env_usize("STORE_BENCH_RUNS", 3).max(1);
    let records: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| (format!("trip-{i:07}"), checkpoint(i, 1, 10).into_bytes()))
        .collect();
    let bytes: usize = records.iter().map(|(_, p)| p.len()).sum();
    // What the migration writes for each record, for the engine's pass that
    // writes the same bytes without decoding.
    let upgraded: std::collections::HashMap<String, Vec<u8>> = records
        .iter()
        .map(|(key, payload)| {
            let stored = schema_migrate::json::from_slice::<TripState>(payload)?;
            Ok((key.clone(), serde_json::to_vec(&stored.value)?))
        })
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    println!("# {COMMAND}");
    println!(
        "{n} records stored at version 1 (3 steps, and 1 step for each of its 10 messages), {} bytes on average; {runs} runs each, median",
        bytes / n.max(1)
    );
    println!();

    // The derive alone: what every backend pays per record before any I/O.
    let mut derive = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        for (_, payload) in &records {
            let stored = schema_migrate::json::from_slice::<TripState>(payload)?;
            black_box(serde_json::to_string(&stored.value)?);
        }
        derive.push(n as f64 / started.elapsed().as_secs_f64());
    }

    println!("| store | layout | batch | engine rewrite, unchanged, records/s | migration records/s | ratio (range) | >= 0.8x | engine writing the upgraded bytes, records/s | ratio to that (range) | fill records/s |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let d = median(derive.clone());
    println!(
        "| derive only (parse + upgrade + serialize, no store) | - | - | - | {d:.0} ({:.0} - {:.0}) | - | - | - | - | - |",
        derive.iter().copied().fold(f64::MAX, f64::min),
        derive.iter().copied().fold(0.0, f64::max),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir =
        std::env::temp_dir().join(format!("schema-migrate-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut table = 0;
    let mut fresh_name = || {
        table += 1;
        format!("bench_{}_{table}", std::process::id())
    };

    const SQLITE: &str = "SQLite (file)";
    for batch in [500, 2000] {
        let mut done = Vec::new();
        for _ in 0..runs {
            let name = fresh_name();
            let store =
                runtime.block_on(SqliteStore::open(dir.join(format!("{name}.db")), &name))?;
            done.push(runtime.block_on(run_on(&store, &records, &upgraded, batch))?);
        }
        print_row(SQLITE, "own (WAL, revision)", batch, n, &done);
    }
    let mut done = Vec::new();
    for _ in 0..runs {
        // The application's own file: rollback journal, no revision column.
        let name = fresh_name();
        let path = dir.join(format!("{name}.db"));
        rusqlite::Connection::open(&path)?.execute_batch(
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL, note TEXT)",
        )?;
        let layout = Layout::table("sessions", ["id"], "state");
        let store = runtime.block_on(SqliteStore::open_layout(&path, &layout))?;
        done.push(runtime.block_on(run_on(&store, &records, &upgraded, 500))?);
    }
    print_row(
        SQLITE,
        "sessions(id, state, note), no revision",
        500,
        n,
        &done,
    );
    let mut partition_rows = Vec::new();
    {
        let name = fresh_name();
        let path = dir.join(format!("{name}.db"));
        let url = format!("sqlite:{}", path.display());
        let fill = || -> Result<(), Box<dyn std::error::Error>> {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("db-wal"));
            let store = runtime.block_on(SqliteStore::open(&path, &name))?;
            runtime.block_on(fill_store(&store, &records))?;
            Ok(())
        };
        partition_rows.push(partitions(
            SQLITE,
            "own (WAL, revision)",
            &["--store", &url, "--table", &name],
            n,
            fill,
        )?);
    }
    std::fs::remove_dir_all(&dir)?;

    // PostgreSQL and Redis: the server named by the variable, or a throwaway
    // one started here like the tests start theirs (Drop stops it).
    let postgres = server_url("STORE_BENCH_POSTGRES_URL", || {
        Postgres::start().map(|s| {
            let url = s.url().to_owned();
            (Box::new(s) as Box<dyn std::any::Any>, url)
        })
    });
    match postgres {
        None => {
            println!(
                "| PostgreSQL | - | - | not run: no server binary and no URL set | | | | | | |"
            )
        }
        Some((url, origin, _server)) => {
            let label = format!("PostgreSQL ({origin})");
            for batch in [500, 2000] {
                let mut done = Vec::new();
                for _ in 0..runs {
                    let store = runtime.block_on(open(&url, &fresh_name()))?;
                    done.push(runtime.block_on(run_on(&store, &records, &upgraded, batch))?);
                }
                print_row(&label, "own (JSONB, revision)", batch, n, &done);
            }
            let mut done = Vec::new();
            for _ in 0..runs {
                let name = fresh_name();
                runtime.block_on(create_sessions(&url, &name))?;
                let layout = Layout::table(name.as_str(), ["id"], "state");
                let store = runtime.block_on(open_layout(&url, &layout))?;
                done.push(runtime.block_on(run_on(&store, &records, &upgraded, 500))?);
            }
            print_row(
                &label,
                "sessions(id, state jsonb, updated_at, note), xmin",
                500,
                n,
                &done,
            );
            let name = fresh_name();
            let fill = || -> Result<(), Box<dyn std::error::Error>> {
                runtime.block_on(drop_table(&url, &name))?;
                runtime.block_on(create_sessions(&url, &name))?;
                let layout = Layout::table(name.as_str(), ["id"], "state");
                let store = runtime.block_on(open_layout(&url, &layout))?;
                runtime.block_on(fill_store(&store, &records))?;
                Ok(())
            };
            partition_rows.push(partitions(
                &label,
                "sessions(id, state jsonb, updated_at, note), xmin",
                &[
                    "--store",
                    &url,
                    "--table",
                    &name,
                    "--key",
                    "id",
                    "--payload",
                    "state",
                ],
                n,
                fill,
            )?);
        }
    }
    let redis = server_url("STORE_BENCH_REDIS_URL", || {
        Redis::start().map(|s| {
            let url = s.url().to_owned();
            (Box::new(s) as Box<dyn std::any::Any>, url)
        })
    });
    match redis {
        None => {
            println!("| Redis | - | - | not run: no server binary and no URL set | | | | | | |")
        }
        Some((url, origin, _server)) => {
            let label = format!("Redis ({origin})");
            for batch in [500, 2000] {
                let mut done = Vec::new();
                for _ in 0..runs {
                    let store = runtime.block_on(open(&url, &fresh_name()))?;
                    done.push(runtime.block_on(run_on(&store, &records, &upgraded, batch))?);
                }
                print_row(&label, "own (hash + index)", batch, n, &done);
            }
            let mut done = Vec::new();
            for run in 0..runs {
                // A database of its own per run, so the pattern sees only its keys.
                let db_url = format!("{}/{}", url.trim_end_matches('/'), 1 + run % 15);
                let store =
                    runtime.block_on(open_layout(&db_url, &Layout::redis_keys("trip-*")))?;
                runtime.block_on(flush(&db_url))?;
                done.push(runtime.block_on(run_on(&store, &records, &upgraded, 500))?);
            }
            print_row(&label, "plain string keys (--match)", 500, n, &done);
            let db_url = format!("{}/15", url.trim_end_matches('/'));
            let fill = || -> Result<(), Box<dyn std::error::Error>> {
                let store =
                    runtime.block_on(open_layout(&db_url, &Layout::redis_keys("trip-*")))?;
                runtime.block_on(fill_store(&store, &records))?;
                Ok(())
            };
            partition_rows.push(partitions(
                &label,
                "plain string keys (--match)",
                &["--store", &db_url, "--match", "trip-*"],
                n,
                fill,
            )?);
        }
    }
    println!();
    println!("Partitions: the ready command line (`--bin migrate`, release) run as N separate processes with `--partition I/N` at once over a fresh fill; records/s of the whole (all records over the wall time until the last part ends), and that divided by N in parentheses.");
    println!();
    println!("| store | layout | 1 part | 2 parts | 4 parts |");
    println!("|---|---|---|---|---|");
    for row in partition_rows {
        println!("{row}");
    }
    Ok(())
}

/// Puts every record into an empty store.
async fn fill_store<S: RecordStore>(
    store: &S,
    records: &[(String, Vec<u8>)],
) -> Result<(), StoreError> {
    for chunk in records.chunks(5000) {
        store.put_many(chunk).await?;
    }
    Ok(())
}

/// The migration of a fresh fill by 1, 2 and 4 processes of the ready
/// command line with `--partition I/N`, at once: one table row.
fn partitions(
    name: &str,
    layout: &str,
    args: &[&str],
    n: usize,
    mut fill: impl FnMut() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut cells = Vec::new();
    for parts in [1u32, 2, 4] {
        fill()?;
        let started = Instant::now();
        let children = (0..parts)
            .map(|i| {
                std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
                    .args(args)
                    .args([
                        "--partition",
                        &format!("{i}/{parts}"),
                        "--progress",
                        "events",
                    ])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut upgraded = 0;
        let mut slowest = Duration::ZERO;
        for child in children {
            let out = child.wait_with_output()?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                return Err(format!(
                    "{name}, part of {parts}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            upgraded += report_number(&stdout, "upgraded ");
            slowest = slowest.max(started.elapsed());
        }
        assert_eq!(
            upgraded, n as u64,
            "{name}: every record upgraded once over {parts} parts"
        );
        let whole = n as f64 / slowest.as_secs_f64();
        cells.push(format!(
            "{whole:.0} ({:.0} per part)",
            whole / f64::from(parts)
        ));
    }
    Ok(format!("| {name} | {layout} | {} |", cells.join(" | ")))
}

/// The number on the report line that starts with `label`.
fn report_number(stdout: &str, label: &str) -> u64 {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split_whitespace().next_back())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Drops the table `name` if it exists, for a fresh fill.
async fn drop_table(url: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {name}"))
        .await?;
    Ok(())
}

/// `sessions(id, state jsonb, updated_at, note)` as an application would
/// create it, with plain SQL.
async fn create_sessions(url: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE TABLE {name} (id text PRIMARY KEY, state jsonb NOT NULL,
                                  updated_at timestamptz DEFAULT now(), note text)"
        ))
        .await?;
    Ok(())
}

/// Empties the Redis database `url` names, through the store's own client.
async fn flush(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store = open_layout(url, &Layout::redis_keys("trip-*")).await?;
    let stale = store.scan(None, usize::MAX >> 12).await?;
    assert!(
        stale.is_empty(),
        "Redis database {url} already holds trip-* keys: point the bench at a throwaway server"
    );
    Ok(())
}

/// The URL of the server to measure: the variable's, or a throwaway server's
/// (kept alive by the returned handle). `None` when neither is available.
#[allow(clippy::type_complexity, reason = "a local helper's one return value")]
fn server_url<E>(
    var: &str,
    start: impl FnOnce() -> Result<(Box<dyn std::any::Any>, String), E>,
) -> Option<(String, &'static str, Option<Box<dyn std::any::Any>>)> {
    if let Ok(url) = std::env::var(var) {
        return Some((url, "the server named by the variable", None));
    }
    let (server, url) = start().ok()?;
    Some((url, "throwaway test server", Some(server)))
}
