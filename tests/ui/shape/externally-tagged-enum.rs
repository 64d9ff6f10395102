use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 1)]
pub enum Task {
    Fetch { url: String },
    Sleep { seconds: u64 },
}

fn main() {
    let t: Task = serde_json::from_str(r#"{"Sleep":{"seconds":5}}"#).unwrap();
    println!("{t:?}");
}
