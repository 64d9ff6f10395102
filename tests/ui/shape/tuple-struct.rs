use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 1)]
pub struct UserId(pub u64);

fn main() {
    let id: UserId = serde_json::from_str("42").unwrap();
    println!("{id:?}");
}
