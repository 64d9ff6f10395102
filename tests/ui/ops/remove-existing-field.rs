use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Dropped the legacy score", remove(score)),
)]
pub struct Session {
    pub user: String,
    pub score: u32,
}

fn main() {
    let s: Session = serde_json::from_str(r#"{"_version":1,"user":"ada","score":3}"#).unwrap();
    println!("{s:?}");
}
