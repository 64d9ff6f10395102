use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, remove(legacy: u32 = "none")))]
pub struct Job {
    pub name: String,
}

fn main() {}
