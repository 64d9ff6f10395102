//! Reading a payload whose tag is not its first key.
//!
//! The version is not known until the tag is found, possibly at the very end
//! (PostgreSQL JSONB, for one, orders keys by length). The derive generates a
//! reader on top of these pieces for types whose every stored shape it knows:
//! a field that every readable version reads by the same name, type and
//! attributes means the same whatever the version, so it is decoded straight
//! from the input as it comes; only the few entries whose meaning depends on
//! the version (a field added, renamed or retyped) are buffered, and decoded
//! once the version is known.
//!
//! A field decoded early that does not fit is an error even when the tag,
//! read later, would have said a future or too-old version: the error then
//! says which field's data is invalid rather than naming the version.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::content::{Content, ContentDeserializer};
use crate::de::{data_error, field_error, raise, tag_value, untagged_version, ReadError};
use crate::guard::duplicate_tag;
use crate::Versioned;

/// What a key of the object is to the late reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateKey {
    /// The version tag.
    Tag,
    /// The generated reader's field number `n`.
    Field(u16),
    /// Any other key: its value is skipped.
    Other,
}

/// Maps a key's bytes to a field number: the generated `match`, passed as
/// a function item so that the call is static and inlined.
pub trait Lookup: Fn(&[u8]) -> Option<u16> + Copy {}
impl<L: Fn(&[u8]) -> Option<u16> + Copy> Lookup for L {}

#[inline]
fn classify(key: &[u8], tag: &str, lookup: impl Lookup) -> LateKey {
    if key == tag.as_bytes() {
        return LateKey::Tag;
    }
    match lookup(key) {
        Some(n) => LateKey::Field(n),
        None => LateKey::Other,
    }
}

/// Classifies the first key, which the caller read before choosing this reader.
pub fn first_key<T: Versioned>(key: &Content<'_>, lookup: impl Lookup) -> LateKey {
    match key {
        Content::Str(s) => classify(s.as_bytes(), T::TAG, lookup),
        Content::String(s) => classify(s.as_bytes(), T::TAG, lookup),
        Content::Bytes(b) => classify(b, T::TAG, lookup),
        Content::ByteBuf(b) => classify(b, T::TAG, lookup),
        _ => LateKey::Other,
    }
}

/// The reader's state besides its fields: the version, once the tag is read.
pub struct Late<T> {
    version: Option<u32>,
    human_readable: bool,
    ty: PhantomData<fn() -> T>,
}

impl<T: Versioned> Late<T> {
    /// A reader for a map of a human-readable format or not.
    #[inline]
    pub fn new(human_readable: bool) -> Self {
        Late {
            version: None,
            human_readable,
            ty: PhantomData,
        }
    }

    /// Reads the next key.
    #[inline]
    pub fn next_key<'de, A: MapAccess<'de>, L: Lookup>(
        &self,
        map: &mut A,
        lookup: L,
    ) -> Result<Option<LateKey>, A::Error> {
        map.next_key_seed(KeySeed {
            tag: T::TAG,
            lookup,
        })
        .map_err(|e| self.error(e))
    }

    /// Reads the tag's value. A future or too-old version, or a second tag,
    /// ends the read at once.
    pub fn tag<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        if self.version.is_some() {
            return Err(raise(duplicate_tag(T::NAME, T::TAG)));
        }
        self.version = Some(tag_value::<T, A>(map)?);
        Ok(())
    }

    /// Decodes a field that every version reads alike.
    #[inline]
    pub fn decode<'de, A: MapAccess<'de>, F: Deserialize<'de>>(
        &self,
        map: &mut A,
        slot: &mut Option<F>,
        name: &'static str,
    ) -> Result<(), A::Error> {
        if slot.is_some() {
            return Err(self.error(de::Error::duplicate_field(name)));
        }
        // The version may not be known yet: name the field instead.
        *slot = Some(
            map.next_value()
                .map_err(|e| field_error::<T, A::Error>(self.version, Some(name), e))?,
        );
        Ok(())
    }

    /// Buffers a field whose meaning depends on the version.
    #[inline]
    pub fn buffer<'de, A: MapAccess<'de>>(
        &self,
        map: &mut A,
        slot: &mut Option<Content<'de>>,
        name: &'static str,
    ) -> Result<(), A::Error> {
        if slot.is_some() {
            return Err(self.error(de::Error::duplicate_field(name)));
        }
        *slot = Some(map.next_value().map_err(|e| self.error(e))?);
        Ok(())
    }

    /// Skips the value of a key no version reads.
    #[inline]
    pub fn skip<'de, A: MapAccess<'de>>(&self, map: &mut A) -> Result<(), A::Error> {
        map.next_value::<IgnoredAny>()
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// The version, at the end of the map: the tag's, or the untagged default.
    pub fn version<E: de::Error>(&self) -> Result<u32, E> {
        match self.version {
            Some(v) => Ok(v),
            None => untagged_version::<T, E>(),
        }
    }

    /// Whether the input's format is human-readable, for buffered entries.
    #[inline]
    pub fn human_readable(&self) -> bool {
        self.human_readable
    }

    #[cold]
    fn error<E: de::Error>(&self, err: E) -> E {
        data_error::<T, E>(self.version, err)
    }
}

