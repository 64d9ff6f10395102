//! Store throughput: batch-upgrade 100k records of about 1 KB, all stored by
//! release 1 of the travel state (so each goes through three steps, and each
//! of its messages through its own step), with the derive's own cost
//! (parse + upgrade + serialize of the same payloads, no store) beside it.
//!
//! Run with `cargo bench -p schema-migrate-examples --bench store`.
//!
//! SQLite always runs (a file in the temp directory). PostgreSQL and Redis
//! run on the server that `STORE_BENCH_POSTGRES_URL` / `STORE_BENCH_REDIS_URL`
//! name, where each run writes a fresh table / key prefix `bench_<pid>_<n>`
//! and leaves it there (point them at a throwaway server); without them, on a
//! throwaway server started here as the tests start theirs (PostgreSQL with
//! `fsync` off, Redis without persistence), when the binaries are installed.
//! Optional:
//! `STORE_BENCH_RECORDS` (default 100000), `STORE_BENCH_RUNS` (default 3).

use std::hint::black_box;
use std::time::{Duration, Instant};

use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{Migrator, Progress, RecordStore, StoreError};
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

/// One timed batch migration of a freshly filled store.
struct Run {
    fill: Duration,
    migrate: Duration,
}

/// Fills `store` (empty) with `records`, then times one batch migration of
/// all of them and checks that every record was upgraded. A backend is one
/// call of this function.
async fn run_on<S: RecordStore>(
    store: &S,
    records: &[(String, Vec<u8>)],
    batch_size: usize,
) -> Result<Run, StoreError> {
    let started = Instant::now();
    for chunk in records.chunks(5000) {
        store.put_many(chunk).await?;
    }
    let fill = started.elapsed();
    let report = Migrator::<TripState>::new()
        .batch_size(batch_size)
        .progress(Progress::Events)
        .run(store)
        .await
        .map_err(|e| e.source)?;
    assert_eq!(report.upgraded, records.len() as u64, "{report}");
    assert!(report.failed.is_empty(), "{report:#}");
    Ok(Run {
        fill,
        migrate: report.elapsed,
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn print_row(name: &str, batch: &str, n: usize, runs: &[Run]) {
    let rates: Vec<f64> = runs
        .iter()
        .map(|r| n as f64 / r.migrate.as_secs_f64())
        .collect();
    let fills: Vec<f64> = runs
        .iter()
        .map(|r| n as f64 / r.fill.as_secs_f64())
        .collect();
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "| {name} | {batch} | {:.0} | {lo:.0} - {hi:.0} | {:.2} | {:.0} |",
        median(rates.clone()),
        100_000.0 / median(rates),
        median(fills),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = env_usize("STORE_BENCH_RECORDS", 100_000);
    let runs = env_usize("STORE_BENCH_RUNS", 3).max(1);
    let records: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| (format!("trip-{i:07}"), checkpoint(i, 1, 10).into_bytes()))
        .collect();
    let bytes: usize = records.iter().map(|(_, p)| p.len()).sum();
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

    println!("| store | batch size | records/s | range | s per 100k | fill records/s |");
    println!("|---|---|---|---|---|---|");
    let d = median(derive.clone());
    println!(
        "| derive only (parse + upgrade + serialize, no store) | - | {d:.0} | {:.0} - {:.0} | {:.2} | - |",
        derive.iter().copied().fold(f64::MAX, f64::min),
        derive.iter().copied().fold(0.0, f64::max),
        100_000.0 / d,
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

    for batch in [500, 2000] {
        let mut done = Vec::new();
        for _ in 0..runs {
            let name = fresh_name();
            let store =
                runtime.block_on(SqliteStore::open(dir.join(format!("{name}.db")), &name))?;
            done.push(runtime.block_on(run_on(&store, &records, batch))?);
        }
        print_row("SQLite (file, WAL)", &batch.to_string(), n, &done);
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
    let redis = server_url("STORE_BENCH_REDIS_URL", || {
        Redis::start().map(|s| {
            let url = s.url().to_owned();
            (Box::new(s) as Box<dyn std::any::Any>, url)
        })
    });
    for (label, server) in [("PostgreSQL", postgres), ("Redis", redis)] {
        let Some((url, origin, _server)) = server else {
            println!("| {label} | - | not run: no server binary and no URL set | | | |");
            continue;
        };
        let label = format!("{label} ({origin})");
        for batch in [500, 2000] {
            let mut done = Vec::new();
            for _ in 0..runs {
                let name = fresh_name();
                let store = runtime.block_on(schema_migrate::store::open(&url, &name))?;
                done.push(runtime.block_on(run_on(&store, &records, batch))?);
            }
            print_row(&label, &batch.to_string(), n, &done);
        }
    }
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
