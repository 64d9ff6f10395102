//! The derive's expansion names everything by absolute path: it compiles and
//! works in a module where the prelude's names, `serde`, `schema_migrate`,
//! `core` and `std` are all shadowed by local items.

#![allow(dead_code, non_camel_case_types, clippy::all)]

mod shadowed {
    // Prelude types and variants.
    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub struct Option;
    pub struct Vec;
    pub struct String;
    pub struct Box;
    pub struct Default;
    pub struct From;
    pub struct Into;
    pub struct TryFrom;
    pub struct Clone;
    pub struct PhantomData;
    pub struct Deserialize;
    pub struct Serialize;
    pub struct Versioned;
    pub struct Error;
    pub struct Value;
    pub struct Map;
    // `pub type u32 = bool;` breaks the expansion: see `bug_shadowed_primitive`.
    pub trait Iterator {}
    pub trait ToString {}
    // Crates, as seen from here without a leading `::`.
    pub mod serde {}
    pub mod serde_json {}
    pub mod schema_migrate {}
    pub mod core {}
    pub mod std {}
    pub mod alloc {}
    // Names the generated code might use for its own items.
    pub struct __Current;
    pub struct __V1;
    pub struct __V2;
    pub struct __D;
    pub struct __A;
    // (Constants named like the `__`-prefixed locals, e.g. `const __value`,
    // break serde_derive's own expansion as well: the `__` prefix is the
    // convention, as in serde.)

    /// A struct with every kind of step.
    #[derive(Debug, PartialEq, ::schema_migrate::Versioned)]
    #[schema(
        version = 5,
        migrate(from = 1, with = fix_up),
        migrate(from = 2, add(count = 1), rename(title = name)),
        migrate(from = 3, remove(legacy: ::std::string::String), transform(count: ::core::primitive::u32 => double)),
        migrate(from = 4, add(labels)),
    )]
    pub struct Item {
        pub name: ::std::string::String,
        pub count: ::core::primitive::u64,
        #[serde(default)]
        pub note: ::core::option::Option<::std::string::String>,
        pub labels: ::std::vec::Vec<::std::string::String>,
    }

    fn double(
        n: ::core::primitive::u32,
    ) -> ::core::result::Result<::core::primitive::u64, &'static ::core::primitive::str> {
        ::core::result::Result::Ok(::core::primitive::u64::from(n) * 2)
    }

    fn fix_up(
        object: &mut ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    ) -> ::core::result::Result<(), ::std::string::String> {
        if let ::core::option::Option::Some(t) = object.remove("label") {
            object.insert("title".into(), t);
        }
        ::core::result::Result::Ok(())
    }

    /// An internally tagged enum with variant history.
    #[derive(Debug, PartialEq, ::schema_migrate::Versioned)]
    #[serde(tag = "kind")]
    #[schema(
        version = 3,
        tag = "v",
        migrate(from = 1, rename_variant(Circle = Round)),
        migrate(from = 2, remove_variant(Blob)),
    )]
    pub enum Shape {
        Round { r: ::core::primitive::f64 },
        Square { side: ::core::primitive::f64 },
        Dot,
    }

    /// A generic type, to exercise the generated bounds.
    #[derive(Debug, PartialEq, ::schema_migrate::Versioned)]
    #[schema(version = 2, migrate(from = 1, add(meta)))]
    pub struct Envelope<T> {
        pub body: T,
        pub meta: ::std::vec::Vec<::std::string::String>,
    }

    /// The previous version of `Renamed`, for a typed step.
    #[derive(Debug, PartialEq, ::schema_migrate::Versioned)]
    #[schema(version = 1)]
    pub struct RenamedV1 {
        pub old: ::core::primitive::i64,
    }

    #[derive(Debug, PartialEq, ::schema_migrate::Versioned)]
    #[schema(version = 2, migrate(from = RenamedV1, fallible))]
    pub struct Renamed {
        pub new: ::core::primitive::u8,
    }

    impl ::core::convert::TryFrom<RenamedV1> for Renamed {
        type Error = ::std::string::String;
        fn try_from(v: RenamedV1) -> ::core::result::Result<Self, Self::Error> {
            ::core::primitive::u8::try_from(v.old)
                .map(|new| Renamed { new })
                .map_err(|e| ::std::string::ToString::to_string(&e))
        }
    }
}

use shadowed::{Envelope, Item, Renamed, Shape};

#[test]
fn struct_round_trips_and_upgrades() {
    let item = Item {
        name: "a".into(),
        count: 4,
        note: Some("n".into()),
        labels: vec!["x".into()],
    };
    let text = serde_json::to_string(&item).unwrap();
    assert!(text.starts_with(r#"{"_version":5,"#), "{text}");
    assert_eq!(serde_json::from_str::<Item>(&text).unwrap(), item);

    let old: Item = serde_json::from_str(r#"{"label":"a","legacy":"l","_version":1}"#).unwrap();
    assert_eq!(
        old,
        Item {
            name: "a".into(),
            count: 2,
            note: None,
            labels: vec![],
        }
    );
}

#[test]
fn enum_round_trips_and_upgrades() {
    for shape in [
        Shape::Round { r: 1.5 },
        Shape::Square { side: 2.0 },
        Shape::Dot,
    ] {
        let text = serde_json::to_string(&shape).unwrap();
        assert!(text.starts_with(r#"{"v":3,"#), "{text}");
        assert_eq!(serde_json::from_str::<Shape>(&text).unwrap(), shape);
    }
    let old: Shape = serde_json::from_str(r#"{"kind":"Circle","r":3.0,"v":1}"#).unwrap();
    assert_eq!(old, Shape::Round { r: 3.0 });
    let err = schema_migrate::json::from_str::<Shape>(r#"{"v":2,"kind":"Blob"}"#).unwrap_err();
    assert_eq!(err.kind(), "step_failed", "{err}");
}

#[test]
fn generic_and_typed_steps_round_trip() {
    let env = Envelope {
        body: 7u8,
        meta: vec!["m".into()],
    };
    let text = serde_json::to_string(&env).unwrap();
    assert_eq!(serde_json::from_str::<Envelope<u8>>(&text).unwrap(), env);
    let old: Envelope<u8> = serde_json::from_str(r#"{"body":7,"_version":1}"#).unwrap();
    assert_eq!(old.meta, Vec::<String>::new());

    let r = Renamed { new: 9 };
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Renamed>(&text).unwrap(), r);
    let old: Renamed = serde_json::from_str(r#"{"_version":1,"old":9}"#).unwrap();
    assert_eq!(old, r);
    let err = schema_migrate::json::from_str::<Renamed>(r#"{"_version":1,"old":-1}"#).unwrap_err();
    assert_eq!(err.kind(), "step_failed", "{err}");
}

#[test]
fn shadowed_primitives_do_not_reach_the_expansion() {
    trybuild::TestCases::new().pass("tests/hygiene/shadowed_primitive.rs");
}
