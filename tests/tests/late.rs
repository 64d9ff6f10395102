//! Payloads whose tag is not the first key, read in one pass: fields that
//! every version reads alike are decoded as they come, the others buffered
//! until the tag says what they are. Every `read_all_ways` in the other
//! tests also reads its payload with the tag moved to the middle and the end;
//! these cover what is particular to the late reader.

use schema_migrate::{Error, Versioned};
use serde_json::json;

use schema_migrate_tests::read_all_ways;
use schema_migrate_tests::travel::{Travelers, TripState};

fn deep(open: &str, close: &str, n: usize) -> String {
    format!("{}1{}", open.repeat(n), close.repeat(n))
}

fn low_priority() -> u8 {
    1
}

fn from_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    Ok(s.split(',').map(str::to_owned).collect())
}

fn to_csv<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.join(","))
}

fn level(p: u8) -> String {
    ["low", "mid", "high"]
        .get(p as usize)
        .unwrap_or(&"high")
        .to_string()
}

/// Every field attribute the late reader reproduces, on a generic type.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, add(owner = "nobody".to_owned()), rename(prio = priority)),
    migrate(from = 2, transform(priority: u8 => level), remove(legacy)),
)]
#[serde(rename_all = "camelCase")]
struct Ticket<T> {
    ticket_id: u64,
    payload: T,
    owner: String,
    priority: String,
    note: Option<String>,
    #[serde(default = "low_priority")]
    retries: u8,
    #[serde(deserialize_with = "from_csv", serialize_with = "to_csv")]
    labels: Vec<String>,
    #[serde(skip)]
    cache: Vec<u8>,
}

fn ticket(owner: &str, priority: &str, note: Option<&str>, retries: u8) -> Ticket<Vec<u32>> {
    Ticket {
        ticket_id: 7,
        payload: vec![1, 2],
        owner: owner.to_owned(),
        priority: priority.to_owned(),
        note: note.map(str::to_owned),
        retries,
        labels: vec!["a".to_owned(), "b".to_owned()],
        cache: Vec::new(),
    }
}

#[test]
fn every_attribute_at_every_version_and_tag_position() {
    read_all_ways(
        r#"{"_version":1,"ticketId":7,"payload":[1,2],"prio":2,"legacy":true,"labels":"a,b"}"#,
        &ticket("nobody", "high", None, 1),
        1,
    );
    read_all_ways(
        r#"{"_version":2,"ticketId":7,"payload":[1,2],"owner":"ann","priority":0,"legacy":1,"note":"n","retries":4,"labels":"a,b"}"#,
        &ticket("ann", "low", Some("n"), 4),
        2,
    );
    read_all_ways(
        r#"{"_version":3,"ticketId":7,"payload":[1,2],"owner":"ann","priority":"mid","note":null,"labels":"a,b","cache":[9]}"#,
        &ticket("ann", "mid", None, 1),
        3,
    );
}

#[test]
fn missing_and_duplicate_fields_are_the_same_errors_as_tag_first() {
    for payload in [
        // `labels` has its own reader and no default: it is required.
        r#"{"ticketId":7,"payload":[],"prio":2,"_version":1}"#,
        // `payload` is read as it comes at every version.
        r#"{"ticketId":7,"prio":2,"labels":"","_version":1}"#,
        r#"{"ticketId":7,"ticketId":8,"payload":[],"prio":2,"labels":"","_version":1}"#,
        r#"{"prio":1,"ticketId":7,"prio":2,"payload":[],"labels":"","_version":1}"#,
    ] {
        let err = schema_migrate::json::from_str::<Ticket<Vec<u32>>>(payload).unwrap_err();
        assert_eq!(err.kind(), "invalid_data", "{payload}: {err}");
        let reference = schema_migrate::reference::from_value::<Ticket<Vec<u32>>>(
            serde_json::from_str(payload).unwrap(),
        );
        // serde_json::Value keeps the last of duplicate keys, so the
        // reference only fails on the missing fields.
        if !payload.contains(r#""ticketId":8"#) && !payload.starts_with(r#"{"prio":1"#) {
            assert_eq!(reference.unwrap_err().kind(), "invalid_data", "{payload}");
        }
    }
}

