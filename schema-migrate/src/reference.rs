//! The reference upgrade path: parse to [`serde_json::Value`], apply each
//! step to the object, then read the current version.
//!
//! This is how a step's meaning is specified. The derive's typed readers do
//! the same in a single pass without building a `Value`, and are tested to
//! agree with this path; use it to check a history by hand, not for speed.

use serde_json::Value;

use crate::de::stored_version;
use crate::{DeserializeVersionedOwned, Error, Stored};

/// Upgrades a stored JSON value to `T` through the reference path.
///
/// ```
/// use schema_migrate::Versioned;
///
/// #[derive(Debug, PartialEq, Versioned)]
/// #[schema(version = 2, migrate(from = 1, add(retries = 3)))]
/// struct Job { name: String, retries: u32 }
///
/// let old = serde_json::json!({"_version": 1, "name": "sync"});
/// let by_reference = schema_migrate::reference::from_value::<Job>(old.clone())?;
/// let by_serde: Job = serde_json::from_value(old)?;
/// assert_eq!(by_reference.value, by_serde);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_value<T: DeserializeVersionedOwned>(value: Value) -> Result<Stored<T>, Error> {
    let Value::Object(mut object) = value else {
        return Err(Error::InvalidData {
            type_name: T::NAME,
            version: None,
            message: format!(
                "expected a {} object with version tag `{}`",
                T::NAME,
                T::TAG
            ),
        });
    };
    let found = object.remove(T::TAG).map(|tag| match tag {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("the number {n}")),
        other => Err(describe(&other)),
    });
    let version = stored_version::<T>(found)?;
    let before = crate::de::upgrades();
    T::__read_value(version, object).map(|value| Stored {
        value,
        version,
        upgraded: version < T::VERSION || crate::de::upgrades() != before,
    })
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}
