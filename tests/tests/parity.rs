//! Serde parity: each type here is declared twice from one set of tokens,
//! once under `#[derive(serde::Serialize, serde::Deserialize)]` and once
//! under `#[derive(Versioned)]`, with the same `#[serde(...)]` attributes.
//! Both read the same inputs (each accepted input varied one key at a time:
//! dropped, null, wrong-typed, duplicated, an unknown key, reversed order),
//! the versioned twin with its tag first, last and absent, in JSON,
//! `serde_json::Value`, CBOR and MessagePack with names. They must accept and
//! refuse alike, with serde's own error text in JSON, read equal values, and
//! write the same thing (the versioned twin with its tag first).

use std::fmt::{Debug, Display};
use std::marker::PhantomData;
use std::str::FromStr;

use schema_migrate::{Untagged, Versioned};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Declares `mod $m { pub mod by_serde { .. } pub mod by_versioned { .. } }`,
/// the same items in both, the first one deriving serde's traits in one and
/// `Versioned` (at `#[schema(version = 1)]` unless given) in the other.
macro_rules! twin {
    (mod $m:ident { #[schema($($schema:tt)*)] $ty:item $($rest:item)* }) => {
        mod $m {
            #![allow(dead_code, reason = "each twin uses what its test needs")]
            use super::*;
            pub mod by_serde {
                use super::*;
                #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
                $ty
                $($rest)*
            }
            pub mod by_versioned {
                use super::*;
                #[derive(Debug, PartialEq, schema_migrate::Versioned)]
                #[schema($($schema)*)]
                $ty
                $($rest)*
            }
        }
    };
    (mod $m:ident { $ty:item $($rest:item)* }) => {
        twin! { mod $m { #[schema(version = 1)] $ty $($rest)* } }
    };
}

// ---------------------------------------------------------------------------
// The harness.

/// An object, its entries in order: JSON text, CBOR and MessagePack are
/// written from this, so the tag's place is ours to choose.
type Entries = Vec<(ciborium::Value, ciborium::Value)>;

fn entries(text: &str) -> Entries {
    match serde_json::from_str::<ciborium::Value>(text) {
        Ok(ciborium::Value::Map(entries)) => entries,
        other => panic!("an input must be a JSON object: {text}: {other:?}"),
    }
}

fn wrong(value: &ciborium::Value) -> ciborium::Value {
    use ciborium::Value as C;
    match value {
        C::Text(_) => C::Integer(5.into()),
        C::Integer(_) | C::Float(_) => C::Text("oops".into()),
        C::Bool(_) => C::Text("yes".into()),
        C::Array(_) => C::Integer(3.into()),
        C::Null => C::Array(vec![C::Integer(1.into())]),
        _ => C::Text("obj".into()),
    }
}

/// `input` and its variations, one key at a time.
fn variations(input: &str) -> Vec<Entries> {
    let base = entries(input);
    let mut out = vec![base.clone()];
    for i in 0..base.len() {
        let mut dropped = base.clone();
        dropped.remove(i);
        out.push(dropped);
        let mut null = base.clone();
        null[i].1 = ciborium::Value::Null;
        out.push(null);
        let mut wrong_typed = base.clone();
        wrong_typed[i].1 = wrong(&base[i].1);
        out.push(wrong_typed);
        let mut duplicated = base.clone();
        duplicated.push(base[i].clone());
        out.push(duplicated);
    }
    let mut unknown = base.clone();
    unknown.push(("zz_unknown".into(), ciborium::Value::Integer(1.into())));
    out.push(unknown);
    let mut reversed = base;
    reversed.reverse();
    out.push(reversed);
    out
}

#[derive(Clone, Copy, Debug)]
enum At {
    First,
    Last,
    Absent,
}

fn with_tag<V: Versioned>(entries: &Entries, at: At) -> Entries {
    let tag = (
        ciborium::Value::Text(V::TAG.to_owned()),
        ciborium::Value::Integer(V::VERSION.into()),
    );
    let mut out = entries.clone();
    match at {
        At::First => out.insert(0, tag),
        At::Last => out.push(tag),
        At::Absent => {}
    }
    out
}

fn json_text(entries: &Entries) -> String {
    serde_json::to_string(&ciborium::Value::Map(entries.clone())).unwrap()
}

/// serde_json's message without its position (the tag shifts the columns)
/// and, for the versioned twin (`name`), without the prefix that says which
/// type and field serde's message comes from (documented in the README):
/// `Name (stored at version N): `, `Name: field `f`: ` or `Name: `.
fn message(e: &serde_json::Error, name: Option<&str>) -> String {
    let mut text = e.to_string();
    if let Some(at) = text.rfind(" at line ") {
        text.truncate(at);
    }
    let Some(name) = name else { return text };
    let Some(rest) = text.strip_prefix(name) else {
        return text;
    };
    if let Some(rest) = rest.strip_prefix(" (stored at version ") {
        if let Some((_, m)) = rest.split_once("): ") {
            return m.to_owned();
        }
    }
    if let Some(rest) = rest.strip_prefix(": field `") {
        if let Some((_, m)) = rest.split_once("`: ") {
            return m.to_owned();
        }
    }
    rest.strip_prefix(": ").map_or(text.clone(), str::to_owned)
}

/// What a read gave, comparable across the twins: the value as JSON (the
/// versioned one without its tag), or the error.
type Outcome = Result<Value, String>;

fn outcome_of<T: Serialize>(read: Result<T, String>, tag: Option<&str>) -> Outcome {
    read.map(|value| {
        let mut json = serde_json::to_value(&value).unwrap();
        if let (Some(tag), Value::Object(o)) = (tag, &mut json) {
            o.remove(tag);
        }
        json
    })
}

/// Reads every variation of every input through both twins, in every
/// format, and returns how many reads were compared.
#[track_caller]
fn check<S, V>(inputs: &[&str]) -> usize
where
    S: Serialize + DeserializeOwned + Debug,
    V: Versioned + Serialize + DeserializeOwned + Debug,
{
    let tag = Some(V::TAG);
    let untagged_is_current = matches!(V::UNTAGGED, Untagged::Version(v) if v == V::VERSION);
    let mut compared = 0;
    let mut accepted = 0;
    for input in inputs {
        for plain in variations(input) {
            let text = json_text(&plain);
            let by_serde = serde_json::from_str::<S>(&text).map_err(|e| message(&e, None));
            if let Ok(value) = &by_serde {
                accepted += 1;
                written_alike::<S, V>(value, &text);
            }
            let expected = outcome_of(by_serde, None);
            let expected_ok = expected.is_ok();
            let from_value = serde_json::from_str::<Value>(&text).unwrap();
            let expected_value = serde_json::from_value::<S>(from_value.clone()).is_ok();
            let cbor = |e: &Entries| {
                let mut out = Vec::new();
                ciborium::into_writer(&ciborium::Value::Map(e.clone()), &mut out).unwrap();
                out
            };
            let msgpack =
                |e: &Entries| rmp_serde::to_vec_named(&ciborium::Value::Map(e.clone())).unwrap();
            let expected_cbor = outcome_of(
                ciborium::from_reader::<S, _>(&cbor(&plain)[..]).map_err(|e| e.to_string()),
                None,
            );
            let expected_msgpack = outcome_of(
                rmp_serde::from_slice::<S>(&msgpack(&plain)).map_err(|e| e.to_string()),
                None,
            );
            for at in [At::First, At::Last, At::Absent] {
                if matches!(at, At::Absent) && !untagged_is_current {
                    continue;
                }
                let tagged = with_tag::<V>(&plain, at);
                let tagged_text = json_text(&tagged);
                let got = outcome_of(
                    serde_json::from_str::<V>(&tagged_text).map_err(|e| message(&e, Some(V::NAME))),
                    tag,
                );
                assert_eq!(
                    got, expected,
                    "JSON, serde read {text}, versioned read {tagged_text}"
                );

                let mut tagged_value = from_value.clone();
                if let (Value::Object(o), false) = (&mut tagged_value, matches!(at, At::Absent)) {
                    o.insert(V::TAG.to_owned(), V::VERSION.into());
                }
                let got = serde_json::from_value::<V>(tagged_value.clone());
                assert_eq!(
                    got.is_ok(),
                    expected_value,
                    "serde_json::Value, {text} / {tagged_value}: {got:?}"
                );

                let got = outcome_of(
                    ciborium::from_reader::<V, _>(&cbor(&tagged)[..]).map_err(|e| e.to_string()),
                    tag,
                );
                assert_eq!(
                    got.as_ref().ok(),
                    expected_cbor.as_ref().ok(),
                    "CBOR, {text} / {tagged_text}: {got:?} vs {expected_cbor:?}"
                );
                let got = outcome_of(
                    rmp_serde::from_slice::<V>(&msgpack(&tagged)).map_err(|e| e.to_string()),
                    tag,
                );
                assert_eq!(
                    got.as_ref().ok(),
                    expected_msgpack.as_ref().ok(),
                    "MessagePack, {text} / {tagged_text}: {got:?} vs {expected_msgpack:?}"
                );
                compared += 4;
            }
            let _ = expected_ok;
        }
    }
    assert!(
        accepted > 0,
        "no input was accepted: the check compared only refusals"
    );
    eprintln!("parity: {compared} reads compared, {accepted} inputs accepted by serde");
    compared
}

/// The versioned twin read from the same input writes what serde writes,
/// with its tag first; where serde reads its own output back (its
/// attributes are symmetric), the versioned twin reads its own back too, in
/// JSON and MessagePack.
#[track_caller]
fn written_alike<S, V>(value: &S, input: &str)
where
    S: Serialize + DeserializeOwned,
    V: Versioned + Serialize + DeserializeOwned + Debug,
{
    let by_serde = serde_json::to_string(value).unwrap();
    let tag = format!("{}:{}", Value::from(V::TAG), V::VERSION);
    let tagged = |text: &str| {
        if text == "{}" {
            format!("{{{tag}}}")
        } else {
            format!("{{{tag},{}", &text[1..])
        }
    };
    let versioned: V = serde_json::from_str(&tagged(input))
        .unwrap_or_else(|e| panic!("versioned twin refused {}: {e}", tagged(input)));
    let written = serde_json::to_string(&versioned).unwrap();
    let expected = tagged(&by_serde);
    assert_eq!(written, expected, "written from input {input}");
    if serde_json::from_str::<S>(&by_serde).is_err() {
        return;
    }
    let again: V = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("versioned twin refused its own output {written}: {e}"));
    assert_eq!(serde_json::to_string(&again).unwrap(), written);
    let bytes = rmp_serde::to_vec_named(value).unwrap();
    let versioned_bytes = rmp_serde::to_vec_named(&versioned).unwrap();
    let back: V = rmp_serde::from_slice(&versioned_bytes).unwrap();
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        written,
        "MessagePack round trip, {input}"
    );
    assert!(
        versioned_bytes.len() > bytes.len(),
        "the tag is written in MessagePack too"
    );
}

// ---------------------------------------------------------------------------
// Class 4: a container `default = "path"` fills missing fields from that
// function, and needs no `Default` impl.

// Declared by hand, not by `twin!`: serde_derive's expansion of a container
// `default = "path"` does not compile inside a `macro_rules!` expansion (its
// `__default` local takes the path's hygiene), under either derive.
mod default_path {
    pub mod by_serde {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default = "Made::make")]
        pub struct Made {
            pub count: u32,
            pub name: String,
            pub note: Option<u8>,
        }

        impl Made {
            pub fn make() -> Self {
                Made {
                    count: 7,
                    name: "made".into(),
                    note: Some(1),
                }
            }
        }
    }

    pub mod by_versioned {
        #[derive(Debug, PartialEq, schema_migrate::Versioned)]
        #[serde(default = "Made::make")]
        #[schema(version = 1)]
        pub struct Made {
            pub count: u32,
            pub name: String,
            pub note: Option<u8>,
        }

        impl Made {
            pub fn make() -> Self {
                Made {
                    count: 7,
                    name: "made".into(),
                    note: Some(1),
                }
            }
        }
    }
}

