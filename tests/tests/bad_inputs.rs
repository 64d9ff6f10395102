//! Bad payloads for the travel type, one table row each: none may panic, each
//! must fail with the expected `Error::kind()`, and the message (typed and
//! through serde_json) must name the type, the version and the field where
//! they are relevant.
//!
//! `cargo test -p schema-migrate-tests --test bad_inputs -- --nocapture`
//! prints the table.

use std::panic::{catch_unwind, AssertUnwindSafe};

use schema_migrate::Error;
use serde_json::Value;

use schema_migrate_tests::travel::{Travelers, TripState};

/// The same history with a fallible transform, rejecting untagged payloads.
/// Same type name, so every message must still say `TripState`.
mod strict {
    use schema_migrate::Versioned;

    use super::Travelers;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 4,
        tag = "schema_version",
        untagged = error,
        migrate(from = 1, description = "Added travelers", add(travelers = 1)),
        migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
        migrate(from = 3, description = "Travelers by type", transform(travelers: u32 => travelers_by_type)),
    )]
    pub struct TripState {
        pub destination_city: String,
        pub travelers: Travelers,
        #[serde(default)]
        pub budget: Option<f64>,
    }

    fn travelers_by_type(count: u32) -> Result<Travelers, String> {
        if count == 0 {
            return Err("a trip needs at least one traveler".to_owned());
        }
        Ok(Travelers {
            adults: count,
            children: 0,
        })
    }
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Trip,
    Strict,
}

/// What a row expects: the kind, or "ok" for the control rows.
struct Row {
    name: &'static str,
    target: Target,
    payload: String,
    kind: &'static str,
    /// Facts every message must contain, besides the type name.
    facts: &'static [&'static str],
    /// Whether the reference path (which reads a `serde_json::Value`) can
    /// see what is wrong: it cannot see a duplicate key.
    reference_sees_it: bool,
}

impl Row {
    fn invisible_to_reference(mut self) -> Row {
        self.reference_sees_it = false;
        self
    }
}

fn row(
    name: &'static str,
    target: Target,
    payload: impl Into<String>,
    kind: &'static str,
    facts: &'static [&'static str],
) -> Row {
    Row {
        name,
        target,
        payload: payload.into(),
        kind,
        facts,
        reference_sees_it: true,
    }
}

