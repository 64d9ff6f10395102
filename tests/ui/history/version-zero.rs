use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 0)]
pub struct Settings {
    pub theme: String,
}

fn main() {
    let s: Settings = serde_json::from_str(r#"{"_version":0,"theme":"dark"}"#).unwrap();
    println!("{s:?}");
}
