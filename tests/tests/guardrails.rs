//! The CI guardrails (`schema_migrate::testing`) on the mistakes they exist
//! for: a type changed without a bump, an old version rewritten, a fixture
//! deleted, a snapshot altered. Two types with the same `NAME` (in two
//! modules) stand for one type before and after an edit.

use schema_migrate::testing::{check_fixtures, check_schema_lock, record_fixture, schema_lock};
use schema_migrate::Versioned;

/// The released type: version 2.
mod released {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, description = "Retries", rename(title = name), add(retries = 3))
    )]
    pub struct Doc {
        pub name: String,
        pub retries: u32,
    }
}

/// `retries` changed type, the version not bumped.
mod no_bump {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, description = "Retries", rename(title = name), add(retries = 3))
    )]
    pub struct Doc {
        pub name: String,
        pub retries: u64,
    }
}

/// The step from 1 edited: version 1 now reads `heading`, not `title`.
mod rewritten {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, description = "Retries", rename(heading = name), add(retries = 3))
    )]
    pub struct Doc {
        pub name: String,
        pub retries: u32,
    }
}

/// Done right: version 3, with a step.
mod bumped {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 3,
        migrate(from = 1, description = "Retries", rename(title = name), add(retries = 3)),
        migrate(from = 2, description = "Wider retries", transform(retries: u32 => widen)),
    )]
    pub struct Doc {
        pub name: String,
        pub retries: u64,
    }

    fn widen(n: u32) -> u64 {
        u64::from(n)
    }
}

/// A serde attribute added to the current version: the wire form changed.
mod attribute {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, description = "Retries", rename(title = name), add(attempts = 3))
    )]
    pub struct Doc {
        pub name: String,
        #[serde(rename = "attempts")]
        pub retries: u32,
    }
}

