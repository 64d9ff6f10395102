//! Writing a versioned value at an older version: the steps run backward.
//!
//! The derive writes each older version a type can reach through typed
//! writers (the fields borrowed from the value, `back` functions called on
//! the ones whose type changed), so writing version 3 of a version-4 value
//! costs what writing version 4 does. Below a `with = up, back = down` step
//! the value goes through a JSON object, as reading does below a `with` step.

use std::fmt::Display;

use serde::de::DeserializeOwned;
use serde::ser::{self, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::BoxError;
use crate::value::TransformOutput;
use crate::{Error, Op, Step, Versioned};

/// A [`Versioned`] type that can write its older versions. Implemented by
/// `#[derive(Versioned)]`; see [`at_version`] and
/// [`json::to_string_at`](crate::json::to_string_at).
pub trait SerializeVersioned: Versioned + Serialize {
    /// Writes `self` as `version`. Not public API: use [`at_version`].
    #[doc(hidden)]
    fn __serialize_at<S: Serializer>(&self, version: u32, serializer: S)
        -> Result<S::Ok, S::Error>;
}

/// `value`, written at `version` by whatever serializer it is given: any
/// version the type reads, in any format. Versioned values nested in it are
/// written at their own write version.
///
/// A version the type cannot write (one it does not read, or one below a
/// step that cannot be run backward) fails the serializer with the text of
/// [`Versioned::writable`]'s error; check it first to get the typed error.
///
/// ```
/// use schema_migrate::{at_version, Versioned};
///
/// #[derive(Debug, PartialEq, Versioned)]
/// #[schema(version = 2, migrate(from = 1, rename(title = name), add(retries = 3)))]
/// struct Job { name: String, retries: u32 }
///
/// let job = Job { name: "a".into(), retries: 5 };
/// let v1 = serde_json::to_string(&at_version(&job, 1))?;
/// assert_eq!(v1, r#"{"_version":1,"title":"a"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn at_version<T: SerializeVersioned>(value: &T, version: u32) -> AtVersion<'_, T> {
    AtVersion { value, version }
}

/// See [`at_version`].
#[derive(Debug, Clone, Copy)]
pub struct AtVersion<'a, T> {
    value: &'a T,
    version: u32,
}

impl<T: SerializeVersioned> Serialize for AtVersion<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.__serialize_at(self.version, serializer)
    }
}

/// The functions a `transform(field: Old => up, back = down)` step can
/// write the older version with: `fn(&New) -> Old` (the value being written
/// is only borrowed) or `fn(New) -> Old` (then `New: Clone`: the field is
/// cloned for it), each also returning `Result<Old, E>` with `E: Display`.
/// Implemented for every such function; the derive checks `down` against
/// it, on the function's name.
///
/// ```
/// use schema_migrate::{BackFn, ByRef, ByValue};
///
/// fn count(travelers: &Vec<String>) -> u32 {
///     travelers.len() as u32
/// }
/// fn joined(tags: Vec<String>) -> String {
///     tags.join(",")
/// }
/// let travelers = vec!["ada".to_owned(), "bo".to_owned()];
/// assert_eq!(BackFn::<_, u32, ByRef>::back_ref(count, &travelers)?, 2);
/// assert_eq!(BackFn::<_, String, ByValue>::back_ref(joined, &travelers)?, "ada,bo");
/// # Ok::<(), schema_migrate::BoxError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not fit `back = ..` writing `{Old}` from `{New}`",
    label = "expected `fn(&{New}) -> {Old}`, or `fn({New}) -> {Old}` with `{New}: Clone`",
    note = "either may return `Result<{Old}, E>` with `E: Display`; a `back` function taking the field by value gets a clone of it, because the value being written is only borrowed"
)]
pub trait BackFn<New, Old, How> {
    /// Calls the function on a borrowed value.
    fn back_ref(self, new: &New) -> Result<Old, BoxError>;
    /// Calls the function on an owned value (made by an earlier `back`).
    fn back_owned(self, new: New) -> Result<Old, BoxError>;
}

