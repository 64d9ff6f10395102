//! Review: codegen edge cases of `#[derive(Versioned)]`, written as a user
//! would write them.

#![allow(
    clippy::duplicated_attributes,
    reason = "false positive on repeated `migrate(from = N)` steps"
)]

use std::collections::HashMap;

use schema_migrate::Versioned;
use serde_json::{json, Map, Value};

use schema_migrate_tests::{read_all_ways, round_trip};

// ---------------------------------------------------------------------------
// Generics: bounds inline, in `where`, default type params, const generics.

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(count = 7), rename(label = name)))]
pub struct Bounded<T: Clone + std::fmt::Debug, U = String>
where
    U: Clone,
{
    pub item: T,
    pub name: U,
    pub count: u32,
}

#[test]
fn generic_bounds_inline_where_and_default_type_param() {
    let expected: Bounded<u8> = Bounded {
        item: 3,
        name: "a".into(),
        count: 7,
    };
    read_all_ways(r#"{"_version":1,"item":3,"label":"a"}"#, &expected, 1);
    round_trip(&expected, r#"{"_version":2,"item":3,"name":"a","count":7}"#);
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 3, migrate(from = 1, add(extra)), migrate(from = 2, rename(old = values)))]
pub struct Fixed<const N: usize, T = u8> {
    pub values: Vec<T>,
    pub extra: Option<String>,
}

impl<const N: usize, T> Fixed<N, T> {
    fn len(&self) -> usize {
        N
    }
}

#[test]
fn const_generics() {
    let expected: Fixed<4> = Fixed {
        values: vec![1, 2],
        extra: None,
    };
    assert_eq!(expected.len(), 4);
    read_all_ways(r#"{"_version":1,"old":[1,2]}"#, &expected, 1);
    read_all_ways(r#"{"_version":2,"old":[1,2],"extra":null}"#, &expected, 2);
    round_trip(&expected, r#"{"_version":3,"values":[1,2],"extra":null}"#);
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(tag_count)))]
pub struct ConstOnly<const N: usize> {
    pub tag_count: u32,
}

#[test]
fn const_generic_only() {
    read_all_ways(r#"{"_version":1}"#, &ConstOnly::<2> { tag_count: 0 }, 1);
}

// ---------------------------------------------------------------------------
// Raw identifiers named by ops.

fn kind_from_code(code: u8) -> String {
    format!("k{code}")
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, rename(kind = type), add(r#match = true)),
    migrate(from = 2, transform(type: u8 => kind_from_code)),
)]
pub struct Raw {
    pub r#type: String,
    pub r#match: bool,
}

#[test]
fn raw_identifier_fields_named_by_ops() {
    let expected = Raw {
        r#type: "k4".into(),
        r#match: true,
    };
    read_all_ways(r#"{"_version":1,"kind":4}"#, &expected, 1);
    read_all_ways(r#"{"_version":2,"type":4,"match":true}"#, &expected, 2);
    round_trip(&expected, r#"{"_version":3,"type":"k4","match":true}"#);
}

// ---------------------------------------------------------------------------
// serde(alias) on a field that did not change between versions.

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(retries = 1)))]
pub struct Aliased {
    #[serde(alias = "nm")]
    pub name: String,
    pub retries: u32,
}

#[test]
fn alias_at_the_current_version() {
    read_all_ways(
        r#"{"_version":2,"nm":"a","retries":2}"#,
        &Aliased {
            name: "a".into(),
            retries: 2,
        },
        2,
    );
}

#[test]
fn alias_at_an_old_version() {
    read_all_ways(
        r#"{"_version":1,"nm":"a"}"#,
        &Aliased {
            name: "a".into(),
            retries: 1,
        },
        1,
    );
}

// ---------------------------------------------------------------------------
// skip with default = "path", deserialize_with on a renamed field.

fn cache_default() -> Vec<u8> {
    vec![9]
}

fn from_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    Ok(s.split(',').map(str::to_owned).collect())
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, rename(tag_list = tags)),
    migrate(from = 2, add(owner = String::from("root"))),
)]
pub struct Skips {
    #[serde(skip, default = "cache_default")]
    pub cache: Vec<u8>,
    #[serde(deserialize_with = "from_csv", rename = "tags")]
    pub labels: Vec<String>,
    pub owner: String,
}

