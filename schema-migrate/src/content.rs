//! A buffered serde value, and a map that replays buffered entries ahead of
//! the rest of a live map. Needed when the version tag is not the first key:
//! the entries before it can only be interpreted once the version is known.

use std::fmt;
use std::marker::PhantomData;
use std::vec;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::Deserialize;

/// Any value a self-describing format produces, borrowing from the input
/// wherever the format lends it.
// The variants are serde's data model, one for one; docs would only repeat it.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum Content<'de> {
    Bool(bool),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    F32(f32),
    F64(f64),
    Char(char),
    String(String),
    Str(&'de str),
    ByteBuf(Vec<u8>),
    Bytes(&'de [u8]),
    None,
    Some(Box<Content<'de>>),
    Unit,
    Newtype(Box<Content<'de>>),
    Seq(Vec<Content<'de>>),
    Map(Vec<(Content<'de>, Content<'de>)>),
}

impl Content<'_> {
    /// The text of a string, borrowed or owned.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Content::Str(s) => Some(s),
            Content::String(s) => Some(s),
            _ => None,
        }
    }

    #[cold]
    fn unexpected(&self) -> Unexpected<'_> {
        match *self {
            Content::Bool(v) => Unexpected::Bool(v),
            Content::U8(v) => Unexpected::Unsigned(v.into()),
            Content::U16(v) => Unexpected::Unsigned(v.into()),
            Content::U32(v) => Unexpected::Unsigned(v.into()),
            Content::U64(v) => Unexpected::Unsigned(v),
            Content::U128(v) => u64::try_from(v)
                .map_or(Unexpected::Other("a 128-bit integer"), Unexpected::Unsigned),
            Content::I8(v) => Unexpected::Signed(v.into()),
            Content::I16(v) => Unexpected::Signed(v.into()),
            Content::I32(v) => Unexpected::Signed(v.into()),
            Content::I64(v) => Unexpected::Signed(v),
            Content::I128(v) => {
                i64::try_from(v).map_or(Unexpected::Other("a 128-bit integer"), Unexpected::Signed)
            }
            Content::F32(v) => Unexpected::Float(v.into()),
            Content::F64(v) => Unexpected::Float(v),
            Content::Char(v) => Unexpected::Char(v),
            Content::String(ref v) => Unexpected::Str(v),
            Content::Str(v) => Unexpected::Str(v),
            Content::ByteBuf(ref v) => Unexpected::Bytes(v),
            Content::Bytes(v) => Unexpected::Bytes(v),
            Content::None | Content::Some(_) => Unexpected::Option,
            Content::Unit => Unexpected::Unit,
            Content::Newtype(_) => Unexpected::NewtypeStruct,
            Content::Seq(_) => Unexpected::Seq,
            Content::Map(_) => Unexpected::Map,
        }
    }
}

impl<'de> Deserialize<'de> for Content<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ContentVisitor)
    }
}

