//! Rolling deploys and rollback: writing older versions by running the
//! steps backward.
//!
//! - For every op, a round-trip property: a value written at any version
//!   and read back is the value, or, across an `add`, the value with the
//!   added fields at their defaults (exactly what the older version cannot
//!   hold), in JSON, CBOR and MessagePack.
//! - The downgrade against a reference applied independently on
//!   `serde_json::Value`, typed writers and the JSON-object path (below a
//!   `with` step) alike.
//! - `write_version`, nested types at their own write version, the errors.

use std::fmt::Debug;

use proptest::prelude::*;
use schema_migrate::{at_version, DeserializeVersionedOwned, Error, SerializeVersioned, Versioned};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// One type per op.

/// `add`: lossy, the field is dropped and comes back as its default.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(retries = 3)))]
struct Added {
    name: String,
    retries: u32,
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, rename(title = name)))]
struct Renamed {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, remove(legacy: Vec<u8> = vec![7])))]
struct Removed {
    name: String,
}

fn parse(s: String) -> Result<u64, std::num::ParseIntError> {
    s.parse()
}
fn show(n: u64) -> String {
    n.to_string()
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, transform(count: String => parse, back = show)))]
struct Transformed {
    count: u64,
}

fn nest(object: &mut Map<String, Value>) -> Result<(), String> {
    let first = object.remove("first").ok_or("no first")?;
    let last = object.remove("last").ok_or("no last")?;
    object.insert("name".into(), json!({ "first": first, "last": last }));
    Ok(())
}
fn unnest(object: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::Object(mut name)) = object.remove("name") else {
        return Err("no name object".into());
    };
    object.insert("first".into(), name.remove("first").ok_or("no first")?);
    object.insert("last".into(), name.remove("last").ok_or("no last")?);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Name {
    first: String,
    last: String,
}

/// `with`: the version below it is written through a JSON object; the step
/// after it, typed.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, with = nest, back = unnest, rename(years = age)),
    migrate(from = 2, rename(name = person)),
)]
struct Restructured {
    person: Name,
    age: u8,
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[serde(tag = "kind")]
#[schema(version = 3, migrate(from = 1, rename_variant(Walk = Stroll)), migrate(from = 2, remove_variant(Fly)))]
enum Move {
    Stroll { meters: u32 },
    Swim { laps: u8 },
    Rest,
}

/// A typed step written back through `Previous: From<Self>`.
mod typed {
    use schema_migrate::Versioned;

    #[derive(Debug, Clone, PartialEq, Versioned)]
    #[schema(version = 1)]
    pub struct ProfileV1 {
        pub full_name: String,
    }

    #[derive(Debug, Clone, PartialEq, Versioned)]
    #[schema(version = 2, migrate(from = ProfileV1, reversible))]
    pub struct Profile {
        pub first: String,
        pub last: String,
    }

    impl From<ProfileV1> for Profile {
        fn from(v1: ProfileV1) -> Self {
            let (first, last) = v1.full_name.split_once(' ').unwrap_or((&v1.full_name, ""));
            Profile {
                first: first.into(),
                last: last.into(),
            }
        }
    }

