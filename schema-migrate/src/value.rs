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

/// What a `transform` function may return: the new value, or a `Result`
/// whose error is `Display`.
pub trait StepOutput<T> {
    fn into_step(self) -> Result<T, BoxError>;
}

impl<T> StepOutput<T> for T {
    #[inline]
    fn into_step(self) -> Result<T, BoxError> {
        Ok(self)
    }
}

impl<T, E: Display> StepOutput<T> for Result<T, E> {
    #[inline]
    fn into_step(self) -> Result<T, BoxError> {
        self.map_err(|e| e.to_string().into())
    }
}

/// The error of operation `op` (an index into `step.ops`) of `step`.
#[cold]
pub fn step_failed(step: &'static Step, op: usize, source: BoxError) -> Error {
    Error::StepFailed {
        type_name: step.type_name,
        from: step.from,
        to: step.to,
        description: step.description,
        op: step
            .ops
            .get(op)
            .map_or_else(String::new, ToString::to_string),
        source,
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

pub fn add(
    object: &mut Map<String, Value>,
    step: &'static Step,
    op: usize,
    field: &str,
    value: Result<Value, serde_json::Error>,
) -> Result<(), Error> {
    let value = value.map_err(|e| step_failed(step, op, e.into()))?;
    object.insert(field.to_owned(), value);
    Ok(())
}

pub fn rename(object: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(value) = object.remove(from) {
        object.insert(to.to_owned(), value);
    }
}

pub fn remove(object: &mut Map<String, Value>, field: &str) {
    object.remove(field);
}

pub fn transform<Old, New, Out>(
    object: &mut Map<String, Value>,
    step: &'static Step,
    op: usize,
    field: &str,
    function: impl FnOnce(Old) -> Out,
) -> Result<(), Error>
where
    Old: DeserializeOwned,
    New: Serialize,
    Out: StepOutput<New>,
{
    // An absent field reads as null, so an `Option` old type sees `None`,
    // as the typed reader does.
    let old = object.remove(field).unwrap_or(Value::Null);
    let old: Old = serde_json::from_value(old).map_err(|e| Error::InvalidData {
        type_name: step.type_name,
        version: Some(step.from),
        message: format!("field `{field}`: {e}"),
    })?;
    let new = function(old)
        .into_step()
        .map_err(|e| step_failed(step, op, e))?;
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

pub fn rename_variant(object: &mut Map<String, Value>, variant_tag: &str, from: &str, to: &str) {
    if object.get(variant_tag).and_then(Value::as_str) == Some(from) {
        object.insert(variant_tag.to_owned(), Value::String(to.to_owned()));
    }
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
    read(Value::Object(object)).map_err(|e| Error::InvalidData {
        type_name,
        version: Some(version),
        message: e.to_string(),
    })
}
