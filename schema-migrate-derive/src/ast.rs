//! Parse: the deriving item, with the `#[serde(...)]` attributes that decide
//! its wire names and representation.

use proc_macro2::Span;
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{Attribute, Data as SynData, DeriveInput, Expr, Fields, Ident, Lit, Meta, Token, Type};

use crate::case::{RenameRule, RULE_NAMES};
use crate::ctxt::{did_you_mean, Ctxt};

pub struct Input<'a> {
    pub ident: &'a Ident,
    pub generics: &'a syn::Generics,
    /// The container's `#[serde(...)]` items, as written.
    pub serde: Vec<Meta>,
    /// `#[repr(packed)]` (or `packed(N)`): serde_derive copies the fields of
    /// a packed struct instead of borrowing them, and must see it on the mirror.
    pub packed: bool,
    pub data: Data<'a>,
}

pub enum Data<'a> {
    Struct(Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>, Repr),
}

pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// The name it is read by; `None` for flattened and skipped fields.
    pub wire: Option<String>,
    pub serde: Vec<Meta>,
}

pub struct Variant<'a> {
    pub ident: &'a Ident,
    pub wire: String,
    pub fields: &'a Fields,
    pub serde: Vec<Meta>,
}

pub enum Repr {
    Internal { tag: String },
    Adjacent { tag: String, content: String },
}

/// The container's `#[serde(expecting = "...")]`, if any.
pub fn container_expecting(input: &Input) -> Option<String> {
    input
        .serde
        .iter()
        .find(|m| meta_key(m) == "expecting")
        .and_then(string_value)
}

impl Input<'_> {
    /// The names serde gives the type itself (`rename` on the container, or
    /// its identifier), when writing and when reading: a struct's `tag`
    /// holds it, and serde's messages name it.
    pub fn names(&self) -> (String, String) {
        let ident = self.ident.to_string();
        let ident = ident.strip_prefix("r#").unwrap_or(&ident).to_owned();
        let (mut ser, mut de) = (ident.clone(), ident);
        for meta in self.serde.iter().filter(|m| m.path().is_ident("rename")) {
            match meta {
                Meta::NameValue(_) => {
                    if let Some(name) = string_value(meta) {
                        ser.clone_from(&name);
                        de = name;
                    }
                }
                Meta::List(list) => {
                    for inner in nested(list).into_iter().flatten() {
                        match (meta_key(&inner).as_str(), string_value(&inner)) {
                            ("serialize", Some(name)) => ser = name,
                            ("deserialize", Some(name)) => de = name,
                            _ => {}
                        }
                    }
                }
                Meta::Path(_) => {}
            }
        }
        (ser, de)
    }

    /// Names a payload can hold beside the version tag at the top level.
    pub fn top_level_names(&self) -> Vec<&str> {
        match &self.data {
            Data::Struct(fields) => fields.iter().filter_map(|f| f.wire.as_deref()).collect(),
            Data::Enum(_, Repr::Internal { tag }) => vec![tag.as_str()],
            Data::Enum(_, Repr::Adjacent { tag, content }) => vec![tag.as_str(), content.as_str()],
        }
    }
}

