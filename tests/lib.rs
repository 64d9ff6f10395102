//! Fixtures and checks shared by the integration tests.

/// Real database servers (PostgreSQL, Redis) started on free local ports.
pub mod servers;

/// Reads `payload` through serde_json, the typed entry point and the
/// reference path, and checks that all three agree with `expected`.
#[track_caller]
pub fn read_all_ways<T>(payload: &str, expected: &T, stored_at: u32)
where
    T: schema_migrate::DeserializeVersionedOwned
        + serde::de::DeserializeOwned
        + PartialEq
        + std::fmt::Debug,
{
    let by_serde: T = serde_json::from_str(payload).unwrap_or_else(|e| panic!("{payload}: {e}"));
    assert_eq!(&by_serde, expected, "serde_json, {payload}");
    let stored = schema_migrate::json::from_str::<T>(payload)
        .unwrap_or_else(|e| panic!("json::from_str, {payload}: {e}"));
    assert_eq!(&stored.value, expected, "json::from_str, {payload}");
    assert_eq!(stored.version, stored_at, "stored version, {payload}");
    let by_reference =
        schema_migrate::reference::from_value::<T>(serde_json::from_str(payload).unwrap())
            .unwrap_or_else(|e| panic!("reference, {payload}: {e}"));
    assert_eq!(&by_reference.value, expected, "reference, {payload}");
    assert_eq!(
        by_reference.version, stored_at,
        "reference version, {payload}"
    );
    assert_eq!(
        stored.upgraded, by_reference.upgraded,
        "whether anything was upgraded, {payload}"
    );
    // The same entries with the tag in the middle and last, as a store that
    // reorders keys (PostgreSQL JSONB) gives them back.
    for moved in tag_moved(payload, T::TAG) {
        let by_serde: T = serde_json::from_str(&moved).unwrap_or_else(|e| panic!("{moved}: {e}"));
        assert_eq!(&by_serde, expected, "serde_json, {moved}");
        let stored = schema_migrate::json::from_str::<T>(&moved)
            .unwrap_or_else(|e| panic!("json::from_str, {moved}: {e}"));
        assert_eq!(&stored.value, expected, "json::from_str, {moved}");
        assert_eq!(stored.version, stored_at, "stored version, {moved}");
    }
}

/// `payload`'s top-level entries, in sorted order, with the tag moved to the
/// middle and to the end (nothing if the payload has no tag or is not an
/// object).
pub fn tag_moved(payload: &str, tag: &str) -> Vec<String> {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(payload) else {
        return Vec::new();
    };
    let Some(tag_value) = object.get(tag) else {
        return Vec::new();
    };
    let entries: Vec<String> = object
        .iter()
        .filter(|(k, _)| *k != tag)
        .map(|(k, v)| format!("{}:{v}", serde_json::Value::from(k.as_str())))
        .collect();
    let tag_entry = format!("{}:{tag_value}", serde_json::Value::from(tag));
    let mut out = Vec::new();
    for at in [entries.len() / 2, entries.len()] {
        let mut e = entries.clone();
        e.insert(at, tag_entry.clone());
        out.push(format!("{{{}}}", e.join(",")));
    }
    out.dedup();
    out
}

/// Serializes `value`, checks the exact text, and reads it back.
#[track_caller]
pub fn round_trip<T>(value: &T, expected_json: &str)
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value).unwrap();
    assert_eq!(text, expected_json);
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(&back, value, "round trip of {text}");
}

/// The backend-generic store suite and the crash test driver.
#[cfg(feature = "store")]
pub mod store;

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

/// Three releases of one agent state during a rolling deploy: A writes
/// version 3; B reads version 4 but still writes 3; C writes 4.
pub mod rollout {
    pub fn by_type(count: u32) -> Vec<String> {
        vec!["adult".to_owned(); count as usize]
    }

    pub fn count(travelers: Vec<String>) -> u32 {
        travelers.len() as u32
    }

    /// Release A.
    pub mod a {
        use schema_migrate::Versioned;

