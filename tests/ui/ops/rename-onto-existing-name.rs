use schema_migrate::Versioned;

// At version 2 both `name` and `title` exist, so renaming `name` to `title`
// in the step from 1 would leave version 2's `name` with no source.
#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Renamed name", rename(name = title)),
)]
pub struct Document {
    pub name: String,
    pub title: String,
}

fn main() {
    let d: Document = serde_json::from_str(r#"{"_version":1,"name":"notes"}"#).unwrap();
    println!("{d:?}");
}
