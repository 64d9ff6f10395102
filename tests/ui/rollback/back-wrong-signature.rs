use schema_migrate::Versioned;

fn parse(s: String) -> u64 {
    s.len() as u64
}
fn show(n: u32) -> String {
    n.to_string()
}

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, transform(count: String => parse, back = show)))]
pub struct Job {
    pub count: u64,
}

fn main() {}
