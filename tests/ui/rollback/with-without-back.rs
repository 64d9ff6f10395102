use schema_migrate::Versioned;

fn nest(_: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    Ok(())
}

#[derive(Versioned)]
#[schema(version = 2, write_version = 1, migrate(from = 1, with = nest))]
pub struct Job {
    pub count: u64,
}

fn main() {}
