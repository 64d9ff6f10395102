//! How a stored payload becomes a value and back: its format (JSON,
//! MessagePack with field names, CBOR), the path of the versioned value
//! inside an envelope, and the fields a record holds that its version does
//! not model, which the written record carries.
//!
//! A JSON payload is never re-encoded as a whole: the versioned value is
//! located in the text and only that range is replaced, so the rest of an
//! envelope keeps its bytes, numbers and key order. MessagePack and CBOR
//! envelopes are decoded into a tree and encoded again.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::content::Content;
#[cfg(any(feature = "msgpack", feature = "cbor"))]
use crate::de::with_typed_errors;
use crate::{DeserializeVersionedOwned, Error, SerializeVersioned, Stored, Versioned};

/// How a payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// JSON text (TEXT, JSON or JSONB columns, Redis strings).
    #[default]
    Json,
    /// MessagePack with field names, as `rmp_serde::to_vec_named` writes it
    /// (feature `msgpack`).
    MessagePack,
    /// CBOR (feature `cbor`).
    Cbor,
}

impl Format {
    /// The name the command line uses: `json`, `msgpack` or `cbor`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::MessagePack => "msgpack",
            Format::Cbor => "cbor",
        }
    }

    /// Whether payloads are text (JSON) rather than bytes.
    pub fn is_text(self) -> bool {
        self == Format::Json
    }

    /// An error naming the cargo feature this build lacks for the format.
    pub(crate) fn check_compiled(self) -> Result<(), String> {
        let missing = match self {
            Format::Json => None,
            Format::MessagePack => (!cfg!(feature = "msgpack")).then_some("msgpack"),
            Format::Cbor => (!cfg!(feature = "cbor")).then_some("cbor"),
        };
        match missing {
            None => Ok(()),
            Some(feature) => Err(format!(
                "this build has no {feature} support: enable the `{feature}` feature of schema-migrate"
            )),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Format::Json),
            "msgpack" | "messagepack" => Ok(Format::MessagePack),
            "cbor" => Ok(Format::Cbor),
            _ => Err(format!("expected json, msgpack or cbor, got {s:?}")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A JSON Pointer (RFC 6901), such as `/channel_values/trip`: the place of
/// the versioned value inside a payload. The empty pointer is the whole
/// payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses a pointer: empty, or `/`-separated tokens with `~1` for `/`
    /// and `~0` for `~`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Pointer {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "{text:?} is not a JSON Pointer: it starts with `/`, as in /channel_values/trip"
            ));
        };
        let tokens = rest
            .split('/')
            .map(|token| {
                let mut out = String::with_capacity(token.len());
                let mut chars = token.chars();
                while let Some(c) = chars.next() {
                    match (c, c == '~') {
                        (_, false) => out.push(c),
                        (_, true) => match chars.next() {
                            Some('0') => out.push('~'),
                            Some('1') => out.push('/'),
                            _ => {
                                return Err(format!(
                                    "{text:?}: `~` is followed by 0 or 1 in a JSON Pointer (~0 is ~, ~1 is /)"
                                ))
                            }
                        },
                    }
                }
                Ok(out)
            })
            .collect::<Result<_, _>>()?;
        Ok(Pointer {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a store's payloads are encoded, and where the versioned value is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoding {
    /// The payload's format.
    pub format: Format,
    /// Where the versioned value is inside the payload; `None`: it is the
    /// payload.
    pub path: Option<Pointer>,
}

pub(crate) static JSON: Encoding = Encoding {
    format: Format::Json,
    path: None,
};

/// Why a record cannot be read or written back.
#[derive(Debug)]
pub(crate) enum Problem {
    /// The versioned value could not be read or upgraded.
    Upgrade(Error),
    /// The payload around it: a short stable kind (`undecodable`,
    /// `no_value_at_path`, `carried_field_collision`, `serialize`) and the
    /// message.
    Payload { kind: &'static str, reason: String },
}

impl Problem {
    fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Problem::Payload {
            kind,
            reason: reason.into(),
        }
    }

    /// One of [`Error::kind`]'s, or the payload problem's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Upgrade(e) => e.kind(),
            Problem::Payload { kind, .. } => kind,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Upgrade(e) => e.fmt(f),
            Problem::Payload { reason, .. } => f.write_str(reason),
        }
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        Problem::Upgrade(e)
    }
}

/// A payload rewritten with the upgraded value.
pub(crate) struct Rewrite {
    pub payload: Vec<u8>,
    /// How many fields the stored value held beyond its version's, carried.
    pub carried: usize,
}

