//! The ready command line on the travel state: all a user writes to get a
//! batch migration tool for their own type.
//!
//! `cargo run -p schema-migrate-examples --bin migrate -- --store sqlite:checkpoints.db --table checkpoints --dry-run`

fn main() -> std::process::ExitCode {
    schema_migrate::store::cli::run::<schema_migrate_examples::TripState>()
}
