use schema_migrate::Versioned;

fn parse(s: String) -> u64 {
    s.len() as u64
}

#[derive(Versioned)]
#[schema(version = 2, write_version = 1, migrate(from = 1, transform(count: String => parse)))]
pub struct Job {
    pub count: u64,
}

fn main() {}