impl Encoding {
    /// Reads the versioned value of `payload`.
    pub(crate) fn read<T: DeserializeVersionedOwned>(
        &self,
        payload: &[u8],
    ) -> Result<Stored<T>, Problem> {
        match self.format {
            Format::Json => {
                let text = utf8(payload)?;
                let range = json_locate(text, self.tokens())?;
                Ok(crate::json::from_str::<T>(&text[range])?)
            }
            format => match self.tokens() {
                [] => binary_read::<T>(format, payload),
                tokens => {
                    let envelope = binary_decode(format, payload)?;
                    let value = binary_locate(&envelope, tokens)?;
                    binary_read::<T>(format, &binary_encode(format, value)?)
                }
            },
        }
    }

    /// `original` with its versioned value (read at `version`) replaced by
    /// `value`; when `carry`, the fields the stored value held that its
    /// version does not model are kept in the written value.
    pub(crate) fn rewrite<T: SerializeVersioned>(
        &self,
        original: &[u8],
        value: &T,
        version: u32,
        write: u32,
        carry: bool,
    ) -> Result<Rewrite, Problem> {
        let value = &crate::at_version(value, write);
        let known = if carry {
            T::stored_fields(version)
        } else {
            None
        };
        let unknown = |key: &str| known.is_some_and(|k| key != T::TAG && !k.contains(&key));
        match self.format {
            Format::Json => {
                let text = utf8(original)?;
                let range = json_locate(text, self.tokens())?;
                let mut written = serde_json::to_string(value).map_err(serialize)?;
                let mut carried = Vec::new();
                if known.is_some() {
                    if let Some(entries) = JsonEntries::parse(&text[range.clone()]) {
                        carried = entries.0.into_iter().filter(|(k, _)| unknown(k)).collect();
                    }
                }
                if !carried.is_empty() {
                    if !written.ends_with('}') {
                        return Err(serialize(format_args!(
                            "{} was not written as an object, so the fields it does not model \
                             cannot be carried",
                            T::NAME
                        )));
                    }
                    let ours: Vec<String> = JsonEntries::parse(&written)
                        .unwrap_or_default()
                        .0
                        .into_iter()
                        .map(|(k, _)| k.into_owned())
                        .collect();
                    for (key, raw) in &carried {
                        if ours.iter().any(|k| k == key) {
                            return Err(collision::<T>(key, version));
                        }
                        written.pop(); // the closing brace
                        written.push(',');
                        written.push_str(&serde_json::to_string(key).map_err(serialize)?);
                        written.push(':');
                        written.push_str(raw.get());
                        written.push('}');
                    }
                }
                let mut payload = Vec::with_capacity(text.len() - range.len() + written.len());
                payload.extend_from_slice(&original[..range.start]);
                payload.extend_from_slice(written.as_bytes());
                payload.extend_from_slice(&original[range.end..]);
                Ok(Rewrite {
                    payload,
                    carried: carried.len(),
                })
            }
            format => {
                let mut written = binary_encode(format, value)?;
                let tokens = self.tokens();
                if known.is_none() && tokens.is_empty() {
                    return Ok(Rewrite {
                        payload: written,
                        carried: 0,
                    });
                }
                let mut envelope = binary_decode(format, original)?;
                let stored = binary_locate(&envelope, tokens)?;
                let carried: Vec<(Content<'static>, Content<'static>)> = match stored {
                    Content::Map(entries) if known.is_some() => entries
                        .iter()
                        .filter(|(k, _)| k.as_str().is_some_and(unknown))
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                };
                let count = carried.len();
                if count == 0 && tokens.is_empty() {
                    return Ok(Rewrite {
                        payload: written,
                        carried: 0,
                    });
                }
                let mut ours = binary_decode(format, &written)?;
                if count > 0 {
                    let Content::Map(entries) = &mut ours else {
                        return Err(serialize(format_args!(
                            "{} was not written as a map, so the fields it does not model \
                             cannot be carried",
                            T::NAME
                        )));
                    };
                    for (key, item) in carried {
                        if entries.iter().any(|(k, _)| k.as_str() == key.as_str()) {
                            return Err(collision::<T>(key.as_str().unwrap_or(""), version));
                        }
                        entries.push((key, item));
                    }
                }
                if tokens.is_empty() {
                    written = binary_encode(format, &ours)?;
                } else {
                    *binary_locate_mut(&mut envelope, tokens)? = ours;
                    written = binary_encode(format, &envelope)?;
                }
                Ok(Rewrite {
                    payload: written,
                    carried: count,
                })
            }
        }
    }