    impl From<Profile> for ProfileV1 {
        fn from(p: Profile) -> Self {
            ProfileV1 {
                full_name: format!("{} {}", p.first, p.last),
            }
        }
    }
}
use typed::Profile;

// ---------------------------------------------------------------------------
// The round trip, in three formats.

/// Writes `value` at every version it reads, in JSON, CBOR and MessagePack,
/// reads each back, and checks it is `expected(version)`.
fn round_trip<T>(value: &T, expected: impl Fn(u32) -> T)
where
    T: SerializeVersioned + DeserializeVersionedOwned + PartialEq + Debug,
{
    for version in T::OLDEST..=T::VERSION {
        let want = expected(version);
        let json = schema_migrate::json::to_string_at(value, version)
            .unwrap_or_else(|e| panic!("{} at {version}: {e}", T::NAME));
        let tag = format!(r#"{{"{}":{version}"#, T::TAG);
        assert!(json.starts_with(&tag), "tag first: {json}");
        let stored = schema_migrate::json::from_str::<T>(&json).expect("reads back");
        assert_eq!(
            (stored.version, &stored.value),
            (version, &want),
            "JSON at {version}: {json}"
        );

        let mut cbor = Vec::new();
        ciborium::into_writer(&at_version(value, version), &mut cbor).expect("CBOR");
        let back: T = ciborium::from_reader(&cbor[..]).expect("CBOR reads back");
        assert_eq!(back, want, "CBOR at {version}");

        let msgpack = rmp_serde::to_vec_named(&at_version(value, version)).expect("MessagePack");
        let back: T = rmp_serde::from_slice(&msgpack).expect("MessagePack reads back");
        assert_eq!(back, want, "MessagePack at {version}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn add_loses_exactly_the_added_field(name in ".{0,12}", retries in any::<u32>()) {
        let value = Added { name: name.clone(), retries };
        round_trip(&value, |v| if v == 1 { Added { name: name.clone(), retries: 3 } } else { value.clone() });
    }

    #[test]
    fn rename_is_lossless(name in ".{0,12}", note in proptest::option::of(".{0,6}")) {
        let value = Renamed { name, note };
        round_trip(&value, |_| value.clone());
    }

    #[test]
    fn remove_restores_and_is_lossless(name in ".{0,12}") {
        let value = Removed { name };
        round_trip(&value, |_| value.clone());
    }

    #[test]
    fn transform_back_is_lossless(count in any::<u64>()) {
        let value = Transformed { count };
        round_trip(&value, |_| value.clone());
    }

    #[test]
    fn with_back_is_lossless(first in "[a-z]{0,8}", last in "[a-z]{0,8}", age in any::<u8>()) {
        let value = Restructured { person: Name { first, last }, age };
        round_trip(&value, |_| value.clone());
    }

    #[test]
    fn variants_are_lossless(meters in any::<u32>(), laps in any::<u8>()) {
        for value in [Move::Stroll { meters }, Move::Swim { laps }, Move::Rest] {
            round_trip(&value, |_| value.clone());
        }
    }

    #[test]
    fn a_reversible_typed_step_is_lossless(first in "[a-z]{1,8}", last in "[a-z]{1,8}") {
        let value = Profile { first, last };
        round_trip(&value, |_| value.clone());
    }
}

// ---------------------------------------------------------------------------
// The downgrade against a reference written here on `serde_json::Value`.

fn by_type(n: u32) -> Vec<String> {
    vec!["adult".to_owned(); n as usize]
}
fn count(travelers: Vec<String>) -> u32 {
    travelers.len() as u32
}
fn unsplit(object: &mut Map<String, Value>) -> Result<(), String> {
    let city = object.remove("city").ok_or("no city")?;
    let country = object.remove("country").ok_or("no country")?;
    let (Value::String(city), Value::String(country)) = (city, country) else {
        return Err("city and country are strings".into());
    };
    object.insert("place".into(), Value::String(format!("{city}, {country}")));
    Ok(())
}
fn split(object: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::String(place)) = object.remove("place") else {
        return Err("no place".into());
    };
    let (city, country) = place.split_once(", ").ok_or("no comma")?;
    object.insert("city".into(), city.into());
    object.insert("country".into(), country.into());
    Ok(())
}

/// Every kind of op, a `with` step at the bottom (so versions 1 and 2 are
/// written through a JSON object) and typed writers above it.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 5,
    migrate(from = 1, description = "Place split", with = split, back = unsplit),
    migrate(from = 2, description = "Travelers", add(travelers = 1), remove(legacy: String = "none".to_owned())),
    migrate(from = 3, description = "Renamed", rename(country = nation)),
    migrate(from = 4, description = "By type", transform(travelers: u32 => by_type, back = count), add(budget)),
)]
struct Trip {
    city: String,
    nation: String,
    travelers: Vec<String>,
    budget: Option<u32>,
}

/// The reference: version 5's JSON written down to `version` by hand.
fn reference(mut object: Map<String, Value>, version: u32) -> Value {
    if version <= 4 {
        object.remove("budget");
        let n = object
            .remove("travelers")
            .and_then(|t| t.as_array().map(Vec::len))
            .unwrap_or(0);
        object.insert("travelers".into(), json!(n));
    }
    if version <= 3 {
        let nation = object.remove("nation").expect("nation");
        object.insert("country".into(), nation);
    }
    if version <= 2 {
        object.remove("travelers");
        object.insert("legacy".into(), json!("none"));
    }
    if version <= 1 {
        let city = object.remove("city").expect("city");
        let country = object.remove("country").expect("country");
        object.insert(
            "place".into(),
            json!(format!(
                "{}, {}",
                city.as_str().unwrap(),
                country.as_str().unwrap()
            )),
        );
    }
    object.insert("_version".into(), json!(version));
    Value::Object(object)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_downgrade_matches_the_reference(
        city in "[A-Za-z ]{1,10}",
        nation in "[A-Za-z]{1,10}",
        travelers in 0u32..5,
        budget in proptest::option::of(any::<u32>()),
    ) {
        let trip = Trip { city, nation, travelers: by_type(travelers), budget };
        let Value::Object(current) = serde_json::to_value(&trip).unwrap() else { panic!() };
        for version in 1..=5 {
            let written = schema_migrate::json::to_value_at(&trip, version).unwrap();
            prop_assert_eq!(&written, &reference(current.clone(), version), "version {}", version);
            // And back up: what was added later is lost below it (the
            // budget added at 5; the travelers added at 3, back at 1).
            let read = schema_migrate::json::from_value::<Trip>(written).unwrap().value;
            let expected = Trip {
                budget: if version < 5 { None } else { trip.budget },
                travelers: if version < 3 { by_type(1) } else { trip.travelers.clone() },
                ..trip.clone()
            };
            prop_assert_eq!(read, expected);
        }
    }
}