#[test]
fn container_default_path() {
    let n = check::<default_path::by_serde::Made, default_path::by_versioned::Made>(&[
        r#"{"count":1,"name":"a","note":null}"#,
        r#"{"name":"b"}"#,
        r#"{}"#,
    ]);
    assert!(n > 100, "{n} reads compared");
    let made: default_path::by_versioned::Made = serde_json::from_str(r#"{"_version":1}"#).unwrap();
    assert_eq!(
        (made.count, made.name.as_str(), made.note),
        (7, "made", Some(1))
    );
}

mod default_path_generic {
    pub mod by_serde {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default = "Holder::empty")]
        pub struct Holder<T> {
            pub items: Vec<T>,
            pub label: String,
        }

        impl<T> Holder<T> {
            pub fn empty() -> Self {
                Holder {
                    items: Vec::new(),
                    label: "empty".into(),
                }
            }
        }
    }

    pub mod by_versioned {
        #[derive(Debug, PartialEq, schema_migrate::Versioned)]
        #[serde(default = "Holder::empty")]
        #[schema(version = 1)]
        pub struct Holder<T> {
            pub items: Vec<T>,
            pub label: String,
        }

        impl<T> Holder<T> {
            pub fn empty() -> Self {
                Holder {
                    items: Vec::new(),
                    label: "empty".into(),
                }
            }
        }
    }
}

