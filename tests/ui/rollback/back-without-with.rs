use schema_migrate::Versioned;

fn flatten(_: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    Ok(())
}

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, add(count), back = flatten))]
pub struct Job {
    pub count: u64,
}

fn main() {}