#[test]
fn unknown_entries_before_the_tag_are_skipped_not_buffered() {
    // Buffering this value would hit serde_json's recursion limit; the late
    // reader skips it, so this read succeeds only in one pass.
    let payload = format!(
        r#"{{"junk":{},"ticketId":7,"payload":[1,2],"prio":0,"labels":"a,b","_version":1}}"#,
        deep("[", "]", 5000)
    );
    let t: Ticket<Vec<u32>> = serde_json::from_str(&payload).unwrap();
    assert_eq!(t, ticket("nobody", "low", None, 1));
}

#[test]
fn a_field_that_fails_before_the_tag_is_named() {
    let err = schema_migrate::json::from_str::<TripState>(
        r#"{"budget":"cheap","destination":"Tokyo","schema_version":1}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), "invalid_data");
    // The JSON entry points name it by its path; plain serde_json as the field.
    assert!(err.to_string().starts_with("TripState: budget: "), "{err}");
    let err = serde_json::from_str::<TripState>(
        r#"{"budget":"cheap","destination":"Tokyo","schema_version":1}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("field `budget`"), "{err}");
}

#[test]
fn the_tag_decides_the_error_when_it_is_the_problem() {
    // `budget` is read as it comes, before the tag: a newer release that
    // changed its type must still be reported as a future version.
    let cases = [
        (
            r#"{"budget":"cheap","destination_city":"Oslo","schema_version":5}"#,
            "future_version",
        ),
        (
            r#"{"budget":"cheap","destination_city":"Oslo","schema_version":0}"#,
            "too_old",
        ),
        (
            r#"{"budget":"cheap","destination_city":"Oslo","schema_version":"2"}"#,
            "invalid_tag",
        ),
        (
            r#"{"budget":"cheap","destination_city":"Oslo","schema_version":1}"#,
            "invalid_data",
        ),
    ];
    for (payload, kind) in cases {
        let err = schema_migrate::json::from_str::<TripState>(payload).unwrap_err();
        assert_eq!(err.kind(), kind, "{payload}: {err}");
        let err = schema_migrate::json::from_slice::<TripState>(payload.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), kind, "{payload}: {err}");
        let reference = schema_migrate::reference::from_value::<TripState>(
            serde_json::from_str(payload).unwrap(),
        );
        assert_eq!(reference.unwrap_err().kind(), kind, "{payload}");
    }
}

#[test]
fn a_second_tag_after_a_late_one_is_refused() {
    let err = schema_migrate::json::from_str::<TripState>(
        r#"{"destination":"Oslo","schema_version":1,"schema_version":4}"#,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidTag { .. }), "{err}");
}

#[test]
fn nested_versioned_values_read_late_inside_a_late_parent() {
    #[derive(Debug, PartialEq, Versioned)]
    #[schema(version = 2, migrate(from = 1, add(trips)))]
    struct Account {
        name: String,
        trips: Vec<TripState>,
        main: TripState,
    }
    let payload = json!({
        "name": "ann",
        "main": {"destination": "Lima", "schema_version": 1},
        "_version": 2,
        "trips": [{"travelers": 3, "destination": "Oslo", "schema_version": 2}],
    });
    let trip = |city: &str, adults| TripState {
        destination_city: city.to_owned(),
        travelers: Travelers {
            adults,
            children: 0,
        },
        budget: None,
    };
    read_all_ways(
        &payload.to_string(),
        &Account {
            name: "ann".to_owned(),
            trips: vec![trip("Oslo", 3)],
            main: trip("Lima", 1),
        },
        2,
    );
}

// ---------------------------------------------------------------------------
// Generated payloads of `Ticket`, entries in any order: the single pass
// agrees with the library's reference path (itself checked against a
// hand-written migration in differential.rs) on the value or the error kind.

mod generated {
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::{json, Value};

    use super::Ticket;

    /// The entries of a valid payload at `version`, tag excluded.
    fn entries(
        version: u64,
        prio: u8,
        owner: &str,
        note: Option<&str>,
    ) -> Vec<(&'static str, Value)> {
        let mut e = vec![
            ("ticketId", json!(7)),
            ("payload", json!([1, 2])),
            ("labels", json!("a,b")),
        ];
        match version {
            1 => e.extend([("prio", json!(prio)), ("legacy", json!(true))]),
            2 => e.extend([
                ("priority", json!(prio)),
                ("legacy", json!(1)),
                ("owner", json!(owner)),
            ]),
            _ => e.extend([
                ("priority", json!(["low", "mid", "high"][prio as usize % 3])),
                ("owner", json!(owner)),
            ]),
        }
        if version >= 2 {
            if let Some(n) = note {
                e.push(("note", json!(n)));
            }
            e.push(("retries", json!(3)));
        }
        e
    }

    /// Names of every version and none, for extra entries.
    const NAMES: &[&str] = &[
        "ticketId", "payload", "labels", "prio", "priority", "legacy", "owner", "note", "retries",
        "cache", "zz",
    ];

    #[derive(Debug, Clone)]
    enum Fault {
        None,
        WrongType(Index),
        Missing(Index),
        Tag(Value),
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            6 => Just(Fault::None),
            3 => any::<Index>().prop_map(Fault::WrongType),
            2 => any::<Index>().prop_map(Fault::Missing),
            1 => prop_oneof![Just(json!(0)), Just(json!(4)), Just(json!("2")), Just(Value::Null)].prop_map(Fault::Tag),
        ]
    }

    fn payload() -> impl Strategy<Value = String> {
        (
            1u64..=3,
            0u8..3,
            prop::option::of("[a-z]{0,3}"),
            any::<bool>(),
            prop::collection::vec((any::<Index>(), 0usize..4), 0..3),
            fault(),
            any::<Index>(),
            any::<u64>(),
        )
            .prop_map(
                |(version, prio, note, tagged, extras, fault, tag_at, seed)| {
                    let mut e = entries(version, prio, "ann", note.as_deref());
                    match &fault {
                        Fault::WrongType(i) => {
                            let i = i.index(e.len());
                            e[i].1 = if e[i].1.is_string() {
                                json!(5)
                            } else {
                                json!("x")
                            };
                        }
                        Fault::Missing(i) => {
                            e.remove(i.index(e.len()));
                        }
                        _ => {}
                    }
                    let values = [
                        Value::Null,
                        json!(1),
                        json!("s"),
                        json!([1]),
                        json!({"a": 1}),
                    ];
                    for (name, value) in extras {
                        let name = NAMES[name.index(NAMES.len())];
                        if e.iter().all(|(k, _)| *k != name) {
                            e.push((name, values[value].clone()));
                        }
                    }
                    // A deterministic shuffle from the seed.
                    let mut s = seed | 1;
                    for i in (1..e.len()).rev() {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        e.swap(i, (s % (i as u64 + 1)) as usize);
                    }
                    let tag = match fault {
                        Fault::Tag(v) => Some(v),
                        _ if tagged => Some(json!(version)),
                        _ => None,
                    };
                    if let Some(tag) = tag {
                        let at = tag_at.index(e.len() + 1);
                        e.insert(at, ("_version", tag));
                    }
                    let body: Vec<String> =
                        e.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect();
                    format!("{{{}}}", body.join(","))
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn single_pass_agrees_with_the_reference(text in payload()) {
            type T = Ticket<Vec<u32>>;
            let by_serde = serde_json::from_str::<T>(&text);
            let typed = schema_migrate::json::from_str::<T>(&text).map(|s| (s.value, s.version)).map_err(|e| e.kind());
            let reference = schema_migrate::reference::from_value::<T>(serde_json::from_str(&text).unwrap())
                .map(|s| (s.value, s.version))
                .map_err(|e| e.kind());
            prop_assert_eq!(&typed, &reference, "{}", text);
            prop_assert_eq!(by_serde.is_ok(), typed.is_ok(), "{}", text);
            if let (Ok(a), Ok((b, _))) = (&by_serde, &typed) {
                prop_assert_eq!(a, b);
            }
        }
    }
}

/// A defaulted or skipped field of a type parameter: the late reader must
/// not need `T: Default` where serde_derive would not.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(extra)))]
struct Boxed<T> {
    #[serde(default)]
    item: T,
    #[serde(skip)]
    cache: Option<T>,
    extra: u8,
}

#[test]
fn defaulted_fields_of_a_type_parameter() {
    read_all_ways(
        r#"{"_version":1,"item":[1]}"#,
        &Boxed::<Vec<u8>> {
            item: vec![1],
            cache: None,
            extra: 0,
        },
        1,
    );
}
