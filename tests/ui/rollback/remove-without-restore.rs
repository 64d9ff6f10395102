use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 2, write_version = 1, migrate(from = 1, remove(legacy: String)))]
pub struct Job {
    pub name: String,
}

fn main() {}
