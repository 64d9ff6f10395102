use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, add(retries = 3), reversible))]
pub struct Job {
    pub retries: u32,
}

fn main() {}
