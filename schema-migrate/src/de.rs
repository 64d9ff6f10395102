//! Reading a versioned payload: find the tag, then hand the rest of the map to
//! the typed reader of the stored version.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::content::{BufferedMap, Content};
use crate::guard::TagGuard;
use crate::{Error, Untagged, Versioned};

/// Implemented by `#[derive(Versioned)]`: the typed readers of every stored
/// version of a type. Use it as a bound the way serde's `Deserialize<'de>` is
/// used; [`DeserializeVersionedOwned`] is the `DeserializeOwned` counterpart.
pub trait DeserializeVersioned<'de>: Versioned {
    /// Reads the fields of a payload stored at `version` (the tag already
    /// consumed) and upgrades the result to the current version.
    #[doc(hidden)]
    fn __read_map<A: MapAccess<'de>>(version: u32, map: A) -> Result<Self, ReadError<A::Error>>;

    /// The reference path: upgrades a JSON object stored at `version` (tag
    /// removed) by applying each step to the object, then reads it. This is
    /// the specification the typed readers are tested against.
    #[doc(hidden)]
    fn __read_value(version: u32, object: Map<String, Value>) -> Result<Self, Error>;

    /// Reads a payload whose first key, `first_key`, is not the tag: the
    /// version is not known yet. The derive overrides this with a reader that
    /// decodes the fields every version reads alike as they come and buffers
    /// only the others; this default buffers every entry up to the tag.
    /// The container's `#[serde(expecting = "...")]`: what a payload that
    /// is not this type's map is said not to be.
    #[doc(hidden)]
    fn __expecting() -> Option<&'static str> {
        None
    }

    #[doc(hidden)]
    fn __read_late<A: MapAccess<'de>>(
        first_key: Content<'de>,
        map: A,
        human_readable: bool,
    ) -> Result<(Self, u32), A::Error> {
        read_buffered::<Self, A>(first_key, map, human_readable)
    }
}

/// A versioned type that deserializes from any lifetime, as `DeserializeOwned`.
pub trait DeserializeVersionedOwned:
    for<'de> DeserializeVersioned<'de> + serde::de::DeserializeOwned
{
}
impl<T: for<'de> DeserializeVersioned<'de> + serde::de::DeserializeOwned> DeserializeVersionedOwned
    for T
{
}

/// Error of a typed reader: either the format's error (the data did not fit
/// the shape of its version), or a failed step.
#[doc(hidden)]
pub enum ReadError<E> {
    Data(E),
    Migrate(Error),
}

/// A value together with the version it was stored at.
///
/// Deserializing `Stored<T>` reads exactly like `T` but keeps the stored
/// version, and whether reading upgraded anything, so a store can tell
/// whether a record needs writing back:
///
/// ```
/// use schema_migrate::{Stored, Versioned};
///
/// #[derive(Debug, Versioned)]
/// #[schema(version = 2, migrate(from = 1, add(retries = 3)))]
/// struct Job { name: String, retries: u32 }
///
/// let s: Stored<Job> = serde_json::from_str(r#"{"_version":1,"name":"sync"}"#)?;
/// assert_eq!((s.version, s.value.retries), (1, 3));
/// assert!(s.was_upgraded());
///
/// // Current itself, but holding an old nested value: still upgraded.
/// #[derive(Debug, Versioned)]
/// #[schema(version = 1)]
/// struct Queue { jobs: Vec<Job> }
///
/// let q: Stored<Queue> = serde_json::from_str(r#"{"_version":1,"jobs":[{"_version":1,"name":"a"}]}"#)?;
/// assert_eq!(q.version, 1);
/// assert!(q.was_upgraded());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    /// The value, at the current version.
    pub value: T,
    /// The version the payload was stored at (of `T` itself; nested
    /// versioned values have their own).
    pub version: u32,
    /// Whether reading upgraded anything: the payload was older than the
    /// current version, or a versioned value nested in it was. Writing
    /// `value` back then stores something different from what was read.
    pub upgraded: bool,
}

impl<T: Versioned> Stored<T> {
    /// Whether the payload, or a versioned value nested in it, was stored at
    /// an older version than the current one: [`Stored::upgraded`].
    pub fn was_upgraded(&self) -> bool {
        self.upgraded
    }
}

impl<'de, T: DeserializeVersioned<'de>> serde::Deserialize<'de> for Stored<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let before = upgrades();
        deserialize(deserializer).map(|(value, version)| Stored {
            value,
            version,
            upgraded: upgrades() != before,
        })
    }
}

