//! Realistic versioned types with histories: every kind of step the derive
//! offers, nested versioned values, an internally tagged enum with variant
//! history, a generic type, and integer/bool-keyed maps and a 128-bit number
//! in fields that are held when the tag comes late.

use std::collections::BTreeMap;

use schema_migrate::Versioned;
use serde_json::{Map, Value};

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Travelers {
    pub adults: u32,
    pub children: u32,
}

/// add, rename, and a fallible transform.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    migrate(from = 1, description = "Added travelers", add(travelers = 1)),
    migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
    migrate(from = 3, description = "Travelers by type", transform(travelers: u32 => travelers_by_type)),
)]
pub struct Trip {
    pub destination_city: String,
    pub travelers: Travelers,
    #[serde(default)]
    pub budget: Option<f64>,
}

fn travelers_by_type(count: u32) -> Result<Travelers, String> {
    if count > 1000 {
        return Err(format!("{count} travelers is not a trip"));
    }
    Ok(Travelers {
        adults: count,
        children: 0,
    })
}

/// A `with` step, remove + rename + transform in one step, a typed remove,
/// two adds, and a nested versioned enum.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 4,
    migrate(from = 1, description = "Split name", with = split_name),
    migrate(from = 2, description = "Priority as a level", remove(legacy), rename(prio = priority), transform(priority: u8 => level)),
    migrate(from = 3, description = "Done and tags", remove(notes: String), add(done), add(tags = default_tags())),
)]
pub struct Task {
    pub first: String,
    pub last: String,
    pub priority: Level,
    pub contact: Contact,
    pub done: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Level {
    Low,
    Mid,
    High,
    Urgent,
}

pub const LEVELS: [&str; 4] = ["Low", "Mid", "High", "Urgent"];

fn level(p: u8) -> Result<Level, String> {
    match p {
        0 => Ok(Level::Low),
        1 => Ok(Level::Mid),
        2 => Ok(Level::High),
        3 => Ok(Level::Urgent),
        _ => Err(format!("priority {p} out of range")),
    }
}

fn default_tags() -> Vec<String> {
    vec!["imported".to_owned()]
}

fn split_name(object: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::String(name)) = object.remove("name") else {
        return Err("`name` must be a string".to_owned());
    };
    let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
    object.insert("first".to_owned(), first.into());
    object.insert("last".to_owned(), last.into());
    Ok(())
}

/// An internally tagged enum with its own tag `rev`, renamed and removed variants.
#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "type")]
#[schema(
    version = 3,
    tag = "rev",
    migrate(from = 1, description = "Mail is Email", rename_variant(Mail = Email)),
    migrate(from = 2, description = "No fax; Sms is Text", remove_variant(Fax), rename_variant(Sms = Text)),
)]
pub enum Contact {
    Email {
        address: String,
    },
    Text {
        number: String,
    },
    Phone {
        number: String,
        #[serde(default)]
        ext: Option<u32>,
    },
}

/// A generic type whose parameter is itself versioned.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Payload is body", rename(payload = body))
)]
pub struct Envelope<T> {
    pub id: u64,
    pub body: T,
}

/// Integer- and bool-keyed maps and a `u128`, renamed so that they are held
/// before a late tag.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Totals by id", rename(amount = total), rename(ids = by_id))
)]
pub struct Ledger {
    pub name: String,
    pub total: u128,
    pub by_id: BTreeMap<u32, String>,
    #[serde(default)]
    pub flags: BTreeMap<bool, u8>,
}
