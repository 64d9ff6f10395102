use std::fmt;

/// Boxed source of a failed step: whatever the user's step function returned.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a stored payload could not be read as the current version of a type.
///
/// Every variant names the type; through serde it becomes the format's own
/// error (`serde_json::Error`, ...) with the same text, and the typed entry
/// points ([`crate::json`], [`crate::reference`]) return it as is.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The payload was written by a newer binary. Reading it would silently
    /// drop the fields this binary does not know, so it is refused.
    FutureVersion {
        /// The versioned type.
        type_name: &'static str,
        /// The version the payload carries.
        found: u64,
        /// The version this binary writes.
        current: u32,
    },
    /// The payload is older than the oldest version the type still reads.
    TooOld {
        /// The versioned type.
        type_name: &'static str,
        /// The version the payload carries.
        found: u32,
        /// The oldest version still read.
        oldest: u32,
    },
    /// No version tag, and the type rejects untagged payloads.
    MissingTag {
        /// The versioned type.
        type_name: &'static str,
        /// The tag's field name.
        tag: &'static str,
    },
    /// The tag is there but is not a version number.
    InvalidTag {
        /// The versioned type.
        type_name: &'static str,
        /// The tag's field name.
        tag: &'static str,
        /// What the tag held instead.
        found: String,
    },
    /// A migration step failed (a `transform` or `with` function returned an
    /// error, a `TryFrom` step refused, a removed variant was found), or,
    /// writing an older version, its `back` function did.
    StepFailed {
        /// The versioned type.
        type_name: &'static str,
        /// The version the step ran from: the older one on read, the newer
        /// one when the step ran backward (`from > to`).
        from: u32,
        /// The version the step ran to.
        to: u32,
        /// The step's description.
        description: Option<&'static str>,
        /// The op that failed, as written in `#[schema]`.
        op: String,
        /// What the step's function or conversion returned.
        source: BoxError,
    },
    /// A step function takes a context (`#[schema(context = Ctx)]`) and the
    /// payload was read (or written) with none of its type in scope: no
    /// step runs on a guess. Read it inside
    /// [`with_context`](crate::with_context) or with
    /// [`json::from_str_with`](crate::json::from_str_with).
    MissingContext {
        /// The versioned type.
        type_name: &'static str,
        /// The version the step ran from.
        from: u32,
        /// The version the step ran to.
        to: u32,
        /// The op whose function needs the context.
        op: String,
        /// The context's type.
        context: &'static str,
    },
    /// A value cannot be written at the version asked for: a step above it
    /// cannot be run backward (a `remove` without the value to restore, a
    /// `transform` or `with` without `back`, a typed step not `reversible`).
    Irreversible {
        /// The versioned type being written.
        type_name: &'static str,
        /// The version asked for.
        version: u32,
        /// The type whose step it is (the previous type of a typed step
        /// keeps its own steps).
        step_type: &'static str,
        /// The step's source version.
        from: u32,
        /// The step's target version.
        to: u32,
        /// The op that cannot be undone, as written in `#[schema]`.
        op: String,
        /// What to add to the op so that it can be.
        help: &'static str,
    },
    /// A version the type does not read was asked to be written.
    UnknownVersion {
        /// The versioned type.
        type_name: &'static str,
        /// The version asked for.
        version: u32,
        /// The oldest version the type reads.
        oldest: u32,
        /// The current version.
        current: u32,
    },
    /// The payload does not match the shape of the version it claims (or, for
    /// an old payload, the shape after migration): a missing field, a wrong type.
    InvalidData {
        /// The versioned type.
        type_name: &'static str,
        /// The version the payload was stored at, when known.
        version: Option<u32>,
        /// The format's message.
        message: String,
    },
}

impl Error {
    /// The name of the versioned type whose payload failed.
    pub fn type_name(&self) -> &'static str {
        match self {
            Error::FutureVersion { type_name, .. }
            | Error::TooOld { type_name, .. }
            | Error::MissingTag { type_name, .. }
            | Error::InvalidTag { type_name, .. }
            | Error::StepFailed { type_name, .. }
            | Error::Irreversible { type_name, .. }
            | Error::MissingContext { type_name, .. }
            | Error::UnknownVersion { type_name, .. }
            | Error::InvalidData { type_name, .. } => type_name,
        }
    }

    /// A short, stable name of the error's kind, for logs, metrics and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::FutureVersion { .. } => "future_version",
            Error::TooOld { .. } => "too_old",
            Error::MissingTag { .. } => "missing_tag",
            Error::InvalidTag { .. } => "invalid_tag",
            Error::StepFailed { .. } => "step_failed",
            Error::Irreversible { .. } => "irreversible",
            Error::MissingContext { .. } => "missing_context",
            Error::UnknownVersion { .. } => "unknown_version",
            Error::InvalidData { .. } => "invalid_data",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::FutureVersion { type_name, found, current } => write!(
                f,
                "{type_name}: stored at version {found}, newer than the version {current} this binary knows; \
                 refusing to read it (its new fields would be lost)"
            ),
            Error::TooOld { type_name, found, oldest } => write!(
                f,
                "{type_name}: stored at version {found}, older than the oldest readable version {oldest}"
            ),
            Error::MissingTag { type_name, tag } => write!(
                f,
                "{type_name}: no version tag `{tag}`, and untagged payloads are rejected"
            ),
            Error::InvalidTag { type_name, tag, found } => write!(
                f,
                "{type_name}: version tag `{tag}` must be a non-negative integer, found {found}"
            ),
            Error::StepFailed { type_name, from, to, description, op, source } => {
                if from > to {
                    write!(f, "{type_name}: migration step {to} -> {from}")?;
                } else {
                    write!(f, "{type_name}: migration step {from} -> {to}")?;
                }
                if let Some(d) = description {
                    write!(f, " ({d:?})")?;
                }
                if from > to {
                    write!(f, ", run backward to write version {to},")?;
                }
                write!(f, " failed at {op}: {source}")
            }
            Error::MissingContext { type_name, from, to, op, context } => write!(
                f,
                "{type_name}: migration step {from} -> {to} at {op} needs a context of type `{context}`, \
                 and none was given: read inside `schema_migrate::with_context(&ctx, ..)` (on the \
                 command line: --context-columns)"
            ),
            Error::Irreversible { type_name, version, step_type, from, to, op, help } => {
                write!(f, "{type_name}: cannot write version {version}: ")?;
                if step_type != type_name {
                    write!(f, "{step_type}'s ")?;
                }
                write!(f, "step {from} -> {to} cannot be run backward at {op}")?;
                if !help.is_empty() {
                    write!(f, " ({help})")?;
                }
                Ok(())
            }
            Error::UnknownVersion { type_name, version, oldest, current } => write!(
                f,
                "{type_name}: no version {version} to write; it reads versions {oldest} to {current}"
            ),
            Error::InvalidData { type_name, version: Some(v), message } => {
                write!(f, "{type_name} (stored at version {v}): {message}")
            }
            Error::InvalidData { type_name, version: None, message } => {
                write!(f, "{type_name}: {message}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::StepFailed { source, .. } => Some(&**source),
            _ => None,
        }
    }
}