/// Decodes a buffered entry as `F`, once the version says what it is.
#[inline]
pub fn from_content<'de, F: Deserialize<'de>, E: de::Error>(
    content: Content<'de>,
    human_readable: bool,
) -> Result<F, ReadError<E>> {
    F::deserialize(ContentDeserializer::new_from(content, human_readable)).map_err(ReadError::Data)
}

/// The buffered entry as a deserializer, for a field read by a
/// `deserialize_with` function.
#[inline]
pub fn content_deserializer<'de, E: de::Error>(
    content: Content<'de>,
    human_readable: bool,
) -> ContentDeserializer<'de, E> {
    ContentDeserializer::new_from(content, human_readable)
}

/// The value of a field absent from the payload and without a default: as
/// serde_derive does, `None` for an `Option`, otherwise a missing-field error.
#[inline]
pub fn missing<'de, F: Deserialize<'de>, E: de::Error>(
    name: &'static str,
) -> Result<F, ReadError<E>> {
    F::deserialize(Missing {
        name,
        error: PhantomData,
    })
    .map_err(ReadError::Data)
}

/// A missing-field error, for a field read by a `deserialize_with` function.
#[cold]
pub fn missing_field<E: de::Error>(name: &'static str) -> ReadError<E> {
    ReadError::Data(de::Error::missing_field(name))
}

struct Missing<E> {
    name: &'static str,
    error: PhantomData<fn() -> E>,
}

impl<'de, E: de::Error> Deserializer<'de> for Missing<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
        Err(de::Error::missing_field(self.name))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct KeySeed<L> {
    tag: &'static str,
    lookup: L,
}

impl<'de, L: Lookup> DeserializeSeed<'de> for KeySeed<L> {
    type Value = LateKey;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<LateKey, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, L: Lookup> Visitor<'de> for KeySeed<L> {
    type Value = LateKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<LateKey, E> {
        Ok(classify(v.as_bytes(), self.tag, self.lookup))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<LateKey, E> {
        Ok(classify(v, self.tag, self.lookup))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<LateKey, E> {
        Ok(LateKey::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<LateKey, E> {
        Ok(LateKey::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<LateKey, E> {
        Ok(LateKey::Other)
    }
}

/// What the tag alone says about a payload: the error it causes (a future,
/// too-old or invalid version; no tag where one is required), if any.
///
#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(key: &[u8]) -> Option<u16> {
        match key {
            b"a" => Some(0),
            _ => None,
        }
    }

    #[test]
    fn keys_are_classified_by_bytes() {
        assert_eq!(classify(b"_version", "_version", lookup), LateKey::Tag);
        assert_eq!(classify(b"a", "_version", lookup), LateKey::Field(0));
        assert_eq!(classify(b"b", "_version", lookup), LateKey::Other);
    }

    #[test]
    fn a_missing_option_is_none_and_anything_else_an_error() {
        let none: Result<Option<u32>, ReadError<serde_json::Error>> = missing("x");
        assert!(matches!(none, Ok(None)));
        let err: Result<u32, ReadError<serde_json::Error>> = missing("x");
        match err {
            Err(ReadError::Data(e)) => assert_eq!(e.to_string(), "missing field `x`"),
            _ => panic!("expected a missing-field error"),
        }
    }
}
