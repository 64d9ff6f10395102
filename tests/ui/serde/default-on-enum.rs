use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(tag = "type", default)]
#[schema(version = 1)]
pub enum Contact {
    Email { address: String },
    Phone { number: String },
}

fn main() {
    let c: Contact = serde_json::from_str(r#"{"_version":1,"type":"Email","address":"a"}"#).unwrap();
    println!("{c:?}");
}
