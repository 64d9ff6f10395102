use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(transparent)]
#[schema(version = 1)]
pub struct Email {
    pub address: String,
}

fn main() {
    let e: Email = serde_json::from_str(r#""ada@example.com""#).unwrap();
    println!("{e:?}");
}
