//! Release C's migration command line, for the rollback test: `--to 3`
//! writes its records down before release A is deployed again.

fn main() -> std::process::ExitCode {
    schema_migrate::store::cli::run::<schema_migrate_tests::rollout::c::TripState>()
}
