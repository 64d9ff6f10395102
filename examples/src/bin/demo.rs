//! The README's demo: a SQLite file of agent checkpoints written by four
//! releases of a service, resumed lazily by the current one, then migrated
//! in one batch job.
//!
//! Run with `cargo run -p schema-migrate-examples --bin demo`. No server:
//! the file is created in the system's temp directory and removed at the end.

use std::collections::BTreeMap;
use std::time::Instant;

use schema_migrate::store::sqlite::SqliteStore;
use schema_migrate::store::{Lazy, LazyError, Migrator, Progress, RecordStore, WriteBack};
use schema_migrate::Versioned;
use schema_migrate_examples::{checkpoint, TripState};

const CHECKPOINTS: usize = 4000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("schema-migrate-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?
        .block_on(demo(&dir));
    std::fs::remove_dir_all(&dir)?;
    result
}

async fn demo(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "TripState is at version {}; its history:",
        TripState::VERSION
    );
    for step in TripState::history() {
        println!("  {step}");
    }

    // The store: what four releases wrote, in the order users came back,
    // plus two records no release can read.
    let path = dir.join("checkpoints.db");
    let store = SqliteStore::open(&path, "checkpoints").await?;
    let started = Instant::now();
    let mut records = Vec::with_capacity(CHECKPOINTS + 2);
    let mut by_version = BTreeMap::new();
    for i in 0..CHECKPOINTS {
        // Older releases ran longer: more of their checkpoints are around.
        let version = [1, 1, 2, 2, 3, 3, 3, 4][i % 8];
        *by_version.entry(version).or_insert(0) += 1;
        records.push((format!("trip-{i:05}"), checkpoint(i, version, 4)));
    }
    records.push((
        "trip-01234-from-release-5".to_owned(),
        r#"{"schema_version":5,"destination_city":"Quito","pets":1}"#.to_owned(),
    ));
    records.push((
        "trip-02345-truncated".to_owned(),
        r#"{"schema_version":2,"destination":"Li"#.to_owned(),
    ));
    let records: Vec<(String, Vec<u8>)> = records
        .into_iter()
        .map(|(k, p)| (k, p.into_bytes()))
        .collect();
    store.put_many(&records).await?;
    println!(
        "\nWrote {} checkpoints to {} in {:.0} ms: {}, plus 1 from a future release and 1 truncated",
        CHECKPOINTS,
        path.display(),
        started.elapsed().as_secs_f64() * 1e3,
        by_version
            .iter()
            .map(|(v, n)| format!("{n} at v{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Lazy: conversations resumed one by one, upgraded as they load and
    // written back in their current form.
    println!("\nResuming a few conversations (lazy migration, write-back on):");
    let trips = Lazy::<_, TripState>::new(&store).write_back(true);
    for key in [
        "trip-00000",
        "trip-00002",
        "trip-00004",
        "trip-00007",
        "trip-01234-from-release-5",
    ] {
        match trips.load(key).await {
            Ok(Some(loaded)) => {
                let what = match loaded.write_back {
                    WriteBack::NotNeeded => "current".to_owned(),
                    WriteBack::Written { revision } => format!(
                        "upgraded from v{}, written back (revision {revision})",
                        loaded.version
                    ),
                    WriteBack::Off => format!("upgraded from v{}", loaded.version),
                    WriteBack::Conflict => format!(
                        "upgraded from v{}, but someone wrote it meanwhile: kept theirs",
                        loaded.version
                    ),
                };
                let state = &loaded.value;
                println!(
                    "  {key}: {what}: {} for {} adult(s), {} messages, first at {}",
                    state.destination_city,
                    state.travelers.adults,
                    state.messages.len(),
                    state.messages.first().map_or(0, |m| m.at),
                );
            }
            Ok(None) => println!("  {key}: no such checkpoint"),
            Err(LazyError::Upgrade { key, source }) => {
                println!("  {key}: refused, left as it is: {source}")
            }
            Err(e) => return Err(e.into()),
        }
    }

    // Batch: first a dry run, then the real thing.
    println!();
    let dry = Migrator::<TripState>::new()
        .dry_run(true)
        .run(&store)
        .await?;
    println!("{dry}");

    println!();
    let report = Migrator::<TripState>::new()
        .batch_size(500)
        .run(&store)
        .await?;
    println!("{report}");

    let again = Migrator::<TripState>::new()
        .progress(Progress::Events)
        .run(&store)
        .await?;
    let mut untouched = 0;
    for failure in &report.failed {
        let written = records.iter().find(|(k, _)| *k == failure.key);
        let stored = store.get(&failure.key).await?;
        if let (Some((_, written)), Some(stored)) = (written, stored) {
            untouched += usize::from(*written == stored.payload && stored.revision == 1);
        }
    }
    println!(
        "\nA second run finds {} of {} current; {} of the {} that failed are as they were written, byte for byte.",
        again.already_current,
        again.scanned,
        untouched,
        report.failed.len()
    );
    Ok(())
}