#[test]
fn skip_with_default_path_and_deserialize_with_on_renamed_field() {
    let expected = Skips {
        cache: vec![9],
        labels: vec!["a".into(), "b".into()],
        owner: "root".into(),
    };
    read_all_ways(r#"{"_version":1,"tag_list":"a,b"}"#, &expected, 1);
    read_all_ways(r#"{"_version":2,"tags":"a,b"}"#, &expected, 2);
    read_all_ways(
        r#"{"_version":3,"tags":"a,b","owner":"root"}"#,
        &expected,
        3,
    );
}

// ---------------------------------------------------------------------------
// Enums: rename_all_fields, unit variants, newtype variants.

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename_variant(Begin = Start)))]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Event {
    Start { user_id: u32 },
    Stop,
    Other { the_reason: String },
}

#[test]
fn rename_all_fields_and_unit_variants_at_old_versions() {
    read_all_ways(
        r#"{"_version":1,"kind":"Begin","userId":5}"#,
        &Event::Start { user_id: 5 },
        1,
    );
    read_all_ways(r#"{"_version":1,"kind":"Stop"}"#, &Event::Stop, 1);
    read_all_ways(
        r#"{"kind":"Other","_version":1,"theReason":"x"}"#,
        &Event::Other {
            the_reason: "x".into(),
        },
        1,
    );
    round_trip(&Event::Stop, r#"{"_version":2,"kind":"Stop"}"#);
    round_trip(
        &Event::Start { user_id: 1 },
        r#"{"_version":2,"kind":"Start","userId":1}"#,
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, tag = "v", migrate(from = 1, add(size = 1)))]
pub struct Payload {
    pub name: String,
    pub size: u32,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename_variant(Box = Packet)))]
#[serde(tag = "type")]
pub enum Envelope {
    Packet(Payload),
    Empty,
}

#[test]
fn newtype_variant_holding_a_versioned_struct_with_another_tag() {
    read_all_ways(
        r#"{"_version":1,"type":"Box","v":1,"name":"n"}"#,
        &Envelope::Packet(Payload {
            name: "n".into(),
            size: 1,
        }),
        1,
    );
    round_trip(
        &Envelope::Packet(Payload {
            name: "n".into(),
            size: 4,
        }),
        r#"{"_version":2,"type":"Packet","v":2,"name":"n","size":4}"#,
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(size = 1)))]
pub struct SameTagPayload {
    pub name: String,
    pub size: u32,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename_variant(Box = Packet)))]
#[serde(tag = "type")]
pub enum SameTagEnvelope {
    Packet(SameTagPayload),
}

#[test]
/// The payload shares the enum's object, so one tag cannot stand for both
/// histories: documented, and the read says what to do.
fn newtype_variant_holding_a_versioned_struct_with_the_same_tag() {
    let value = SameTagEnvelope::Packet(SameTagPayload {
        name: "n".into(),
        size: 4,
    });
    let text = serde_json::to_string(&value).unwrap();
    let err = serde_json::from_str::<SameTagEnvelope>(&text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs its own `tag`"), "{err}");
}

// ---------------------------------------------------------------------------
// Versioned types inside containers.

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Registry {
    pub by_name: HashMap<String, Payload>,
    pub maybe: Option<Box<Payload>>,
    pub list: Vec<Option<Payload>>,
}

#[test]
fn versioned_type_as_hashmap_value_and_option_box() {
    let r: Registry = serde_json::from_str(
        r#"{"by_name":{"a":{"v":1,"name":"a"},"b":{"name":"b","v":2,"size":3}},
            "maybe":{"name":"m"},"list":[null,{"v":1,"name":"l"}]}"#,
    )
    .unwrap();
    assert_eq!(r.by_name["a"].size, 1);
    assert_eq!(r.by_name["b"].size, 3);
    assert_eq!(
        r.maybe,
        Some(Box::new(Payload {
            name: "m".into(),
            size: 1
        }))
    );
    assert_eq!(r.list[1].as_ref().unwrap().size, 1);
    let r: Registry = serde_json::from_str(r#"{"by_name":{},"maybe":null,"list":[]}"#).unwrap();
    assert!(r.maybe.is_none());
}

// ---------------------------------------------------------------------------
// Typed step whose previous type is generic (concrete arguments).

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 1)]
pub struct PairV1<T> {
    pub a: T,
    pub b: T,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = PairV1<u32>))]
