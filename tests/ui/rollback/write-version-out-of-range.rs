use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 3, oldest = 2, write_version = 1, migrate(from = 2, add(retries = 3)))]
pub struct Job {
    pub retries: u32,
}

fn main() {}
