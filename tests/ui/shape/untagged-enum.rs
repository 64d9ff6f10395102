use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(untagged)]
#[schema(version = 1)]
pub enum Task {
    Fetch { url: String },
    Sleep { seconds: u64 },
}

fn main() {
    let t: Task = serde_json::from_str(r#"{"seconds":5}"#).unwrap();
    println!("{t:?}");
}
