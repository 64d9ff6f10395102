use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Renamed name", rename(name = title), remove(name)),
)]
pub struct Document {
    pub title: String,
}

fn main() {
    let d: Document = serde_json::from_str(r#"{"_version":1,"name":"notes"}"#).unwrap();
    println!("{d:?}");
}
