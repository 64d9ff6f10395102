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
/// was read as 0, where serde_json, the reference path and the same payload
/// with the tag first refuse it. Fixed: held keys read `-0` as -0.0.
#[test]
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

/// Finding 2 (structured): in CBOR, a nested internally tagged enum that
/// comes *after* its parent's tag, when that tag is not the first key, reads
/// an integer variant index, which ciborium (serde_derive) and the same
/// payload with the parent's tag first refuse. The README documents this
/// only for entries held *before* a late tag. Currently: `Ok(Phone { .. })`.
#[test]
#[ignore = "fuzz finding 2: the README's documented CBOR exception (held entries follow MessagePack's rules)"]
fn cbor_variant_index_after_a_late_parent_tag_is_refused() {
    use fuzz_common::structured::{Key, Node};
    use fuzz_common::types::{Contact, Envelope};
    use serde_json::json;

    let k = |s: &str| Key::Str(s.to_owned());
    let body = Node::Map(vec![
        (k("rev"), Node::Leaf(json!(3))),
        (k("type"), Node::Leaf(json!(2))),
        (k("number"), Node::Leaf(json!("a"))),
    ]);
    for tag_at in [0, 1] {
        // {"_version":2,"id":7,"body":{..}} and {"id":7,"_version":2,"body":{..}}
        let mut entries = vec![(k("id"), Node::Leaf(json!(7))), (k("body"), body.clone())];
        entries.insert(tag_at, (k("_version"), Node::Leaf(json!(2))));
        let mut cbor = Vec::new();
        ciborium::into_writer(&Node::Map(entries), &mut cbor).unwrap();
        let r = ciborium::from_reader::<Envelope<Contact>, _>(&cbor[..]);
        assert!(r.is_err(), "tag at {tag_at}: {r:?}");
    }
}