thread_local! {
    // How many reads on this thread upgraded a payload, at any depth: a
    // parent knows this way that a nested value was upgraded.
    static UPGRADES: Cell<u64> = const { Cell::new(0) };
}

thread_local! {
    // Set while a read must let every object's tag decide first, at every
    // depth (see `with_tag_deciding`).
    static TAG_DECIDES: Cell<bool> = const { Cell::new(false) };
}

fn tag_decides() -> bool {
    TAG_DECIDES.with(Cell::get)
}

/// Runs `read` with every versioned object's entries held until its tag is
/// read, at every depth, so that the tag decides the error wherever it
/// stands: a future version is reported as such even when a field before
/// the tag does not fit. Slower than the single-pass reader, so it runs only
/// where that matters: the JSON entry points' second look at a failed read,
/// and `json::from_value`.
pub(crate) fn with_tag_deciding<R>(read: impl FnOnce() -> R) -> R {
    with_flag(&TAG_DECIDES, read)
}

/// Runs `f` with the thread-local `flag` set, restoring it after, on a
/// panic too.
fn with_flag<R>(flag: &'static std::thread::LocalKey<Cell<bool>>, f: impl FnOnce() -> R) -> R {
    struct Reset(&'static std::thread::LocalKey<Cell<bool>>, bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let before = self.1;
            self.0.with(|flag| flag.set(before));
        }
    }
    let _reset = Reset(flag, flag.with(|flag| flag.replace(true)));
    f()
}

/// The number of upgrades on this thread so far; compare two readings.
pub(crate) fn upgrades() -> u64 {
    UPGRADES.with(Cell::get)
}

/// Deserializes a versioned `T`, returning it with its stored version.
/// The derive's `Deserialize` impl calls this.
pub fn deserialize<'de, T, D>(deserializer: D) -> Result<(T, u32), D::Error>
where
    T: DeserializeVersioned<'de>,
    D: Deserializer<'de>,
{
    // deserialize_any, not deserialize_map: formats that need a schema
    // (bincode, postcard) then fail at once with their own clear
    // "deserialize_any is not supported" instead of misreading bytes.
    let human_readable = deserializer.is_human_readable();
    deserializer.deserialize_any(VersionedVisitor {
        human_readable,
        ty: PhantomData,
    })
}

struct VersionedVisitor<T> {
    /// Of the input's format: entries buffered before the tag are replayed
    /// with it, so types that read differently in binary formats still work.
    human_readable: bool,
    ty: PhantomData<T>,
}

impl<'de, T: DeserializeVersioned<'de>> Visitor<'de> for VersionedVisitor<T> {
    type Value = (T, u32);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match T::__expecting() {
            Some(text) => f.write_str(text),
            None => write!(f, "a {} object with version tag `{}`", T::NAME, T::TAG),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match next_key::<T, A>(&mut map)? {
            Some(Key::Tag) => {
                let version = tag_value::<T, A>(&mut map)?;
                read::<T, A>(version, map)
            }
            Some(Key::Other(key)) if tag_decides() => {
                read_buffered::<T, A>(key, map, self.human_readable)
            }
            Some(Key::Other(key)) => T::__read_late(key, map, self.human_readable),
            None => {
                let version = untagged_version::<T, A::Error>()?;
                read::<T, _>(
                    version,
                    BufferedMap::<A>::new_from(Vec::new(), None, self.human_readable),
                )
            }
        }
    }
}

/// The next key, told apart from the tag.
fn next_key<'de, T: Versioned, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<Key<'de>>, A::Error> {
    map.next_key_seed(KeySeed { tag: T::TAG })
        .map_err(|e| data_error::<T, _>(None, e))
}

/// The tag's value, as a version this type reads.
pub(crate) fn tag_value<'de, T: Versioned, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<u32, A::Error> {
    let found = map
        .next_value_seed(TagSeed)
        .map_err(|e| data_error::<T, _>(None, e))?;
    check_version::<T, A::Error>(found)
}

/// The general reader for a payload whose tag is not first: buffers every
/// entry before the tag, then replays them ahead of the rest of the map to
/// the typed reader of the version found.
pub fn read_buffered<'de, T, A>(
    first_key: Content<'de>,
    mut map: A,
    human_readable: bool,
) -> Result<(T, u32), A::Error>
where
    T: DeserializeVersioned<'de>,
    A: MapAccess<'de>,
{
    let value: Content<'de> = map.next_value().map_err(|e| data_error::<T, _>(None, e))?;
    let mut before_tag = vec![(first_key, value)];
    loop {
        match next_key::<T, A>(&mut map)? {
            Some(Key::Tag) => {
                let version = tag_value::<T, A>(&mut map)?;
                return read::<T, _>(
                    version,
                    BufferedMap::new_from(before_tag, Some(map), human_readable),
                );
            }
            Some(Key::Other(key)) => {
                let value: Content<'de> =
                    map.next_value().map_err(|e| data_error::<T, _>(None, e))?;
                before_tag.push((key, value));
            }
            None => {
                let version = untagged_version::<T, A::Error>()?;
                return read::<T, _>(
                    version,
                    BufferedMap::<A>::new_from(before_tag, None, human_readable),
                );
            }
        }
    }
}

