use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(tag = "type")]
#[schema(version = 2, migrate(from = 1, rename_variant(Pair = Point)))]
pub enum Shape {
    Point(u32, u32),
    Circle { radius: u32 },
}

fn main() {
    let _ = serde_json::from_str::<Shape>(r#"{"_version":1,"type":"Circle","radius":1}"#);
}
