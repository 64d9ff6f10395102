use schema_migrate::Versioned;

mod v1 {
    use schema_migrate::Versioned;

    #[derive(Debug, Versioned)]
    #[schema(version = 1)]
    pub struct Settings {
        pub dark_mode: bool,
    }
}

#[derive(Debug, Versioned)]
#[schema(version = 2, migrate(from = v1::Settings, description = "Theme by name", add(language)))]
pub struct Settings {
    pub theme: String,
    pub language: String,
}

impl From<v1::Settings> for Settings {
    fn from(old: v1::Settings) -> Self {
        let theme = if old.dark_mode { "dark" } else { "light" };
        Settings { theme: theme.into(), language: String::new() }
    }
}

fn main() {
    let s: Settings = serde_json::from_str(r#"{"_version":1,"dark_mode":true}"#).unwrap();
    println!("{s:?}");
}
