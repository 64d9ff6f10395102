//! The version tag decides the error wherever it stands, at every depth
//! (issue 9, classes 10 to 12): a payload read with the tag late gives the
//! error kind it gives with the tag first, through the JSON entry points
//! `from_str`, `from_slice` and `from_value`.

use schema_migrate::{Error, Versioned};

/// A versioned value nested in another, with a history of its own.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(verified = false)))]
struct Phone {
    number: u64,
    verified: bool,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename(who = name)))]
struct Person {
    name: String,
    phone: Phone,
}

/// An internally tagged versioned enum with its own tag key, nested.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, tag = "rev", migrate(from = 1, rename_variant(Tel = Phone)))]
#[serde(tag = "type")]
enum Contact {
    Phone { number: String },
    Mail { address: String },
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(prio = 0)))]
struct Card {
    first: String,
    prio: u8,
    contact: Contact,
}

/// The error kind of each entry point, the payload given as text.
fn kinds<T>(text: &str) -> [&'static str; 3]
where
    T: schema_migrate::DeserializeVersionedOwned + std::fmt::Debug,
{
    let value = serde_json::from_str(text).unwrap();
    let kind = |r: Result<schema_migrate::Stored<T>, Error>| match r {
        Ok(v) => panic!("{text} was read: {v:?}"),
        Err(e) => e.kind(),
    };
    [
        kind(schema_migrate::json::from_str::<T>(text)),
        kind(schema_migrate::json::from_slice::<T>(text.as_bytes())),
        kind(schema_migrate::json::from_value::<T>(value)),
    ]
}

#[track_caller]
fn same_kind_wherever_the_tag_stands<T>(tag_first: &str, tag_late: &str, want: &str)
where
    T: schema_migrate::DeserializeVersionedOwned + std::fmt::Debug,
{
    assert_eq!(kinds::<T>(tag_first), [want; 3], "{tag_first}");
    assert_eq!(kinds::<T>(tag_late), [want; 3], "{tag_late}");
}

/// Class 11: a nested value at a future version whose field before the tag
/// does not fit is a future version, not invalid data.
#[test]
fn a_nested_future_version_is_reported_as_such() {
    same_kind_wherever_the_tag_stands::<Person>(
        r#"{"_version":2,"name":"a","phone":{"_version":7,"number":"x"}}"#,
        r#"{"_version":2,"name":"a","phone":{"number":"x","_version":7}}"#,
        "future_version",
    );
    same_kind_wherever_the_tag_stands::<Person>(
        r#"{"_version":2,"name":"a","phone":{"_version":"two","number":"x"}}"#,
        r#"{"name":"a","phone":{"number":"x","_version":"two"},"_version":2}"#,
        "invalid_tag",
    );
}

/// Class 12: the top-level tag's own error is not hidden by a nested
/// value's error read before it.
#[test]
fn a_late_top_level_tag_decides_over_a_nested_error() {
    same_kind_wherever_the_tag_stands::<Person>(
        r#"{"_version":9,"name":"a","phone":{"_version":1,"number":"x"}}"#,
        r#"{"name":"a","phone":{"_version":1,"number":"x"},"_version":9}"#,
        "future_version",
    );
    same_kind_wherever_the_tag_stands::<Person>(
        r#"{"_version":-1,"name":"a","phone":{"_version":8,"number":1}}"#,
        r#"{"phone":{"_version":8,"number":1},"name":"a","_version":-1}"#,
        "invalid_tag",
    );
    // A nested error is still the nested error when the top tag is fine.
    same_kind_wherever_the_tag_stands::<Person>(
        r#"{"_version":2,"name":"a","phone":{"_version":2,"number":"x","verified":true}}"#,
        r#"{"name":"a","phone":{"number":"x","verified":true,"_version":2},"_version":2}"#,
        "invalid_data",
    );
}

/// Class 10: an integer variant tag in a nested value whose parent's tag
/// comes late is refused, as with the parent's tag first.
#[test]
fn a_variant_index_is_refused_in_a_nested_value() {
    same_kind_wherever_the_tag_stands::<Card>(
        r#"{"_version":2,"first":"","prio":0,"contact":{"rev":2,"number":"x","type":1}}"#,
        r#"{"first":"","prio":0,"contact":{"rev":2,"number":"x","type":1},"_version":2}"#,
        "invalid_data",
    );
    // The same with names reads alike wherever the tags stand.
    for text in [
        r#"{"_version":2,"first":"a","prio":1,"contact":{"rev":1,"type":"Tel","number":"5"}}"#,
        r#"{"first":"a","prio":1,"contact":{"number":"5","type":"Tel","rev":1},"_version":2}"#,
        r#"{"first":"a","contact":{"type":"Tel","number":"5","rev":1},"_version":1}"#,
    ] {
        let card = schema_migrate::json::from_str::<Card>(text).unwrap().value;
        assert_eq!(
            card.contact,
            Contact::Phone { number: "5".into() },
            "{text}"
        );
    }
}
