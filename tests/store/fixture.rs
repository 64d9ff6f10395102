//! The stored type of the store tests: the README's travel state with a
//! message log whose entries have their own history, and a step that can
//! fail (too many travelers), so that bad records come from real steps.

use schema_migrate::Versioned;

/// The travel state at version 4.
#[derive(Debug, Clone, PartialEq, Versioned)]
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

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Travelers {
    pub adults: u32,
    pub children: u32,
}

/// The most travelers a version-3 record may hold; more is a failed step.
pub const MAX_TRAVELERS: u32 = 1000;

/// The version 3 -> 4 step: fails on an implausible count.
pub fn travelers_by_type(count: u32) -> Result<Travelers, String> {
    if count > MAX_TRAVELERS {
        return Err(format!("{count} travelers is more than {MAX_TRAVELERS}"));
    }
    Ok(Travelers {
        adults: count,
        children: 0,
    })
}

/// A chat message; version 2 added the timestamp.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Timestamp every message", add(at = 0))
)]
pub struct Message {
    pub role: String,
    pub content: String,
    pub at: u64,
}

/// The key of record `i`: zero-padded so that byte order is numeric order.
pub fn key(i: usize) -> String {
    format!("trip-{i:06}")
}

/// The version record `i` is stored at in a mixed fill: mostly old versions
/// (1, 2, 3), every fourth one already current.
pub fn mixed_version(i: usize) -> u32 {
    [1, 2, 3, 4][i % 4]
}

/// The payload of record `i` as the release that wrote `version` wrote it,
/// with `messages` messages (each about 100 bytes), and the value it must
/// read as at version 4.
pub fn checkpoint(i: usize, version: u32, messages: usize) -> (String, TripState) {
    let city = format!("city-{i}");
    let count = (i % 7) as u32 + 1;
    let budget = i.is_multiple_of(3).then_some(100.0 * (i % 50) as f64);
    // Messages written before version 4 of the trip are version-1 messages.
    let message_version = if version >= 4 { 2 } else { 1 };
    let mut log = Vec::with_capacity(messages);
    let mut json_messages = Vec::with_capacity(messages);
    for m in 0..messages {
        let role = if m % 2 == 0 { "user" } else { "assistant" };
        let content = format!("message {m} of trip {i}: {}", "la ".repeat(20));
        let at = if message_version == 2 {
            1_700_000_000 + (i * 100 + m) as u64
        } else {
            0
        };
        let json = if message_version == 2 {
            serde_json::json!({"_version": 2, "role": role, "content": content, "at": at})
        } else {
            serde_json::json!({"_version": 1, "role": role, "content": content})
        };
        json_messages.push(json);
        log.push(Message {
            role: role.to_owned(),
            content,
            at,
        });
    }
    let (json, travelers) = match version {
        1 => (
            serde_json::json!({"schema_version": 1, "destination": city, "budget": budget, "messages": json_messages}),
            1,
        ),
        2 => (
            serde_json::json!({"schema_version": 2, "destination": city, "travelers": count, "budget": budget, "messages": json_messages}),
            count,
        ),
        3 => (
            serde_json::json!({"schema_version": 3, "destination_city": city, "travelers": count, "budget": budget, "messages": json_messages}),
            count,
        ),
        4 => (
            serde_json::json!({"schema_version": 4, "destination_city": city, "travelers": {"adults": count, "children": 0}, "budget": budget, "messages": json_messages}),
            count,
        ),
        _ => panic!("the fixture writes versions 1 to 4, not {version}"),
    };
    // serde_json keeps insertion order only with `preserve_order`; the tag
    // position does not matter to the reader, so either order is a fair
    // stored payload.
    let expected = TripState {
        destination_city: city,
        travelers: Travelers {
            adults: travelers,
            children: 0,
        },
        budget,
        messages: log,
    };
    (json.to_string(), expected)
}
