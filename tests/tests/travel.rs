//! The four-version travel state from the README, read at every version.

use schema_migrate::{Error, Versioned};
use serde_json::json;

use schema_migrate_tests::travel::{Travelers, TripState};

fn tokyo(adults: u32) -> TripState {
    TripState {
        destination_city: "Tokyo".into(),
        travelers: Travelers {
            adults,
            children: 0,
        },
        budget: None,
    }
}

#[test]
fn every_version_loads_as_the_current_one() {
    let cases = [
        (r#"{"schema_version":1,"destination":"Tokyo"}"#, tokyo(1)),
        (
            r#"{"schema_version":2,"destination":"Tokyo","travelers":3}"#,
            tokyo(3),
        ),
        (
            r#"{"schema_version":3,"destination_city":"Tokyo","travelers":2}"#,
            tokyo(2),
        ),
        (
            r#"{"schema_version":4,"destination_city":"Tokyo","travelers":{"adults":5,"children":0}}"#,
            tokyo(5),
        ),
        // Tag last, as PostgreSQL JSONB or another writer may order keys.
        (
            r#"{"destination":"Tokyo","travelers":3,"schema_version":2}"#,
            tokyo(3),
        ),
        (r#"{"destination":"Tokyo","schema_version":1}"#, tokyo(1)),
        // No tag: read as the oldest version.
        (r#"{"destination":"Tokyo"}"#, tokyo(1)),
    ];
    for (payload, expected) in cases {
        let got: TripState =
            serde_json::from_str(payload).unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(got, expected, "{payload}");
        let by_reference = schema_migrate::reference::from_value::<TripState>(
            serde_json::from_str(payload).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(by_reference.value, expected, "reference path, {payload}");
    }
}

#[test]
fn serialize_writes_the_tag_first() {
    let text = serde_json::to_string(&tokyo(2)).unwrap();
    assert_eq!(
        text,
        r#"{"schema_version":4,"destination_city":"Tokyo","travelers":{"adults":2,"children":0},"budget":null}"#
    );
}

#[test]
fn round_trips() {
    let s = TripState {
        budget: Some(1200.5),
        ..tokyo(2)
    };
    let back: TripState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn introspection() {
    assert_eq!(TripState::VERSION, 4);
    assert_eq!(TripState::TAG, "schema_version");
    assert_eq!(TripState::history().len(), 3);
    let path = TripState::path_from(2).unwrap();
    assert_eq!(
        path.iter()
            .map(|s| s.description.unwrap())
            .collect::<Vec<_>>(),
        ["Renamed destination", "Travelers by type"]
    );
    assert_eq!(
        path[1].to_string(),
        r#"TripState 3 -> 4 "Travelers by type": transform(travelers: u32 => travelers_by_type)"#
    );
}

#[test]
fn future_versions_are_refused() {
    let err = schema_migrate::json::from_str::<TripState>(
        r#"{"schema_version":5,"destination_city":"Tokyo"}"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::FutureVersion {
                found: 5,
                current: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let text = serde_json::from_value::<TripState>(json!({"schema_version": 5}))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("TripState") && text.contains("5") && text.contains("4"),
        "{text}"
    );
}
