use schema_migrate::Versioned;

#[derive(Clone)]
pub struct Graph;

fn scoped(key: String, _graph: &Graph) -> String {
    key
}

#[derive(Versioned)]
#[schema(version = 2, migrate(from = 1, transform(key: String => scoped)))]
pub struct Memory {
    pub key: String,
}

fn main() {}