pub struct Pair {
    pub values: Vec<u32>,
}

impl From<PairV1<u32>> for Pair {
    fn from(old: PairV1<u32>) -> Self {
        Pair {
            values: vec![old.a, old.b],
        }
    }
}

#[test]
fn typed_step_from_a_generic_previous_type() {
    read_all_ways(
        r#"{"_version":1,"a":1,"b":2}"#,
        &Pair { values: vec![1, 2] },
        1,
    );
    read_all_ways(r#"{"a":1,"b":2}"#, &Pair { values: vec![1, 2] }, 1);
    assert_eq!(Pair::history().len(), 1);
}

// ---------------------------------------------------------------------------
// Transform from a user enum, and two steps transforming the same field.

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum OldLevel {
    Low,
    High,
}

fn level_to_num(l: OldLevel) -> u8 {
    match l {
        OldLevel::Low => 1,
        OldLevel::High => 9,
    }
}

fn num_to_text(n: u8) -> Result<String, String> {
    if n == 0 {
        Err("zero".into())
    } else {
        Ok(format!("level-{n}"))
    }
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, transform(level: OldLevel => level_to_num)),
    migrate(from = 2, transform(level: u8 => num_to_text)),
)]
pub struct Leveled {
    pub level: String,
}

#[test]
fn transform_from_a_user_enum_then_again() {
    let expected = Leveled {
        level: "level-9".into(),
    };
    read_all_ways(r#"{"_version":1,"level":"High"}"#, &expected, 1);
    read_all_ways(r#"{"_version":2,"level":9}"#, &expected, 2);
    let err = schema_migrate::json::from_str::<Leveled>(r#"{"_version":2,"level":0}"#).unwrap_err();
    assert!(err.to_string().contains("zero"), "{err}");
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, transform(n: u8 => widen), transform(n: u16 => widen2)),
)]
pub struct TwiceOneStep {
    pub n: u32,
}

fn widen(n: u8) -> u16 {
    u16::from(n) * 10
}

fn widen2(n: u16) -> u32 {
    u32::from(n) + 1
}

#[test]
fn two_transforms_of_one_field_in_one_step() {
    // Either this reads as 71 or it is a compile error; it compiled, so it must
    // apply both in order.
    read_all_ways(r#"{"_version":1,"n":7}"#, &TwiceOneStep { n: 71 }, 1);
}

// ---------------------------------------------------------------------------
// oldest = 3 with the default untagged version.

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 5,
    oldest = 3,
    migrate(from = 3, add(b = 2)),
    migrate(from = 4, add(c = 3))
)]
pub struct Late {
    pub a: u32,
    pub b: u32,
    pub c: u32,
}

