//! `u32` shadowed by a local type alias: generated code must say
//! `::core::primitive::u32`, as it says `::core::result::Result`.

#![allow(non_camel_case_types, dead_code)]

type u32 = bool;

#[derive(Debug, PartialEq, schema_migrate::Versioned)]
#[schema(version = 2, migrate(from = 1, add(count = 1)))]
struct Item {
    count: ::core::primitive::u64,
}

fn main() {
    let item: Item = serde_json::from_str(r#"{"_version":1}"#).unwrap();
    assert_eq!(item, Item { count: 1 });
}
