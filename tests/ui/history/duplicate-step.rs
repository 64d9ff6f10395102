use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(
    version = 3,
    migrate(from = 1, description = "Added travelers", add(travelers = 1)),
    migrate(from = 1, description = "Added budget", add(budget)),
)]
pub struct TripState {
    pub destination: String,
    pub travelers: u32,
    pub budget: Option<f64>,
}

fn main() {
    let s: TripState = serde_json::from_str(r#"{"_version":1,"destination":"Tokyo"}"#).unwrap();
    println!("{s:?}");
}