/// The store's codec keeps decoded MessagePack and CBOR envelopes, which
/// outlive their input buffer.
#[cfg(feature = "store")]
impl Content<'_> {
    pub(crate) fn into_owned(self) -> Content<'static> {
        match self {
            Content::Bool(v) => Content::Bool(v),
            Content::U8(v) => Content::U8(v),
            Content::U16(v) => Content::U16(v),
            Content::U32(v) => Content::U32(v),
            Content::U64(v) => Content::U64(v),
            Content::U128(v) => Content::U128(v),
            Content::I8(v) => Content::I8(v),
            Content::I16(v) => Content::I16(v),
            Content::I32(v) => Content::I32(v),
            Content::I64(v) => Content::I64(v),
            Content::I128(v) => Content::I128(v),
            Content::F32(v) => Content::F32(v),
            Content::F64(v) => Content::F64(v),
            Content::Char(v) => Content::Char(v),
            Content::String(v) => Content::String(v),
            Content::Str(v) => Content::String(v.to_owned()),
            Content::ByteBuf(v) => Content::ByteBuf(v),
            Content::Bytes(v) => Content::ByteBuf(v.to_vec()),
            Content::None => Content::None,
            Content::Some(v) => Content::Some(Box::new(v.into_owned())),
            Content::Unit => Content::Unit,
            Content::Newtype(v) => Content::Newtype(Box::new(v.into_owned())),
            Content::Seq(v) => Content::Seq(v.into_iter().map(Content::into_owned).collect()),
            Content::Map(v) => Content::Map(
                v.into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

/// A [`Content`] that owns its data, for readers that lend nothing
/// (`DeserializeOwned`).
#[cfg(feature = "store")]
pub(crate) struct OwnedContent(pub Content<'static>);

#[cfg(feature = "store")]
impl<'de> Deserialize<'de> for OwnedContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Content::deserialize(deserializer).map(|c| OwnedContent(c.into_owned()))
    }
}

/// Writing a buffered value back in the same data model: the store's codec
/// re-encodes the envelope around an upgraded value.
#[cfg(feature = "store")]
impl serde::Serialize for Content<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Content::Bool(v) => serializer.serialize_bool(*v),
            Content::U8(v) => serializer.serialize_u8(*v),
            Content::U16(v) => serializer.serialize_u16(*v),
            Content::U32(v) => serializer.serialize_u32(*v),
            Content::U64(v) => serializer.serialize_u64(*v),
            Content::U128(v) => serializer.serialize_u128(*v),
            Content::I8(v) => serializer.serialize_i8(*v),
            Content::I16(v) => serializer.serialize_i16(*v),
            Content::I32(v) => serializer.serialize_i32(*v),
            Content::I64(v) => serializer.serialize_i64(*v),
            Content::I128(v) => serializer.serialize_i128(*v),
            Content::F32(v) => serializer.serialize_f32(*v),
            Content::F64(v) => serializer.serialize_f64(*v),
            Content::Char(v) => serializer.serialize_char(*v),
            Content::String(v) => serializer.serialize_str(v),
            Content::Str(v) => serializer.serialize_str(v),
            Content::ByteBuf(v) => serializer.serialize_bytes(v),
            Content::Bytes(v) => serializer.serialize_bytes(v),
            Content::None => serializer.serialize_none(),
            Content::Some(v) => serializer.serialize_some(&**v),
            Content::Unit => serializer.serialize_unit(),
            Content::Newtype(v) => v.serialize(serializer),
            Content::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Content::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Preallocation bound: a size hint comes from the input, so a hostile
/// payload must not be able to reserve unbounded memory with it.
fn cautious<T>(hint: Option<usize>) -> usize {
    const MAX_PREALLOC_BYTES: usize = 1024 * 1024;
    hint.unwrap_or(0)
        .min(MAX_PREALLOC_BYTES / std::mem::size_of::<T>().max(1))
}

struct ContentVisitor;

macro_rules! visit_primitives {
    ($($method:ident($ty:ty) => $variant:ident,)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            Ok(Content::$variant(v))
        }
    )*};
}

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    visit_primitives! {
        visit_bool(bool) => Bool,
        visit_u8(u8) => U8,
        visit_u16(u16) => U16,
        visit_u32(u32) => U32,
        visit_u64(u64) => U64,
        visit_u128(u128) => U128,
        visit_i8(i8) => I8,
        visit_i16(i16) => I16,
        visit_i32(i32) => I32,
        visit_i64(i64) => I64,
        visit_i128(i128) => I128,
        visit_f32(f32) => F32,
        visit_f64(f64) => F64,
        visit_char(char) => Char,
        visit_string(String) => String,
        visit_borrowed_str(&'de str) => Str,
        visit_byte_buf(Vec<u8>) => ByteBuf,
        visit_borrowed_bytes(&'de [u8]) => Bytes,
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Content::String(v.to_owned()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Content::ByteBuf(v.to_vec()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Content::deserialize(d).map(|v| Content::Some(Box::new(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::Unit)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Content::deserialize(d).map(|v| Content::Newtype(Box::new(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(cautious::<Content<'de>>(seq.size_hint()));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Content::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries =
            Vec::with_capacity(cautious::<(Content<'de>, Content<'de>)>(map.size_hint()));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Content::Map(entries))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        // The variant's payload can only be read through a visitor that knows
        // its shape, which a buffer does not.
        Err(de::Error::custom(
            "an enum cannot be buffered; it must come after the version tag",
        ))
    }
}

/// The error type of a replay, and whether the buffered input came from a
/// human-readable format: types such as UUIDs or addresses are written
/// differently by binary formats, and must be read back the same way.
pub struct Mode<E> {
    pub(crate) human_readable: bool,
    // fn() -> E: the deserializer holds no E, so E must not affect Send/Sync.
    error: PhantomData<fn() -> E>,
}

impl<E> Mode<E> {
    fn new(human_readable: bool) -> Self {
        Mode {
            human_readable,
            error: PhantomData,
        }
    }
}

impl<E> Clone for Mode<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Mode<E> {}

/// Deserializes a [`Content`], reporting errors as `E`.
pub struct ContentDeserializer<'de, E> {
    content: Content<'de>,
    mode: Mode<E>,
}

impl<'de, E> ContentDeserializer<'de, E> {
    /// Reads `content`, whole, exactly once, as from a human-readable format.
    pub fn new(content: Content<'de>) -> Self {
        Self::with_mode(content, Mode::new(true))
    }

    /// Reads `content` as buffered from a format that is human-readable or not.
    pub fn new_from(content: Content<'de>, human_readable: bool) -> Self {
        Self::with_mode(content, Mode::new(human_readable))
    }

    pub(crate) fn with_mode(content: Content<'de>, mode: Mode<E>) -> Self {
        ContentDeserializer { content, mode }
    }
}

impl<'de, E: de::Error> IntoDeserializer<'de, E> for Content<'de> {
    type Deserializer = ContentDeserializer<'de, E>;

    fn into_deserializer(self) -> Self::Deserializer {
        ContentDeserializer::new(self)
    }
}

impl<'de, E: de::Error> ContentDeserializer<'de, E> {
    #[cold]
    fn invalid_type(&self, expected: &dyn Expected) -> E {
        de::Error::invalid_type(self.content.unexpected(), expected)
    }
}

impl<'de, E: de::Error> Deserializer<'de> for ContentDeserializer<'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.content {
            Content::Bool(v) => visitor.visit_bool(v),
            Content::U8(v) => visitor.visit_u8(v),
            Content::U16(v) => visitor.visit_u16(v),
            Content::U32(v) => visitor.visit_u32(v),
            Content::U64(v) => visitor.visit_u64(v),
            Content::U128(v) => visitor.visit_u128(v),
            Content::I8(v) => visitor.visit_i8(v),
            Content::I16(v) => visitor.visit_i16(v),
            Content::I32(v) => visitor.visit_i32(v),
            Content::I64(v) => visitor.visit_i64(v),
            Content::I128(v) => visitor.visit_i128(v),
            Content::F32(v) => visitor.visit_f32(v),
            Content::F64(v) => visitor.visit_f64(v),
            Content::Char(v) => visitor.visit_char(v),
            Content::String(v) => visitor.visit_string(v),
            Content::Str(v) => visitor.visit_borrowed_str(v),
            Content::ByteBuf(v) => visitor.visit_byte_buf(v),
            Content::Bytes(v) => visitor.visit_borrowed_bytes(v),
            Content::None => visitor.visit_none(),
            Content::Some(v) => visitor.visit_some(ContentDeserializer::with_mode(*v, self.mode)),
            Content::Unit => visitor.visit_unit(),
            Content::Newtype(v) => {
                visitor.visit_newtype_struct(ContentDeserializer::with_mode(*v, self.mode))
            }
            Content::Seq(v) => visit_seq(v, visitor, self.mode),
            Content::Map(v) => visit_map(v, visitor, self.mode),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.content {
            Content::None | Content::Unit => visitor.visit_none(),
            Content::Some(v) => visitor.visit_some(ContentDeserializer::with_mode(*v, self.mode)),
            _ => visitor.visit_some(self),
        }
    }

    // A unit value comes from null, as in serde_json, ciborium and
    // rmp_serde: a held entry is read as its format reads it, wherever the
    // tag stands.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.content {
            // A null: JSON hands it over as unit, CBOR as none.
            Content::Unit | Content::None => visitor.visit_unit(),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.content {
            // MessagePack reads a unit struct from an empty array too.
            Content::Seq(ref v) if v.is_empty() && !self.mode.human_readable => {
                visitor.visit_unit()
            }
            _ => self.deserialize_unit(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.content {
            Content::Newtype(v) => {
                visitor.visit_newtype_struct(ContentDeserializer::with_mode(*v, self.mode))
            }
            // Most formats write a newtype struct as its bare inner value.
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        let (variant, value) = match self.content {
            Content::Str(_) | Content::String(_) => (self.content, None),
            Content::Map(entries) => {
                let mut entries = entries.into_iter();
                match (entries.next(), entries.next()) {
                    (Some((variant, value)), None) => (variant, Some(value)),
                    _ => {
                        return Err(de::Error::invalid_value(
                            Unexpected::Map,
                            &"a map with a single key",
                        ))
                    }
                }
            }
            // serde_json's word for a value that is neither (a syntax
            // error there: an enum starts with `"` or `{`).
            _ if self.mode.human_readable => return Err(de::Error::custom("expected value")),
            _ => return Err(self.invalid_type(&"a string or a map with a single key")),
        };
        visitor.visit_enum(EnumDeserializer {
            variant,
            value,
            mode: self.mode,
        })
    }

    fn is_human_readable(&self) -> bool {
        self.mode.human_readable
    }

    // A human-readable format reads an identifier (a field or variant name)
    // from a string only, as serde_json does: `{"type": 5}` is no variant
    // index there. Others (MessagePack) also take an integer index.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.content {
            Content::Str(_) | Content::String(_) | Content::Bytes(_) | Content::ByteBuf(_) => {
                self.deserialize_any(visitor)
            }
            _ if self.mode.human_readable => Err(self.invalid_type(&visitor)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        drop(self);
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map struct
    }
}

/// Expected length in an invalid_length error, worded as serde words it.
struct Consumed(usize, &'static str);

impl Expected for Consumed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} element{plural} in {}", self.0, self.1)
    }
}

fn visit_seq<'de, V: Visitor<'de>, E: de::Error>(
    items: Vec<Content<'de>>,
    visitor: V,
    mode: Mode<E>,
) -> Result<V::Value, E> {
    let mut seq = SeqDeserializer {
        iter: items.into_iter(),
        count: 0,
        mode,
    };
    let value = visitor.visit_seq(&mut seq)?;
    // A visitor that stops early would otherwise silently drop data.
    match seq.iter.len() {
        0 => Ok(value),
        rest => Err(de::Error::invalid_length(
            seq.count + rest,
            &Consumed(seq.count, "sequence"),
        )),
    }
}

fn visit_map<'de, V: Visitor<'de>, E: de::Error>(
    entries: Vec<(Content<'de>, Content<'de>)>,
    visitor: V,
    mode: Mode<E>,
) -> Result<V::Value, E> {
    let mut map = MapDeserializer {
        iter: entries.into_iter(),
        value: None,
        count: 0,
        mode,
    };
    let value = visitor.visit_map(&mut map)?;
    match map.iter.len() {
        0 => Ok(value),
        rest => Err(de::Error::invalid_length(
            map.count + rest,
            &Consumed(map.count, "map"),
        )),
    }
}

struct SeqDeserializer<'de, E> {
    iter: vec::IntoIter<Content<'de>>,
    count: usize,
    mode: Mode<E>,
}

impl<'de, E: de::Error> SeqAccess<'de> for SeqDeserializer<'de, E> {
    type Error = E;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, E> {
        match self.iter.next() {
            Some(item) => {
                self.count += 1;
                seed.deserialize(ContentDeserializer::with_mode(item, self.mode))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDeserializer<'de, E> {
    iter: vec::IntoIter<(Content<'de>, Content<'de>)>,
    value: Option<Content<'de>>,
    count: usize,
    mode: Mode<E>,
}

impl<'de, E: de::Error> MapAccess<'de> for MapDeserializer<'de, E> {
    type Error = E;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
        match self.iter.next() {
            Some((key, value)) => {
                self.count += 1;
                self.value = Some(value);
                read_key(key, seed, self.mode).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, E> {
        match self.value.take() {
            Some(value) => seed.deserialize(ContentDeserializer::with_mode(value, self.mode)),
            None => Err(value_before_key()),
        }
    }

    fn next_entry_seed<K: DeserializeSeed<'de>, V: DeserializeSeed<'de>>(
        &mut self,
        kseed: K,
        vseed: V,
    ) -> Result<Option<(K::Value, V::Value)>, E> {
        match self.iter.next() {
            Some((key, value)) => {
                self.count += 1;
                let key = read_key(key, kseed, self.mode)?;
                let value = vseed.deserialize(ContentDeserializer::with_mode(value, self.mode))?;
                Ok(Some((key, value)))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A buffered map key, read back as its format would read it: a
/// human-readable one's string keys as numbers or booleans where the key
/// type asks (see `map_key.rs`).
fn read_key<'de, K: DeserializeSeed<'de>, E: de::Error>(
    key: Content<'de>,
    seed: K,
    mode: Mode<E>,
) -> Result<K::Value, E> {
    if mode.human_readable {
        seed.deserialize(crate::map_key::KeyDeserializer::new(key, mode))
    } else {
        seed.deserialize(ContentDeserializer::with_mode(key, mode))
    }
}

#[cold]
fn value_before_key<E: de::Error>() -> E {
    de::Error::custom("a map value was requested before its key")
}

struct EnumDeserializer<'de, E> {
    variant: Content<'de>,
    value: Option<Content<'de>>,
    mode: Mode<E>,
}

impl<'de, E: de::Error> EnumAccess<'de> for EnumDeserializer<'de, E> {
    type Error = E;
    type Variant = VariantDeserializer<'de, E>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), E> {
        let variant = seed.deserialize(ContentDeserializer::with_mode(self.variant, self.mode))?;
        Ok((
            variant,
            VariantDeserializer {
                value: self.value,
                mode: self.mode,
            },
        ))
    }
}

struct VariantDeserializer<'de, E> {
    value: Option<Content<'de>>,
    mode: Mode<E>,
}

impl<'de, E: de::Error> VariantAccess<'de> for VariantDeserializer<'de, E> {
    type Error = E;

    fn unit_variant(self) -> Result<(), E> {
        match self.value {
            // `{"Variant": null}` is how some formats spell a unit variant.
            Some(value) => <()>::deserialize(ContentDeserializer::<E>::with_mode(value, self.mode)),
            None => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, E> {
        match self.value {
            Some(value) => seed.deserialize(ContentDeserializer::with_mode(value, self.mode)),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, E> {
        match self.value {
            Some(Content::Seq(items)) => visit_seq(items, visitor, self.mode),
            Some(other) => Err(de::Error::invalid_type(
                other.unexpected(),
                &"tuple variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.value {
            Some(Content::Map(entries)) => visit_map(entries, visitor, self.mode),
            Some(Content::Seq(items)) => visit_seq(items, visitor, self.mode),
            Some(other) => Err(de::Error::invalid_type(
                other.unexpected(),
                &"struct variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

/// Entries read from a live map before the version tag was found, replayed
/// ahead of the rest of that map.
pub struct BufferedMap<'de, A> {
    buffered: vec::IntoIter<(Content<'de>, Content<'de>)>,
    /// The value of the buffered key last returned, until it is read.
    value: Option<Content<'de>>,
    /// The live map; `None` when it was read to its end before replay began.
    rest: Option<A>,
    /// Whether the live map's format is human-readable.
    human_readable: bool,
}

impl<'de, A> BufferedMap<'de, A> {
    /// `rest: None` when the live map was read to its end.
    pub fn new(buffered: Vec<(Content<'de>, Content<'de>)>, rest: Option<A>) -> Self {
        Self::new_from(buffered, rest, true)
    }

    /// Like `new`, for a live map of a format that is human-readable or not.
    pub fn new_from(
        buffered: Vec<(Content<'de>, Content<'de>)>,
        rest: Option<A>,
        human_readable: bool,
    ) -> Self {
        BufferedMap {
            buffered: buffered.into_iter(),
            value: None,
            rest,
            human_readable,
        }
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BufferedMap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.buffered.next() {
            self.value = Some(value);
            return seed
                .deserialize(ContentDeserializer::new_from(key, self.human_readable))
                .map(Some);
        }
        match &mut self.rest {
            Some(rest) => rest.next_key_seed(seed),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if let Some(value) = self.value.take() {
            return seed.deserialize(ContentDeserializer::new_from(value, self.human_readable));
        }
        match &mut self.rest {
            Some(rest) => rest.next_value_seed(seed),
            None => Err(value_before_key()),
        }
    }

    fn next_entry_seed<K: DeserializeSeed<'de>, V: DeserializeSeed<'de>>(
        &mut self,
        kseed: K,
        vseed: V,
    ) -> Result<Option<(K::Value, V::Value)>, A::Error> {
        if let Some((key, value)) = self.buffered.next() {
            let key = kseed.deserialize(ContentDeserializer::new_from(key, self.human_readable))?;
            let value =
                vseed.deserialize(ContentDeserializer::new_from(value, self.human_readable))?;
            return Ok(Some((key, value)));
        }
        // The live map's own next_entry_seed may be faster than key then value.
        match &mut self.rest {
            Some(rest) => rest.next_entry_seed(kseed, vseed),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        let buffered = self.buffered.len();
        match &self.rest {
            Some(rest) => rest.size_hint().map(|n| n + buffered),
            None => Some(buffered),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::de::value::{MapAccessDeserializer, MapDeserializer as ValueMap};
    use serde::Deserialize;

    use super::*;

    fn from_json<'de, T: Deserialize<'de>>(json: &'de str) -> Result<T, serde_json::Error> {
        let content: Content<'de> = serde_json::from_str(json)?;
        T::deserialize(ContentDeserializer::<serde_json::Error>::new(content))
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Doc {
        id: Id,
        name: String,
        score: f64,
        offset: i32,
        big: u128,
        nickname: Option<String>,
        manager: Option<Owner>,
        #[serde(default)]
        absent: Option<u8>,
        tags: Vec<String>,
        owner: Owner,
        limits: BTreeMap<String, Vec<u16>>,
        status: Status,
        events: Vec<Event>,
        shape: Shape,
        pair: (u8, char),
        nothing: (),
        #[serde(flatten)]
        extra: BTreeMap<String, bool>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Id(u64);

    #[derive(Debug, PartialEq, Deserialize)]
    struct Owner {
        login: String,
        #[serde(rename = "adminLevel")]
        level: Option<u8>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Status {
        Active,
        Suspended,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Event {
        Created,
        Renamed(String),
        Moved { from: String, to: String },
        Resized(u32, u32),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind")]
    enum Shape {
        Circle { r: f32 },
        Dot,
    }

    #[test]
    fn nested_document_round_trips() {
        let json = r#"{
            "id": 42,
            "name": "sync \"nightly\"",
            "score": -1.5,
            "offset": -7,
            "big": 18446744073709551615,
            "nickname": null,
            "manager": {"login": "root", "adminLevel": 9},
            "tags": ["a", "b\nc"],
            "owner": {"login": "ann", "adminLevel": null},
            "limits": {"cpu": [1, 2], "mem": []},
            "status": "Suspended",
            "events": [
                "Created",
                {"Created": null},
                {"Renamed": "x"},
                {"Moved": {"from": "/a", "to": "/b"}},
                {"Resized": [640, 480]}
            ],
            "shape": {"r": 2.5, "kind": "Circle"},
            "pair": [1, "z"],
            "nothing": null,
            "beta": true,
            "alpha": false
        }"#;
        let doc: Doc = from_json(json).unwrap();
        let expected = Doc {
            id: Id(42),
            name: "sync \"nightly\"".to_owned(),
            score: -1.5,
            offset: -7,
            big: u64::MAX.into(),
            nickname: None,
            manager: Some(Owner {
                login: "root".to_owned(),
                level: Some(9),
            }),
            absent: None,
            tags: vec!["a".to_owned(), "b\nc".to_owned()],
            owner: Owner {
                login: "ann".to_owned(),
                level: None,
            },
            limits: BTreeMap::from([("cpu".to_owned(), vec![1, 2]), ("mem".to_owned(), vec![])]),
            status: Status::Suspended,
            events: vec![
                Event::Created,
                Event::Created,
                Event::Renamed("x".to_owned()),
                Event::Moved {
                    from: "/a".to_owned(),
                    to: "/b".to_owned(),
                },
                Event::Resized(640, 480),
            ],
            shape: Shape::Circle { r: 2.5 },
            pair: (1, 'z'),
            nothing: (),
            extra: BTreeMap::from([("alpha".to_owned(), false), ("beta".to_owned(), true)]),
        };
        assert_eq!(doc, expected);
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct B<'a> {
        #[serde(borrow)]
        s: &'a str,
        #[serde(borrow)]
        list: Vec<&'a str>,
    }

    #[test]
    fn strings_borrow_from_the_input() {
        let json = String::from(r#"{"s": "hello", "list": ["x", "yz"]}"#);
        let b: B<'_> = from_json(&json).unwrap();
        assert_eq!(
            b,
            B {
                s: "hello",
                list: vec!["x", "yz"]
            }
        );
        let input = json.as_bytes().as_ptr_range();
        assert!(input.contains(&b.s.as_ptr()));
        assert!(input.contains(&b.list[1].as_ptr()));
    }

    #[test]
    fn buffers_borrowed_and_escaped_strings() {
        let content: Content<'_> =
            serde_json::from_str(r#"{"a": "x", "b": "\u0041", "c": [1, -2, 0.5, null]}"#).unwrap();
        let expected = Content::Map(vec![
            (Content::Str("a"), Content::Str("x")),
            (Content::Str("b"), Content::String("A".to_owned())),
            (
                Content::Str("c"),
                Content::Seq(vec![
                    Content::U64(1),
                    Content::I64(-2),
                    Content::F64(0.5),
                    Content::Unit,
                ]),
            ),
        ]);
        assert_eq!(content, expected);
        let Content::Map(entries) = &content else {
            unreachable!()
        };
        assert_eq!(entries[1].1.as_str(), Some("A"));
        assert_eq!(entries[0].1.as_str(), Some("x"));
        assert_eq!(entries[2].1.as_str(), None);
    }

    #[test]
    fn unconsumed_elements_are_an_error() {
        let err = from_json::<(u8, u8)>("[1, 2, 3]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid length 3, expected 2 elements in sequence"
        );
        let err = from_json::<Event>(r#"{"Created": null, "Renamed": "x"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value: map, expected a map with a single key"
        );
        // As serde_json words it: an enum starts with `"` or `{`.
        let err = from_json::<Status>("3").unwrap_err();
        assert_eq!(err.to_string(), "expected value");
        let err = from_json::<Event>(r#"{"Moved": 1}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: integer `1`, expected struct variant"
        );
    }

    #[test]
    fn enum_input_cannot_be_buffered() {
        use serde::de::value::{EnumAccessDeserializer, StrDeserializer};
        let input = EnumAccessDeserializer::new(StrDeserializer::<de::value::Error>::new("V"));
        let err = Content::deserialize(input).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an enum cannot be buffered; it must come after the version tag"
        );
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Target<'a> {
        #[serde(borrow)]
        name: &'a str,
        n: u32,
        tags: Vec<String>,
        opt: Option<bool>,
    }

    /// Reads the first entry (or, with `drain`, every entry) of a live map
    /// into a buffer, then reads `T` from the buffer followed by the rest.
    struct Replay<T> {
        drain: bool,
        target: PhantomData<T>,
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Replay<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let key: String = map
                .next_key()?
                .ok_or_else(|| de::Error::custom("empty map"))?;
            let value: Content<'de> = map.next_value()?;
            let mut buffered = vec![(Content::String(key), value)];
            if self.drain {
                while let Some(entry) = map.next_entry()? {
                    buffered.push(entry);
                }
                return T::deserialize(MapAccessDeserializer::new(BufferedMap::<A>::new(
                    buffered, None,
                )));
            }
            T::deserialize(MapAccessDeserializer::new(BufferedMap::new(
                buffered,
                Some(map),
            )))
        }
    }

    fn replay<'de, T: Deserialize<'de>>(
        json: &'de str,
        drain: bool,
    ) -> Result<T, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        let value = de.deserialize_map(Replay {
            drain,
            target: PhantomData,
        })?;
        de.end()?;
        Ok(value)
    }

    #[test]
    fn buffered_entries_replay_before_the_live_map() {
        let json = r#"{"n": 7, "name": "job", "tags": ["a", "b"]}"#;
        for drain in [false, true] {
            let t: Target<'_> = replay(json, drain).unwrap();
            assert_eq!(
                t,
                Target {
                    name: "job",
                    n: 7,
                    tags: vec!["a".into(), "b".into()],
                    opt: None
                }
            );
        }
        // The buffered value is a Content::Str, so it still borrows.
        let json = r#"{"name": "first", "n": 1, "tags": [], "opt": true}"#;
        for drain in [false, true] {
            let t: Target<'_> = replay(json, drain).unwrap();
            assert_eq!(
                t,
                Target {
                    name: "first",
                    n: 1,
                    tags: vec![],
                    opt: Some(true)
                }
            );
            assert!(json.as_bytes().as_ptr_range().contains(&t.name.as_ptr()));
        }
    }

    #[test]
    fn buffer_and_live_map_are_one_map() {
        let json = r#"{"n": 1, "name": "x", "n": 2, "tags": []}"#;
        for drain in [false, true] {
            let err = replay::<Target<'_>>(json, drain).unwrap_err();
            assert!(err.to_string().starts_with("duplicate field `n`"), "{err}");
        }
        let err =
            replay::<Target<'_>>(r#"{"n": "one", "name": "x", "tags": []}"#, false).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid type: string \"one\", expected u32"),
            "{err}"
        );
    }

    #[test]
    fn size_hint_counts_buffer_and_rest() {
        let entries = || {
            vec![
                (Content::Str("a"), Content::U8(1)),
                (Content::Str("b"), Content::U8(2)),
            ]
        };
        let rest = ValueMap::<_, de::value::Error>::new([("c", 3u8)].into_iter());
        let mut map = BufferedMap::new(entries(), Some(rest));
        assert_eq!(map.size_hint(), Some(3));
        let entry: Option<(String, u8)> = map.next_entry().unwrap();
        assert_eq!(entry, Some(("a".to_owned(), 1)));
        assert_eq!(map.size_hint(), Some(2));
        let all: BTreeMap<String, u8> =
            BTreeMap::deserialize(MapAccessDeserializer::new(map)).unwrap();
        assert_eq!(
            all,
            BTreeMap::from([("b".to_owned(), 2), ("c".to_owned(), 3)])
        );

        let map = BufferedMap::<ValueMap<'_, vec::IntoIter<(&str, u8)>, de::value::Error>>::new(
            entries(),
            None,
        );
        assert_eq!(map.size_hint(), Some(2));
    }
}
