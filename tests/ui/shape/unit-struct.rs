use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 1)]
pub struct Heartbeat;

fn main() {
    let h: Heartbeat = serde_json::from_str("null").unwrap();
    println!("{h:?}");
}
