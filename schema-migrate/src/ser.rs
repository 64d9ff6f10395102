//! Writing a versioned value with its tag as the first entry, so that a reader
//! finds the version at once and never has to buffer the entries before it.

use std::fmt;

use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer};

/// A serializer for a versioned value's serde representation that writes the
/// version tag ahead of the value's own fields.
pub struct TagFirst<S> {
    inner: S,
    type_name: &'static str,
    tag: &'static str,
    version: u32,
}

impl<S> TagFirst<S> {
    /// `type_name` is only used in errors.
    pub fn new(inner: S, type_name: &'static str, tag: &'static str, version: u32) -> Self {
        TagFirst {
            inner,
            type_name,
            tag,
            version,
        }
    }
}

impl<S: Serializer> TagFirst<S> {
    #[cold]
    fn reject(&self, what: &dyn fmt::Display) -> S::Error {
        ser::Error::custom(format_args!(
            "cannot serialize `{}` with its version tag `{}`: only a struct or map can carry the \
             tag, but it serialized as {what}",
            self.type_name, self.tag,
        ))
    }

    #[cold]
    fn reject_variant(&self, name: &str, variant: &str) -> S::Error {
        self.reject(&format_args!(
            "an externally tagged enum variant `{name}::{variant}`"
        ))
    }
}

macro_rules! reject {
    ($($method:ident($($arg:ty)?) => $what:literal,)*) => {$(
        fn $method(self, $(_: $arg)?) -> Result<S::Ok, S::Error> {
            Err(self.reject(&$what))
        }
    )*};
}