// ---------------------------------------------------------------------------
// `write_version`, nested values, errors.

#[allow(
    clippy::ptr_arg,
    reason = "a back function borrows the field as its type is"
)]
fn count_borrowed(travelers: &Vec<String>) -> u32 {
    travelers.len() as u32
}

/// Release B of a rolling deploy: reads version 4, writes version 3; its
/// `back` borrows the field (no clone).
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 4,
    write_version = 3,
    migrate(from = 1, add(travelers = 1)),
    migrate(from = 2, rename(destination = city)),
    migrate(from = 3, transform(travelers: u32 => by_type, back = count_borrowed)),
)]
struct TripB {
    city: String,
    travelers: Vec<String>,
}

#[test]
fn serialize_writes_the_write_version() {
    assert_eq!(
        (TripB::VERSION, TripB::WRITE_VERSION, Added::WRITE_VERSION),
        (4, 3, 2)
    );
    let trip = TripB {
        city: "Oslo".into(),
        travelers: by_type(2),
    };
    assert_eq!(
        serde_json::to_string(&trip).unwrap(),
        r#"{"_version":3,"city":"Oslo","travelers":2}"#
    );
    // It still writes its current version when asked.
    assert_eq!(
        schema_migrate::json::to_string_at(&trip, 4).unwrap(),
        r#"{"_version":4,"city":"Oslo","travelers":["adult","adult"]}"#
    );
    // And reads both.
    let v4 = serde_json::from_str::<TripB>(r#"{"travelers":["adult"],"_version":4,"city":"Rome"}"#)
        .unwrap();
    assert_eq!(v4.travelers, ["adult"]);
}

/// A parent written at its version 1 holds a nested value written at the
/// nested type's own write version, not at the parent's.
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(note)))]
struct Holder {
    trip: TripB,
    note: String,
}

#[test]
fn nested_values_are_written_at_their_own_write_version() {
    let holder = Holder {
        trip: TripB {
            city: "Oslo".into(),
            travelers: by_type(1),
        },
        note: "x".into(),
    };
    assert_eq!(
        schema_migrate::json::to_string_at(&holder, 1).unwrap(),
        r#"{"_version":1,"trip":{"_version":3,"city":"Oslo","travelers":1}}"#
    );
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, description = "Dropped the cache", remove(cache)),
    migrate(from = 2, transform(n: u64 => u64_to_i8, back = i8_to_u64)),
)]
struct Fragile {
    n: i8,
}
fn u64_to_i8(n: u64) -> Result<i8, std::num::TryFromIntError> {
    i8::try_from(n)
}
fn i8_to_u64(n: i8) -> Result<u64, std::num::TryFromIntError> {
    u64::try_from(n)
}

#[test]
fn versions_that_cannot_be_written_are_typed_errors() {
    let value = Fragile { n: 5 };
    let err = schema_migrate::json::to_string_at(&value, 1).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Irreversible {
                version: 1,
                from: 1,
                to: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), "irreversible");
    assert_eq!(
        err.to_string(),
        "Fragile: cannot write version 1: step 1 -> 2 cannot be run backward at remove(cache) \
         (give its type and the value to restore: `remove(field: Type = expr)`)"
    );
    for version in [0, 4, u32::MAX] {
        let err = schema_migrate::json::to_vec_at(&value, version).unwrap_err();
        assert!(
            matches!(err, Error::UnknownVersion { .. }),
            "{version}: {err:?}"
        );
    }
    assert_eq!(
        schema_migrate::json::to_string_at(&value, 0)
            .unwrap_err()
            .to_string(),
        "Fragile: no version 0 to write; it reads versions 1 to 3"
    );
    // Through serde, the same text.
    let err = serde_json::to_string(&at_version(&value, 1)).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot be run backward at remove(cache)"),
        "{err}"
    );
}

