//! The reference semantics of each step operation, on a JSON object.
//!
//! Payloads older than a `with = fn` step are upgraded here; every other
//! payload takes the typed readers, which must agree with these functions
//! (the differential tests check that they do).

#![allow(
    missing_docs,
    reason = "runtime of generated code; the ops are documented in the crate docs"
)]

use std::fmt::Display;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::BoxError;
use crate::{Error, Step};

/// The functions a `transform(field: Old => function)` step can call:
/// `fn(Old) -> New`, or `fn(Old) -> Result<New, E>` with `E: Display` (an
/// `Err` fails the step, with the error's text). Implemented for every such
/// function and closure; the derive checks the function against it, so a
/// signature that does not fit is reported on the function's name.
///
/// ```
/// use schema_migrate::TransformFn;
///
/// fn split(tags: String) -> Vec<String> {
///     tags.split(',').map(str::to_owned).collect()
/// }
/// fn checked(n: u32) -> Result<u8, std::num::TryFromIntError> {
///     u8::try_from(n)
/// }
/// assert_eq!(TransformFn::<String, Vec<String>>::apply(split, "a,b".into())?, ["a", "b"]);
/// assert!(TransformFn::<u32, u8>::apply(checked, 300).is_err());
/// # Ok::<(), schema_migrate::BoxError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not fit `transform(.. : {Old} => ..)` producing `{New}`",
    label = "expected a function `fn({Old}) -> {New}` or `fn({Old}) -> Result<{New}, E>` with `E: Display`",
    note = "a transform step calls the function with the field's value at the old version (`{Old}`) and stores what it returns as the field's new value (`{New}`)"
)]
pub trait TransformFn<Old, New> {
    /// Calls the function on the old value.
    fn apply(self, old: Old) -> Result<New, BoxError>;
}

impl<F, Old, New, Out> TransformFn<Old, New> for F
where
    F: FnOnce(Old) -> Out,
    Out: TransformOutput<New>,
{
    #[inline]
    fn apply(self, old: Old) -> Result<New, BoxError> {
        self(old).into_step()
    }
}

/// What a `transform` function may return: the new value, or a `Result`
/// whose error is `Display`.
#[diagnostic::on_unimplemented(
    message = "a transform function returns `{Self}`, where `{T}` or `Result<{T}, E>` with `E: Display` is expected",
    label = "returns `{Self}`"
)]
pub trait TransformOutput<T> {
    /// The new value, or the error that fails the step.
    fn into_step(self) -> Result<T, BoxError>;
}

impl<T> TransformOutput<T> for T {
    #[inline]
    fn into_step(self) -> Result<T, BoxError> {
        Ok(self)
    }
}

impl<T, E: Display> TransformOutput<T> for Result<T, E> {
    #[inline]
    fn into_step(self) -> Result<T, BoxError> {
        self.map_err(|e| e.to_string().into())
    }
}

/// The error of operation `op` (an index into `step.ops`) of `step`.
#[cold]
pub fn step_failed(step: &'static Step, op: usize, source: BoxError) -> Error {
    failed_between(step, step.from, step.to, op, source)
}

/// The error of op `op` of `step`, run from version `from` to `to` (which
/// says the direction): a function that needed a context and had none, or
/// whatever the function returned.
#[cold]
pub(crate) fn failed_between(
    step: &'static Step,
    from: u32,
    to: u32,
    op: usize,
    source: BoxError,
) -> Error {
    let op = step
        .ops
        .get(op)
        .map_or_else(String::new, ToString::to_string);
    match source.downcast::<crate::context::NeedsContext>() {
        Ok(needs) => Error::MissingContext {
            type_name: step.type_name,
            from,
            to,
            op,
            context: needs.context,
        },
        Err(source) => Error::StepFailed {
            type_name: step.type_name,
            from,
            to,
            description: step.description,
            op,
            source,
        },
    }
}

/// Logs that `step` was applied: the step's description reaches the logs.
#[inline]
pub fn applied(step: &'static Step) {
    tracing::trace!(
        target: "schema_migrate",
        type_name = step.type_name,
        from = step.from,
        to = step.to,
        description = step.description.unwrap_or(""),
        "step applied"
    );
}

/// `strict` is the type's `deny_unknown_fields`: then a key that only
/// exists from the next version on is refused, as the typed reader refuses it;
/// otherwise it is dropped.
pub fn add(
    object: &mut Map<String, Value>,
    step: &'static Step,
    op: usize,
    field: &str,
    strict: bool,
    value: Result<Value, serde_json::Error>,
) -> Result<(), Error> {
    refuse_later_name(object, step, field, strict)?;
    let value = value.map_err(|e| step_failed(step, op, e.into()))?;
    object.insert(field.to_owned(), value);
    Ok(())
}

