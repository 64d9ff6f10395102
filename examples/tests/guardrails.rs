//! The README demo's types against their committed lock files
//! (`examples/locks/`) and golden fixtures (`examples/fixtures/<Type>/`):
//! the test the README's "Guardrails in CI" tells users to add.

use schema_migrate_examples::{Message, TripState};

#[test]
fn trip_state_is_locked() {
    schema_migrate::testing::assert_schema_lock::<TripState>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/locks"
    ));
    schema_migrate::testing::assert_fixtures::<TripState>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/TripState"
    ));
}

#[test]
fn message_is_locked() {
    schema_migrate::testing::assert_schema_lock::<Message>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/locks"
    ));
    schema_migrate::testing::assert_fixtures::<Message>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/Message"
    ));
}