#[test]
fn a_failing_back_function_names_the_step_the_op_and_the_direction() {
    let err = schema_migrate::json::to_string_at(&Fragile { n: -1 }, 2).unwrap_err();
    let Error::StepFailed {
        from, to, ref op, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (from, to, op.as_str()),
        (3, 2, "transform(n: u64 => u64_to_i8, back = i8_to_u64)")
    );
    assert_eq!(
        err.to_string(),
        "Fragile: migration step 2 -> 3, run backward to write version 2, failed at \
         transform(n: u64 => u64_to_i8, back = i8_to_u64): out of range integral type conversion attempted"
    );
}

#[test]
fn the_history_shows_each_inverse() {
    let steps: Vec<String> = Trip::history().iter().map(ToString::to_string).collect();
    assert_eq!(
        steps,
        [
            r#"Trip 1 -> 2 "Place split": with = split, back = unsplit"#,
            r#"Trip 2 -> 3 "Travelers": add(travelers = 1), remove(legacy: String = "none".to_owned())"#,
            r#"Trip 3 -> 4 "Renamed": rename(country = nation)"#,
            r#"Trip 4 -> 5 "By type": transform(travelers: u32 => by_type, back = count), add(budget)"#,
        ]
    );
    assert_eq!(
        Profile::history()[0].to_string(),
        "Profile 1 -> 2: From<ProfileV1>, back From<Self>"
    );
    assert!(Trip::history()
        .iter()
        .flat_map(|s| s.ops)
        .all(schema_migrate::Op::is_reversible));
    assert!(!Fragile::STEPS[0].ops[0].is_reversible());
}

// ---------------------------------------------------------------------------
// Older versions keep each field's own serde attributes, generics, flatten
// and adjacently tagged enums.

mod as_text {
    pub fn serialize<S: serde::Serializer>(n: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(n)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Extra {
    source: String,
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[serde(rename_all = "camelCase")]
#[schema(version = 2, migrate(from = 1, rename(payloadItems = items), add(createdBy = "system".to_owned())))]
struct Envelope<T> {
    items: Vec<T>,
    #[serde(with = "as_text")]
    retry_count: u32,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    labels: Vec<String>,
    #[serde(skip)]
    cache: Option<String>,
    #[serde(flatten)]
    extra: Extra,
    created_by: String,
}

#[test]
fn older_versions_keep_field_attributes_and_generics() {
    let value = Envelope {
        items: vec![1u8, 2],
        retry_count: 7,
        labels: Vec::new(),
        cache: Some("not written".into()),
        extra: Extra {
            source: "api".into(),
        },
        created_by: "ada".into(),
    };
    assert_eq!(
        schema_migrate::json::to_string_at(&value, 1).unwrap(),
        r#"{"_version":1,"payloadItems":[1,2],"retryCount":"7","source":"api"}"#
    );
    let back = serde_json::from_str::<Envelope<u8>>(
        &schema_migrate::json::to_string_at(&value, 1).unwrap(),
    )
    .unwrap();
    assert_eq!(
        back,
        Envelope {
            cache: None,
            created_by: "system".into(),
            ..value.clone()
        }
    );
}

#[derive(Debug, Clone, PartialEq, Versioned)]
#[serde(tag = "t", content = "c", rename_all = "snake_case")]
#[schema(version = 2, migrate(from = 1, rename_variant(wait = pause)))]
enum Step {
    Pause(u32),
    Go {
        speed: u8,
    },
    #[serde(rename = "halt")]
    Stop,
}

#[test]
fn an_adjacently_tagged_enum_gets_its_old_variant_names_back() {
    let at1 = |s: &Step| schema_migrate::json::to_string_at(s, 1).unwrap();
    assert_eq!(at1(&Step::Pause(3)), r#"{"_version":1,"t":"wait","c":3}"#);
    assert_eq!(
        at1(&Step::Go { speed: 2 }),
        r#"{"_version":1,"t":"go","c":{"speed":2}}"#
    );
    assert_eq!(at1(&Step::Stop), r#"{"_version":1,"t":"halt"}"#);
    for s in [Step::Pause(3), Step::Go { speed: 2 }, Step::Stop] {
        assert_eq!(serde_json::from_str::<Step>(&at1(&s)).unwrap(), s);
    }
}