/// The step from 1 now makes 5 retries instead of 3.
mod other_default {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, description = "Retries", rename(title = name), add(retries = 5))
    )]
    pub struct Doc {
        pub name: String,
        pub retries: u32,
    }
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn err<T>(result: Result<T, schema_migrate::testing::GuardError>) -> String {
    match result {
        Ok(_) => panic!("the check passed"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_lock_file_is_sorted_one_field_a_line_and_deterministic() {
    let lock = schema_lock::<released::Doc>();
    assert_eq!(
        lock,
        r#"{
  "type": "Doc",
  "tag": "_version",
  "oldest": 1,
  "version": 2,
  "versions": [
    {
      "version": 1,
      "shape": [
        "field title: String"
      ]
    },
    {
      "version": 2,
      "shape": [
        "field name: String",
        "field retries: u32"
      ]
    }
  ]
}
"#
    );
    assert_eq!(lock, schema_lock::<released::Doc>());
    let value: serde_json::Value = serde_json::from_str(&lock).expect("the lock is JSON");
    assert_eq!(value["versions"][1]["version"], 2);
}

#[test]
fn a_missing_lock_fails_without_bless_and_bless_writes_it() {
    let dir = temp();
    let message = err(check_schema_lock::<released::Doc>(dir.path(), false));
    assert!(
        message.starts_with("schema lock of Doc: no file "),
        "{message}"
    );
    assert!(
        message.ends_with(
            "Doc.json: run the test with SCHEMA_MIGRATE_BLESS=1 to write it, and commit it"
        ),
        "{message}"
    );
    assert!(!dir.path().join("Doc.json").exists());

    check_schema_lock::<released::Doc>(dir.path(), true).unwrap();
    let written = std::fs::read_to_string(dir.path().join("Doc.json")).unwrap();
    assert_eq!(written, schema_lock::<released::Doc>());
    check_schema_lock::<released::Doc>(dir.path(), false).unwrap();
}

#[test]
fn a_type_changed_without_a_bump_fails_naming_version_and_field() {
    let dir = temp();
    check_schema_lock::<released::Doc>(dir.path(), true).unwrap();

    let message = err(check_schema_lock::<no_bump::Doc>(dir.path(), false));
    assert!(
        message.contains("Doc version 2 (the current version) changed without a new version:"),
        "{message}"
    );
    assert!(
        message.contains("field `retries`: locked `field retries: u32`, now `field retries: u64`"),
        "{message}"
    );
    assert!(
        message.contains("make it version 3 instead (`version = 3` with a step `migrate(from = 2, ...)` that says how version-2 records become version 3"),
        "{message}"
    );
    assert!(message.contains("SCHEMA_MIGRATE_BLESS=1"), "{message}");

    // A renamed wire name is a change too.
    let message = err(check_schema_lock::<attribute::Doc>(dir.path(), false));
    assert!(
        message.contains("field `attempts` is new: `field attempts: u32`"),
        "{message}"
    );
    assert!(
        message.contains("field `retries` is gone (locked `field retries: u32`)"),
        "{message}"
    );

    // Not yet released: blessing records the current version's new shape.
    check_schema_lock::<no_bump::Doc>(dir.path(), true).unwrap();
    check_schema_lock::<no_bump::Doc>(dir.path(), false).unwrap();
    assert!(err(check_schema_lock::<released::Doc>(dir.path(), false)).contains("retries"));
}

#[test]
fn a_rewritten_old_version_fails_even_under_bless() {
    let dir = temp();
    check_schema_lock::<released::Doc>(dir.path(), true).unwrap();
    let before = std::fs::read_to_string(dir.path().join("Doc.json")).unwrap();

    for bless in [false, true] {
        let message = err(check_schema_lock::<rewritten::Doc>(dir.path(), bless));
        assert!(
            message.contains("Doc version 1 changed, but it is an older version (the newest is 2): its history was rewritten."),
            "{message}"
        );
        assert!(
            message.contains("field `heading` is new: `field heading: String`"),
            "{message}"
        );
        assert!(
            message.contains("field `title` is gone (locked `field title: String`)"),
            "{message}"
        );
        assert!(
            message.contains("SCHEMA_MIGRATE_BLESS=1 does not rewrite an older version"),
            "{message}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Doc.json")).unwrap(),
        before,
        "an older version was rewritten"
    );
}

#[test]
fn a_new_version_is_recorded_by_bless_and_freezes_the_one_before() {
    let dir = temp();
    check_schema_lock::<released::Doc>(dir.path(), true).unwrap();
    let message = err(check_schema_lock::<bumped::Doc>(dir.path(), false));
    assert!(
        message.contains(
            "Doc version 3 is not in the lock yet: run the test with SCHEMA_MIGRATE_BLESS=1"
        ),
        "{message}"
    );
    check_schema_lock::<bumped::Doc>(dir.path(), true).unwrap();
    check_schema_lock::<bumped::Doc>(dir.path(), false).unwrap();
    let lock = std::fs::read_to_string(dir.path().join("Doc.json")).unwrap();
    assert!(lock.contains("\"field retries: u64\""), "{lock}");
    // Version 2 still has `retries: u32`, as released.
    assert!(lock.contains("\"field retries: u32\""), "{lock}");

    // Version 2 is older now: the unbumped edit cannot be blessed over it.
    let message = err(check_schema_lock::<no_bump::Doc>(dir.path(), true));
    assert!(
        message.contains("Doc version 3 is in the lock but Doc is at version 2"),
        "{message}"
    );
    assert!(
        message.contains("Doc version 2 changed, but it is an older version"),
        "{message}"
    );
}

/// `released::Doc` with `skip_serializing_if` added to `name`, unbumped.
mod write_only {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, description = "Retries", rename(title = name), add(retries = 3))
    )]
    pub struct Doc {
        #[serde(skip_serializing_if = "String::is_empty")]
        pub name: String,
        pub retries: u32,
    }
}

/// The same attribute at a new version: the versions before it are as
/// released, so the lock accepts it once blessed.
mod write_only_bumped {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 3,
        migrate(from = 1, description = "Retries", rename(title = name), add(retries = 3)),
        migrate(from = 2, description = "Empty names are not written"),
    )]
    pub struct Doc {
        #[serde(skip_serializing_if = "String::is_empty")]
        pub name: String,
        pub retries: u32,
    }
}