#[test]
fn container_default_path_on_a_generic_type() {
    check::<
        default_path_generic::by_serde::Holder<u8>,
        default_path_generic::by_versioned::Holder<u8>,
    >(&[r#"{"items":[1,2],"label":"x"}"#, r#"{"items":[3]}"#]);
}

/// Older versions take the missing fields from the same function.
#[derive(Debug, PartialEq, Versioned)]
#[serde(default = "Profile::blank")]
#[schema(version = 3, migrate(from = 1, add(level = 2)), migrate(from = 2, rename(nick = name)))]
pub struct Profile {
    pub name: String,
    pub level: u8,
    pub email: String,
}

impl Profile {
    fn blank() -> Self {
        Profile {
            name: "anon".into(),
            level: 9,
            email: "none".into(),
        }
    }
}

#[test]
fn container_default_path_at_old_versions() {
    let profile = |name: &str, level, email: &str| Profile {
        name: name.into(),
        level,
        email: email.into(),
    };
    schema_migrate_tests::read_all_ways(r#"{"_version":1}"#, &profile("anon", 2, "none"), 1);
    schema_migrate_tests::read_all_ways(
        r#"{"_version":1,"nick":"n"}"#,
        &profile("n", 2, "none"),
        1,
    );
    schema_migrate_tests::read_all_ways(
        r#"{"_version":2,"email":"e"}"#,
        &profile("anon", 9, "e"),
        2,
    );
    schema_migrate_tests::read_all_ways(r#"{"_version":3}"#, &profile("anon", 9, "none"), 3);
}

// ---------------------------------------------------------------------------
// Class 5: `tag` on a struct writes and reads the struct's own name.

twin! {
    mod struct_tag {
        #[serde(tag = "kind")]
        pub struct Circle {
            pub radius: u32,
        }
    }
}

twin! {
    mod struct_tag_renamed {
        #[serde(tag = "kind", rename = "square")]
        pub struct Square {
            pub side: u32,
        }
    }
}

#[test]
fn struct_tag_names_the_struct() {
    let value = struct_tag::by_versioned::Circle { radius: 2 };
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        r#"{"_version":1,"kind":"Circle","radius":2}"#
    );
    check::<struct_tag::by_serde::Circle, struct_tag::by_versioned::Circle>(&[
        r#"{"kind":"Circle","radius":1}"#,
        r#"{"radius":1,"kind":"Circle"}"#,
        r#"{"kind":"Square","radius":1}"#,
        r#"{"kind":"__Current","radius":1}"#,
    ]);
}

#[test]
fn struct_tag_with_a_container_rename() {
    let value = struct_tag_renamed::by_versioned::Square { side: 2 };
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        r#"{"_version":1,"kind":"square","side":2}"#
    );
    check::<struct_tag_renamed::by_serde::Square, struct_tag_renamed::by_versioned::Square>(&[
        r#"{"kind":"square","side":1}"#,
        r#"{"kind":"Square","side":1}"#,
    ]);
}

/// With a history, an old version's reader names the struct too.
#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "kind")]
#[schema(version = 2, migrate(from = 1, rename(r = radius)))]
pub struct Disc {
    pub radius: u32,
}

#[test]
fn struct_tag_at_an_old_version() {
    schema_migrate_tests::read_all_ways(
        r#"{"_version":1,"kind":"Disc","r":3}"#,
        &Disc { radius: 3 },
        1,
    );
    schema_migrate_tests::round_trip(
        &Disc { radius: 3 },
        r#"{"_version":2,"kind":"Disc","radius":3}"#,
    );
}

// ---------------------------------------------------------------------------
// Class 6: bounds inferred as serde_derive infers them; `bound` honoured.

/// Neither `Serialize` nor `Deserialize`.
#[derive(Debug, Default, PartialEq)]
pub struct Opaque;

twin! {
    mod skipped_param {
        pub struct Skipped<T, U> {
            pub count: u32,
            #[serde(skip)]
            pub marker: PhantomData<T>,
            #[serde(skip)]
            pub cache: Option<U>,
        }
    }
}

#[test]
fn a_parameter_used_only_in_skipped_fields_needs_no_serde_bound() {
    check::<
        skipped_param::by_serde::Skipped<Opaque, Opaque>,
        skipped_param::by_versioned::Skipped<Opaque, Opaque>,
    >(&[r#"{"count":3}"#]);
}

pub trait Family {
    type Item;
}

/// Not serializable itself; its `Item` is.
#[derive(Debug, PartialEq)]
pub struct Numbers;

impl Family for Numbers {
    type Item = u32;
}

twin! {
    mod associated {
        pub struct Member<X: Family> {
            pub item: X::Item,
            pub count: u8,
        }
    }
}

#[test]
fn a_field_of_an_associated_type() {
    check::<associated::by_serde::Member<Numbers>, associated::by_versioned::Member<Numbers>>(&[
        r#"{"item":1,"count":2}"#,
    ]);
}

/// Writes a value as its `Display` text and reads it with `FromStr`.
pub mod as_text {
    use super::*;

    pub fn serialize<T: Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: serde::Deserializer<'de>,
    {
        let s: String = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

twin! {
    mod container_bound {
        #[serde(bound = "T: Display + FromStr, T::Err: Display")]
        pub struct Texted<T> {
            #[serde(with = "as_text")]
            pub value: T,
            #[serde(with = "as_text")]
            pub other: T,
        }
    }
}

twin! {
    mod container_bound_split {
        #[serde(bound(serialize = "T: Display", deserialize = "T: FromStr, T::Err: Display"))]
        pub struct Split<T> {
            #[serde(with = "as_text")]
            pub value: T,
        }
    }
}

twin! {
    mod field_bound {
        pub struct Mixed<T, U> {
            #[serde(with = "as_text", bound = "T: Display + FromStr, T::Err: Display")]
            pub value: T,
            #[serde(bound(serialize = "U: Serialize", deserialize = "U: DeserializeOwned"))]
            pub plain: U,
            pub count: u8,
        }
    }
}

/// `Display` and `FromStr`, but neither `Serialize` nor `Deserialize`.
#[derive(Debug, PartialEq)]
pub struct Celsius(i32);

impl Display for Celsius {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}C", self.0)
    }
}

impl FromStr for Celsius {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let n = s
            .strip_suffix('C')
            .ok_or_else(|| format!("no unit in {s:?}"))?;
        n.parse().map(Celsius).map_err(|e| format!("{e}"))
    }
}

#[test]
fn container_bound_replaces_inference() {
    check::<
        container_bound::by_serde::Texted<Celsius>,
        container_bound::by_versioned::Texted<Celsius>,
    >(&[
        r#"{"value":"3C","other":"-1C"}"#,
        r#"{"value":"3","other":"-1C"}"#,
    ]);
}

#[test]
fn container_bound_split_by_direction() {
    check::<
        container_bound_split::by_serde::Split<Celsius>,
        container_bound_split::by_versioned::Split<Celsius>,
    >(&[r#"{"value":"12C"}"#]);
}

#[test]
fn field_bound_replaces_that_field_s_inference() {
    check::<
        field_bound::by_serde::Mixed<Celsius, Vec<u8>>,
        field_bound::by_versioned::Mixed<Celsius, Vec<u8>>,
    >(&[r#"{"value":"4C","plain":[1],"count":2}"#]);
}

/// A generic type with a history: old versions' readers and the reference
/// path get the same bounds.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename(v = value), add(count = 1)))]
pub struct History<T: Family> {
    #[serde(
        with = "as_text",
        bound = "T::Item: Display + FromStr, <T::Item as FromStr>::Err: Display"
    )]
    pub value: T::Item,
    pub count: u8,
    #[serde(skip)]
    pub marker: PhantomData<T>,
}

#[test]
fn bounds_at_old_versions() {
    let expected = History::<Numbers> {
        value: 5,
        count: 1,
        marker: PhantomData,
    };
    schema_migrate_tests::read_all_ways(r#"{"_version":1,"v":"5"}"#, &expected, 1);
}

// ---------------------------------------------------------------------------
// Class 7: `#[repr(packed)]` structs, whose fields serde copies out.

twin! {
    mod packed {
        #[derive(Clone, Copy)]
        #[repr(C, packed)]
        pub struct Packed {
            pub flag: u8,
            pub id: u64,
            pub ratio: f32,
        }
    }
}

#[test]
fn packed_struct() {
    check::<packed::by_serde::Packed, packed::by_versioned::Packed>(&[
        r#"{"flag":1,"id":123456789012,"ratio":0.5}"#,
    ]);
}

#[derive(Debug, Clone, Copy, PartialEq, Versioned)]
#[repr(C, packed(2))]
#[schema(version = 2, migrate(from = 1, add(id = 9)))]
pub struct PackedHistory {
    pub flag: u8,
    pub id: u64,
}

#[test]
fn packed_struct_with_a_history() {
    schema_migrate_tests::read_all_ways(
        r#"{"_version":1,"flag":1}"#,
        &PackedHistory { flag: 1, id: 9 },
        1,
    );
    schema_migrate_tests::round_trip(
        &PackedHistory { flag: 1, id: 2 },
        r#"{"_version":2,"flag":1,"id":2}"#,
    );
}

// ---------------------------------------------------------------------------
// Class 8, documented in the README: a versioned struct is a tagged map, so
// it is never read from a sequence, where serde_derive reads a struct's
// fields in order.

twin! {
    mod sequence {
        pub struct Pair {
            pub id: u32,
            pub name: String,
        }
    }
}

#[test]
fn a_struct_is_not_read_from_a_sequence() {
    let by_serde: sequence::by_serde::Pair = serde_json::from_str(r#"[1,"x"]"#).unwrap();
    assert_eq!((by_serde.id, by_serde.name.as_str()), (1, "x"));
    let err = serde_json::from_str::<sequence::by_versioned::Pair>(r#"[1,"x"]"#).unwrap_err();
    assert_eq!(
        message(&err, None),
        "invalid type: sequence, expected a Pair object with version tag `_version`"
    );
    let bytes = rmp_serde::to_vec(&sequence::by_serde::Pair {
        id: 1,
        name: "x".into(),
    })
    .unwrap();
    assert!(rmp_serde::from_slice::<sequence::by_serde::Pair>(&bytes).is_ok());
    let err = rmp_serde::from_slice::<sequence::by_versioned::Pair>(&bytes).unwrap_err();
    assert!(err.to_string().contains("sequence"), "{err}");
    let err = serde_json::from_str::<sequence::by_versioned::Pair>(r#"[1,1,"x"]"#).unwrap_err();
    assert!(err.to_string().contains("invalid type: sequence"), "{err}");
}

// ---------------------------------------------------------------------------
// Class 1: maps keyed by integers and booleans, read back from entries
// buffered before a late tag (`deny_unknown_fields` keeps every entry
// buffered), as JSON's own map keys read them.

twin! {
    mod typed_keys {
        #[serde(deny_unknown_fields)]
        pub struct Index {
            pub name: String,
            pub by_id: std::collections::BTreeMap<u32, String>,
            pub signed: std::collections::BTreeMap<i64, u8>,
            pub wide: std::collections::BTreeMap<u128, u8>,
            pub ratio: std::collections::BTreeMap<i128, u8>,
            pub flags: std::collections::BTreeMap<bool, u8>,
        }
    }
}

#[test]
fn integer_and_bool_keyed_maps_wherever_the_tag_stands() {
    use typed_keys::{by_serde, by_versioned};
    let n = check::<by_serde::Index, by_versioned::Index>(&[
        r#"{"name":"a","by_id":{"7":"x","12":"y"},"signed":{"-3":1,"0":2},"wide":{"340282366920938463463374607431768211455":1},"ratio":{"-170141183460469231731687303715884105728":1},"flags":{"true":1,"false":0}}"#,
    ]);
    assert!(n > 100, "{n} reads compared");
    // Keys that are not what the key type takes are refused with serde's
    // own messages, wherever the tag stands.
    for bad in [
        r#""by_id":{"x":"a"}"#,
        r#""by_id":{"-1":"a"}"#,
        r#""by_id":{"1.5":"a"}"#,
        r#""by_id":{"07":"a"}"#,
        r#""by_id":{"7 ":"a"}"#,
        r#""by_id":{"1e3":"a"}"#,
        r#""by_id":{"-":"a"}"#,
        r#""by_id":{"99999999999999999999":"a"}"#,
        // Found by the fuzzer: serde_json reads `-0` as the float -0.0.
        r#""by_id":{"-0":"a"}"#,
        r#""signed":{"-0":1}"#,
        r#""wide":{"-1":1}"#,
        r#""wide":{"1.0":1}"#,
        r#""wide":{"340282366920938463463374607431768211456":1}"#,
        r#""ratio":{"00":1}"#,
        r#""flags":{"yes":1}"#,
        r#""flags":{"1":1}"#,
    ] {
        let rest = [
            r#""name":"a""#,
            r#""by_id":{}"#,
            r#""signed":{}"#,
            r#""wide":{}"#,
            r#""ratio":{}"#,
            r#""flags":{}"#,
        ]
        .into_iter()
        .filter(|f| f.split(':').next() != bad.split(':').next())
        .collect::<Vec<_>>()
        .join(",");
        let plain = format!("{{{rest},{bad}}}");
        let expected = serde_json::from_str::<by_serde::Index>(&plain)
            .map_err(|e| message(&e, None))
            .map(|_| ());
        for text in [
            format!(r#"{{"_version":1,{rest},{bad}}}"#),
            format!(r#"{{{rest},{bad},"_version":1}}"#),
        ] {
            let got = serde_json::from_str::<by_versioned::Index>(&text)
                .map_err(|e| message(&e, Some("Index")))
                .map(|_| ());
            assert_eq!(got, expected, "{text}");
        }
    }
}

/// The issue's case: a field whose meaning changes in the history is held
/// until the tag says which version it belongs to, as PostgreSQL's JSONB
/// (which sorts keys) hands it back: `_version` after `by_id`.
#[test]
fn an_integer_keyed_map_renamed_in_the_history_reads_with_the_tag_last() {
    #[derive(Debug, PartialEq, schema_migrate::Versioned)]
    #[schema(version = 2, migrate(from = 1, rename(ids = by_id)))]
    struct Catalog {
        name: String,
        by_id: std::collections::HashMap<u32, String>,
    }
    let want = Catalog {
        name: "a".into(),
        by_id: [(7, "x".to_owned())].into(),
    };
    for text in [
        r#"{"ids":{"7":"x"},"name":"a","_version":1}"#,
        r#"{"_version":1,"ids":{"7":"x"},"name":"a"}"#,
        r#"{"by_id":{"7":"x"},"name":"a","_version":2}"#,
    ] {
        let read = schema_migrate::json::from_str::<Catalog>(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(read.value, want, "{text}");
    }
}

// ---------------------------------------------------------------------------
// Classes 2 and 3: what a buffered entry is read as must not depend on where
// the tag stands: a variant tag is a name, never an index, in JSON; `()` and
// unit structs come from null only.

twin! {
    mod tagged_enum {
        #[serde(tag = "type")]
        pub enum Shape {
            Circle { r: u32 },
            Square { side: u32 },
            #[serde(other)]
            Unknown,
        }
    }
}

twin! {
    mod plain_enum_inside {
        #[serde(deny_unknown_fields)]
        pub struct Drawing {
            pub name: String,
            pub shape: Inner,
        }
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type")]
        pub enum Inner {
            Circle { r: u32 },
            Square { side: u32 },
        }
    }
}

twin! {
    mod units {
        #[serde(deny_unknown_fields)]
        pub struct Units {
            pub unit: (),
            pub marker: Marker,
            pub n: u8,
        }
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct Marker;
    }
}

/// JSON and `serde_json::Value` only: CBOR is the one documented exception
/// (ciborium refuses an integer identifier that MessagePack takes, and a
/// held entry no longer says which format it came from).
#[test]
fn an_internally_tagged_variant_is_a_name_wherever_the_tag_stands() {
    use tagged_enum::{by_serde, by_versioned};
    fn same<S, V>(plain: &str, versioned: &[String])
    where
        S: DeserializeOwned + Serialize + Debug,
        V: Versioned + DeserializeOwned + Serialize + Debug,
    {
        let expected = outcome_of(
            serde_json::from_str::<S>(plain).map_err(|e| message(&e, None)),
            None,
        );
        let expected_value =
            serde_json::from_value::<S>(serde_json::from_str(plain).unwrap()).is_ok();
        for text in versioned {
            let got = outcome_of(
                serde_json::from_str::<V>(text).map_err(|e| message(&e, Some(V::NAME))),
                Some("_version"),
            );
            assert_eq!(got, expected, "{plain} / {text}");
            let value = serde_json::from_str::<Value>(text).unwrap();
            assert_eq!(
                serde_json::from_value::<V>(value).is_ok(),
                expected_value,
                "Value: {text}"
            );
        }
    }
    for (plain, first, last) in [
        (
            r#"{"type":"Circle","r":1}"#,
            r#"{"_version":1,"type":"Circle","r":1}"#,
            r#"{"type":"Circle","r":1,"_version":1}"#,
        ),
        (
            r#"{"type":"Hexagon"}"#,
            r#"{"_version":1,"type":"Hexagon"}"#,
            r#"{"type":"Hexagon","_version":1}"#,
        ),
        (
            r#"{"type":5,"r":1}"#,
            r#"{"_version":1,"type":5,"r":1}"#,
            r#"{"type":5,"r":1,"_version":1}"#,
        ),
        (
            r#"{"type":0,"side":1}"#,
            r#"{"_version":1,"type":0,"side":1}"#,
            r#"{"type":0,"side":1,"_version":1}"#,
        ),
    ] {
        same::<by_serde::Shape, by_versioned::Shape>(plain, &[first.into(), last.into()]);
    }
    for inner in [r#"{"type":"Circle","r":1}"#, r#"{"type":0,"r":1}"#] {
        let plain = format!(r#"{{"name":"a","shape":{inner}}}"#);
        let first = format!(r#"{{"_version":1,"name":"a","shape":{inner}}}"#);
        let last = format!(r#"{{"name":"a","shape":{inner},"_version":1}}"#);
        same::<plain_enum_inside::by_serde::Drawing, plain_enum_inside::by_versioned::Drawing>(
            &plain,
            &[first, last],
        );
    }
}

/// (A unit struct from `[]`, which MessagePack reads and CBOR refuses, is
/// the documented CBOR exception and not among the inputs.)
#[test]
fn unit_values_come_from_null_wherever_the_tag_stands() {
    check::<units::by_serde::Units, units::by_versioned::Units>(&[
        r#"{"unit":null,"marker":null,"n":1}"#,
        r#"{"unit":{},"marker":null,"n":1}"#,
        r#"{"unit":[],"marker":null,"n":1}"#,
        r#"{"unit":null,"marker":{},"n":1}"#,
    ]);
    // JSON reads a unit struct from null only.
    for text in [
        r#"{"unit":null,"marker":[],"n":1,"_version":1}"#,
        r#"{"_version":1,"unit":null,"marker":[],"n":1}"#,
    ] {
        let err = serde_json::from_str::<units::by_versioned::Units>(text).unwrap_err();
        assert!(
            message(&err, Some("Units"))
                .contains("invalid type: sequence, expected unit struct Marker"),
            "{text}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// A container's `expecting` is what a payload of the wrong kind is said not
// to be, as under serde_derive.

twin! {
    mod expecting {
        #[serde(expecting = "a point with x and y")]
        pub struct Point {
            pub x: i32,
            pub y: i32,
        }
    }
}

#[test]
fn a_custom_expecting_message_is_kept() {
    use expecting::{by_serde, by_versioned};
    check::<by_serde::Point, by_versioned::Point>(&[r#"{"x":1,"y":2}"#]);
    for text in ["5", r#""point""#, "null", "true"] {
        let serde = serde_json::from_str::<by_serde::Point>(text).unwrap_err();
        let ours = serde_json::from_str::<by_versioned::Point>(text).unwrap_err();
        assert_eq!(
            message(&ours, Some("Point")),
            message(&serde, None),
            "{text}"
        );
        assert!(
            ours.to_string().contains("expected a point with x and y"),
            "{ours}"
        );
    }
}

// ---------------------------------------------------------------------------
// serde's attribute surface, one twin per group of attributes, each read
// through every variation with the tag first, last and absent.

mod helpers {
    pub fn seven() -> u32 {
        7
    }
    pub fn is_zero(n: &u32) -> bool {
        *n == 0
    }
    pub mod as_string {
        use serde::{Deserialize, Deserializer, Serializer};
        pub fn serialize<S: Serializer>(n: &u32, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&n.to_string())
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
            let text = String::deserialize(d)?;
            text.parse().map_err(serde::de::Error::custom)
        }
    }
}

twin! {
    mod field_names {
        #[serde(rename_all = "camelCase")]
        pub struct Names {
            pub first_name: String,
            #[serde(rename = "years")]
            pub age: u32,
            #[serde(alias = "mail", alias = "e-mail")]
            pub email_address: String,
            #[serde(rename(serialize = "out_name", deserialize = "in_name"))]
            pub split: u8,
        }
    }
}

twin! {
    mod field_defaults {
        pub struct Defaults {
            #[serde(default)]
            pub count: u32,
            #[serde(default = "super::helpers::seven")]
            pub seven: u32,
            #[serde(default, skip_serializing_if = "super::helpers::is_zero")]
            pub maybe: u32,
            pub optional: Option<String>,
            #[serde(skip)]
            pub skipped: u32,
            #[serde(skip_deserializing)]
            pub only_written: u32,
            #[serde(skip_serializing)]
            pub only_read: u32,
        }
    }
}

twin! {
    mod field_with {
        pub struct With {
            #[serde(with = "super::helpers::as_string")]
            pub both: u32,
            #[serde(deserialize_with = "super::helpers::as_string::deserialize")]
            pub read: u32,
            #[serde(serialize_with = "super::helpers::as_string::serialize")]
            pub written: u32,
        }
    }
}

twin! {
    mod flattened {
        pub struct Outer {
            pub id: u32,
            #[serde(flatten)]
            pub inner: Inner,
            #[serde(flatten)]
            pub rest: std::collections::BTreeMap<String, serde_json::Value>,
        }
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct Inner {
            pub a: u8,
            pub b: String,
        }
    }
}

twin! {
    mod strict {
        #[serde(deny_unknown_fields, rename = "StrictThing")]
        pub struct Strict {
            pub a: u8,
            #[serde(default)]
            pub b: Vec<u8>,
        }
    }
}

twin! {
    mod container_default {
        #[serde(default)]
        pub struct Settings {
            pub level: u8,
            pub name: String,
        }
        impl Default for Settings {
            fn default() -> Self {
                Settings { level: 3, name: "x".into() }
            }
        }
    }
}

twin! {
    mod adjacent {
        #[serde(tag = "t", content = "c", rename_all = "snake_case")]
        pub enum Event {
            Started,
            Moved { x: i32, y: i32 },
            Said(String),
            #[serde(rename = "quit", alias = "exit")]
            Stopped { code: u8 },
        }
    }
}

twin! {
    mod internal_variants {
        #[serde(tag = "kind", rename_all_fields = "camelCase")]
        pub enum Job {
            #[serde(rename_all = "UPPERCASE")]
            Copy { from_path: String, to_path: String },
            Delete { target_path: String },
            #[serde(skip)]
            Never,
            Wait(super::WaitFor),
        }
    }
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WaitFor {
    seconds: u32,
}

#[test]
fn field_names_renames_and_aliases() {
    use field_names::{by_serde, by_versioned};
    check::<by_serde::Names, by_versioned::Names>(&[
        r#"{"firstName":"a","years":3,"emailAddress":"x@y","in_name":1}"#,
        r#"{"firstName":"a","years":3,"mail":"x@y","in_name":1}"#,
        r#"{"firstName":"a","years":3,"e-mail":"x@y","in_name":1}"#,
    ]);
}

#[test]
fn field_defaults_and_skips() {
    use field_defaults::{by_serde, by_versioned};
    check::<by_serde::Defaults, by_versioned::Defaults>(&[
        r#"{"count":1,"seven":2,"maybe":3,"optional":"o","only_read":4}"#,
        r#"{"optional":null}"#,
        r#"{"skipped":9,"only_written":8}"#,
    ]);
}

#[test]
fn field_with_functions() {
    use field_with::{by_serde, by_versioned};
    check::<by_serde::With, by_versioned::With>(&[r#"{"both":"1","read":"2","written":3}"#]);
    // An invalid value refuses alike; given twice with the tag late, the
    // versioned twin names the duplicate where serde names the first value's
    // error (a field with its own function is held until the map ends): the
    // documented difference in wording.
    let bad = r#"{"both":"x","read":"2","written":3}"#;
    let serde = serde_json::from_str::<by_serde::With>(bad).unwrap_err();
    for text in [
        r#"{"_version":1,"both":"x","read":"2","written":3}"#,
        r#"{"both":"x","read":"2","written":3,"_version":1}"#,
    ] {
        let ours = serde_json::from_str::<by_versioned::With>(text).unwrap_err();
        assert_eq!(
            message(&ours, Some("With")),
            message(&serde, None),
            "{text}"
        );
    }
    let twice = r#"{"both":"x","both":"y","read":"2","written":3,"_version":1}"#;
    let ours = serde_json::from_str::<by_versioned::With>(twice).unwrap_err();
    assert!(
        ours.to_string().contains("duplicate field `both`"),
        "{ours}"
    );
}

#[test]
fn flattened_fields() {
    use flattened::{by_serde, by_versioned};
    check::<by_serde::Outer, by_versioned::Outer>(&[
        r#"{"id":1,"a":2,"b":"x","extra":[1],"more":{"k":null}}"#,
        r#"{"id":1,"a":2,"b":"x"}"#,
    ]);
}

#[test]
fn deny_unknown_fields_and_a_container_rename() {
    use strict::{by_serde, by_versioned};
    check::<by_serde::Strict, by_versioned::Strict>(&[r#"{"a":1,"b":[1,2]}"#, r#"{"a":1}"#]);
}

#[test]
fn a_container_default() {
    use container_default::{by_serde, by_versioned};
    check::<by_serde::Settings, by_versioned::Settings>(&[r#"{"level":1,"name":"n"}"#, r#"{}"#]);
}

#[test]
fn adjacently_tagged_variants() {
    use adjacent::{by_serde, by_versioned};
    check::<by_serde::Event, by_versioned::Event>(&[
        r#"{"t":"started"}"#,
        r#"{"t":"moved","c":{"x":1,"y":-2}}"#,
        r#"{"t":"said","c":"hi"}"#,
        r#"{"t":"quit","c":{"code":3}}"#,
        r#"{"t":"exit","c":{"code":3}}"#,
    ]);
}

#[test]
fn internally_tagged_variants_with_field_renames() {
    use internal_variants::{by_serde, by_versioned};
    check::<by_serde::Job, by_versioned::Job>(&[
        r#"{"kind":"Copy","FROMPATH":"a","TOPATH":"b"}"#,
        r#"{"kind":"Delete","targetPath":"a"}"#,
        r#"{"kind":"Wait","seconds":3}"#,
        r#"{"kind":"Never"}"#,
    ]);
}

// Generics, nested versioned values, and variant-level functions.

#[derive(Debug, PartialEq, schema_migrate::Versioned)]
#[schema(version = 2, tag = "v", migrate(from = 1, add(score = 0)))]
pub struct Leaf {
    pub name: String,
    pub score: u32,
}

twin! {
    mod generic_nest {
        pub struct Nest<T> {
            pub item: T,
            pub leaves: Vec<super::Leaf>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub best: Option<Box<super::Leaf>>,
            pub by_name: std::collections::BTreeMap<String, super::Leaf>,
        }
    }
}

twin! {
    mod variant_functions {
        #[serde(tag = "op", content = "arg")]
        pub enum Op {
            #[serde(with = "super::helpers::as_string")]
            Count(u32),
            #[serde(skip_deserializing)]
            Internal,
            #[serde(deserialize_with = "super::helpers::as_string::deserialize", rename = "read")]
            Read(u32),
            Plain { n: u8 },
        }
    }
}

#[test]
fn generics_and_nested_versioned_values() {
    use generic_nest::{by_serde, by_versioned};
    check::<by_serde::Nest<u8>, by_versioned::Nest<u8>>(&[
        r#"{"item":1,"leaves":[{"v":1,"name":"a"},{"v":2,"name":"b","score":3}],"best":{"v":1,"name":"c"},"by_name":{"k":{"name":"d","v":1}}}"#,
        r#"{"item":1,"leaves":[],"by_name":{}}"#,
    ]);
    check::<by_serde::Nest<String>, by_versioned::Nest<String>>(&[
        r#"{"item":"x","leaves":[{"name":"a","v":2,"score":1}],"by_name":{}}"#,
    ]);
}

#[test]
fn variant_level_functions_and_skips() {
    use variant_functions::{by_serde, by_versioned};
    check::<by_serde::Op, by_versioned::Op>(&[
        r#"{"op":"Count","arg":"4"}"#,
        r#"{"op":"read","arg":"5"}"#,
        r#"{"op":"Plain","arg":{"n":1}}"#,
        r#"{"op":"Internal"}"#,
    ]);
}

/// CBOR's errors keep serde's text: ciborium writes an error as
/// `Semantic(None, "...")`, and the versioned reader's message is not wrapped
/// in it twice.
#[test]
fn cbor_errors_are_wrapped_once() {
    use expecting::{by_serde, by_versioned};
    let cbor = |value: &serde_json::Value| {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    };
    for (plain, tagged) in [
        (
            serde_json::json!({"x": "one", "y": 2}),
            serde_json::json!({"_version": 1, "x": "one", "y": 2}),
        ),
        (
            serde_json::json!({"x": "one", "y": 2}),
            serde_json::json!({"x": "one", "y": 2, "_version": 1}),
        ),
    ] {
        let serde = ciborium::from_reader::<by_serde::Point, _>(&cbor(&plain)[..])
            .unwrap_err()
            .to_string();
        let ours = ciborium::from_reader::<by_versioned::Point, _>(&cbor(&tagged)[..])
            .unwrap_err()
            .to_string();
        let inner = serde
            .strip_prefix("Semantic(None, \"")
            .and_then(|m| m.strip_suffix("\")"))
            .unwrap_or_else(|| panic!("{serde}"));
        assert_eq!(ours.matches("Semantic(").count(), 1, "{ours}");
        assert!(ours.starts_with("Semantic(None, \"Point"), "{ours}");
        assert!(ours.ends_with(&format!("{inner}\")")), "{ours} / {serde}");
    }
}
