//! JSON entry points that return the typed [`Error`] and the stored version.
//!
//! `serde_json::from_str::<T>` works on any versioned type; these functions
//! are for callers that want to match on what went wrong (a future version,
//! a failed step) or know whether the record was upgraded.

use serde_json::Value;

use crate::de::{with_tag_deciding, with_typed_errors};
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
    read::<T>(|| serde_json::from_str::<Stored<T>>(s))
}

/// Like [`from_str`], from bytes.
pub fn from_slice<'a, T: DeserializeVersioned<'a>>(v: &'a [u8]) -> Result<Stored<T>, Error> {
    read::<T>(|| serde_json::from_slice::<Stored<T>>(v))
}

/// Reads with the single-pass reader; if that fails, reads again with every
/// object's tag deciding first (at every depth), and reports that read's
/// error. A field read before a late tag may fail before the tag is seen;
/// the error must still be the version's when the version is the problem
/// (a future or too-old version, an invalid tag), as when the tag comes
/// first, for the value and every versioned value nested in it. The second
/// read costs only on the error path.
fn read<'a, T: DeserializeVersioned<'a>>(
    read: impl Fn() -> serde_json::Result<Stored<T>>,
) -> Result<Stored<T>, Error> {
    with_typed_errors(&read, invalid::<T>).map_err(|first| {
        match with_tag_deciding(|| with_typed_errors(&read, invalid::<T>)) {
            // The kind the tag decides; of two errors of one kind, the first
            // names the field that failed.
            Err(decided) if decided.kind() != first.kind() => decided,
            // (Ok: only a disagreement of the two readers could get here;
            // keep the refusal rather than turn it into a value.)
            _ => first,
        }
    })
}

/// Like [`from_str`], from a parsed [`Value`]. Every object's tag decides
/// first, at every depth (a `Value` has no order to exploit: its entries are
/// held until the tag in any case).
pub fn from_value<T: DeserializeVersionedOwned>(value: Value) -> Result<Stored<T>, Error> {
    with_tag_deciding(|| {
        with_typed_errors(|| serde_json::from_value::<Stored<T>>(value), invalid::<T>)
    })
}

fn invalid<T: crate::Versioned>(message: String) -> Error {
    Error::InvalidData {
        type_name: T::NAME,
        version: None,
        message,
    }
}
