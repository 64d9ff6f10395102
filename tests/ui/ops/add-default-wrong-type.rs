use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Added travelers", add(travelers = "one")),
)]
pub struct TripState {
    pub destination: String,
    pub travelers: u32,
}

fn main() {
    let s: TripState = serde_json::from_str(r#"{"_version":1,"destination":"Tokyo"}"#).unwrap();
    println!("{s:?}");
}
