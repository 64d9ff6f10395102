use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Renamed destination", rename_variant(destination = destination_city)),
)]
pub struct TripState {
    pub destination_city: String,
}

fn main() {
    let s: TripState = serde_json::from_str(r#"{"_version":1,"destination":"Tokyo"}"#).unwrap();
    println!("{s:?}");
}