impl<S: Serializer> Serializer for TagFirst<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = S::SerializeMap;
    type SerializeStruct = S::SerializeStruct;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<S::SerializeStruct, S::Error> {
        let mut st = self.inner.serialize_struct(name, len + 1)?;
        st.serialize_field(self.tag, &self.version)?;
        Ok(st)
    }

    // Reached by `#[serde(flatten)]`, whose field count is unknown.
    fn serialize_map(self, len: Option<usize>) -> Result<S::SerializeMap, S::Error> {
        let mut map = self.inner.serialize_map(len.map(|n| n + 1))?;
        map.serialize_entry(self.tag, &self.version)?;
        Ok(map)
    }

    // A newtype wrapper around a struct is written as that struct, so the
    // tag can still go in front of the struct's fields.
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(self)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }

    reject! {
        serialize_bool(bool) => "a boolean",
        serialize_i8(i8) => "an integer",
        serialize_i16(i16) => "an integer",
        serialize_i32(i32) => "an integer",
        serialize_i64(i64) => "an integer",
        serialize_i128(i128) => "an integer",
        serialize_u8(u8) => "an integer",
        serialize_u16(u16) => "an integer",
        serialize_u32(u32) => "an integer",
        serialize_u64(u64) => "an integer",
        serialize_u128(u128) => "an integer",
        serialize_f32(f32) => "a floating-point number",
        serialize_f64(f64) => "a floating-point number",
        serialize_char(char) => "a character",
        serialize_str(&str) => "a string",
        serialize_bytes(&[u8]) => "a byte string",
        serialize_none() => "an absent optional value (`None`)",
        serialize_unit() => "a unit value `()`",
    }

    // Avoids formatting the value only to reject it.
    fn collect_str<T: ?Sized + fmt::Display>(self, _: &T) -> Result<S::Ok, S::Error> {
        Err(self.reject(&"a string"))
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<S::Ok, S::Error> {
        Err(self.reject(&"a present optional value (`Some`)"))
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        Err(self.reject(&format_args!("the unit struct `{name}`")))
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        Err(self.reject_variant(name, variant))
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(self.reject_variant(name, variant))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Err(self.reject(&"a sequence"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, S::Error> {
        Err(self.reject(&"a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Err(self.reject(&format_args!("the tuple struct `{name}`")))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Err(self.reject_variant(name, variant))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Err(self.reject_variant(name, variant))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::TagFirst;

    fn write<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut out);
        value.serialize(TagFirst::new(&mut ser, "Foo", "_version", 3))?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[derive(Serialize)]
    struct Plain {
        a: u8,
        b: &'static str,
        c: Option<bool>,
        d: Vec<u8>,
    }

    fn plain() -> Plain {
        Plain {
            a: 1,
            b: "x",
            c: None,
            d: vec![2, 3],
        }
    }

    #[test]
    fn struct_gets_the_tag_first() {
        assert_eq!(
            write(&plain()).unwrap(),
            r#"{"_version":3,"a":1,"b":"x","c":null,"d":[2,3]}"#
        );
    }

    #[derive(Serialize)]
    struct Wrapper(Plain);

    #[test]
    fn newtype_struct_passes_through() {
        assert_eq!(
            write(&Wrapper(plain())).unwrap(),
            r#"{"_version":3,"a":1,"b":"x","c":null,"d":[2,3]}"#
        );
    }

    #[derive(Serialize)]
    struct Flat {
        a: u8,
        #[serde(flatten)]
        extra: BTreeMap<&'static str, u8>,
    }

    #[test]
    fn flattened_struct_and_map_get_the_tag_first() {
        let flat = Flat {
            a: 1,
            extra: BTreeMap::from([("k", 2), ("j", 4)]),
        };
        assert_eq!(write(&flat).unwrap(), r#"{"_version":3,"a":1,"j":4,"k":2}"#);
        assert_eq!(
            write(&BTreeMap::from([("k", 1)])).unwrap(),
            r#"{"_version":3,"k":1}"#
        );
    }

    #[derive(Serialize)]
    struct Inner {
        y: u8,
    }

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Internal {
        Struct { x: u8 },
        Unit,
        Newtype(Inner),
    }

    #[test]
    fn internally_tagged_enum_gets_the_version_before_its_tag() {
        assert_eq!(
            write(&Internal::Struct { x: 1 }).unwrap(),
            r#"{"_version":3,"type":"Struct","x":1}"#
        );
        assert_eq!(
            write(&Internal::Unit).unwrap(),
            r#"{"_version":3,"type":"Unit"}"#
        );
        assert_eq!(
            write(&Internal::Newtype(Inner { y: 2 })).unwrap(),
            r#"{"_version":3,"type":"Newtype","y":2}"#
        );
    }

    #[derive(Serialize)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        Num(u8),
        Rec { z: bool },
        Unit,
    }

    #[test]
    fn adjacently_tagged_enum_gets_the_version_first() {
        assert_eq!(
            write(&Adjacent::Num(5)).unwrap(),
            r#"{"_version":3,"t":"Num","c":5}"#
        );
        assert_eq!(
            write(&Adjacent::Rec { z: true }).unwrap(),
            r#"{"_version":3,"t":"Rec","c":{"z":true}}"#
        );
        assert_eq!(
            write(&Adjacent::Unit).unwrap(),
            r#"{"_version":3,"t":"Unit"}"#
        );
    }

    #[derive(Serialize)]
    enum External {
        Bar(u8),
        Baz,
        Qux { q: u8 },
    }

    const PREFIX: &str =
        "cannot serialize `Foo` with its version tag `_version`: only a struct or \
                          map can carry the tag, but it serialized as ";

    fn rejected<T: Serialize + ?Sized>(value: &T) -> String {
        let message = write(value).unwrap_err().to_string();
        message
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("unexpected error: {message}"))
            .to_owned()
    }

    #[test]
    fn other_shapes_are_rejected() {
        assert_eq!(
            rejected(&External::Bar(1)),
            "an externally tagged enum variant `External::Bar`"
        );
        assert_eq!(
            rejected(&External::Baz),
            "an externally tagged enum variant `External::Baz`"
        );
        assert_eq!(
            rejected(&External::Qux { q: 1 }),
            "an externally tagged enum variant `External::Qux`"
        );
        assert_eq!(rejected("text"), "a string");
        assert_eq!(rejected(&[1, 2]), "a tuple");
        assert_eq!(rejected(&vec![1, 2]), "a sequence");
        assert_eq!(rejected(&7u64), "an integer");
        assert_eq!(
            rejected(&Some(plain())),
            "a present optional value (`Some`)"
        );
        assert_eq!(rejected(&()), "a unit value `()`");
    }
}
