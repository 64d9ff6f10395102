//! An invalid-data error names the path of the field that failed, from the
//! top of the payload, through nested versioned values, sequences and maps
//! (DESIGN §4), in the JSON entry points.

use schema_migrate::{Error, Versioned};

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(at = 0)))]
struct Message {
    role: String,
    at: u64,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Travelers {
    adults: u32,
    children: u32,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 3, migrate(from = 1, add(travelers = 1)), migrate(from = 2, transform(travelers: u32 => by_type)))]
struct TripState {
    destination: String,
    travelers: Travelers,
    messages: Vec<Message>,
    notes: std::collections::BTreeMap<String, Message>,
}

fn by_type(adults: u32) -> Travelers {
    Travelers {
        adults,
        children: 0,
    }
}

fn error(text: &str) -> String {
    match schema_migrate::json::from_str::<TripState>(text) {
        Err(e @ Error::InvalidData { .. }) => e.to_string(),
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn the_path_from_the_top_names_the_field_that_failed() {
    let msg = |at: &str| format!(r#"{{"_version":2,"role":"user","at":{at}}}"#);
    let messages = [msg("1"), msg("2"), msg("3"), msg(r#""x""#)].join(",");
    for (text, want) in [
        (
            r#"{"_version":3,"destination":"a","travelers":{"adults":"x","children":0},"messages":[],"notes":{}}"#.to_owned(),
            r#"TripState (stored at version 3): travelers.adults: invalid type: string "x", expected u32"#,
        ),
        (
            r#"{"_version":2,"destination":"a","travelers":"three","messages":[],"notes":{}}"#.to_owned(),
            r#"TripState (stored at version 2): travelers: invalid type: string "three", expected u32"#,
        ),
        (
            format!(
                r#"{{"_version":3,"destination":"a","travelers":{{"adults":1,"children":0}},"messages":[{messages}],"notes":{{}}}}"#
            ),
            r#"TripState: messages[3].at: Message (stored at version 2): invalid type: string "x", expected u64"#,
        ),
        (
            r#"{"destination":"a","travelers":{"adults":1,"children":0},"notes":{"first":{"role":7,"_version":1}},"messages":[],"_version":3}"#.to_owned(),
            r#"TripState: notes.first.role: Message"#,
        ),
    ] {
        let got = error(&text);
        assert!(got.starts_with(want), "{text}\n got: {got}\nwant: {want}");
    }
}

/// The success path reads once: the path is noted only after a read failed.
#[test]
fn a_payload_that_reads_has_no_path_to_note() {
    let text =
        r#"{"_version":1,"destination":"a","messages":[{"_version":1,"role":"user"}],"notes":{}}"#;
    let stored = schema_migrate::json::from_str::<TripState>(text).unwrap();
    assert_eq!(stored.value.messages[0].at, 0);
}
