//! The types the examples share: the README's travel state, whose messages
//! have their own history, and a generator of checkpoints as each release
//! wrote them.

use schema_migrate::Versioned;
use serde::{Deserialize, Serialize};

/// The state as release 4 knows it. Releases 1 to 3 wrote the older shapes
/// described by the history; a future release 5 writes a shape this binary
/// must not silently truncate.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    migrate(from = 1, description = "Added travelers", add(travelers = 1)),
    migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
    migrate(from = 3, description = "Travelers by type", transform(travelers: u32 => travelers_by_type)),
)]
pub struct TripState {
    /// Where to.
    pub destination_city: String,
    /// Who travels.
    pub travelers: Travelers,
    /// The budget, if the user gave one.
    #[serde(default)]
    pub budget: Option<f64>,
    /// The conversation so far.
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// Travelers by type (version 4; before, a plain count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Travelers {
    /// Adults.
    pub adults: u32,
    /// Children.
    pub children: u32,
}

fn travelers_by_type(count: u32) -> Travelers {
    Travelers {
        adults: count,
        children: 0,
    }
}

/// Messages carry their own history: a timestamp was added in version 2.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Timestamp every message", add(at = 0))
)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// Seconds since the epoch; 0 for messages older than timestamps.
    pub at: u64,
}

const CITIES: [&str; 8] = [
    "Tokyo", "Lisbon", "Oslo", "Lima", "Quito", "Hanoi", "Dakar", "Perth",
];

/// Checkpoint `i` as the release that wrote `version` (1 to 4) wrote it,
/// with `messages` chat messages of about 100 bytes each (version-1
/// messages before release 4).
pub fn checkpoint(i: usize, version: u32, messages: usize) -> String {
    let city = CITIES[i % CITIES.len()];
    let count = (i % 4) as u32 + 1;
    let log: Vec<serde_json::Value> = (0..messages)
        .map(|m| {
            let role = if m % 2 == 0 { "user" } else { "assistant" };
            let content = format!("Message {m} about the trip to {city}: dates, budget, hotels.");
            if version >= 4 {
                serde_json::json!({"_version": 2, "role": role, "content": content, "at": 1_700_000_000 + m})
            } else {
                serde_json::json!({"_version": 1, "role": role, "content": content})
            }
        })
        .collect();
    let value = match version {
        1 => serde_json::json!({"schema_version": 1, "destination": city, "messages": log}),
        2 => {
            serde_json::json!({"schema_version": 2, "destination": city, "travelers": count, "messages": log})
        }
        3 => {
            serde_json::json!({"schema_version": 3, "destination_city": city, "travelers": count, "messages": log})
        }
        _ => serde_json::json!({
            "schema_version": 4, "destination_city": city,
            "travelers": {"adults": count, "children": 0}, "budget": 1500.0, "messages": log,
        }),
    };
    value.to_string()
}
