use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 1)]
pub struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

fn main() {
    let text = String::from(r#"{"_version":1,"role":"user","content":"hi"}"#);
    let m: Message = serde_json::from_str(&text).unwrap();
    println!("{m:?}");
}
