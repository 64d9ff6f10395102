use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, remove(legacy = 3)))]
pub struct Job {
    pub name: String,
}

fn main() {}
