use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(
    version = 3,
    write_version = 1,
    migrate(from = 1, remove(legacy)),
    migrate(from = 2, add(retries = 3)),
)]
pub struct Job {
    pub retries: u32,
}

fn main() {}
