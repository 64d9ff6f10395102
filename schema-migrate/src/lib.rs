#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod changelog;
mod content;
pub mod context;
mod de;
mod error;
mod guard;
mod history;
pub mod json;
mod late;
mod map_key;
pub mod reference;
mod ser;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod value;
mod write;

pub use changelog::changelog;
pub use context::with_context;
pub use de::{DeserializeVersioned, DeserializeVersionedOwned, Stored};
pub use error::{BoxError, Error};
pub use history::{Op, Step};
pub use value::{TransformFn, TransformOutput};
pub use write::{at_version, AtVersion, BackFn, ByRef, ByValue, SerializeVersioned};

/// Derives [`Versioned`], `serde::Serialize` and `serde::Deserialize` from a
/// `#[schema(...)]` history. See the crate documentation.
#[cfg(feature = "derive")]
pub use schema_migrate_derive::Versioned;

/// How a payload without a version tag is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untagged {
    /// As if it were tagged with this version.
    Version(u32),
    /// Rejected with [`Error::MissingTag`].
    Reject,
}

/// A type whose serialized form carries a version and whose older versions
/// are upgraded on read. Implemented by `#[derive(Versioned)]`.
pub trait Versioned: Sized {
    /// The type's name, as it appears in errors and logs.
    const NAME: &'static str;
    /// The current version: the newest one read.
    const VERSION: u32;
    /// The version `Serialize` writes: `write_version = N`, by default
    /// [`Versioned::VERSION`]. During a rolling deploy a release reads the
    /// new version while it still writes the one the release before it
    /// reads.
    const WRITE_VERSION: u32 = Self::VERSION;
    /// The name of the field that holds the version.
    const TAG: &'static str;
    /// The oldest version that can still be read.
    const OLDEST: u32;
    /// How a payload without the tag is read.
    const UNTAGGED: Untagged;
    /// The steps declared on this type, oldest first. A typed step
    /// (`migrate(from = PreviousType)`) keeps the previous type's own steps
    /// on that type; [`Versioned::history`] joins them.
    const STEPS: &'static [Step];

    /// Every step from [`Versioned::OLDEST`] to [`Versioned::VERSION`], oldest first.
    fn history() -> Vec<&'static Step>;

    /// The names of the fields a payload stored at `version` may hold beside
    /// the tag (wire names and aliases), or `None` where that is not known:
    /// below a `with` step, with a `flatten` field (which takes any name),
    /// for an enum, or for a version this type does not read.
    ///
    /// A store writing an upgraded record back carries the fields that are
    /// not among these (written by another program, say) instead of
    /// dropping them.
    ///
    /// ```
    /// use schema_migrate::Versioned;
    ///
    /// #[derive(Versioned)]
    /// #[schema(version = 2, migrate(from = 1, rename(title = name), add(retries = 3)))]
    /// struct Job { name: String, retries: u32 }
    ///
    /// assert_eq!(Job::stored_fields(1), Some(&["title"][..]));
    /// assert_eq!(Job::stored_fields(2), Some(&["name", "retries"][..]));
    /// assert_eq!(Job::stored_fields(3), None);
    /// ```
    fn stored_fields(version: u32) -> Option<&'static [&'static str]> {
        let _ = version;
        None
    }

    /// Whether a value of this type can be written at `version`: one it
    /// reads, above no step that cannot be run backward.
    ///
    /// ```
    /// use schema_migrate::{Error, Versioned};
    ///
    /// #[derive(Versioned)]
    /// #[schema(
    ///     version = 3,
    ///     migrate(from = 1, remove(legacy)),
    ///     migrate(from = 2, add(retries = 3)),
    /// )]
    /// struct Job { retries: u32 }
    ///
    /// assert!(Job::writable(2).is_ok());
    /// let err = Job::writable(1).unwrap_err();
    /// assert!(matches!(err, Error::Irreversible { from: 1, to: 2, .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Job: cannot write version 1: step 1 -> 2 cannot be run backward at remove(legacy) \
    ///      (give its type and the value to restore: `remove(field: Type = expr)`)"
    /// );
    /// assert!(matches!(Job::writable(4), Err(Error::UnknownVersion { .. })));
    /// ```
    fn writable(version: u32) -> Result<(), Error> {
        write::writable::<Self>(version)
    }

    /// The steps a payload stored at `version` goes through, in order.
    ///
    /// ```
    /// use schema_migrate::Versioned;
    ///
    /// #[derive(Versioned)]
    /// #[schema(
    ///     version = 3,
    ///     migrate(from = 1, description = "retries", add(retries = 3)),
    ///     migrate(from = 2, rename(title = name)),
    /// )]
    /// struct Job { name: String, retries: u32 }
    ///
    /// let path = Job::path_from(2)?;
    /// assert_eq!(path.len(), 1);
    /// assert_eq!(path[0].to_string(), "Job 2 -> 3: rename(title = name)");
    /// assert!(Job::path_from(4).is_err());
    /// # Ok::<(), schema_migrate::Error>(())
    /// ```
    fn path_from(version: u32) -> Result<Vec<&'static Step>, Error> {
        let version = readable_version::<Self>(version.into())?;
        Ok(Self::history()
            .into_iter()
            .filter(|s| s.from >= version)
            .collect())
    }

    /// The wire shape of `version` as the derive knows it, one line per
    /// field or variant (wire name, type as written, the `#[serde]` items
    /// that change the wire form), or `None` for a version this type does
    /// not read: what `schema_migrate::testing::assert_schema_lock` records
    /// and compares.
    ///
    /// A hand-written impl has no derived shape: each readable version is
    /// one line that says so, and only fixtures guard it.
    #[doc(hidden)]
    fn wire_shape(version: u32) -> Option<&'static [&'static str]> {
        (Self::OLDEST..=Self::VERSION)
            .contains(&version)
            .then_some(&["opaque: a hand-written Versioned impl; only fixtures see its shape"][..])
    }

    /// Runs `read` with this type's context (`#[schema(context = Ctx)]`)
    /// built from `columns` (the command line's `--context-columns`: `Ctx`
    /// read from the JSON object of the columns). An error when the type
    /// has no context type, or one that is not `Deserialize`, or the
    /// columns do not make one.
    #[doc(hidden)]
    fn context_from_columns(
        columns: &serde_json::Map<String, serde_json::Value>,
        read: &mut dyn FnMut(),
    ) -> Result<(), String> {
        let _ = (columns, read);
        Err(format!(
            "{} has no #[schema(context = ..)]: no step of it takes a context, so there is nothing \
             for --context-columns to build",
            Self::NAME
        ))
    }
}

