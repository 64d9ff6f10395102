//! Findings of the fuzz run, as regression tests. Each asserts what serde
//! (and the reference path) does; the ones the library does not meet yet are
//! `#[ignore]`d with the current outcome in their doc comment.

use std::collections::BTreeMap;

use fuzz_common::types::Ledger;

fn kind(r: Result<schema_migrate::Stored<Ledger>, schema_migrate::Error>) -> String {
    match r {
        Ok(s) => format!("ok {:?}", s.value.by_id),
        Err(e) => e.kind().to_owned(),
    }
}

/// serde_json reads the map key `"-0"` as the float -0.0, which a `u32` key refuses.
#[test]
fn serde_json_refuses_minus_zero_as_an_integer_key() {
    assert!(serde_json::from_str::<BTreeMap<u32, String>>(r#"{"-0":"x"}"#).is_err());
    let tag_first = r#"{"_version":1,"name":"a","ids":{"-0":"x"},"amount":1}"#;
    assert_eq!(
        kind(schema_migrate::json::from_str::<Ledger>(tag_first)),
        "invalid_data"
    );
    let v = serde_json::from_str(tag_first).unwrap();
    assert_eq!(
        kind(schema_migrate::reference::from_value::<Ledger>(v)),
        "invalid_data"
    );
}

/// Finding 1 (json_raw): a held integer key `"-0"` (the tag late or absent)
/// is read as 0, where serde_json, the reference path and the same payload
/// with the tag first refuse it. Currently: `ok {0: "x"}`.
#[test]
#[ignore = "fuzz finding 1: held map key \"-0\" accepted as 0"]
fn held_minus_zero_key_is_refused_as_serde_json_refuses_it() {
    for input in [
        r#"{"name":"a","ids":{"-0":"x"},"amount":1}"#,
        r#"{"name":"a","ids":{"-0":"x"},"amount":1,"_version":1}"#,
    ] {
        assert_eq!(
            kind(schema_migrate::json::from_str::<Ledger>(input)),
            "invalid_data",
            "{input}"
        );
    }
}