#[test]
fn an_attribute_on_the_current_version_needs_a_bump_and_a_bump_is_enough() {
    let dir = temp();
    check_schema_lock::<released::Doc>(dir.path(), true).unwrap();
    let message = err(check_schema_lock::<write_only::Doc>(dir.path(), false));
    assert!(
        message.contains(r#"field `name`: locked `field name: String`, now `field name: String #[serde(skip_serializing_if = "String::is_empty")]`"#),
        "{message}"
    );
    assert!(!message.contains("older version"), "{message}");
    check_schema_lock::<write_only_bumped::Doc>(dir.path(), true).unwrap();
    check_schema_lock::<write_only_bumped::Doc>(dir.path(), false).unwrap();
}

#[test]
fn the_assertion_panics_with_the_message() {
    if schema_migrate::testing::blessing() {
        // Under BLESS the assertion writes instead; the checks above cover
        // both modes with blessing given explicitly.
        return;
    }
    let dir = temp();
    let path = dir.path().to_owned();
    let panic = std::panic::catch_unwind(|| {
        schema_migrate::testing::assert_schema_lock::<released::Doc>(&path);
    })
    .expect_err("a missing lock must fail");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("schema lock of Doc: no file"), "{message}");
}

/// Enums, serde attributes, `with` steps and typed steps, as the lock sees them.
mod shapes {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 2,
        migrate(from = 1, rename_variant(pause = paused)),
    )]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Event {
        Started { at: u64 },
        Paused,
        Note(String),
    }

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(version = 3, migrate(from = 1, with = split), migrate(from = 2, remove(legacy: bool)))]
    #[serde(deny_unknown_fields)]
    pub struct Profile {
        #[serde(default, skip_serializing_if = "Option::is_none", alias = "nick")]
        pub nickname: Option<String>,
        #[serde(flatten)]
        pub extra: std::collections::BTreeMap<String, u32>,
    }

    fn split(_: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        Ok(())
    }

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(version = 1)]
    pub struct JobV1 {
        pub name: String,
    }

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(version = 2, migrate(from = JobV1))]
    pub struct Job {
        pub title: String,
    }

    impl From<JobV1> for Job {
        fn from(v: JobV1) -> Self {
            Job { title: v.name }
        }
    }
}

#[test]
fn the_lock_records_enums_attributes_opaque_steps_and_typed_history() {
    use shapes::{Event, Job, Profile};

    assert_eq!(
        Event::wire_shape(1).unwrap(),
        [
            "variant started: { at: u64 }",
            "variant pause: unit",
            "variant note: (String)",
            "representation: internally tagged, tag = \"kind\"",
        ]
    );
    assert_eq!(Event::wire_shape(2).unwrap()[1], "variant paused: unit");
    assert_eq!(Event::wire_shape(3), None);

    assert_eq!(
        Profile::wire_shape(1).unwrap(),
        ["opaque: read through a `with = fn` step (the step from version 1); only fixtures see its shape"]
    );
    let mut v2 = Profile::wire_shape(2).unwrap().to_vec();
    v2.sort();
    assert_eq!(
        v2,
        [
            "field (extra): std::collections::BTreeMap<String, u32> #[serde(flatten)]",
            "field legacy: bool (removed later)",
            // An older version keeps what decides how a stored value is
            // decoded; `default`, `alias` and write-only items are the
            // current version's.
            "field nickname: Option<String>",
        ]
    );
    let v3 = Profile::wire_shape(3).unwrap();
    assert!(
        v3.contains(&"container: #[serde(deny_unknown_fields)]"),
        "{v3:?}"
    );
    assert!(
        v3.contains(&r#"field nickname: Option<String> #[serde(default, skip_serializing_if = "Option::is_none", alias = "nick")]"#),
        "{v3:?}"
    );

    assert_eq!(Job::wire_shape(1).unwrap(), ["field name: String"]);
    assert_eq!(Job::wire_shape(2).unwrap(), ["field title: String"]);
    assert!(schema_lock::<Job>().contains("\"field name: String\""));
}

/// A hand-written impl has no derived shape: the lock says so.
#[test]
fn a_hand_written_impl_is_opaque_in_the_lock() {
    struct Manual;
    impl Versioned for Manual {
        const NAME: &'static str = "Manual";
        const VERSION: u32 = 2;
        const TAG: &'static str = "v";
        const OLDEST: u32 = 1;
        const UNTAGGED: schema_migrate::Untagged = schema_migrate::Untagged::Reject;
        const STEPS: &'static [schema_migrate::Step] = &[];
        fn history() -> Vec<&'static schema_migrate::Step> {
            Vec::new()
        }
    }
    assert_eq!(
        Manual::wire_shape(1).unwrap(),
        ["opaque: a hand-written Versioned impl; only fixtures see its shape"]
    );
    assert_eq!(Manual::wire_shape(3), None);
}

