use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(tag = "type")]
#[schema(
    version = 2,
    migrate(from = 1, description = "Renamed Wait", rename_variant(Wait = Slep)),
)]
pub enum Task {
    Fetch { url: String },
    Sleep { seconds: u64 },
}

fn main() {
    let t: Task = serde_json::from_str(r#"{"_version":1,"type":"Wait","seconds":5}"#).unwrap();
    println!("{t:?}");
}