#[test]
fn oldest_three_reads_untagged_as_three() {
    let expected = Late { a: 1, b: 2, c: 3 };
    read_all_ways(r#"{"a":1}"#, &expected, 3);
    read_all_ways(r#"{"_version":3,"a":1}"#, &expected, 3);
    assert_eq!(Late::OLDEST, 3);
    assert!(schema_migrate::json::from_str::<Late>(r#"{"_version":2,"a":1}"#).is_err());
    assert!(schema_migrate::json::from_str::<Late>(r#"{"_version":0,"a":1}"#).is_err());
}

// ---------------------------------------------------------------------------
// add(field = function call), fields with names the generated code uses.

fn default_tags() -> Vec<String> {
    vec!["new".into()]
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, add(tags = default_tags()), add(__map = 5), rename(value = __value)),
)]
pub struct Weird {
    pub __value: String,
    pub __map: u32,
    pub self_: bool,
    pub __object: u8,
    pub __version: u8,
    pub __default: u8,
    pub tags: Vec<String>,
}

#[test]
fn add_calling_a_function_and_fields_named_like_generated_locals() {
    let expected = Weird {
        __value: "v".into(),
        __map: 5,
        self_: true,
        __object: 1,
        __version: 2,
        __default: 3,
        tags: vec!["new".into()],
    };
    read_all_ways(
        r#"{"_version":1,"value":"v","self_":true,"__object":1,"__version":2,"__default":3}"#,
        &expected,
        1,
    );
    round_trip(
        &expected,
        r#"{"_version":2,"__value":"v","__map":5,"self_":true,"__object":1,"__version":2,"__default":3,"tags":["new"]}"#,
    );
}

// ---------------------------------------------------------------------------
// add below a `with` step, with a default whose type needs the field type.

fn nest(object: &mut Map<String, Value>) -> Result<(), String> {
    let x = object.remove("x").unwrap_or(Value::Null);
    object.insert("inner".into(), json!({ "x": x }));
    Ok(())
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Inner {
    pub x: u32,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, add(count = 4)),
    migrate(from = 2, with = nest),
)]
pub struct BelowWith {
    pub inner: Inner,
    pub count: u64,
}

#[test]
fn add_below_a_with_step() {
    let expected = BelowWith {
        inner: Inner { x: 2 },
        count: 4,
    };
    read_all_ways(r#"{"_version":1,"x":2}"#, &expected, 1);
}

// ---------------------------------------------------------------------------
// More: variant alias, generic enum with where clause, flatten of a versioned
// struct with the same tag.

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename_variant(Begin = Start)))]
#[serde(tag = "kind")]
pub enum AliasedVariant {
    Start,
    #[serde(alias = "Halt")]
    Stop,
}

#[test]
fn variant_alias_at_the_current_version() {
    read_all_ways(r#"{"_version":2,"kind":"Halt"}"#, &AliasedVariant::Stop, 2);
}

#[test]
fn variant_alias_at_an_old_version() {
    read_all_ways(r#"{"_version":1,"kind":"Halt"}"#, &AliasedVariant::Stop, 1);
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename_variant(Old = New)))]
#[serde(tag = "t", content = "c")]
pub enum GenericEvent<T, U = u8>
where
    T: Clone,
{
    New(T),
    Other { u: U },
    Nothing,
}

#[test]
fn generic_adjacent_enum_with_where_and_default_param() {
    read_all_ways(
        r#"{"_version":1,"t":"Old","c":"x"}"#,
        &GenericEvent::<String>::New("x".into()),
        1,
    );
    read_all_ways(
        r#"{"_version":1,"t":"Nothing"}"#,
        &GenericEvent::<String>::Nothing,
        1,
    );
    read_all_ways(
        r#"{"_version":1,"t":"Other","c":{"u":3}}"#,
        &GenericEvent::<String>::Other { u: 3 },
        1,
    );
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(note)))]
pub struct Outer {
    pub id: u32,
    #[serde(flatten)]
    pub inner: SameTagPayload,
    pub note: String,
}

#[test]
fn flatten_of_a_versioned_struct_with_the_same_tag() {
    let value = Outer {
        id: 1,
        inner: SameTagPayload {
            name: "n".into(),
            size: 2,
        },
        note: String::new(),
    };
    let text = serde_json::to_string(&value).unwrap();
    let err = serde_json::from_str::<Outer>(&text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs its own `tag`"), "{err}");
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename(entries = items)))]
pub struct Catalog<T> {
    pub items: HashMap<String, T>,
    pub first: Option<Box<T>>,
}

#[test]
fn generic_map_and_option_box_of_a_versioned_type_at_an_old_version() {
    let c: Catalog<Payload> = serde_json::from_str(
        r#"{"_version":1,"entries":{"a":{"v":1,"name":"a"}},"first":{"name":"f","v":1}}"#,
    )
    .unwrap();
    assert_eq!(c.items["a"].size, 1);
    assert_eq!(c.first.unwrap().size, 1);
    let r = schema_migrate::reference::from_value::<Catalog<Payload>>(json!({
        "_version":1,"entries":{"a":{"v":1,"name":"a"}},"first":null
    }))
    .unwrap();
    assert_eq!(r.value.items["a"].size, 1);
}
