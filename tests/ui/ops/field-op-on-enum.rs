use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(tag = "type")]
#[schema(
    version = 2,
    migrate(from = 1, description = "Added retries", add(retries = 3)),
)]
pub enum Task {
    Fetch { url: String, retries: u32 },
    Sleep { seconds: u64 },
}

fn main() {
    let t: Task = serde_json::from_str(r#"{"_version":1,"type":"Fetch","url":"https://example.com"}"#).unwrap();
    println!("{t:?}");
}