/// A fixture directory for `released::Doc`: a version-1 payload as stored
/// and a recorded version-2 sample, snapshots blessed.
fn fixtures() -> tempfile::TempDir {
    let dir = temp();
    std::fs::write(
        dir.path().join("first-release.json"),
        r#"{"_version":1,"title":"sync"}"#,
    )
    .unwrap();
    let sample = released::Doc {
        name: "index".into(),
        retries: 1,
    };
    record_fixture(dir.path(), "second-release", &sample).unwrap();
    dir
}

#[test]
fn snapshots_are_missing_until_blessed() {
    let dir = fixtures();
    let message = err(check_fixtures::<released::Doc>(dir.path(), false));
    assert!(
        message.contains("fixture `first-release.json` (stored at version 1) has no snapshot `first-release.upgraded.json`"),
        "{message}"
    );
    check_fixtures::<released::Doc>(dir.path(), true).unwrap();
    let snapshot = std::fs::read_to_string(dir.path().join("first-release.upgraded.json")).unwrap();
    assert_eq!(
        snapshot,
        "{\n  \"_version\": 2,\n  \"name\": \"sync\",\n  \"retries\": 3\n}\n"
    );
    check_fixtures::<released::Doc>(dir.path(), false).unwrap();
}

#[test]
fn a_deleted_fixture_leaves_its_version_uncovered_even_under_bless() {
    let dir = fixtures();
    check_fixtures::<released::Doc>(dir.path(), true).unwrap();
    std::fs::remove_file(dir.path().join("first-release.json")).unwrap();
    for bless in [false, true] {
        let message = err(check_fixtures::<released::Doc>(dir.path(), bless));
        assert!(
            message.contains("Doc has no fixture at version 1 (every version from 1 to 2 needs one, read from its tag)"),
            "{message}"
        );
    }

    // The version is the tag's, not the label's.
    std::fs::write(
        dir.path().join("v1.json"),
        r#"{"_version":2,"name":"a","retries":0}"#,
    )
    .unwrap();
    let message = err(check_fixtures::<released::Doc>(dir.path(), true));
    assert!(message.contains("no fixture at version 1 "), "{message}");

    // An empty directory lists every version.
    let empty = temp();
    let message = err(check_fixtures::<bumped::Doc>(empty.path(), false));
    assert!(
        message.contains("Doc has no fixture at versions 1, 2, 3 "),
        "{message}"
    );
}

