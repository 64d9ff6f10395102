//! The derive's expansion compiles without a single warning, for every kind
//! of op, under the strictest lint levels a user might set on their crate.

#![deny(warnings)]
#![deny(
    unused,
    rust_2018_idioms,
    missing_docs,
    future_incompatible,
    nonstandard_style
)]
#![deny(
    unused_qualifications,
    unused_results,
    unreachable_pub,
    trivial_casts,
    trivial_numeric_casts,
    unused_import_braces,
    unused_lifetimes,
    single_use_lifetimes,
    missing_debug_implementations,
    variant_size_differences,
    elided_lifetimes_in_paths,
    explicit_outlives_requirements,
    meta_variable_misuse
)]

use schema_migrate::Versioned;
use serde_json::{Map, Value};

/// Add (with and without a default), rename, remove (with and without a
/// type), transform (infallible and fallible) and `with`.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 5,
    tag = "v",
    migrate(from = 1, description = "Free-form fix", with = fix),
    migrate(from = 2, add(count = 2), add(labels), rename(title = name)),
    migrate(from = 3, remove(legacy), remove(old_size: u64), transform(count: u32 => widen)),
    migrate(from = 4, transform(ratio: String => parse_ratio)),
)]
pub struct Doc {
    /// The name.
    pub name: String,
    /// A count.
    pub count: u64,
    /// Labels.
    pub labels: Vec<String>,
    /// A ratio.
    pub ratio: f64,
}

fn fix(object: &mut Map<String, Value>) -> Result<(), String> {
    let _ = object.remove("junk");
    Ok(())
}

fn widen(n: u32) -> u64 {
    u64::from(n)
}

fn parse_ratio(s: String) -> Result<f64, std::num::ParseFloatError> {
    s.parse()
}

/// Variant history on an internally tagged enum.
#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "type")]
#[schema(
    version = 3,
    migrate(from = 1, rename_variant(Circle = Round)),
    migrate(from = 2, remove_variant(Blob), rename_variant(Sq = Square)),
)]
pub enum Shape {
    /// Round.
    Round {
        /// Radius.
        r: f64,
    },
    /// Square.
    Square {
        /// Side.
        side: f64,
    },
}

/// Variant history on an adjacently tagged enum, with tuple and unit variants.
#[derive(Debug, PartialEq, Versioned)]
#[serde(tag = "t", content = "c")]
#[schema(
    version = 2,
    migrate(from = 1, rename_variant(Nothing = Empty), remove_variant(Old))
)]
pub enum Event {
    /// A number.
    Number(i64),
    /// Nothing.
    Empty,
}

/// The previous version of [`Config`], with its own history.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 2, migrate(from = 1, add(port = 80)))]
pub struct ConfigV2 {
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
}

/// A typed step: `From<ConfigV2>`.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 3, migrate(from = ConfigV2, description = "Address as one string"))]
pub struct Config {
    /// `host:port`.
    pub address: String,
}

impl From<ConfigV2> for Config {
    fn from(c: ConfigV2) -> Self {
        Config {
            address: format!("{}:{}", c.host, c.port),
        }
    }
}

/// A fallible typed step: `TryFrom<ConfigV2>`.
#[derive(Debug, PartialEq, Versioned)]
#[schema(version = 3, migrate(from = ConfigV2, fallible))]
pub struct StrictConfig {
    /// A port that is not 0.
    pub port: std::num::NonZeroU16,
}

impl TryFrom<ConfigV2> for StrictConfig {
    type Error = String;

    fn try_from(c: ConfigV2) -> Result<Self, String> {
        std::num::NonZeroU16::new(c.port)
            .map(|port| StrictConfig { port })
            .ok_or_else(|| format!("port 0 on {}", c.host))
    }
}