fn refuse_later_name(
    object: &Map<String, Value>,
    step: &'static Step,
    field: &str,
    strict: bool,
) -> Result<(), Error> {
    if strict && object.contains_key(field) {
        return Err(Error::InvalidData {
            type_name: step.type_name,
            version: Some(step.from),
            message: format!("unknown field `{field}` at version {}", step.from),
        });
    }
    Ok(())
}

/// A key already named `to` in a payload of the version before the rename
/// is not a field of that version: it is dropped, as the typed reader does.
pub fn rename(
    object: &mut Map<String, Value>,
    step: &'static Step,
    from: &str,
    to: &str,
    strict: bool,
) -> Result<(), Error> {
    refuse_later_name(object, step, to, strict)?;
    object.remove(to);
    if let Some(value) = object.remove(from) {
        object.insert(to.to_owned(), value);
    }
    Ok(())
}

pub fn remove(object: &mut Map<String, Value>, field: &str) {
    object.remove(field);
}

pub fn transform<Old, New>(
    object: &mut Map<String, Value>,
    step: &'static Step,
    op: usize,
    field: &str,
    function: impl FnOnce(Old) -> Result<New, BoxError>,
) -> Result<(), Error>
where
    Old: DeserializeOwned,
    New: Serialize,
{
    // An absent field reads as null, so an `Option` old type sees `None`,
    // as the typed reader does.
    let old = object.remove(field).unwrap_or(Value::Null);
    let old: Old = serde_json::from_value(old).map_err(|e| Error::InvalidData {
        type_name: step.type_name,
        version: Some(step.from),
        message: format!("field `{field}`: {e}"),
    })?;
    let new = function(old).map_err(|e| step_failed(step, op, e))?;
    let new = serde_json::to_value(new).map_err(|e| step_failed(step, op, e.into()))?;
    object.insert(field.to_owned(), new);
    Ok(())
}

pub fn with<E: Display>(
    object: &mut Map<String, Value>,
    step: &'static Step,
    op: usize,
    function: impl FnOnce(&mut Map<String, Value>) -> Result<(), E>,
) -> Result<(), Error> {
    function(object).map_err(|e| step_failed(step, op, e.to_string().into()))
}

/// [`with`] for a type with a context: the error is the function's own
/// (a missing context stays one).
pub fn with_boxed(
    object: &mut Map<String, Value>,
    step: &'static Step,
    op: usize,
    function: impl FnOnce(&mut Map<String, Value>) -> Result<(), BoxError>,
) -> Result<(), Error> {
    function(object).map_err(|e| step_failed(step, op, e))
}

pub fn rename_variant(
    object: &mut Map<String, Value>,
    step: &'static Step,
    variant_tag: &str,
    from: &str,
    to: &str,
) -> Result<(), Error> {
    match object.get(variant_tag).and_then(Value::as_str) {
        Some(v) if v == from => {
            object.insert(variant_tag.to_owned(), Value::String(to.to_owned()));
        }
        // The new name did not exist yet at this version, as the typed reader sees it.
        Some(v) if v == to => {
            return Err(Error::InvalidData {
                type_name: step.type_name,
                version: Some(step.from),
                message: format!("unknown variant `{to}` at version {}", step.from),
            })
        }
        _ => {}
    }
    Ok(())
}

pub fn remove_variant(
    object: &Map<String, Value>,
    step: &'static Step,
    op: usize,
    variant_tag: &str,
    variant: &str,
) -> Result<(), Error> {
    if object.get(variant_tag).and_then(Value::as_str) == Some(variant) {
        return Err(removed_variant(step, op, variant));
    }
    Ok(())
}

#[cold]
pub fn removed_variant(step: &'static Step, op: usize, variant: &str) -> Error {
    step_failed(
        step,
        op,
        format!(
            "variant `{variant}` no longer exists at version {}",
            step.to
        )
        .into(),
    )
}

/// Reads the current version from the upgraded object.
pub fn finish<T>(
    type_name: &'static str,
    version: u32,
    object: Map<String, Value>,
    read: impl FnOnce(Value) -> Result<T, serde_json::Error>,
) -> Result<T, Error> {
    // A nested versioned value's own error (a future version, a failed step)
    // keeps its kind, as on the typed path.
    crate::de::with_typed_errors(
        || read(Value::Object(object)),
        |message| Error::InvalidData {
            type_name,
            version: Some(version),
            message,
        },
    )
}