    /// A payload holding `value`: the value itself, or, with a path,
    /// `original` (which must exist) with the value at the path replaced.
    pub(crate) fn write<T: SerializeVersioned>(
        &self,
        original: Option<&[u8]>,
        value: &T,
    ) -> Result<Vec<u8>, Problem> {
        match (self.tokens(), original) {
            ([], _) => match self.format {
                Format::Json => serde_json::to_vec(value).map_err(serialize),
                format => binary_encode(format, value),
            },
            (_, Some(original)) => Ok(self
                .rewrite(original, value, T::VERSION, T::WRITE_VERSION, false)?
                .payload),
            (_, None) => Err(self.no_envelope()),
        }
    }

    /// With a path, a value is saved into an existing record's envelope:
    /// the error when there is none.
    pub(crate) fn no_envelope(&self) -> Problem {
        Problem::new(
            "no_value_at_path",
            format!(
                "there is no payload to write the value into at {}: with a path, a value is saved \
                 into an existing record",
                self.path.as_ref().map_or("", Pointer::as_str)
            ),
        )
    }

    fn tokens(&self) -> &[String] {
        self.path.as_ref().map_or(&[], |p| &p.tokens)
    }
}

fn utf8(payload: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(payload).map_err(|e| {
        Problem::new(
            "undecodable",
            format!("the payload is not JSON: it is not UTF-8 text ({e})"),
        )
    })
}

fn serialize(e: impl fmt::Display) -> Problem {
    Problem::new(
        "serialize",
        format!("the upgraded value cannot be serialized: {e}"),
    )
}

fn collision<T: Versioned>(key: &str, version: u32) -> Problem {
    Problem::new(
        "carried_field_collision",
        format!(
            "{}: the record, stored at version {version}, holds a field `{key}` that version does not \
             model, and version {} writes a field of that name: carrying it would overwrite one with \
             the other; the record was left as it was",
            T::NAME,
            T::VERSION
        ),
    )
}

fn nothing_at(path: &[String], depth: usize, what: &str) -> Problem {
    let mut at = String::new();
    for token in &path[..=depth] {
        at.push('/');
        at.push_str(&token.replace('~', "~0").replace('/', "~1"));
    }
    Problem::new(
        "no_value_at_path",
        format!("nothing at {at} in the payload: {what}"),
    )
}

/// The entries of a JSON object, values left as their text.
#[derive(Default)]
struct JsonEntries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> JsonEntries<'a> {
    /// The entries of `text` if it is an object.
    fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl<'de> Deserialize<'de> for JsonEntries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonEntries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(JsonEntries(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// The items of a JSON array, left as their text.
struct JsonItems<'a>(Vec<&'a RawValue>);

impl<'de> Deserialize<'de> for JsonItems<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonItems<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(JsonItems(items))
            }
        }
        deserializer.deserialize_seq(V)
    }
}

/// The byte range of the value at `path` in the JSON `text`. Of an object's
/// duplicate keys the last counts, as PostgreSQL's JSONB keeps it.
fn json_locate(text: &str, path: &[String]) -> Result<Range<usize>, Problem> {
    let mut range = 0..text.len();
    for (depth, token) in path.iter().enumerate() {
        let here = &text[range.clone()];
        let raw: &RawValue = serde_json::from_str(here)
            .map_err(|e| Problem::new("undecodable", format!("the payload is not JSON: {e}")))?;
        let found = match raw.get().as_bytes().first() {
            Some(b'{') => JsonEntries::parse(raw.get())
                .and_then(|e| e.0.into_iter().rev().find(|(k, _)| k == token))
                .map(|(_, v)| v),
            Some(b'[') => {
                let items: JsonItems = serde_json::from_str(raw.get()).map_err(|e| {
                    Problem::new("undecodable", format!("the payload is not JSON: {e}"))
                })?;
                index(token).and_then(|i| items.0.get(i).copied())
            }
            _ => {
                return Err(nothing_at(
                    path,
                    depth,
                    "its parent is not an object or array",
                ))
            }
        };
        let Some(found) = found else {
            return Err(nothing_at(path, depth, "no such key or index"));
        };
        let start = found.get().as_ptr() as usize - text.as_ptr() as usize;
        range = start..start + found.get().len();
    }
    Ok(range)
}

/// An array index token: digits, without a leading zero.
fn index(token: &str) -> Option<usize> {
    let plain = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    plain.then(|| token.parse().ok()).flatten()
}

fn binary_locate<'c>(
    envelope: &'c Content<'static>,
    path: &[String],
) -> Result<&'c Content<'static>, Problem> {
    let mut node = envelope;
    for (depth, token) in path.iter().enumerate() {
        node = match node {
            Content::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(token))
                .map(|(_, v)| v),
            Content::Seq(items) => index(token).and_then(|i| items.get(i)),
            _ => return Err(nothing_at(path, depth, "its parent is not a map or array")),
        }
        .ok_or_else(|| nothing_at(path, depth, "no such key or index"))?;
    }
    Ok(node)
}

