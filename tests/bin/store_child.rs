//! The crash test's child process: the ready command line of
//! `schema_migrate::store::cli` on the store suite's type, exactly the
//! five-line `main` a user writes.

fn main() -> std::process::ExitCode {
    schema_migrate::store::cli::run::<schema_migrate_tests::store::fixture::TripState>()
}