#[test]
fn an_altered_snapshot_or_a_changed_step_fails_naming_the_fixture_and_path() {
    let dir = fixtures();
    check_fixtures::<released::Doc>(dir.path(), true).unwrap();

    // Someone edits a snapshot by hand.
    let path = dir.path().join("first-release.upgraded.json");
    std::fs::write(&path, r#"{"_version":2,"name":"sync","retries":4}"#).unwrap();
    let message = err(check_fixtures::<released::Doc>(dir.path(), false));
    assert!(
        message.contains(
            "fixture `first-release.json` (stored at version 1), upgraded to version 2, differs from its snapshot `first-release.upgraded.json` at `/retries`: the snapshot has `4`, the type now makes `3`."
        ),
        "{message}"
    );
    // Key order and whitespace are not differences: values are compared.
    std::fs::write(&path, r#"{ "retries": 3, "name": "sync", "_version": 2 }"#).unwrap();
    check_fixtures::<released::Doc>(dir.path(), false).unwrap();

    // A step's default changed: the old record now upgrades differently.
    let message = err(check_fixtures::<other_default::Doc>(dir.path(), false));
    assert!(
        message.contains("at `/retries`: the snapshot has `3`, the type now makes `5`"),
        "{message}"
    );
    assert!(message.contains("SCHEMA_MIGRATE_BLESS=1"), "{message}");
}

#[test]
fn a_fixture_that_no_longer_loads_names_its_version_and_cause() {
    let dir = fixtures();
    check_fixtures::<released::Doc>(dir.path(), true).unwrap();
    let message = err(check_fixtures::<rewritten::Doc>(dir.path(), true));
    assert!(
        message.contains("fixture `first-release.json` (stored at version 1) no longer loads: "),
        "{message}"
    );
    assert!(message.contains("do not edit the fixture"), "{message}");
}

#[test]
fn record_fixture_never_replaces_a_fixture() {
    let dir = temp();
    let a = released::Doc {
        name: "a".into(),
        retries: 1,
    };
    let path = record_fixture(dir.path(), "v2", &a).unwrap();
    assert_eq!(path, dir.path().join("v2.json"));
    record_fixture(dir.path(), "v2", &a).unwrap();
    let b = released::Doc {
        name: "b".into(),
        retries: 1,
    };
    let message = err(record_fixture(dir.path(), "v2", &b));
    assert!(message.contains("exists with another value"), "{message}");
    assert!(record_fixture(dir.path(), "x.upgraded", &a).is_err());
    assert!(record_fixture(dir.path(), "../x", &a).is_err());
}

#[test]
fn the_changelog_reads_as_release_notes() {
    assert_eq!(
        schema_migrate::changelog::<bumped::Doc>(),
        "# Doc

Current version: 3. The version is stored in the field `_version`. Versions 1 to 3 are read (and upgraded on read); newer ones are refused.

## Version 3: Wider retries

From version 2.

- `retries` changes type: a stored `u32` is converted by `widen`.

## Version 2: Retries

From version 1.

- `title` is renamed to `name`.
- `retries` is added; older records get `3`.

## Version 1

The oldest version still read.
"
    );
    let typed = schema_migrate::changelog::<shapes::Job>();
    assert!(
        typed.contains("## Version 2\n\nFrom version 1.\n\n- Converted from the previous type `JobV1` by `From`.\n"),
        "{typed}"
    );
    let profile = schema_migrate::changelog::<shapes::Profile>();
    assert!(
        profile
            .contains("- The record is restructured by `split` (free-form, on the JSON object).\n"),
        "{profile}"
    );
    assert!(
        profile.contains("- `legacy` (`bool`) is removed; its stored value is dropped.\n"),
        "{profile}"
    );
}

/// MessagePack (with field names) and CBOR fixtures, as a BYTEA or BLOB
/// column holds them, beside JSON ones; their snapshots are JSON.
#[cfg(feature = "store")]
#[test]
fn messagepack_and_cbor_fixtures() {
    let dir = temp();
    let v1 = serde_json::json!({"_version": 1, "title": "sync"});
    std::fs::write(
        dir.path().join("v1.msgpack"),
        rmp_serde::to_vec_named(&v1).unwrap(),
    )
    .unwrap();
    let mut cbor = Vec::new();
    let v2 = released::Doc {
        name: "index".into(),
        retries: 1,
    };
    ciborium::into_writer(&v2, &mut cbor).unwrap();
    std::fs::write(dir.path().join("v2.cbor"), &cbor).unwrap();

    check_fixtures::<released::Doc>(dir.path(), true).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("v1.upgraded.json")).unwrap(),
        "{\n  \"_version\": 2,\n  \"name\": \"sync\",\n  \"retries\": 3\n}\n"
    );
    check_fixtures::<released::Doc>(dir.path(), false).unwrap();

    let message = err(check_fixtures::<other_default::Doc>(dir.path(), false));
    assert!(
        message.contains("fixture `v1.msgpack` (stored at version 1), upgraded to version 2, differs from its snapshot `v1.upgraded.json` at `/retries`"),
        "{message}"
    );
    let message = err(check_fixtures::<rewritten::Doc>(dir.path(), false));
    assert!(
        message.contains("fixture `v1.msgpack` (stored at version 1) no longer loads: "),
        "{message}"
    );
    std::fs::remove_file(dir.path().join("v2.cbor")).unwrap();
    let message = err(check_fixtures::<released::Doc>(dir.path(), false));
    assert!(
        message.contains("Doc has no fixture at version 2 "),
        "{message}"
    );
}
