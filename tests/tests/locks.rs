//! The project's own guardrails, as a user's CI runs them: the store
//! suite's versioned types against their committed lock files
//! (`tests/locks/`) and golden fixtures (`tests/fixtures/<Type>/`). A change
//! to the types or their steps that the files do not record fails here, so
//! `.ci/run` fails until it is versioned (or, for unreleased work, blessed
//! with `SCHEMA_MIGRATE_BLESS=1 cargo test` and committed).

use schema_migrate::testing::{assert_fixtures, assert_schema_lock};
use schema_migrate_tests::posthog::{AssistantState, GraphCtx};
use schema_migrate_tests::rollout;
use schema_migrate_tests::store::fixture::{Message, TripState};

const LOCKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/locks");

#[test]
fn trip_state_is_locked() {
    assert_schema_lock::<TripState>(LOCKS);
    assert_fixtures::<TripState>(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/TripState"));
}

#[test]
fn message_is_locked() {
    assert_schema_lock::<Message>(LOCKS);
    assert_fixtures::<Message>(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/Message"));
}

/// Release C of the rolling-deploy test (its lock beside the store suite's
/// `TripState`, in a directory of its own).
#[test]
fn the_rollout_state_is_locked() {
    assert_schema_lock::<rollout::c::TripState>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/locks/rollout"
    ));
    assert_fixtures::<rollout::c::TripState>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rollout/TripState"
    ));
}

/// A type whose steps take a context: its fixtures load inside the context
/// they were stored in (a subgraph's checkpoint here).
#[test]
fn the_assistant_state_is_locked() {
    assert_schema_lock::<AssistantState>(LOCKS);
    let subgraph = GraphCtx::subgraph("planner:1");
    schema_migrate::with_context(&subgraph, || {
        schema_migrate::with_context(
            &schema_migrate_tests::posthog::Tenant("acme".into()),
            || {
                assert_fixtures::<AssistantState>(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/fixtures/AssistantState"
                ));
            },
        )
    });
}