pub fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Input<'a>> {
    let serde = serde_metas(cx, &input.attrs, Place::Container);
    let mut rename_all = None;
    let (mut tag, mut content, mut untagged) = (None, None, None::<Span>);
    for meta in &serde {
        let key = meta_key(meta);
        match key.as_str() {
            "rename_all" => {
                if let Some(rule) = rename_rule(cx, meta) {
                    rename_all = Some(rule);
                }
            }
            "tag" => tag = string_value(meta),
            "content" => content = string_value(meta),
            "untagged" => untagged = Some(meta_span(meta)),
            // serde_derive's own rule, reported once here rather than on
            // every hidden type that carries the attribute.
            "default" if !matches!(input.data, SynData::Struct(_)) => cx.error(
                meta_span(meta),
                match meta {
                    Meta::Path(_) => "#[serde(default)] can only be used on structs",
                    _ => "#[serde(default = \"...\")] can only be used on structs",
                },
            ),
            "transparent" | "from" | "try_from" | "into" | "remote" => cx.error(
                meta_span(meta),
                format!(
                    "#[serde({key})] cannot be combined with #[derive(Versioned)]: a versioned type is \
                     written as a map that carries its version tag"
                ),
            ),
            _ => {}
        }
    }

    if let Some(lt) = input.generics.lifetimes().next() {
        cx.error_spanned(
            lt,
            "versioned types cannot borrow from the input yet: lifetime parameters are not supported; use owned types (String, Vec<u8>)",
        );
    }

    misplaced_schema(cx, input);

    let data = match &input.data {
        SynData::Struct(s) => match &s.fields {
            Fields::Named(named) => Data::Struct(
                named
                    .named
                    .iter()
                    .map(|f| {
                        let serde = serde_metas(cx, &f.attrs, Place::Field);
                        let ident = f.ident.as_ref().expect("named field");
                        let wire = field_wire(ident, &serde, rename_all);
                        Field {
                            ident,
                            ty: &f.ty,
                            wire,
                            serde,
                        }
                    })
                    .collect(),
            ),
            Fields::Unnamed(_) | Fields::Unit => {
                cx.error_spanned(
                    &input.ident,
                    "#[derive(Versioned)] supports structs with named fields and internally or adjacently \
                     tagged enums; a tuple or unit struct has no field to hold the version tag",
                );
                return None;
            }
        },
        SynData::Enum(e) => {
            let repr = match (tag, content, untagged) {
                (_, _, Some(span)) => {
                    cx.error(span, "untagged enums are not supported by #[derive(Versioned)]: add #[serde(tag = \"type\")] (internally tagged) or #[serde(tag = \"t\", content = \"c\")] (adjacently tagged)");
                    return None;
                }
                (Some(tag), Some(content), None) => Repr::Adjacent { tag, content },
                (Some(tag), None, None) => Repr::Internal { tag },
                (None, _, None) => {
                    cx.error_spanned(
                        &input.ident,
                        "externally tagged enums are not supported by #[derive(Versioned)]: the version tag must sit \
                         in the same object as the variant; add #[serde(tag = \"type\")] (internally tagged) or \
                         #[serde(tag = \"t\", content = \"c\")] (adjacently tagged)",
                    );
                    return None;
                }
            };
            if matches!(repr, Repr::Internal { .. }) {
                for v in &e.variants {
                    if let Fields::Unnamed(fields) = &v.fields {
                        if fields.unnamed.len() != 1 {
                            cx.error_spanned(
                                &v.ident,
                                "an internally tagged enum cannot hold a tuple variant (serde's rule: its fields \
                                 have no names to sit beside the tag); use a struct variant, a newtype variant, or \
                                 adjacently tagging with #[serde(tag = \"t\", content = \"c\")]",
                            );
                        }
                    }
                }
            }
            let variants = e
                .variants
                .iter()
                .map(|v| {
                    let serde = serde_metas(cx, &v.attrs, Place::Variant);
                    for f in &v.fields {
                        serde_metas(cx, &f.attrs, Place::Field);
                    }
                    let wire = explicit_name(&serde).unwrap_or_else(|| {
                        let name = v.ident.to_string();
                        rename_all.map_or(name.clone(), |r| r.apply_to_variant(&name))
                    });
                    Variant {
                        ident: &v.ident,
                        wire,
                        fields: &v.fields,
                        serde,
                    }
                })
                .collect();
            Data::Enum(variants, repr)
        }
        SynData::Union(u) => {
            cx.error_spanned(
                u.union_token,
                "#[derive(Versioned)] does not support unions; it supports structs with named fields and \
                 internally or adjacently tagged enums",
            );
            return None;
        }
    };
    Some(Input {
        ident: &input.ident,
        generics: &input.generics,
        serde,
        packed: input.attrs.iter().any(is_packed),
        data,
    })
}

/// serde_derive's test: any `packed` token inside a `#[repr(...)]`.
fn is_packed(attr: &Attribute) -> bool {
    attr.path().is_ident("repr")
        && attr
            .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .is_ok_and(|metas| metas.iter().any(|m| m.path().is_ident("packed")))
}

/// `#[schema]` is accepted on fields and variants only because it is a helper
/// attribute of the derive; there it would be silently ignored.
fn misplaced_schema(cx: &Ctxt, input: &DeriveInput) {
    let (fields, variants): (Vec<&syn::Field>, Vec<&syn::Variant>) = match &input.data {
        SynData::Struct(s) => (s.fields.iter().collect(), Vec::new()),
        SynData::Enum(e) => (
            e.variants.iter().flat_map(|v| v.fields.iter()).collect(),
            e.variants.iter().collect(),
        ),
        SynData::Union(u) => (u.fields.named.iter().collect(), Vec::new()),
    };
    let attrs = fields
        .iter()
        .flat_map(|f| &f.attrs)
        .chain(variants.iter().flat_map(|v| &v.attrs));
    for attr in attrs.filter(|a| a.path().is_ident("schema")) {
        cx.error_spanned(
            attr.path(),
            "#[schema(...)] goes on the type, not on a field or variant: the whole history is declared \
             there, e.g. #[schema(version = 2, migrate(from = 1, add(field)))]",
        );
    }
}

fn field_wire(ident: &Ident, serde: &[Meta], rename_all: Option<RenameRule>) -> Option<String> {
    if serde.iter().any(|m| {
        matches!(
            meta_key(m).as_str(),
            "flatten" | "skip" | "skip_deserializing"
        )
    }) {
        return None;
    }
    Some(explicit_name(serde).unwrap_or_else(|| {
        let name = ident.to_string();
        let name = name.strip_prefix("r#").map_or(name.clone(), str::to_owned);
        rename_all.map_or(name.clone(), |r| r.apply_to_field(&name))
    }))
}

