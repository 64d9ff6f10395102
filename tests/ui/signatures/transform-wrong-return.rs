use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, transform(count: u32 => double)))]
struct Counter {
    count: String,
}

fn double(count: u32) -> u64 {
    u64::from(count) * 2
}

fn main() {}