/// [`BackFn`] for `fn(New) -> Old`.
#[derive(Debug)]
pub enum ByValue {}

/// [`BackFn`] for `fn(&New) -> Old`.
#[derive(Debug)]
pub enum ByRef {}

impl<F, New, Old, Out> BackFn<New, Old, ByValue> for F
where
    F: FnOnce(New) -> Out,
    New: Clone,
    Out: TransformOutput<Old>,
{
    #[inline]
    fn back_ref(self, new: &New) -> Result<Old, BoxError> {
        self(new.clone()).into_step()
    }

    #[inline]
    fn back_owned(self, new: New) -> Result<Old, BoxError> {
        self(new).into_step()
    }
}

impl<F, New, Old, Out> BackFn<New, Old, ByRef> for F
where
    F: FnOnce(&New) -> Out,
    Out: TransformOutput<Old>,
{
    #[inline]
    fn back_ref(self, new: &New) -> Result<Old, BoxError> {
        self(new).into_step()
    }

    #[inline]
    fn back_owned(self, new: New) -> Result<Old, BoxError> {
        self(&new).into_step()
    }
}

/// Whether `T` can write `version`; see [`Versioned::writable`].
pub(crate) fn writable<T: Versioned>(version: u32) -> Result<(), Error> {
    if version > T::VERSION || version < T::OLDEST {
        return Err(Error::UnknownVersion {
            type_name: T::NAME,
            version,
            oldest: T::OLDEST,
            current: T::VERSION,
        });
    }
    for step in T::history().into_iter().filter(|s| s.from >= version) {
        if let Some(op) = step.ops.iter().find(|op| !op.is_reversible()) {
            return Err(irreversible::<T>(version, step, op));
        }
    }
    Ok(())
}

fn irreversible<T: Versioned>(version: u32, step: &'static Step, op: &Op) -> Error {
    let help = match op {
        Op::Remove { ty: None, .. } => {
            "give its type and the value to restore: `remove(field: Type = expr)`"
        }
        Op::Remove { .. } => "give the value to restore: `remove(field: Type = expr)`",
        Op::Transform { .. } => "add its inverse: `transform(field: Old => up, back = down)`",
        Op::With { .. } => "add its inverse beside it: `with = up, back = down`",
        Op::Typed { .. } => {
            "mark the step `reversible` and implement `From<Self>` for the previous type"
        }
        _ => "",
    };
    Error::Irreversible {
        type_name: T::NAME,
        version,
        step_type: step.type_name,
        from: step.from,
        to: step.to,
        op: op.to_string(),
        help,
    }
}

/// Not public API: what the derive's writers call.
#[doc(hidden)]
pub mod back {
    use super::*;

    /// The error of op `op` of `step` run backward: `from` and `to` say the
    /// direction, the newer version first.
    #[cold]
    pub fn failed(step: &'static Step, op: usize, source: BoxError) -> Error {
        crate::value::failed_between(step, step.to, step.from, op, source)
    }

    /// The format's error for `error`, remembered for the typed entry points.
    #[cold]
    pub fn raise<E: ser::Error>(error: Error) -> E {
        tracing::warn!(target: "schema_migrate", type_name = error.type_name(), kind = error.kind(), error = %error, "write failed");
        crate::de::remember(error, |e| E::custom(e))
    }

    /// The version is not one the derive wrote a writer for.
    #[cold]
    pub fn unwritable<T: Versioned, E: ser::Error>(version: u32) -> E {
        let error = writable::<T>(version).err().unwrap_or_else(|| Error::InvalidData {
            type_name: T::NAME,
            version: Some(version),
            message: "a #[repr(packed)] type writes only its write version: its fields cannot be borrowed".into(),
        });
        raise(error)
    }

