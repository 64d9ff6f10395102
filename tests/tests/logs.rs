//! `tracing` events of the `schema_migrate` target: one per upgrade (type,
//! from and to versions), one per applied step (its description), and a
//! warning per failed read.

use std::io;
use std::sync::{Arc, Mutex};

use schema_migrate::Versioned;
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    tag = "schema_version",
    migrate(from = 1, description = "Added travelers", add(travelers = 1)),
    migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
)]
pub struct LoggedTrip {
    pub destination_city: String,
    pub travelers: u32,
}

#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Nested step", add(n = 7))
)]
pub struct Inner {
    pub n: u32,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
pub struct Outer {
    pub inner: Inner,
}

/// A `MakeWriter` that appends everything to one shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `f` with a fmt subscriber at `level` writing into a fresh buffer,
/// and returns the buffer's lines.
fn capture(level: Level, f: impl FnOnce()) -> Vec<String> {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(level)
        .with_ansi(false)
        .without_time()
        .with_target(true)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    buffer.text().lines().map(str::to_owned).collect()
}

fn from_our_target(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains(" schema_migrate: "))
        .collect()
}

#[test]
fn an_upgrade_emits_a_debug_event_with_type_and_versions() {
    let lines = capture(Level::DEBUG, || {
        let trip: LoggedTrip =
            serde_json::from_str(r#"{"schema_version":1,"destination":"Tokyo"}"#).unwrap();
        assert_eq!(trip.travelers, 1);
    });
    let ours = from_our_target(&lines);
    assert_eq!(ours.len(), 1, "{lines:#?}");
    let line = ours[0];
    assert!(line.starts_with("DEBUG schema_migrate: "), "{line}");
    assert!(line.contains("upgraded on read"), "{line}");
    assert!(line.contains(r#"type_name="LoggedTrip""#), "{line}");
    assert!(line.contains(" from=1"), "{line}");
    assert!(line.contains(" to=3"), "{line}");
}

#[test]
fn a_current_payload_emits_no_upgrade_event() {
    let lines = capture(Level::TRACE, || {
        let trip: LoggedTrip = serde_json::from_str(
            r#"{"schema_version":3,"destination_city":"Tokyo","travelers":2}"#,
        )
        .unwrap();
        assert_eq!(trip.travelers, 2);
    });
    assert_eq!(from_our_target(&lines), Vec::<&String>::new(), "{lines:#?}");
}

#[test]
fn each_applied_step_emits_a_trace_event_with_its_description() {
    let lines = capture(Level::TRACE, || {
        let _: LoggedTrip =
            serde_json::from_str(r#"{"destination":"Tokyo","schema_version":1}"#).unwrap();
    });
    let ours = from_our_target(&lines);
    assert_eq!(ours.len(), 3, "{lines:#?}");
    assert!(
        ours[0].starts_with("TRACE schema_migrate: step applied"),
        "{}",
        ours[0]
    );
    assert!(
        ours[0].contains(r#"description="Added travelers""#),
        "{}",
        ours[0]
    );
    assert!(ours[0].contains(" from=1 to=2"), "{}", ours[0]);
    assert!(
        ours[1].contains(r#"description="Renamed destination""#),
        "{}",
        ours[1]
    );
    assert!(ours[1].contains(" from=2 to=3"), "{}", ours[1]);
    assert!(
        ours[2].starts_with("DEBUG schema_migrate: upgraded on read"),
        "{}",
        ours[2]
    );
}

#[test]
fn a_nested_upgrade_names_the_nested_type() {
    let lines = capture(Level::DEBUG, || {
        let outer: Outer = serde_json::from_str(r#"{"inner":{"_version":1}}"#).unwrap();
        assert_eq!(outer.inner.n, 7);
    });
    let ours = from_our_target(&lines);
    assert_eq!(ours.len(), 1, "{lines:#?}");
    assert!(ours[0].contains(r#"type_name="Inner""#), "{}", ours[0]);
    assert!(ours[0].contains(" from=1 to=2"), "{}", ours[0]);
}

#[test]
fn a_failed_read_emits_a_warning() {
    let lines = capture(Level::WARN, || {
        let err = serde_json::from_str::<LoggedTrip>(
            r#"{"schema_version":9,"destination_city":"Tokyo"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("LoggedTrip: stored at version 9"),
            "{err}"
        );
    });
    let ours = from_our_target(&lines);
    assert_eq!(ours.len(), 1, "{lines:#?}");
    let line = ours[0];
    assert!(
        line.starts_with(" WARN schema_migrate: read failed"),
        "{line}"
    );
    assert!(line.contains(r#"type_name="LoggedTrip""#), "{line}");
    assert!(line.contains(r#"kind="future_version""#), "{line}");
    assert!(
        line.contains("error=LoggedTrip: stored at version 9, newer than the version 3"),
        "{line}"
    );
}

#[test]
fn invalid_data_and_missing_fields_also_warn() {
    let lines = capture(Level::WARN, || {
        // Version 2 requires `travelers`.
        let err = schema_migrate::json::from_str::<LoggedTrip>(
            r#"{"schema_version":2,"destination":"Tokyo"}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), "invalid_data");
    });
    let ours = from_our_target(&lines);
    assert_eq!(ours.len(), 1, "{lines:#?}");
    assert!(ours[0].contains(r#"kind="invalid_data""#), "{}", ours[0]);
    assert!(ours[0].contains("missing field `travelers`"), "{}", ours[0]);
}

#[test]
fn warn_level_hides_the_upgrade_event() {
    let lines = capture(Level::WARN, || {
        let _: LoggedTrip =
            serde_json::from_str(r#"{"schema_version":1,"destination":"Tokyo"}"#).unwrap();
    });
    assert_eq!(lines, Vec::<String>::new());
}
