//! The ready command line wired to a LangGraph-style agent state whose
//! fields are LangGraph channels stored inline in the checkpoint (primitive
//! channel values stay in `checkpoint -> 'channel_values'`). Used by the
//! side-by-side benchmark with langmigrate (`examples/benches/langmigrate/`),
//! which runs the same three steps through both tools.
//!
//! `checkpoint-migrate --store postgres://... --table checkpoints \
//!     --key thread_id,checkpoint_ns,checkpoint_id --payload checkpoint --path /channel_values`

use schema_migrate::Versioned;

/// The agent state as release 4 knows it. Release 1 wrote
/// `{destination, travelers, budget: "1200.50", summary}` without a tag
/// (read as version 1, the oldest).
#[derive(Debug, Clone, PartialEq, Versioned)]
#[schema(
    version = 4,
    tag = "schema_version",
    migrate(from = 1, description = "Added currency", add(currency = "EUR".to_string())),
    migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
    migrate(from = 3, description = "Budget as a number", transform(budget: String => parse_budget)),
)]
pub struct AgentState {
    /// Where to.
    pub destination_city: String,
    /// How many travel.
    pub travelers: u32,
    /// The budget, a number since version 4 (text before).
    pub budget: f64,
    /// The currency of the budget (version 2 on; "EUR" for older states).
    pub currency: String,
    /// A running summary of the conversation.
    pub summary: String,
}

fn parse_budget(text: String) -> Result<f64, std::num::ParseFloatError> {
    text.trim().parse()
}

fn main() -> std::process::ExitCode {
    schema_migrate::store::cli::run::<AgentState>()
}
