//! Reading back a buffered map key as its format would have read it.
//!
//! A human-readable format such as JSON writes every map key as a string,
//! and reads a string key as the number or boolean the map's key type asks
//! for: serde_json reads `{"7": "x"}` into a `HashMap<u32, String>`. Once the
//! key is buffered (an entry before the version tag), only the string is
//! left, so the replay does what serde_json's map keys do: a numeric key type
//! parses the string as a JSON number, a boolean one takes `true` or
//! `false`, with serde_json's errors for anything else. Formats that are not
//! human-readable (CBOR, MessagePack) keep typed keys and are replayed as
//! they are.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};

use crate::content::{Content, ContentDeserializer, Mode};

/// A buffered map key of a human-readable format.
pub(crate) struct KeyDeserializer<'de, E> {
    content: Content<'de>,
    mode: Mode<E>,
}

impl<'de, E: de::Error> KeyDeserializer<'de, E> {
    pub(crate) fn new(content: Content<'de>, mode: Mode<E>) -> Self {
        KeyDeserializer { content, mode }
    }

    fn plain(self) -> ContentDeserializer<'de, E> {
        ContentDeserializer::with_mode(self.content, self.mode)
    }

    /// The key as a JSON number, as serde_json's map keys read one.
    fn number<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        let Some(text) = self.content.as_str() else {
            return self.plain().deserialize_any(visitor);
        };
        match json_number(text)? {
            Number::Unsigned(n) => visitor.visit_u64(n),
            Number::Signed(n) => visitor.visit_i64(n),
            Number::Float(n) => visitor.visit_f64(n),
        }
    }

    /// The key as a 128-bit integer, whose digits serde_json reads exactly
    /// (`signed`: for an `i128`).
    fn wide<V: Visitor<'de>>(self, visitor: V, signed: bool) -> Result<V::Value, E> {
        let Some(text) = self.content.as_str() else {
            return self.plain().deserialize_any(visitor);
        };
        numeric_key(text)?;
        let negative = text.starts_with('-');
        if negative && !signed {
            return Err(de::Error::custom("number out of range"));
        }
        let digits = &text[usize::from(negative)..];
        let len = match digits.as_bytes() {
            [b'0', b'0'..=b'9', ..] | [] => return Err(de::Error::custom("invalid number")),
            [b'0', ..] => 1,
            [b'1'..=b'9', ..] => digits.bytes().take_while(u8::is_ascii_digit).count(),
            _ => return Err(de::Error::custom("invalid number")),
        };
        if len != digits.len() {
            return Err(de::Error::custom("expected `\"`"));
        }
        let out_of_range = |_| de::Error::custom("number out of range");
        if signed {
            visitor.visit_i128(text.parse().map_err(out_of_range)?)
        } else {
            visitor.visit_u128(text.parse().map_err(out_of_range)?)
        }
    }
}

/// serde_json reads a key as a number only if it starts like one.
fn numeric_key<E: de::Error>(text: &str) -> Result<(), E> {
    if matches!(text.as_bytes().first(), Some(b'0'..=b'9' | b'-')) {
        Ok(())
    } else {
        Err(de::Error::custom(
            "invalid value: expected key to be a number in quotes",
        ))
    }
}

enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

/// `text` as serde_json reads a map key as a number: the JSON number
/// grammar, with serde_json's messages for what does not fit it.
fn json_number<E: de::Error>(text: &str) -> Result<Number, E> {
    numeric_key(text)?;
    let bytes = text.as_bytes();
    let invalid = || de::Error::custom("invalid number");
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(bytes[0] == b'-');
    match bytes.get(i) {
        // There can be only one leading zero.
        Some(b'0') if matches!(bytes.get(i + 1), Some(b'0'..=b'9')) => return Err(invalid()),
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return Err(invalid()),
    }
    let integer_end = i;
    if bytes.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return Err(invalid());
        }
        i += 1 + n;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return Err(invalid());
        }
        i += n;
    }
    if i != bytes.len() {
        return Err(de::Error::custom("expected `\"`"));
    }
    let number = &text[..i];
    if integer_end == i {
        if let Ok(n) = number.parse::<u64>() {
            return Ok(Number::Unsigned(n));
        }
        match number.parse::<i64>() {
            // serde_json reads `-0` as the float -0.0, keeping its sign.
            Ok(0) => return Ok(Number::Float(-0.0)),
            Ok(n) => return Ok(Number::Signed(n)),
            Err(_) => {}
        }
    }
    // As serde_json without `arbitrary_precision`: an integer beyond 64 bits
    // is read as a float.
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(Number::Float(n)),
        _ => Err(de::Error::custom("number out of range")),
    }
}

macro_rules! numeric {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            self.number(visitor)
        }
    )*};
}

impl<'de, E: de::Error> Deserializer<'de> for KeyDeserializer<'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.plain().deserialize_any(visitor)
    }

    numeric! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.wide(visitor, true)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.wide(visitor, false)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        // serde_json's own wording, quirks included: past a `t` or `f` it
        // expects the rest of the word, and of any other key it quotes
        // what follows the first character.
        match self.content.as_str() {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            Some(other) if other.starts_with(['t', 'f']) => {
                Err(de::Error::custom("expected ident"))
            }
            Some(other) => {
                let rest = other.char_indices().nth(1).map_or("", |(i, _)| &other[i..]);
                Err(de::Error::invalid_type(Unexpected::Str(rest), &visitor))
            }
            None => self.plain().deserialize_bool(visitor),
        }
    }

    // Map keys cannot be null.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        self.plain().deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

impl<E> fmt::Debug for KeyDeserializer<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyDeserializer")
            .field(&self.content)
            .finish()
    }
}