/// The version of a payload without a tag, or the error if the type refuses
/// untagged payloads.
pub(crate) fn untagged_version<T: Versioned, E: de::Error>() -> Result<u32, E> {
    stored_version::<T>(None).map_err(raise)
}

/// The version a payload's tag says (`None`: there is no tag; `Err`: what
/// the tag held instead of a number), or why it is not one `T` reads. Every
/// reader decides the version here: the typed readers, the reference path,
/// and the JSON entry points' second look at a late tag.
pub(crate) fn stored_version<T: Versioned>(
    found: Option<Result<u64, String>>,
) -> Result<u32, Error> {
    match found {
        Some(Ok(version)) => crate::readable_version::<T>(version),
        Some(Err(found)) => Err(Error::InvalidTag {
            type_name: T::NAME,
            tag: T::TAG,
            found,
        }),
        None => match T::UNTAGGED {
            Untagged::Version(v) => Ok(v),
            Untagged::Reject => Err(Error::MissingTag {
                type_name: T::NAME,
                tag: T::TAG,
            }),
        },
    }
}

fn read<'de, T, A>(version: u32, map: A) -> Result<(T, u32), A::Error>
where
    T: DeserializeVersioned<'de>,
    A: MapAccess<'de>,
{
    finish_read(
        version,
        T::__read_map(version, TagGuard::new(map, T::NAME, T::TAG)),
    )
}

/// The end of every read: logs an upgrade, and turns a reader's error into
/// the format's error naming the type and the stored version.
pub fn finish_read<T: Versioned, E: de::Error>(
    version: u32,
    read: Result<T, ReadError<E>>,
) -> Result<(T, u32), E> {
    match read {
        Ok(value) => {
            if version < T::VERSION {
                UPGRADES.with(|n| n.set(n.get().wrapping_add(1)));
                tracing::debug!(
                    target: "schema_migrate",
                    type_name = T::NAME,
                    from = version,
                    to = T::VERSION,
                    "upgraded on read"
                );
            }
            Ok((value, version))
        }
        Err(ReadError::Migrate(err)) => Err(raise(err)),
        Err(ReadError::Data(err)) => Err(data_error::<T, E>(Some(version), err)),
    }
}

/// A format error while reading `T`, at `version` if it is known yet, as the
/// typed error that names the type.
#[cold]
pub(crate) fn data_error<T: Versioned, E: de::Error>(version: Option<u32>, err: E) -> E {
    field_error::<T, E>(version, None, err)
}

/// Like [`data_error`], naming the field whose value did not fit.
#[cold]
pub(crate) fn field_error<T: Versioned, E: de::Error>(
    version: Option<u32>,
    field: Option<&str>,
    err: E,
) -> E {
    let message = err.to_string();
    let message = format_message(&message);
    // Raised by this type's own reader (a duplicate tag): it already names
    // the type.
    if message.starts_with(T::NAME) && message[T::NAME.len()..].starts_with(": ") {
        return err;
    }
    let message = strip_position(&message);
    raise(Error::InvalidData {
        type_name: T::NAME,
        version,
        message: match field {
            Some(field) => format!("field `{field}`: {message}"),
            None => message.to_owned(),
        },
    })
}

fn check_version<T: Versioned, E: de::Error>(found: Result<u64, String>) -> Result<u32, E> {
    stored_version::<T>(Some(found)).map_err(raise)
}

/// serde_json appends " at line L column C" to an error, and does so again
/// when our wrapping error passes back through it; keep only the outer one.
fn strip_position(message: &str) -> &str {
    let Some(at) = message.rfind(" at line ") else {
        return message;
    };
    let tail = &message[at + " at line ".len()..];
    let well_formed = tail
        .split_once(" column ")
        .is_some_and(|(l, c)| is_number(l) && is_number(c));
    if well_formed {
        &message[..at]
    } else {
        message
    }
}

