use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(
    version = 2,
    migrate(from = 1, description = "Travelers by type", transform(travellers: u32 => by_type)),
)]
pub struct TripState {
    pub destination: String,
    pub travelers: Travelers,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Travelers {
    pub adults: u32,
    pub children: u32,
}

fn by_type(count: u32) -> Travelers {
    Travelers { adults: count, children: 0 }
}

fn main() {
    let s: TripState = serde_json::from_str(r#"{"_version":1,"destination":"Tokyo","travelers":2}"#).unwrap();
    println!("{s:?}");
}