    /// Compile-time check of a typed step's previous type: can it write
    /// every version from `version` up?
    pub const fn steps_reversible(steps: &[Step], version: u32) -> bool {
        let mut i = 0;
        while i < steps.len() {
            if steps[i].from >= version {
                let mut j = 0;
                while j < steps[i].ops.len() {
                    if !steps[i].ops[j].is_reversible() {
                        return false;
                    }
                    j += 1;
                }
            }
            i += 1;
        }
        true
    }

    /// The last typed writer's output as a JSON object, for the steps below
    /// it that run on one (a `with` step's `back`).
    pub fn to_object<W: Serialize>(
        type_name: &'static str,
        version: u32,
        written: &W,
    ) -> Result<Map<String, Value>, Error> {
        match serde_json::to_value(written) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(other) => Err(Error::InvalidData {
                type_name,
                version: Some(version),
                message: format!("expected an object to run the steps below on, found {other}"),
            }),
            Err(e) => Err(Error::InvalidData {
                type_name,
                version: Some(version),
                message: e.to_string(),
            }),
        }
    }

    /// `add(field)` backward: the field did not exist yet.
    pub fn unadd(object: &mut Map<String, Value>, field: &str) {
        object.remove(field);
    }

    /// `rename(from = to)` backward.
    pub fn unrename(object: &mut Map<String, Value>, from: &str, to: &str) {
        if let Some(value) = object.remove(to) {
            object.insert(from.to_owned(), value);
        }
    }

    /// `remove(field: Type = expr)` backward.
    pub fn restore(
        object: &mut Map<String, Value>,
        step: &'static Step,
        op: usize,
        field: &str,
        value: Result<Value, serde_json::Error>,
    ) -> Result<(), Error> {
        let value = value.map_err(|e| failed(step, op, e.into()))?;
        object.insert(field.to_owned(), value);
        Ok(())
    }

    /// `transform(field: Old => up, back = down)` backward.
    pub fn transform<New, Old>(
        object: &mut Map<String, Value>,
        step: &'static Step,
        op: usize,
        field: &str,
        down: impl FnOnce(New) -> Result<Old, BoxError>,
    ) -> Result<(), Error>
    where
        New: DeserializeOwned,
        Old: Serialize,
    {
        let new = object.remove(field).unwrap_or(Value::Null);
        let new: New = serde_json::from_value(new).map_err(|e| failed(step, op, e.into()))?;
        let old = down(new).map_err(|e| failed(step, op, e))?;
        let old = serde_json::to_value(old).map_err(|e| failed(step, op, e.into()))?;
        object.insert(field.to_owned(), old);
        Ok(())
    }

    /// `with = up, back = down` backward.
    pub fn with<E: Display>(
        object: &mut Map<String, Value>,
        step: &'static Step,
        op: usize,
        down: impl FnOnce(&mut Map<String, Value>) -> Result<(), E>,
    ) -> Result<(), Error> {
        down(object).map_err(|e| failed(step, op, e.to_string().into()))
    }

    /// [`with`] for a type with a context.
    pub fn with_boxed(
        object: &mut Map<String, Value>,
        step: &'static Step,
        op: usize,
        down: impl FnOnce(&mut Map<String, Value>) -> Result<(), BoxError>,
    ) -> Result<(), Error> {
        down(object).map_err(|e| failed(step, op, e))
    }

    /// `rename_variant(from = to)` backward.
    pub fn rename_variant(
        object: &mut Map<String, Value>,
        variant_tag: &str,
        from: &str,
        to: &str,
    ) {
        if object.get(variant_tag).and_then(Value::as_str) == Some(to) {
            object.insert(variant_tag.to_owned(), Value::String(from.to_owned()));
        }
    }

    /// Writes the object with the tag first.
    pub fn write_object<S: Serializer>(
        mut object: Map<String, Value>,
        serializer: S,
        type_name: &'static str,
        tag: &'static str,
        version: u32,
    ) -> Result<S::Ok, S::Error> {
        object.remove(tag);
        Value::Object(object).serialize(crate::ser::TagFirst::new(
            serializer, type_name, tag, version,
        ))
    }
}