/// The message of a format's error, without the format's own dressing:
/// ciborium writes its errors as `Semantic(None, "message")` (its `Display`
/// is its `Debug`), so a message passed through it twice would be wrapped
/// twice. serde's text stays as serde wrote it.
pub(crate) fn format_message(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let Some(rest) = text.strip_prefix("Semantic(") else {
        return Cow::Borrowed(text);
    };
    let Some(quoted) = rest
        .split_once(", \"")
        .and_then(|(_, q)| q.strip_suffix("\")"))
    else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c),
            Some('u') => {
                let code: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                match u32::from_str_radix(&code, 16).ok().and_then(char::from_u32) {
                    Some(c) => out.push(c),
                    None => return Cow::Borrowed(text),
                }
            }
            _ => return Cow::Borrowed(text),
        }
    }
    Cow::Owned(out)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

thread_local! {
    // Formats turn our typed error into their own through `de::Error::custom`,
    // which keeps only its text. The typed entry points recover the typed
    // error from here; the innermost (first) one is the cause.
    static RAISED: RefCell<Option<Error>> = const { RefCell::new(None) };
}

thread_local! {
    // Set while the JSON entry points read (perhaps more than once): they
    // log the one error they return instead of each read's.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// The warning-level event of a failed read.
#[cold]
pub(crate) fn warn_failed(err: &Error) {
    tracing::warn!(target: "schema_migrate", type_name = err.type_name(), kind = err.kind(), error = %err, "read failed");
}

/// Runs `read` without a warning per failed read: the caller logs the
/// error it reports with [`warn_failed`].
pub(crate) fn quietly<R>(read: impl FnOnce() -> R) -> R {
    with_flag(&QUIET, read)
}

/// Turns a typed error into the format's error, remembering the typed one.
pub(crate) fn raise<E: de::Error>(err: Error) -> E {
    if !QUIET.with(Cell::get) {
        warn_failed(&err);
    }
    remember(err, |e| E::custom(e))
}

/// Turns a typed error into a format's error with `custom`, remembering the
/// typed one for [`with_typed_errors`].
pub(crate) fn remember<E>(err: Error, custom: impl FnOnce(&Error) -> E) -> E {
    let out = custom(&err);
    RAISED.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
    });
    out
}

/// Runs `f`, and on failure returns the typed error that caused the format's
/// error `e` when there is one, or `fallback(e)`.
pub(crate) fn with_typed_errors<T, E: fmt::Display>(
    f: impl FnOnce() -> Result<T, E>,
    fallback: impl FnOnce(String) -> Error,
) -> Result<T, Error> {
    RAISED.with(|slot| slot.borrow_mut().take());
    let result = f();
    let raised = RAISED.with(|slot| slot.borrow_mut().take());
    result.map_err(|e| {
        let message = format_message(&e.to_string()).into_owned();
        match raised {
            Some(typed) if message.contains(&typed.to_string()) => typed,
            _ => fallback(message),
        }
    })
}

pub(crate) enum Key<'de> {
    Tag,
    Other(Content<'de>),
}

pub(crate) struct KeySeed {
    pub(crate) tag: &'static str,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(if v == self.tag {
            Key::Tag
        } else {
            Key::Other(Content::Str(v))
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if v == self.tag {
            Key::Tag
        } else {
            Key::Other(Content::String(v.to_owned()))
        })
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(if v == self.tag {
            Key::Tag
        } else {
            Key::Other(Content::String(v))
        })
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(if v == self.tag.as_bytes() {
            Key::Tag
        } else {
            Key::Other(Content::Bytes(v))
        })
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(if v == self.tag.as_bytes() {
            Key::Tag
        } else {
            Key::Other(Content::ByteBuf(v.to_vec()))
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Key::Other(Content::U64(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Key::Other(Content::I64(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Key::Other(Content::Bool(v)))
    }
}

/// Reads the tag's value: `Ok(n)` for a non-negative integer, otherwise a
/// description of what was found, for the error.
pub(crate) struct TagSeed;

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = Result<u64, String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TagSeed {
    type Value = Result<u64, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a version number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Ok(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_err(|_| format!("the negative number {v}")))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_err(|_| format!("the number {v}, too large to be a version")))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_err(|_| format!("the number {v}, not a version")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(format!("the floating-point number {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Err(format!("the string {v:?}")))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(Err("a byte string".to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(format!("the boolean {v}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err("null".to_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err("null".to_owned()))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Err("an array".to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Err("an object".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::strip_position;

    #[test]
    fn strips_only_a_trailing_position() {
        assert_eq!(
            strip_position("missing field `a` at line 1 column 30"),
            "missing field `a`"
        );
        assert_eq!(
            strip_position("bad value at line one"),
            "bad value at line one"
        );
        assert_eq!(strip_position("no position"), "no position");
    }
}
