//! Fixtures shared by the integration tests.

/// The four-version travel state of the README, as users write it.
pub mod travel {
    use schema_migrate::Versioned;

    #[derive(Debug, PartialEq, Versioned)]
    #[schema(
        version = 4,
        tag = "schema_version",
        migrate(from = 1, description = "Added travelers", add(travelers = 1)),
        migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
        migrate(from = 3, description = "Travelers by type", transform(travelers: u32 => travelers_by_type)),
    )]
    pub struct TripState {
        pub destination_city: String,
        pub travelers: Travelers,
        #[serde(default)]
        pub budget: Option<f64>,
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Travelers {
        pub adults: u32,
        pub children: u32,
    }

    pub fn travelers_by_type(count: u32) -> Travelers {
        Travelers {
            adults: count,
            children: 0,
        }
    }
}