fn binary_locate_mut<'c>(
    envelope: &'c mut Content<'static>,
    path: &[String],
) -> Result<&'c mut Content<'static>, Problem> {
    let mut node = envelope;
    for (depth, token) in path.iter().enumerate() {
        node = match node {
            Content::Map(entries) => entries
                .iter_mut()
                .rev()
                .find(|(k, _)| k.as_str() == Some(token))
                .map(|(_, v)| v),
            Content::Seq(items) => index(token).and_then(|i| items.get_mut(i)),
            _ => return Err(nothing_at(path, depth, "its parent is not a map or array")),
        }
        .ok_or_else(|| nothing_at(path, depth, "no such key or index"))?;
    }
    Ok(node)
}

/// Reads a whole MessagePack or CBOR payload as `T`.
fn binary_read<T: DeserializeVersionedOwned>(
    format: Format,
    payload: &[u8],
) -> Result<Stored<T>, Problem> {
    let invalid = |message: String| Error::InvalidData {
        type_name: T::NAME,
        version: None,
        message,
    };
    match format {
        #[cfg(feature = "msgpack")]
        Format::MessagePack => Ok(with_typed_errors(
            || rmp_serde::from_slice::<Stored<T>>(payload),
            invalid,
        )?),
        #[cfg(feature = "cbor")]
        Format::Cbor => Ok(with_typed_errors(
            || ciborium::from_reader::<Stored<T>, _>(payload),
            invalid,
        )?),
        other => {
            let _ = (payload, invalid);
            Err(not_compiled(other))
        }
    }
}

/// A MessagePack or CBOR payload as a tree.
fn binary_decode(format: Format, payload: &[u8]) -> Result<Content<'static>, Problem> {
    let undecodable = |e: &dyn fmt::Display| {
        Problem::new("undecodable", format!("the payload is not {format}: {e}"))
    };
    match format {
        #[cfg(feature = "msgpack")]
        Format::MessagePack => rmp_serde::from_slice::<Content<'_>>(payload)
            .map(Content::into_owned)
            .map_err(|e| undecodable(&e)),
        #[cfg(feature = "cbor")]
        Format::Cbor => ciborium::from_reader::<crate::content::OwnedContent, _>(payload)
            .map(|c| c.0)
            .map_err(|e| undecodable(&e)),
        other => {
            let _ = (payload, undecodable);
            Err(not_compiled(other))
        }
    }
}

fn binary_encode<S: Serialize + ?Sized>(format: Format, value: &S) -> Result<Vec<u8>, Problem> {
    match format {
        #[cfg(feature = "msgpack")]
        Format::MessagePack => rmp_serde::to_vec_named(value).map_err(serialize),
        #[cfg(feature = "cbor")]
        Format::Cbor => {
            let mut out = Vec::new();
            ciborium::into_writer(value, &mut out).map_err(serialize)?;
            Ok(out)
        }
        other => {
            let _ = value;
            Err(not_compiled(other))
        }
    }
}

#[cold]
fn not_compiled(format: Format) -> Problem {
    Problem::new(
        "undecodable",
        format
            .check_compiled()
            .err()
            .unwrap_or_else(|| format!("{format} is handled as text")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_parse_as_rfc_6901() {
        let p = Pointer::parse("/a~1b/~0c/0").unwrap();
        assert_eq!(p.tokens, ["a/b", "~c", "0"]);
        assert_eq!(Pointer::parse("").unwrap().tokens, Vec::<String>::new());
        assert!(Pointer::parse("a/b").is_err());
        assert!(Pointer::parse("/a~2").is_err());
    }

    #[test]
    fn json_values_are_located_in_place() {
        let text = r#" {"a": {"b": [1, {"c" : "x"}]}, "a": {"b": [0, {"c": true}]}} "#;
        let tokens = |p: &str| Pointer::parse(p).unwrap().tokens;
        let range = json_locate(text, &tokens("/a/b/1/c")).unwrap();
        assert_eq!(&text[range], "true", "the last of duplicate keys");
        assert_eq!(&text[json_locate(text, &[]).unwrap()], text);
        let err = json_locate(text, &tokens("/a/b/01")).unwrap_err();
        assert_eq!(err.kind(), "no_value_at_path");
        assert!(err.to_string().contains("/a/b/01"), "{err}");
        let err = json_locate(text, &tokens("/a/b/0/c")).unwrap_err();
        assert!(err.to_string().contains("not an object or array"), "{err}");
    }
}
