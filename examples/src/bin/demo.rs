//! The README's demo: agent checkpoints written by four releases of a
//! service, all read back by the current one.
//!
//! Run with `cargo run -p schema-migrate-examples --bin demo`.

use schema_migrate::{Error, Stored, Versioned};
use serde::{Deserialize, Serialize};

/// The state as release 4 knows it. Releases 1 to 3 wrote the older shapes
/// described by the history; a future release 5 writes a shape this binary
/// must not silently truncate.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    migrate(from = 1, description = "Added travelers", add(travelers = 1)),
    migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
    migrate(from = 3, description = "Travelers by type", transform(travelers: u32 => travelers_by_type)),
)]
pub struct TripState {
    pub destination_city: String,
    pub travelers: Travelers,
    #[serde(default)]
    pub budget: Option<f64>,
    #[serde(default)]
    pub messages: Vec<Message>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Travelers {
    pub adults: u32,
    pub children: u32,
}

fn travelers_by_type(count: u32) -> Travelers {
    Travelers {
        adults: count,
        children: 0,
    }
}

/// Messages carry their own history: a timestamp was added in version 2.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Timestamp every message", add(at = 0))
)]
pub struct Message {
    pub role: String,
    pub content: String,
    pub at: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // What is in the store: records written by every release so far, in
    // the key order their writer chose, plus one from the future.
    let stored = [
        ("trip-1", r#"{"schema_version":1,"destination":"Tokyo"}"#),
        (
            "trip-2",
            r#"{"schema_version":2,"destination":"Lisbon","travelers":3}"#,
        ),
        (
            "trip-3",
            r#"{"destination_city":"Oslo","travelers":2,"messages":[{"_version":1,"role":"user","content":"hi"}],"schema_version":3}"#,
        ),
        (
            "trip-4",
            r#"{"schema_version":4,"destination_city":"Lima","travelers":{"adults":2,"children":1},"budget":900.0}"#,
        ),
        (
            "trip-5",
            r#"{"schema_version":5,"destination_city":"Quito","pets":1}"#,
        ),
    ];

    println!(
        "TripState is at version {}; its history:",
        TripState::VERSION
    );
    for step in TripState::history() {
        println!("  {step}");
    }
    println!();

    for (key, payload) in stored {
        match schema_migrate::json::from_str::<TripState>(payload) {
            Ok(Stored { value, version }) => {
                let note = if version < TripState::VERSION {
                    format!("upgraded from v{version}")
                } else {
                    "current".to_owned()
                };
                println!(
                    "{key}: {note}: {} for {} adult(s)",
                    value.destination_city, value.travelers.adults
                );
                println!("        writes back as {}", serde_json::to_string(&value)?);
            }
            Err(err @ Error::FutureVersion { .. }) => println!("{key}: refused: {err}"),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