/// `found` as a version `T` can read: not newer than `T::VERSION` (whose
/// fields would be lost), not older than `T::OLDEST`.
pub(crate) fn readable_version<T: Versioned>(found: u64) -> Result<u32, Error> {
    if found > u64::from(T::VERSION) {
        return Err(Error::FutureVersion {
            type_name: T::NAME,
            found,
            current: T::VERSION,
        });
    }
    // Cannot truncate: found <= T::VERSION.
    let found = found as u32;
    if found < T::OLDEST {
        return Err(Error::TooOld {
            type_name: T::NAME,
            found,
            oldest: T::OLDEST,
        });
    }
    Ok(found)
}

/// Not public API: what the derive's generated code calls.
#[doc(hidden)]
pub mod __private {
    pub use crate::content::{BufferedMap, Content};
    pub use crate::de::{deserialize, finish_read, ReadError};
    /// The reader of payloads whose tag is not first.
    pub mod late {
        pub use crate::late::*;
    }
    pub use crate::ser::TagFirst;
    pub use crate::write::back;
    /// The reference semantics of each op, on a JSON object.
    pub mod value {
        pub use crate::value::*;
    }
    pub use serde;
    pub use serde::de::value::MapAccessDeserializer;
    pub use serde::de::IgnoredAny;
    pub use serde_json;

    /// Builds a context from columns when its type is `Deserialize` (the
    /// derive calls `(&Probe::<Ctx>::new()).build(..)`: method resolution
    /// picks the impl on `Probe` when the bound holds, the one on `&Probe`
    /// otherwise).
    pub mod columns {
        use std::marker::PhantomData;

        pub struct Probe<C>(PhantomData<fn() -> C>);

        impl<C> Probe<C> {
            pub fn new() -> Self {
                Probe(PhantomData)
            }
        }

        impl<C> Default for Probe<C> {
            fn default() -> Self {
                Self::new()
            }
        }

        pub trait ViaDeserialize {
            fn build(
                &self,
                type_name: &'static str,
                columns: &serde_json::Map<String, serde_json::Value>,
                read: &mut dyn FnMut(),
            ) -> Result<(), String>;
        }

        impl<C: serde::de::DeserializeOwned + Clone + 'static> ViaDeserialize for Probe<C> {
            fn build(
                &self,
                _: &'static str,
                columns: &serde_json::Map<String, serde_json::Value>,
                read: &mut dyn FnMut(),
            ) -> Result<(), String> {
                let ctx: C = serde_json::from_value(serde_json::Value::Object(columns.clone()))
                    .map_err(|e| {
                        format!(
                            "`{}` from {}: {e}",
                            std::any::type_name::<C>(),
                            serde_json::Value::Object(columns.clone())
                        )
                    })?;
                crate::with_context(&ctx, read);
                Ok(())
            }
        }

        pub trait NotDeserialize {
            fn build(
                &self,
                type_name: &'static str,
                columns: &serde_json::Map<String, serde_json::Value>,
                read: &mut dyn FnMut(),
            ) -> Result<(), String>;
        }

        impl<C> NotDeserialize for &Probe<C> {
            fn build(
                &self,
                type_name: &'static str,
                _: &serde_json::Map<String, serde_json::Value>,
                _: &mut dyn FnMut(),
            ) -> Result<(), String> {
                Err(format!(
                    "the context type `{}` of {type_name} is not Deserialize (and Clone), so \
                     --context-columns cannot build it; derive them, or build the context in code \
                     with Migrator::context",
                    std::any::type_name::<C>()
                ))
            }
        }
    }

    /// Const string equality, for the derive's compile-time checks.
    pub const fn str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// A version that passed the tag checks but has no reader: only reachable
    /// if a hand-written `Versioned` impl disagrees with its own history.
    #[cold]
    pub fn unsupported_version<T: crate::Versioned>(version: u32) -> crate::Error {
        crate::Error::InvalidData {
            type_name: T::NAME,
            version: Some(version),
            message: format!("no reader for version {version}"),
        }
    }

    /// Reads the rest of a map as a JSON object, for the `with` path.
    pub fn read_object<'de, A: serde::de::MapAccess<'de>>(
        map: A,
    ) -> Result<serde_json::Map<String, serde_json::Value>, A::Error> {
        serde::Deserialize::deserialize(MapAccessDeserializer::new(map))
    }
}
