//! JSON entry points that return the typed [`Error`] and the stored version.
//!
//! `serde_json::from_str::<T>` works on any versioned type; these functions
//! are for callers that want to match on what went wrong (a future version,
//! a failed step) or know whether the record was upgraded.

use serde_json::Value;

use crate::de::{quietly, warn_failed, with_tag_deciding, with_typed_errors};
use crate::{
    at_version, DeserializeVersioned, DeserializeVersionedOwned, Error, SerializeVersioned, Stored,
};

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
    read::<T, _>(|| serde_json::Deserializer::from_str(s))
}

/// Like [`from_str`], with `ctx` as the context of the steps that take
/// one (`#[schema(context = Ctx)]`), of this type and every versioned type
/// nested in it whose context type is `C`; see [`crate::with_context`].
pub fn from_str_with<'a, T: DeserializeVersioned<'a>, C: Clone + 'static>(
    s: &'a str,
    ctx: &C,
) -> Result<Stored<T>, Error> {
    crate::with_context(ctx, || from_str(s))
}

/// Like [`from_slice`], with a context; see [`from_str_with`].
pub fn from_slice_with<'a, T: DeserializeVersioned<'a>, C: Clone + 'static>(
    v: &'a [u8],
    ctx: &C,
) -> Result<Stored<T>, Error> {
    crate::with_context(ctx, || from_slice(v))
}

/// Like [`from_str`], from bytes.
pub fn from_slice<'a, T: DeserializeVersioned<'a>>(v: &'a [u8]) -> Result<Stored<T>, Error> {
    read::<T, _>(|| serde_json::Deserializer::from_slice(v))
}

/// Reads with the single-pass reader. If that fails, two more reads, only on
/// the error path, make the error the one a reader of the tag-first payload
/// would give, and say where:
///
/// - read again with every object's tag deciding first (at every depth): a
///   field read before a late tag may fail before the tag is seen, but when
///   the version is the problem (a future or too-old version, an invalid
///   tag) that is the error, for the value and every versioned value nested
///   in it;
/// - for invalid data, read again noting the path of the field that failed
///   (`messages[3].at`), which the error then names.
fn read<'a, T, R>(input: impl Fn() -> serde_json::Deserializer<R>) -> Result<Stored<T>, Error>
where
    T: DeserializeVersioned<'a>,
    R: serde_json::de::Read<'a>,
{
    let whole = |de: &mut serde_json::Deserializer<R>| -> serde_json::Result<Stored<T>> {
        let value = serde::Deserialize::deserialize(&mut *de)?;
        de.end()?;
        Ok(value)
    };
    let once = || with_typed_errors(|| whole(&mut input()), invalid::<T>);
    let read = quietly(|| {
        once().map_err(|first| {
            match with_tag_deciding(once) {
                // The kind the tag decides.
                Err(decided) if decided.kind() != first.kind() => decided,
                // (Ok: only a disagreement of the two readers could get here;
                // keep the refusal rather than turn it into a value.)
                _ => at_path::<T>(first, || {
                    let mut de = input();
                    serde_path_to_error::deserialize::<_, Stored<T>>(&mut de)
                        .err()
                        .map(|e| e.path().to_string())
                }),
            }
        })
    });
    logged(read)
}

/// One warning for a failed read, with the error returned.
fn logged<T>(read: Result<T, Error>) -> Result<T, Error> {
    if let Err(e) = &read {
        warn_failed(e);
    }
    read
}

/// An invalid-data error with the path of the field that failed, from
/// `path` (a read that notes it), in place of the field alone.
#[cold]
fn at_path<T: crate::Versioned>(error: Error, path: impl FnOnce() -> Option<String>) -> Error {
    let Error::InvalidData {
        type_name,
        version,
        message,
    } = error
    else {
        return error;
    };
    // `.` is the top; `?` marks a step the reader could not name (input that
    // ended inside a key): no path is better than a wrong one.
    let Some(path) = path().filter(|p| p != "." && !p.contains('?')) else {
        return Error::InvalidData {
            type_name,
            version,
            message,
        };
    };
    if type_name == T::NAME {
        // The reader named the field alone (`field `budget`: ...`): the
        // path says it, from the top.
        let message = match message.strip_prefix("field `") {
            Some(rest) => rest.split_once("`: ").map_or(message.as_str(), |(_, m)| m),
            None => message.as_str(),
        };
        Error::InvalidData {
            type_name,
            version,
            message: format!("{path}: {message}"),
        }
    } else {
        // A versioned value nested in it failed: where, and its own error.
        let nested = Error::InvalidData {
            type_name,
            version,
            message,
        };
        Error::InvalidData {
            type_name: T::NAME,
            version: None,
            message: format!("{path}: {nested}"),
        }
    }
}

/// Like [`from_str`], from a parsed [`Value`]. Every object's tag decides
/// first, at every depth (a `Value` has no order to exploit: its entries are
/// held until the tag in any case).
pub fn from_value<T: DeserializeVersionedOwned>(value: Value) -> Result<Stored<T>, Error> {
    logged(quietly(|| {
        with_tag_deciding(|| {
            with_typed_errors(|| serde_json::from_value::<Stored<T>>(value), invalid::<T>)
        })
    }))
}

fn invalid<T: crate::Versioned>(message: String) -> Error {
    Error::InvalidData {
        type_name: T::NAME,
        version: None,
        message,
    }
}

/// Writes `value` as JSON at `version`, any version the type reads, by
/// running the steps above it backward; versioned values nested in it are
/// written at their own write version. The tag comes first.
///
/// ```
/// use schema_migrate::{Error, Versioned};
///
/// #[derive(Versioned)]
/// #[schema(version = 2, migrate(from = 1, rename(title = name), add(retries = 3)))]
/// struct Job { name: String, retries: u32 }
///
/// let job = Job { name: "a".into(), retries: 5 };
/// assert_eq!(schema_migrate::json::to_string_at(&job, 1)?, r#"{"_version":1,"title":"a"}"#);
/// assert!(matches!(
///     schema_migrate::json::to_string_at(&job, 3),
///     Err(Error::UnknownVersion { version: 3, .. })
/// ));
/// # Ok::<(), Error>(())
/// ```
pub fn to_string_at<T: SerializeVersioned>(value: &T, version: u32) -> Result<String, Error> {
    write::<T, _>(version, || {
        serde_json::to_string(&at_version(value, version))
    })
}

/// Like [`to_string_at`], as bytes.
pub fn to_vec_at<T: SerializeVersioned>(value: &T, version: u32) -> Result<Vec<u8>, Error> {
    write::<T, _>(version, || serde_json::to_vec(&at_version(value, version)))
}

/// Like [`to_string_at`], as a [`Value`].
pub fn to_value_at<T: SerializeVersioned>(value: &T, version: u32) -> Result<Value, Error> {
    write::<T, _>(version, || serde_json::to_value(at_version(value, version)))
}

/// Writes, returning the typed error of a version that cannot be written
/// or of a failed `back` function (checked only when writing fails, so the
/// write itself costs what serde's does).
fn write<T: SerializeVersioned, R>(
    version: u32,
    write: impl FnOnce() -> serde_json::Result<R>,
) -> Result<R, Error> {
    quietly(|| {
        with_typed_errors(write, |message| Error::InvalidData {
            type_name: T::NAME,
            version: Some(version),
            message,
        })
    })
}
