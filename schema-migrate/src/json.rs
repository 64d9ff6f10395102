//! JSON entry points that return the typed [`Error`] and the stored version.
//!
//! `serde_json::from_str::<T>` works on any versioned type; these functions
//! are for callers that want to match on what went wrong (a future version,
//! a failed step) or know whether the record was upgraded.

use serde_json::Value;

use crate::de::with_typed_errors;
use crate::late::tag_error;
use crate::{DeserializeVersioned, DeserializeVersionedOwned, Error, Stored};

/// Reads a JSON document as `T`, upgrading it from whatever version it was stored at.
///
/// ```
/// use schema_migrate::{Error, Versioned};
///
/// #[derive(Debug, Versioned)]
/// #[schema(version = 2, migrate(from = 1, rename(title = name)))]
/// struct Doc { name: String }
///
/// let stored = schema_migrate::json::from_str::<Doc>(r#"{"_version":1,"title":"a"}"#)?;
/// assert_eq!((stored.value.name.as_str(), stored.version), ("a", 1));
///
/// let err = schema_migrate::json::from_str::<Doc>(r#"{"_version":3,"name":"a"}"#).unwrap_err();
/// assert!(matches!(err, Error::FutureVersion { found: 3, current: 2, .. }));
/// # Ok::<(), Error>(())
/// ```
pub fn from_str<'a, T: DeserializeVersioned<'a>>(s: &'a str) -> Result<Stored<T>, Error> {
    with_typed_errors(|| serde_json::from_str::<Stored<T>>(s), invalid::<T>).map_err(|e| {
        the_version_first::<T>(e, || {
            tag_error::<T, _>(&mut serde_json::Deserializer::from_str(s))
        })
    })
}

/// Like [`from_str`], from bytes.
pub fn from_slice<'a, T: DeserializeVersioned<'a>>(v: &'a [u8]) -> Result<Stored<T>, Error> {
    with_typed_errors(|| serde_json::from_slice::<Stored<T>>(v), invalid::<T>).map_err(|e| {
        the_version_first::<T>(e, || {
            tag_error::<T, _>(&mut serde_json::Deserializer::from_slice(v))
        })
    })
}

/// A payload whose tag comes late may fail on a field read before the tag
/// was seen. If the tag itself is the problem (a future version, say), that
/// is the error to report, as it is when the tag comes first.
#[cold]
fn the_version_first<T: crate::Versioned>(
    err: Error,
    tag: impl FnOnce() -> Option<Error>,
) -> Error {
    match &err {
        Error::InvalidData {
            type_name,
            version: None,
            ..
        } if *type_name == T::NAME => tag().unwrap_or(err),
        _ => err,
    }
}

/// Like [`from_str`], from a parsed [`Value`].
pub fn from_value<T: DeserializeVersionedOwned>(value: Value) -> Result<Stored<T>, Error> {
    with_typed_errors(|| serde_json::from_value::<Stored<T>>(value), invalid::<T>)
}

fn invalid<T: crate::Versioned>(message: String) -> Error {
    Error::InvalidData {
        type_name: T::NAME,
        version: None,
        message,
    }
}
