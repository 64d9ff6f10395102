use schema_migrate::Versioned;

mod v1 {
    use schema_migrate::Versioned;

    #[derive(Debug, Versioned)]
    #[schema(version = 1)]
    pub struct Settings {
        pub dark_mode: bool,
    }
}

// Version 3 needs the version-2 type as its previous version, not version 1.
#[derive(Debug, Versioned)]
#[schema(version = 3, migrate(from = v1::Settings, description = "Theme by name"))]
pub struct Settings {
    pub theme: String,
}

impl From<v1::Settings> for Settings {
    fn from(old: v1::Settings) -> Self {
        let theme = if old.dark_mode { "dark" } else { "light" };
        Settings { theme: theme.into() }
    }
}

fn main() {
    let s: Settings = serde_json::from_str(r#"{"_version":1,"dark_mode":true}"#).unwrap();
    println!("{s:?}");
}
