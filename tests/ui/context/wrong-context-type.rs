use schema_migrate::Versioned;

#[derive(Clone)]
pub struct Graph;
pub struct Tenant;

fn scoped(key: String, _tenant: &Tenant) -> String {
    key
}

#[derive(Versioned)]
#[schema(version = 2, context = Graph, migrate(from = 1, transform(key: String => scoped)))]
pub struct Memory {
    pub key: String,
}

fn main() {}
