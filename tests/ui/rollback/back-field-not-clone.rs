use schema_migrate::Versioned;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Count(u64);

fn up(n: u64) -> Count {
    Count(n)
}
fn down(c: Count) -> u64 {
    c.0
}

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, transform(count: u64 => up, back = down)))]
pub struct Job {
    pub count: Count,
}

fn main() {}
