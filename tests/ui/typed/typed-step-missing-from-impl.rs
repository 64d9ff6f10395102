use schema_migrate::Versioned;

mod v1 {
    use schema_migrate::Versioned;

    #[derive(Debug, Versioned)]
    #[schema(version = 1)]
    pub struct Settings {
        pub dark_mode: bool,
    }
}

// No `impl From<v1::Settings> for Settings`.
#[derive(Debug, Versioned)]
#[schema(version = 2, migrate(from = v1::Settings, description = "Theme by name"))]
pub struct Settings {
    pub theme: String,
}

fn main() {
    let s: Settings = serde_json::from_str(r#"{"_version":1,"dark_mode":true}"#).unwrap();
    println!("{s:?}");
}
