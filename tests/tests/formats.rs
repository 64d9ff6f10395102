//! The same upgrade through every self-describing format: MessagePack with
//! field names, CBOR, YAML, tag first and tag last; bincode, which cannot
//! read a map without a schema, fails cleanly.
//!
//! Old payloads are written by plain serde structs shaped like the old
//! version, as an old release of the service would have written them.

use schema_migrate::{Error, Stored, Versioned};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    tag = "v",
    migrate(from = 1, description = "Timestamp", add(ts = 0))
)]
pub struct Message {
    pub role: String,
    pub content: String,
    pub ts: u64,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    migrate(from = 1, description = "Added travelers", add(travelers = 1)),
    migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
    migrate(from = 3, description = "Travelers by type", transform(travelers: u32 => travelers_by_type)),
)]
pub struct TripState {
    pub destination_city: String,
    pub travelers: Travelers,
    #[serde(default)]
    pub budget: Option<f64>,
    #[serde(default)]
    pub messages: Vec<Message>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Travelers {
    pub adults: u32,
    pub children: u32,
}

fn travelers_by_type(count: u32) -> Result<Travelers, String> {
    if count == 0 {
        return Err("a trip needs at least one traveler".into());
    }
    Ok(Travelers {
        adults: count,
        children: 0,
    })
}

/// What release 1 wrote for a message (no timestamp).
#[derive(Serialize)]
struct MessageV1 {
    v: u32,
    role: &'static str,
    content: &'static str,
}

/// What release 2 wrote, tag first.
#[derive(Serialize)]
struct TripV2TagFirst {
    schema_version: u32,
    destination: &'static str,
    travelers: u32,
    messages: Vec<MessageV1>,
}

/// What release 2 wrote, tag last (another writer's key order).
#[derive(Serialize)]
struct TripV2TagLast {
    destination: &'static str,
    travelers: u32,
    messages: Vec<MessageV1>,
    schema_version: u32,
}

/// What release 1 wrote, tag last.
#[derive(Serialize)]
struct TripV1TagLast {
    destination: &'static str,
    schema_version: u32,
}

fn old_messages() -> Vec<MessageV1> {
    vec![
        MessageV1 {
            v: 1,
            role: "user",
            content: "book it",
        },
        MessageV1 {
            v: 1,
            role: "assistant",
            content: "done",
        },
    ]
}

fn v2_first(travelers: u32) -> TripV2TagFirst {
    TripV2TagFirst {
        schema_version: 2,
        destination: "Lima",
        travelers,
        messages: old_messages(),
    }
}

fn v2_last() -> TripV2TagLast {
    TripV2TagLast {
        destination: "Lima",
        travelers: 3,
        messages: old_messages(),
        schema_version: 2,
    }
}

fn v1_last() -> TripV1TagLast {
    TripV1TagLast {
        destination: "Oslo",
        schema_version: 1,
    }
}

fn upgraded_v2() -> TripState {
    TripState {
        destination_city: "Lima".into(),
        travelers: Travelers {
            adults: 3,
            children: 0,
        },
        budget: None,
        messages: vec![
            Message {
                role: "user".into(),
                content: "book it".into(),
                ts: 0,
            },
            Message {
                role: "assistant".into(),
                content: "done".into(),
                ts: 0,
            },
        ],
    }
}

fn upgraded_v1() -> TripState {
    TripState {
        destination_city: "Oslo".into(),
        travelers: Travelers {
            adults: 1,
            children: 0,
        },
        budget: None,
        messages: vec![],
    }
}

fn current() -> TripState {
    TripState {
        budget: Some(950.25),
        messages: vec![Message {
            role: "user".into(),
            content: "hi".into(),
            ts: 1_700_000_000,
        }],
        ..upgraded_v2()
    }
}

const STEP_FAILED: &str = r#"TripState: migration step 3 -> 4 ("Travelers by type") failed at transform(travelers: u32 => travelers_by_type): a trip needs at least one traveler"#;

// ---------------------------------------------------------------------------
// MessagePack with field names.

#[test]
fn messagepack_named_upgrades_tag_first_and_last() {
    let bytes = rmp_serde::to_vec_named(&v2_first(3)).unwrap();
    assert_eq!(
        rmp_serde::from_slice::<TripState>(&bytes).unwrap(),
        upgraded_v2()
    );
    let stored: Stored<TripState> = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!((stored.version, stored.was_upgraded()), (2, true));

    let bytes = rmp_serde::to_vec_named(&v2_last()).unwrap();
    assert_eq!(
        rmp_serde::from_slice::<TripState>(&bytes).unwrap(),
        upgraded_v2()
    );

    let bytes = rmp_serde::to_vec_named(&v1_last()).unwrap();
    assert_eq!(
        rmp_serde::from_slice::<TripState>(&bytes).unwrap(),
        upgraded_v1()
    );
}

#[test]
fn messagepack_named_round_trips_with_the_tag_first() {
    let bytes = rmp_serde::to_vec_named(&current()).unwrap();
    // fixmap of 5 entries, then the fixstr "schema_version" and the integer 4.
    assert_eq!(bytes[0], 0x85);
    assert_eq!(bytes[1], 0xa0 | 14);
    assert_eq!(&bytes[2..16], b"schema_version");
    assert_eq!(bytes[16], 4);
    let back: Stored<TripState> = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(
        back,
        Stored {
            value: current(),
            version: 4,
            upgraded: false
        }
    );
}

#[test]
fn messagepack_step_failure_and_future_version_keep_their_text() {
    let bytes = rmp_serde::to_vec_named(&v2_first(0)).unwrap();
    let err = rmp_serde::from_slice::<TripState>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(err.contains(STEP_FAILED), "{err}");

    #[derive(Serialize)]
    struct Future {
        schema_version: u32,
        destination_city: &'static str,
    }
    let bytes = rmp_serde::to_vec_named(&Future {
        schema_version: 5,
        destination_city: "x",
    })
    .unwrap();
    let err = rmp_serde::from_slice::<TripState>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TripState: stored at version 5, newer than the version 4 this binary knows"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// CBOR.

fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

#[test]
fn cbor_upgrades_tag_first_and_last() {
    let got: TripState = ciborium::from_reader(&to_cbor(&v2_first(3))[..]).unwrap();
    assert_eq!(got, upgraded_v2());
    let got: TripState = ciborium::from_reader(&to_cbor(&v2_last())[..]).unwrap();
    assert_eq!(got, upgraded_v2());
    let got: Stored<TripState> = ciborium::from_reader(&to_cbor(&v1_last())[..]).unwrap();
    assert_eq!(
        got,
        Stored {
            value: upgraded_v1(),
            version: 1,
            upgraded: true
        }
    );
}

#[test]
fn cbor_round_trips_with_the_tag_first() {
    let bytes = to_cbor(&current());
    // map(5), text(14) "schema_version", unsigned 4.
    assert_eq!(bytes[0], 0xa5);
    assert_eq!(bytes[1], 0x60 | 14);
    assert_eq!(&bytes[2..16], b"schema_version");
    assert_eq!(bytes[16], 4);
    let back: TripState = ciborium::from_reader(&bytes[..]).unwrap();
    assert_eq!(back, current());
}

#[test]
fn cbor_step_failure_keeps_its_text() {
    // ciborium's Display is its Debug; the message itself is in `Semantic`.
    match ciborium::from_reader::<TripState, _>(&to_cbor(&v2_first(0))[..]).unwrap_err() {
        ciborium::de::Error::Semantic(_, message) => assert_eq!(message, STEP_FAILED),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// YAML.

#[test]
fn yaml_upgrades_tag_first_and_last() {
    let text = serde_yaml::to_string(&v2_first(3)).unwrap();
    assert!(text.starts_with("schema_version: 2\n"), "{text}");
    assert_eq!(
        serde_yaml::from_str::<TripState>(&text).unwrap(),
        upgraded_v2()
    );

    let text = serde_yaml::to_string(&v2_last()).unwrap();
    assert!(text.ends_with("schema_version: 2\n"), "{text}");
    assert_eq!(
        serde_yaml::from_str::<TripState>(&text).unwrap(),
        upgraded_v2()
    );

    // Hand-written, as someone might edit a config file; untagged messages.
    let text = "destination: Oslo\nmessages:\n- role: user\n  content: hi\nschema_version: 1\n";
    let got: Stored<TripState> = serde_yaml::from_str(text).unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(
        got.value,
        TripState {
            messages: vec![Message {
                role: "user".into(),
                content: "hi".into(),
                ts: 0
            }],
            ..upgraded_v1()
        }
    );
}

#[test]
fn yaml_round_trips_with_the_tag_first() {
    let text = serde_yaml::to_string(&current()).unwrap();
    assert_eq!(
        text,
        "schema_version: 4\n\
         destination_city: Lima\n\
         travelers:\n  adults: 3\n  children: 0\n\
         budget: 950.25\n\
         messages:\n- v: 2\n  role: user\n  content: hi\n  ts: 1700000000\n"
    );
    assert_eq!(serde_yaml::from_str::<TripState>(&text).unwrap(), current());
}

#[test]
fn yaml_invalid_tag_and_step_failure_keep_their_text() {
    let err = serde_yaml::from_str::<TripState>("schema_version: two\ndestination: x\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            r#"TripState: version tag `schema_version` must be a non-negative integer, found the string "two""#
        ),
        "{err}"
    );
    let text = serde_yaml::to_string(&v2_first(0)).unwrap();
    let err = serde_yaml::from_str::<TripState>(&text)
        .unwrap_err()
        .to_string();
    assert!(err.contains(STEP_FAILED), "{err}");
}

// ---------------------------------------------------------------------------
// bincode: not self-describing, so unsupported, but it must fail cleanly.

#[test]
fn bincode_gives_a_clear_error() {
    let bytes = bincode::serialize(&v2_first(3)).unwrap();
    let err = bincode::deserialize::<TripState>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(err.contains("deserialize_any"), "{err}");

    // Even bytes that the versioned type wrote itself.
    let bytes = bincode::serialize(&current()).unwrap();
    let err = bincode::deserialize::<TripState>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(err.contains("deserialize_any"), "{err}");

    // Garbage and empty input: an error, not a panic.
    for bytes in [&[][..], &[0xff; 3][..], &[1, 0, 0, 0, 0, 0, 0, 0][..]] {
        let err = bincode::deserialize::<TripState>(bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("deserialize_any"), "{bytes:?}: {err}");
    }
}

#[test]
fn typed_error_still_recovers_through_json_for_comparison() {
    // The same v2 payload as JSON, through the typed entry point, for a
    // baseline that the binary formats above agree with.
    let json = serde_json::to_string(&v2_first(0)).unwrap();
    let err = schema_migrate::json::from_str::<TripState>(&json).unwrap_err();
    assert!(
        matches!(err, Error::StepFailed { from: 3, to: 4, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), STEP_FAILED);
    let ok =
        schema_migrate::json::from_str::<TripState>(&serde_json::to_string(&v2_last()).unwrap())
            .unwrap();
    assert_eq!(
        ok,
        Stored {
            value: upgraded_v2(),
            version: 2,
            upgraded: true
        }
    );
    assert_eq!(TripState::VERSION, 4);
}

#[test]
fn messagepack_without_field_names_gives_a_clear_error() {
    // `to_vec` writes structs as arrays: there is no map to find the tag in.
    let bytes = rmp_serde::to_vec(&v2_first(3)).unwrap();
    let err = rmp_serde::from_slice::<TripState>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected a TripState object with version tag `schema_version`"),
        "{err}"
    );
}

/// Reads anything, and keeps whether its format said it is human-readable:
/// what UUIDs, addresses and timestamps decide their encoding by.
#[derive(Debug, PartialEq)]
pub struct FormatKind(bool);

impl<'de> Deserialize<'de> for FormatKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let human_readable = d.is_human_readable();
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(FormatKind(human_readable))
    }
}

impl Serialize for FormatKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(self.0)
    }
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(n = 7)))]
pub struct Probe {
    pub kind: FormatKind,
    pub n: u32,
}

#[derive(Serialize)]
struct ProbeV1TagLast {
    kind: bool,
    _version: u32,
}

#[test]
fn fields_before_a_late_tag_keep_the_formats_human_readable_flag() {
    let old = ProbeV1TagLast {
        kind: true,
        _version: 1,
    };
    let packed = rmp_serde::to_vec_named(&old).unwrap();
    let probe: Probe = rmp_serde::from_slice(&packed).unwrap();
    assert_eq!(
        probe,
        Probe {
            kind: FormatKind(false),
            n: 7
        },
        "MessagePack is a binary format"
    );

    let mut cbor = Vec::new();
    ciborium::into_writer(&old, &mut cbor).unwrap();
    let probe: Probe = ciborium::from_reader(cbor.as_slice()).unwrap();
    assert_eq!(probe.kind, FormatKind(false), "CBOR is a binary format");

    let probe: Probe = serde_json::from_str(r#"{"kind":true,"_version":1}"#).unwrap();
    assert_eq!(probe.kind, FormatKind(true), "JSON is human-readable");
}
