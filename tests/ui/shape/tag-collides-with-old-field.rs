use schema_migrate::Versioned;

// Version 1 stored the package's own version as `version`, which is also the
// version tag: a stored version 1 payload would be ambiguous.
#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    tag = "version",
    migrate(from = 1, description = "Renamed version", rename(version = package_version)),
)]
pub struct Package {
    pub name: String,
    pub package_version: String,
}

fn main() {
    let p: Package = serde_json::from_str(r#"{"version":2,"name":"demo","package_version":"1.0.0"}"#).unwrap();
    println!("{p:?}");
}
