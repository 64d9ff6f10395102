use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(tag = "schema_version")]
pub struct Settings {
    pub theme: String,
}

fn main() {
    let s: Settings = serde_json::from_str(r#"{"schema_version":1,"theme":"dark"}"#).unwrap();
    println!("{s:?}");
}