fn deep(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

fn rows() -> Vec<Row> {
    use Target::{Strict, Trip};
    const TAG: &str = "schema_version";
    vec![
        // Controls: the same shapes, valid, so a row cannot pass by accident.
        row(
            "control: v2",
            Trip,
            r#"{"schema_version":2,"destination":"Tokyo","travelers":3}"#,
            "ok",
            &[],
        ),
        row(
            "control: v2, tag last",
            Trip,
            r#"{"destination":"Tokyo","travelers":3,"schema_version":2}"#,
            "ok",
            &[],
        ),
        row(
            "control: strict v3",
            Strict,
            r#"{"schema_version":3,"destination_city":"Tokyo","travelers":2}"#,
            "ok",
            &[],
        ),
        // The tag's value.
        row(
            "tag as string \"2\"",
            Trip,
            r#"{"schema_version":"2","destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "\"2\""],
        ),
        row(
            "tag negative -1",
            Trip,
            r#"{"schema_version":-1,"destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "-1"],
        ),
        row(
            "tag float 2.5",
            Trip,
            r#"{"schema_version":2.5,"destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "2.5"],
        ),
        row(
            "tag float 2.0",
            Trip,
            r#"{"schema_version":2.0,"destination":"Tokyo","travelers":1}"#,
            "invalid_tag",
            &[TAG, "2"],
        ),
        row(
            "tag zero (older than oldest)",
            Trip,
            r#"{"schema_version":0,"destination":"Tokyo"}"#,
            "too_old",
            &["version 0", "1"],
        ),
        row(
            "tag huge 4294967296",
            Trip,
            r#"{"schema_version":4294967296,"destination_city":"Tokyo"}"#,
            "future_version",
            &["4294967296", "4"],
        ),
        row(
            "tag huge 1e30",
            Trip,
            r#"{"schema_version":1e30,"destination_city":"Tokyo"}"#,
            "invalid_tag",
            &[TAG],
        ),
        row(
            "tag huge 99999999999999999999",
            Trip,
            r#"{"schema_version":99999999999999999999,"destination_city":"Tokyo"}"#,
            "invalid_tag",
            &[TAG],
        ),
        row(
            "tag null",
            Trip,
            r#"{"schema_version":null,"destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "null"],
        ),
        row(
            "tag array",
            Trip,
            r#"{"schema_version":[2],"destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "array"],
        ),
        row(
            "tag object",
            Trip,
            r#"{"schema_version":{"v":2},"destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "object"],
        ),
        row(
            "tag bool",
            Trip,
            r#"{"schema_version":true,"destination":"Tokyo"}"#,
            "invalid_tag",
            &[TAG, "true"],
        ),
        row(
            "tag last, bad value",
            Trip,
            r#"{"destination":"Tokyo","travelers":3,"schema_version":"two"}"#,
            "invalid_tag",
            &[TAG, "\"two\""],
        ),
        row(
            "tag missing, untagged = error",
            Strict,
            r#"{"destination":"Tokyo"}"#,
            "missing_tag",
            &[TAG],
        ),
        row(
            "future version 5",
            Trip,
            r#"{"schema_version":5,"destination_city":"Tokyo","travelers":{"adults":1,"children":0}}"#,
            "future_version",
            &["version 5", "4"],
        ),
        row(
            "future version 5, tag last",
            Trip,
            r#"{"destination_city":"Tokyo","schema_version":5}"#,
            "future_version",
            &["version 5", "4"],
        ),
        // Not an object at all.
        row(
            "payload a string",
            Trip,
            r#""Tokyo""#,
            "invalid_data",
            &[TAG],
        ),
        row("payload a number", Trip, "4", "invalid_data", &[TAG]),
        row(
            "payload an array",
            Trip,
            r#"[4,"Tokyo"]"#,
            "invalid_data",
            &[TAG],
        ),
        row("payload null", Trip, "null", "invalid_data", &[TAG]),
        // The shape of the stored version.
        row(
            "v2 without destination",
            Trip,
            r#"{"schema_version":2,"travelers":3}"#,
            "invalid_data",
            &["version 2", "`destination`"],
        ),
        row(
            "v3 without travelers",
            Trip,
            r#"{"schema_version":3,"destination_city":"Tokyo"}"#,
            "invalid_data",
            &["version 3", "travelers"],
        ),
        row(
            "v4 without destination_city",
            Trip,
            r#"{"schema_version":4,"travelers":{"adults":1,"children":0}}"#,
            "invalid_data",
            &["version 4", "`destination_city`"],
        ),
        row(
            "v1 destination a number",
            Trip,
            r#"{"schema_version":1,"destination":7}"#,
            "invalid_data",
            &["version 1", "7", "string"],
        ),
        row(
            "v3 travelers a string (transform input)",
            Trip,
            r#"{"schema_version":3,"destination_city":"Tokyo","travelers":"three"}"#,
            "invalid_data",
            &["version 3", "\"three\"", "u32"],
        ),
        row(
            "v4 travelers a number",
            Trip,
            r#"{"schema_version":4,"destination_city":"Tokyo","travelers":2}"#,
            "invalid_data",
            &["version 4", "Travelers"],
        ),
        row(
            "v1 budget a string",
            Trip,
            r#"{"budget":"cheap","destination":"Tokyo","schema_version":1}"#,
            "invalid_data",
            // Read before the tag, as every version reads it alike: the
            // error names the field, the version is not known yet.
            &["budget", "\"cheap\""],
        ),
        // A step function's error.
        row(
            "step error (transform refuses 0)",
            Strict,
            r#"{"schema_version":3,"destination_city":"Tokyo","travelers":0}"#,
            "step_failed",
            &[
                "3 -> 4",
                "Travelers by type",
                "transform(travelers: u32 => travelers_by_type)",
                "at least one traveler",
            ],
        ),
        row(
            "step error, from v1, tag last",
            Strict,
            r#"{"destination":"Tokyo","travelers":0,"schema_version":2}"#,
            "step_failed",
            &["3 -> 4", "travelers", "at least one traveler"],
        ),
        // Malformed JSON.
        row(
            "truncated after the tag",
            Trip,
            r#"{"schema_version":2,"destination":"Tok"#,
            "invalid_data",
            &["EOF"],
        ),
        row(
            "truncated before the tag",
            Trip,
            r#"{"destination":"Tokyo","schema_ver"#,
            "invalid_data",
            &["EOF"],
        ),
        row(
            "truncated inside the tag",
            Trip,
            r#"{"schema_version":"#,
            "invalid_data",
            &["EOF"],
        ),
        row(
            "duplicate tag key",
            Trip,
            r#"{"schema_version":2,"destination":"Tokyo","travelers":3,"schema_version":9}"#,
            "invalid_tag",
            &["duplicate", TAG],
        )
        .invisible_to_reference(),
        // Deeply nested garbage, 5000 levels: where a value is buffered or
        // read it must stop at serde_json's recursion limit, not overflow the stack.
        row(
            "deep garbage after the tag",
            Trip,
            format!(
                r#"{{"schema_version":4,"destination_city":{}}}"#,
                deep("[", "]", 5000)
            ),
            "invalid_data",
            &["version 4", "sequence", "string"],
        ),
        row(
            "deep garbage in a transformed field",
            Trip,
            format!(
                r#"{{"schema_version":3,"destination_city":"Tokyo","travelers":{}}}"#,
                deep(r#"{"a":"#, "}", 5000)
            ),
            "invalid_data",
            &["version 3", "u32"],
        ),
        // Skipped, not buffered: no limit applies and nothing is wrong.
        row(
            "control: deep garbage in an unknown field after the tag",
            Trip,
            format!(
                r#"{{"schema_version":4,"junk":{},"destination_city":"Tokyo","travelers":{{"adults":1,"children":0}}}}"#,
                deep(r#"{"a":"#, "}", 5000)
            ),
            "ok",
            &[],
        ),
        row(
            "deep garbage in an unknown field before the tag",
            Trip,
            format!(
                r#"{{"junk":{},"destination_city":"Tokyo","travelers":{{"adults":1,"children":0}},"schema_version":4}}"#,
                deep(r#"{"a":"#, "}", 5000)
            ),
            "ok",
            &[],
        ),
        row(
            "deep garbage as the tag",
            Trip,
            format!(r#"{{"schema_version":{}}}"#, deep("[", "]", 5000)),
            "invalid_tag",
            &[TAG, "array"],
        ),
        row(
            "deep garbage as the payload",
            Trip,
            deep("[", "]", 5000),
            "invalid_data",
            &["sequence", TAG],
        ),
    ]
}

/// The typed error (`Ok(version)` on success) and serde_json's error text.
fn read(target: Target, payload: &str) -> (Result<u32, Error>, Result<(), String>) {
    match target {
        Target::Trip => (
            schema_migrate::json::from_str::<TripState>(payload).map(|s| s.version),
            serde_json::from_str::<TripState>(payload)
                .map(drop)
                .map_err(|e| e.to_string()),
        ),
        Target::Strict => (
            schema_migrate::json::from_str::<strict::TripState>(payload).map(|s| s.version),
            serde_json::from_str::<strict::TripState>(payload)
                .map(drop)
                .map_err(|e| e.to_string()),
        ),
    }
}

/// The reference path's kind, when the payload is valid JSON at all.
fn reference_kind(target: Target, payload: &str) -> Option<&'static str> {
    let value: Value = serde_json::from_str(payload).ok()?;
    let result = match target {
        Target::Trip => schema_migrate::reference::from_value::<TripState>(value).map(drop),
        Target::Strict => {
            schema_migrate::reference::from_value::<strict::TripState>(value).map(drop)
        }
    };
    Some(result.map_or_else(|e| e.kind(), |()| "ok"))
}

fn short(s: &str) -> String {
    if s.len() > 70 {
        format!("{}... ({} bytes)", &s[..60], s.len())
    } else {
        s.to_owned()
    }
}

/// Runs every row; returns the failures, printing the table as it goes.
fn run(rows: &[Row]) -> Vec<String> {
    let mut failures = Vec::new();
    println!("| row | payload | kind | message |\n|---|---|---|---|");
    for r in rows {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let (typed, serde) = read(r.target, &r.payload);
            (typed, serde, reference_kind(r.target, &r.payload))
        }));
        let Ok((typed, serde, reference)) = outcome else {
            failures.push(format!("{}: panicked", r.name));
            println!("| {} | `{}` | PANIC | |", r.name, short(&r.payload));
            continue;
        };
        let kind = typed.as_ref().map_or_else(Error::kind, |_| "ok");
        let message = typed
            .as_ref()
            .map_or_else(ToString::to_string, |v| format!("read as version {v}"));
        println!(
            "| {} | `{}` | {} | {} |",
            r.name,
            short(&r.payload),
            kind,
            short_message(&message)
        );
        let mut fail = |why: String| failures.push(format!("{}: {why}", r.name));
        if kind != r.kind {
            fail(format!("kind {kind}, expected {}: {message}", r.kind));
        }
        if serde.is_ok() != typed.is_ok() {
            fail(format!(
                "serde_json and the typed entry point disagree: {serde:?} vs {typed:?}"
            ));
        }
        if let Some(reference) = reference.filter(|_| r.reference_sees_it) {
            if reference != kind {
                fail(format!(
                    "reference path gives {reference}, typed path {kind}"
                ));
            }
        }
        if let (Err(err), Err(serde_text)) = (&typed, &serde) {
            if err.type_name() != "TripState" {
                fail(format!("type_name() is {}", err.type_name()));
            }
            for text in [&message, serde_text] {
                for fact in std::iter::once(&"TripState").chain(r.facts) {
                    if !text.contains(fact) {
                        fail(format!("message lacks {fact:?}: {text}"));
                    }
                }
            }
        }
    }
    failures
}

fn short_message(m: &str) -> String {
    if m.len() > 200 {
        format!("{}...", &m[..200])
    } else {
        m.replace('|', "\\|")
    }
}

fn run_rows() {
    let rows = rows();
    assert!(!rows.is_empty());
    let failures = run(&rows);
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_inputs_fail_with_typed_errors_that_say_what_and_where() {
    run_rows();
}

#[test]
fn the_table_itself_can_fail() {
    // A row expecting the wrong kind, and one expecting a fact the message
    // does not have, must both be reported.
    let failures = run(&[
        row(
            "wrong kind",
            Target::Trip,
            r#"{"schema_version":5}"#,
            "too_old",
            &[],
        ),
        row(
            "missing fact",
            Target::Trip,
            r#"{"schema_version":5}"#,
            "future_version",
            &["no such text"],
        ),
        row(
            "unexpected success",
            Target::Trip,
            r#"{"destination":"Tokyo"}"#,
            "invalid_data",
            &[],
        ),
    ]);
    assert_eq!(failures.len(), 4, "{failures:#?}");
}