/// The name from `rename = "x"` or `rename(deserialize = "x")`.
fn explicit_name(serde: &[Meta]) -> Option<String> {
    serde
        .iter()
        .filter(|m| m.path().is_ident("rename"))
        .find_map(|m| match m {
            Meta::NameValue(_) => string_value(m),
            Meta::List(list) => nested(list)
                .ok()?
                .iter()
                .filter(|m| m.path().is_ident("deserialize"))
                .find_map(string_value),
            Meta::Path(_) => None,
        })
}

fn rename_rule(cx: &Ctxt, meta: &Meta) -> Option<RenameRule> {
    let (name, span) = match meta {
        Meta::NameValue(_) => (string_value(meta)?, meta_span(meta)),
        Meta::List(list) => {
            let inner = nested(list).ok()?;
            let de = inner.iter().find(|m| m.path().is_ident("deserialize"))?;
            (string_value(de)?, meta_span(de))
        }
        Meta::Path(_) => return None,
    };
    let rule = RenameRule::from_name(&name);
    if rule.is_none() {
        cx.error(
            span,
            format!(
                "unknown rename rule `{name}`; expected one of {}",
                RULE_NAMES.join(", ")
            ),
        );
    }
    rule
}

/// Where a `#[serde(...)]` attribute stands, and the keys serde_derive
/// accepts there (serde 1.0.229's `internals/attr.rs`).
#[derive(Clone, Copy)]
pub enum Place {
    Container,
    Variant,
    Field,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Container => "container",
            Place::Variant => "variant",
            Place::Field => "field",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Place::Container => &[
                "rename",
                "rename_all",
                "rename_all_fields",
                "deny_unknown_fields",
                "default",
                "transparent",
                "bound",
                "untagged",
                "tag",
                "content",
                "from",
                "try_from",
                "into",
                "remote",
                "field_identifier",
                "variant_identifier",
                "crate",
                "expecting",
            ],
            Place::Variant => &[
                "rename",
                "alias",
                "rename_all",
                "skip",
                "skip_deserializing",
                "skip_serializing",
                "other",
                "bound",
                "with",
                "serialize_with",
                "deserialize_with",
                "borrow",
                "untagged",
            ],
            Place::Field => &[
                "rename",
                "alias",
                "default",
                "skip_serializing",
                "skip_deserializing",
                "skip",
                "skip_serializing_if",
                "serialize_with",
                "deserialize_with",
                "with",
                "bound",
                "borrow",
                "flatten",
                "getter",
            ],
        }
    }
}

/// Every item of every `#[serde(...)]` attribute, in order. A key serde
/// does not know is reported here, once, on its token: left to serde_derive
/// it would be reported again on each hidden type the attribute is copied to.
pub fn serde_metas(cx: &Ctxt, attrs: &[Attribute], place: Place) -> Vec<Meta> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(metas) => out.extend(metas),
            Err(e) => cx.push(e),
        }
    }
    for meta in &out {
        let key = meta.path().to_token_stream().to_string().replace(' ', "");
        if !place.keys().contains(&key.as_str()) {
            let hint = did_you_mean(&key, place.keys().iter().copied())
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            cx.error_spanned(
                meta.path(),
                format!("unknown serde {} attribute `{key}`{hint}", place.name()),
            );
        }
    }
    out
}

pub fn nested(list: &syn::MetaList) -> syn::Result<Punctuated<Meta, Token![,]>> {
    list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
}

pub fn meta_key(meta: &Meta) -> String {
    meta.path()
        .get_ident()
        .map_or_else(String::new, ToString::to_string)
}

pub fn meta_span(meta: &Meta) -> Span {
    meta.path()
        .get_ident()
        .map_or_else(Span::call_site, Ident::span)
}

/// The path in `key = "path"`, as serde's `default`, `with` and
/// `deserialize_with` spell it.
pub fn path_value(meta: &Meta) -> Option<syn::ExprPath> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => s.parse().ok(),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn string_value(meta: &Meta) -> Option<String> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => Some(s.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn errors(item: &DeriveInput) -> Vec<String> {
        let cx = Ctxt::default();
        parse(&cx, item);
        cx.check()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn serde_keys_are_checked_where_they_stand() {
        let item: DeriveInput = parse_quote! {
            #[serde(rename_all = "camelCase", deny_unknown_fields, bound = "", expecting = "x")]
            struct S {
                #[serde(rename = "a", alias = "b", default, skip_serializing_if = "f", with = "m")]
                a: u32,
                #[serde(skip_serialisation)]
                b: u32,
            }
        };
        assert_eq!(
            errors(&item),
            ["unknown serde field attribute `skip_serialisation`; did you mean `skip_serializing`?"]
        );
        let item: DeriveInput = parse_quote! {
            #[serde(tag = "t", flatten)]
            enum E {
                #[serde(other, default)]
                A,
            }
        };
        assert_eq!(
            errors(&item),
            [
                "unknown serde container attribute `flatten`",
                "unknown serde variant attribute `default`",
            ]
        );
    }
}