        #[derive(Debug, Clone, PartialEq, Versioned)]
        #[schema(
            version = 3,
            migrate(from = 1, description = "Added travelers", add(travelers = 1)),
            migrate(from = 2, description = "Renamed destination", rename(destination = city)),
        )]
        pub struct TripState {
            pub city: String,
            pub travelers: u32,
        }
    }

    /// Release B: version 4 is read, version 3 written.
    pub mod b {
        use schema_migrate::Versioned;

        #[derive(Debug, Clone, PartialEq, Versioned)]
        #[schema(
            version = 4,
            write_version = 3,
            migrate(from = 1, description = "Added travelers", add(travelers = 1)),
            migrate(from = 2, description = "Renamed destination", rename(destination = city)),
            migrate(from = 3, description = "Travelers by type",
                transform(travelers: u32 => super::by_type, back = super::count), add(budget)),
        )]
        pub struct TripState {
            pub city: String,
            pub travelers: Vec<String>,
            pub budget: Option<u32>,
        }
    }

    /// Release C: B without `write_version`.
    pub mod c {
        use schema_migrate::Versioned;

        #[derive(Debug, Clone, PartialEq, Versioned)]
        #[schema(
            version = 4,
            migrate(from = 1, description = "Added travelers", add(travelers = 1)),
            migrate(from = 2, description = "Renamed destination", rename(destination = city)),
            migrate(from = 3, description = "Travelers by type",
                transform(travelers: u32 => super::by_type, back = super::count), add(budget)),
        )]
        pub struct TripState {
            pub city: String,
            pub travelers: Vec<String>,
            pub budget: Option<u32>,
        }
    }
}

/// The PostHog case of steps that see their context: one assistant state
/// split per graph, where a subgraph's checkpoint needs a different step
/// from the root's.
pub mod posthog {
    use schema_migrate::Versioned;
    use serde_json::{json, Map, Value};

    /// Where a checkpoint lives, as the checkpoint table's columns say.
    #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
    pub struct GraphCtx {
        pub checkpoint_ns: String,
        pub thread_type: String,
    }

    impl GraphCtx {
        pub fn root() -> Self {
            GraphCtx {
                checkpoint_ns: String::new(),
                thread_type: "conversation".into(),
            }
        }
        pub fn subgraph(ns: &str) -> Self {
            GraphCtx {
                checkpoint_ns: ns.into(),
                thread_type: "conversation".into(),
            }
        }
        pub fn is_root(&self) -> bool {
            self.checkpoint_ns.is_empty()
        }
    }

    /// Version 1 held every graph's messages in one list; version 2 keeps the
    /// root's under `messages` and moves a subgraph's to `subgraph_messages`,
    /// which only the context can tell apart.
    fn split_per_graph(state: &mut Map<String, Value>, ctx: &GraphCtx) -> Result<(), String> {
        let messages = state.remove("messages").ok_or("no messages")?;
        if ctx.is_root() {
            state.insert("messages".into(), messages);
            state.insert("subgraph_messages".into(), json!([]));
        } else {
            state.insert("messages".into(), json!([]));
            state.insert("subgraph_messages".into(), messages);
        }
        Ok(())
    }

    fn join_per_graph(state: &mut Map<String, Value>, ctx: &GraphCtx) -> Result<(), String> {
        let root = state.remove("messages").ok_or("no messages")?;
        let sub = state
            .remove("subgraph_messages")
            .ok_or("no subgraph messages")?;
        state.insert("messages".into(), if ctx.is_root() { root } else { sub });
        Ok(())
    }

    /// A transform that takes the context, and one that does not, in one history.
    fn mode_for(flag: bool, ctx: &GraphCtx) -> String {
        match (flag, ctx.thread_type.as_str()) {
            (true, "task") => "background".into(),
            (true, _) => "interactive".into(),
            (false, _) => "off".into(),
        }
    }
    fn flag_of(mode: &String, _ctx: &GraphCtx) -> bool {
        mode != "off"
    }
    fn upper(s: String) -> String {
        s.to_uppercase()
    }
    #[allow(
        clippy::ptr_arg,
        reason = "a back function borrows the field as its type is"
    )]
    fn lower(s: &String) -> String {
        s.to_lowercase()
    }

    #[derive(Debug, Clone, PartialEq, Versioned)]
    #[schema(
        version = 3,
        context = GraphCtx,
        migrate(from = 1, description = "Split per graph", with = split_per_graph, back = join_per_graph),
        migrate(from = 2, description = "Mode", transform(streaming: bool => mode_for, back = flag_of),
                transform(title: String => upper, back = lower)),
    )]
    pub struct AssistantState {
        pub messages: Vec<String>,
        pub subgraph_messages: Vec<String>,
        pub streaming: String,
        pub title: String,
        #[serde(default)]
        pub memory: Option<Memory>,
    }

    /// A nested versioned type with a context type of its own.
    #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
    pub struct Tenant(pub String);

    fn scoped(key: String, tenant: &Tenant) -> String {
        format!("{}/{key}", tenant.0)
    }

    #[derive(Debug, Clone, PartialEq, Versioned)]
    #[schema(version = 2, context = Tenant, migrate(from = 1, transform(key: String => scoped)))]
    pub struct Memory {
        pub key: String,
    }
}
