use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(tag = "type")]
#[schema(version = 2, migrate(from = 1, rename_variant(Mail = Email)))]
pub enum Contact {
    #[serde(renme = "email")]
    Email { address: String },
    Phone { number: String },
}

fn main() {
    let c: Contact = serde_json::from_str(r#"{"_version":1,"type":"Mail","address":"a"}"#).unwrap();
    println!("{c:?}");
}
