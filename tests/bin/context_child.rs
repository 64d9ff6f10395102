//! The ready command line on the PostHog-style assistant state, whose steps
//! take the graph a checkpoint belongs to (`--context-columns`).

fn main() -> std::process::ExitCode {
    schema_migrate::store::cli::run::<schema_migrate_tests::posthog::AssistantState>()
}
