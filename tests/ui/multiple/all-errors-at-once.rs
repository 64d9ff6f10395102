use schema_migrate::Versioned;

// Four mistakes in one history: each is reported on its own token, and the
// uses of the type below produce no further errors.
#[derive(Debug, Versioned)]
#[schema(
    version = 3,
    tga = "schema_version",
    migrate(from = 1, description = "Added travelers", add(travellers = 1)),
    migrate(from = 2, description = "Renamed destination", rename(destination = destinaton_city)),
    migrate(from = 3, description = "Added budget", add(budget)),
)]
pub struct TripState {
    pub destination_city: String,
    pub travelers: u32,
    pub budget: Option<f64>,
}

fn main() {
    let s: TripState = serde_json::from_str(r#"{"schema_version":1,"destination":"Tokyo"}"#).unwrap();
    let back = serde_json::to_string(&s).unwrap();
    let value = serde_json::to_value(&s).unwrap();
    println!("{back} {value} {} {}", TripState::VERSION, TripState::TAG);
}
