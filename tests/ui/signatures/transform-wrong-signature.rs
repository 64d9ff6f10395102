use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, transform(count: u32 => widen)))]
struct Counter {
    count: String,
}

fn widen(count: u64) -> u64 {
    count
}

fn main() {}
