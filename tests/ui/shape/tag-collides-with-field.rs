use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 1, tag = "version")]
pub struct Package {
    pub name: String,
    pub version: String,
}

fn main() {
    let p: Package = serde_json::from_str(r#"{"version":"1.0.0","name":"demo"}"#).unwrap();
    println!("{p:?}");
}