/// Generics, with a nested versioned payload and a bound.
#[derive(Debug, PartialEq, Versioned)]
#[schema(
    version = 3,
    untagged = error,
    migrate(from = 1, add(sent_at)),
    migrate(from = 2, rename(data = body), remove(trace_id: String)),
)]
pub struct Envelope<T: std::fmt::Debug> {
    /// The payload.
    pub body: T,
    /// When.
    pub sent_at: u64,
}

/// A type with `oldest`, `untagged = N` and `#[serde]` attributes.
#[derive(Debug, PartialEq, Versioned)]
#[serde(rename_all = "camelCase")]
#[schema(version = 4, oldest = 2, untagged = 4, migrate(from = 2, add(userId = 7)), migrate(from = 3, rename("userName" = displayName)))]
pub struct Profile {
    /// Shown name.
    pub display_name: String,
    /// Id.
    pub user_id: u64,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
}

#[test]
fn every_op_kind_works() -> Result<(), serde_json::Error> {
    let doc: Doc = serde_json::from_str(
        r#"{"v":1,"title":"a","junk":1,"legacy":true,"old_size":3,"ratio":"0.5"}"#,
    )?;
    assert_eq!(
        doc,
        Doc {
            name: "a".into(),
            count: 2,
            labels: vec![],
            ratio: 0.5
        }
    );
    let doc: Doc =
        serde_json::from_str(r#"{"v":2,"title":"a","ratio":"0.5","legacy":1,"old_size":3}"#)?;
    assert_eq!(doc.count, 2);
    let err = schema_migrate::json::from_str::<Doc>(
        r#"{"v":4,"name":"a","count":1,"labels":[],"ratio":"x"}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), "step_failed", "{err}");

    assert_eq!(
        serde_json::from_str::<Shape>(r#"{"_version":1,"type":"Circle","r":1.0}"#)?,
        Shape::Round { r: 1.0 }
    );
    assert_eq!(
        serde_json::from_str::<Shape>(r#"{"_version":2,"type":"Sq","side":2.0}"#)?,
        Shape::Square { side: 2.0 }
    );
    assert!(serde_json::from_str::<Shape>(r#"{"_version":2,"type":"Blob"}"#).is_err());

    assert_eq!(
        serde_json::from_str::<Event>(r#"{"_version":1,"t":"Nothing"}"#)?,
        Event::Empty
    );
    assert_eq!(
        serde_json::from_str::<Event>(r#"{"t":"Number","c":5,"_version":1}"#)?,
        Event::Number(5)
    );
    assert!(serde_json::from_str::<Event>(r#"{"_version":1,"t":"Old","c":[1]}"#).is_err());

    let config: Config = serde_json::from_str(r#"{"_version":1,"host":"h"}"#)?;
    assert_eq!(config.address, "h:80");
    assert_eq!(Config::history().len(), 2);
    let strict: StrictConfig = serde_json::from_str(r#"{"_version":2,"host":"h","port":8}"#)?;
    assert_eq!(strict.port.get(), 8);
    assert!(serde_json::from_str::<StrictConfig>(r#"{"_version":2,"host":"h","port":0}"#).is_err());

    let env: Envelope<Doc> = serde_json::from_str(
        r#"{"_version":1,"data":{"v":5,"name":"n","count":1,"labels":[],"ratio":1.0},"trace_id":"t"}"#,
    )?;
    assert_eq!((env.body.name.as_str(), env.sent_at), ("n", 0));
    assert!(serde_json::from_str::<Envelope<u8>>(r#"{"body":1,"sent_at":2}"#).is_err());

    let p: Profile = serde_json::from_str(r#"{"_version":2,"userName":"u"}"#)?;
    assert_eq!((p.display_name.as_str(), p.user_id), ("u", 7));
    let p: Profile = serde_json::from_str(r#"{"displayName":"d","userId":1}"#)?;
    assert_eq!(p.user_id, 1);
    assert_eq!(
        serde_json::to_string(&p)?,
        r#"{"_version":4,"displayName":"d","userId":1}"#
    );
    Ok(())
}
