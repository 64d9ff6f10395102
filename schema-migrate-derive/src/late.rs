//! Generate: the reader of payloads whose tag is not the first key.
//!
//! Every stored shape of the type is known (`check.rs`), so the generated
//! reader sorts the names a payload can hold before the version is known:
//!
//! - a name that every readable version reads as the same field, with the
//!   same type and attributes, is decoded straight from the input;
//! - a name whose meaning depends on the version (added, renamed, retyped or
//!   removed at some step) is buffered, and decoded once the version is known;
//! - any other name is skipped.
//!
//! At the end of the map, the reader builds the stored version from those
//! values and upgrades it with the same `__upgrade` steps as the tag-first
//! readers. Types the analysis does not cover (a `with = fn` step, enums,
//! `flatten`, container `default` or `deny_unknown_fields`, `alias`) keep the
//! runtime's default: buffer every entry until the tag.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitByteStr, Meta};

use crate::ast::{meta_key, path_value, Data, Field, Input};
use crate::check::{History, Plan, Shape, Slot, SlotTy};
use crate::tokens::{phantom, sm};

/// How the reader treats one name.
enum Name<'a> {
    /// Decoded as it comes: the same field at every version.
    Decode(&'a Field<'a>),
    /// Kept as `Content` until the version is known.
    Buffer,
}

/// The `__read_late` method, or nothing where the runtime's default applies.
pub fn read_late(input: &Input, plan: &Plan) -> TokenStream {
    let History::Declarative { oldest, shapes, .. } = &plan.history else {
        return TokenStream::new();
    };
    let Some(shapes) = struct_shapes(shapes) else {
        return TokenStream::new();
    };
    if !supported(input, &shapes) {
        return TokenStream::new();
    }
    let sm = sm();
    let names = names(&shapes);

    let lookup_arms = names.iter().enumerate().map(|(n, (wire, _))| {
        let n = n as u16;
        let bytes = LitByteStr::new(wire.as_bytes(), Span::call_site());
        quote!(#bytes => ::core::option::Option::Some(#n))
    });
    let slots = names.iter().enumerate().map(|(n, (_, name))| {
        let var = var(n);
        match name {
            Name::Decode(field) => {
                let ty = field.ty;
                quote!(let mut #var: ::core::option::Option<#ty> = ::core::option::Option::None;)
            }
            Name::Buffer => quote!(
                let mut #var: ::core::option::Option<#sm::Content<'de>> = ::core::option::Option::None;
            ),
        }
    });
    let read_arms = names.iter().enumerate().map(|(n, (wire, name))| {
        let var = var(n);
        let n = n as u16;
        let read = match name {
            Name::Decode(_) => quote!(__late.decode(&mut __map, &mut #var, #wire)),
            Name::Buffer => quote!(__late.buffer(&mut __map, &mut #var, #wire)),
        };
        quote!(#sm::late::LateKey::Field(#n) => #read?)
    });

    let last = shapes.len() - 1;
    let version_arms = shapes.iter().enumerate().map(|(i, slots)| {
        let version = oldest + i as u32;
        let fields = slots.iter().map(|slot| {
            let ident = &slot.ident;
            let value = slot_value(slot, &names);
            quote!(#ident: #value)
        });
        if i == last {
            return quote!(#version => ::core::result::Result::Ok(Self { #(#fields,)* }));
        }
        let name = format_ident!("__V{}", version);
        let phantom =
            phantom(input.generics).map(|(f, _)| quote!(#f: ::core::marker::PhantomData,));
        let upgrades = (i..last).map(|_| {
            quote! {
                let __value = match __value.__upgrade() {
                    ::core::result::Result::Ok(__v) => __v,
                    ::core::result::Result::Err(__e) => break '__build ::core::result::Result::Err(#sm::ReadError::Migrate(__e)),
                };
            }
        });
        quote! {
            #version => {
                let __value = #name { #(#fields,)* #phantom };
                #(#upgrades)*
                ::core::result::Result::Ok(__value)
            }
        }
    });

    quote! {
        fn __read_late<__A>(
            __first: #sm::Content<'de>,
            mut __map: __A,
            __human_readable: ::core::primitive::bool,
        ) -> ::core::result::Result<(Self, ::core::primitive::u32), __A::Error>
        where
            __A: #sm::serde::de::MapAccess<'de>,
        {
            fn __lookup(__key: &[::core::primitive::u8]) -> ::core::option::Option<::core::primitive::u16> {
                match __key {
                    #(#lookup_arms,)*
                    _ => ::core::option::Option::None,
                }
            }
            let mut __late = #sm::late::Late::<Self>::new(__human_readable);
            #(#slots)*
            let mut __key = #sm::late::first_key::<Self>(&__first, __lookup);
            loop {
                match __key {
                    #sm::late::LateKey::Tag => __late.tag(&mut __map)?,
                    #(#read_arms,)*
                    _ => __late.skip(&mut __map)?,
                }
                __key = match __late.next_key(&mut __map, __lookup)? {
                    ::core::option::Option::Some(__k) => __k,
                    ::core::option::Option::None => break,
                };
            }
            let __version = __late.version::<__A::Error>()?;
            let __hr = __late.human_readable();
            // A labeled block, not a closure: the values move once, into the
            // stored version's struct.
            let __built: ::core::result::Result<Self, #sm::ReadError<__A::Error>> = '__build: {
                match __version {
                    #(#version_arms,)*
                    _ => ::core::result::Result::Err(#sm::ReadError::Migrate(
                        #sm::unsupported_version::<Self>(__version),
                    )),
                }
            };
            #sm::finish_read::<Self, __A::Error>(__version, __built)
        }
    }
}

fn var(n: usize) -> Ident {
    format_ident!("__f{}", n)
}

fn struct_shapes<'s, 'a>(shapes: &'s [Option<Shape<'a>>]) -> Option<Vec<&'s [Slot<'a>]>> {
    shapes
        .iter()
        .map(|s| match s {
            Some(Shape::Struct(slots)) => Some(slots.as_slice()),
            _ => None,
        })
        .collect()
}

/// Container and field attributes whose effect on reading this generator
/// reproduces; anything else keeps the general reader.
fn supported(input: &Input, shapes: &[&[Slot]]) -> bool {
    let Data::Struct(fields) = &input.data else {
        return false;
    };
    let container_ok = input
        .serde
        .iter()
        .all(|m| matches!(meta_key(m).as_str(), "rename" | "rename_all" | "crate"));
    let fields_ok = fields.iter().all(|f| {
        f.serde.iter().all(|m| {
            matches!(
                meta_key(m).as_str(),
                "rename"
                    | "default"
                    | "skip"
                    | "skip_deserializing"
                    | "skip_serializing"
                    | "skip_serializing_if"
                    | "serialize_with"
                    | "deserialize_with"
                    | "with"
            )
        })
    });
    // A field without a wire name is a skipped one here (flatten is refused
    // above); it must be the current field itself.
    let slots_ok = shapes.iter().all(|slots| {
        slots
            .iter()
            .all(|s| s.wire.is_some() || matches!(s.ty, SlotTy::Current(_)))
    });
    container_ok && fields_ok && slots_ok
}

/// Every name some version reads, in order of first appearance.
fn names<'a>(shapes: &[&[Slot<'a>]]) -> Vec<(String, Name<'a>)> {
    let mut wires: Vec<&str> = Vec::new();
    for slots in shapes {
        for slot in slots.iter() {
            if let (Some(w), Some(_)) = (&slot.wire, slot.ty.ty()) {
                if !wires.contains(&w.as_str()) {
                    wires.push(w);
                }
            }
        }
    }
    wires
        .into_iter()
        .map(|wire| {
            let same_field = shapes.iter().map(|slots| {
                slots.iter().find_map(|s| match &s.ty {
                    SlotTy::Current(f) if s.wire.as_deref() == Some(wire) => Some(*f),
                    _ => None,
                })
            });
            let mut first: Option<&Field> = None;
            let mut decode = true;
            for f in same_field {
                match (f, first) {
                    (None, _) => decode = false,
                    (Some(f), None) => first = Some(f),
                    (Some(f), Some(g)) => decode &= f.ident == g.ident,
                }
            }
            let name = match first {
                Some(f) if decode && deserialize_with(f).is_none() => Name::Decode(f),
                _ => Name::Buffer,
            };
            (wire.to_owned(), name)
        })
        .collect()
}

/// How a field is read when it has its own function: the call on a
/// deserializer `d`.
fn deserialize_with(field: &Field) -> Option<TokenStream> {
    field.serde.iter().find_map(|m| {
        let path = path_value(m)?;
        match meta_key(m).as_str() {
            "deserialize_with" => Some(quote!(#path)),
            "with" => Some(quote!(#path::deserialize)),
            _ => None,
        }
    })
}

/// The field's `#[serde(default)]` value, if it has one.
fn field_default(field: &Field) -> Option<TokenStream> {
    let meta = field.serde.iter().find(|m| meta_key(m) == "default")?;
    match meta {
        Meta::Path(_) => Some(quote!(::core::default::Default::default())),
        _ => path_value(meta).map(|path| quote!(#path())),
    }
}

/// The value of one field of a stored version, from what the map held.
fn slot_value(slot: &Slot, names: &[(String, Name)]) -> TokenStream {
    let sm = sm();
    let (field, ty) = match &slot.ty {
        SlotTy::Removed | SlotTy::Shadow => return quote!(#sm::IgnoredAny),
        SlotTy::Current(f) => (Some(*f), f.ty),
        SlotTy::Transformed(ty) => (None, *ty),
    };
    let default = field.and_then(field_default);
    let with = field.and_then(deserialize_with);
    let Some(wire) = &slot.wire else {
        // Skipped when reading: serde_derive fills it from its default.
        return default.unwrap_or_else(|| quote!(::core::default::Default::default()));
    };
    let n = names
        .iter()
        .position(|(w, _)| w == wire)
        .expect("every read name is in the table");
    let var = var(n);
    let missing = match (default, &with) {
        (Some(d), _) => d,
        (None, Some(_)) => quote! {
            break '__build ::core::result::Result::Err(#sm::late::missing_field(#wire))
        },
        (None, None) => or_break(quote!(#sm::late::missing::<#ty, _>(#wire))),
    };
    let present = match (&names[n].1, with) {
        (Name::Decode(_), _) => quote!(__v),
        (Name::Buffer, Some(with)) => or_break(quote! {
            #with(#sm::late::content_deserializer(__v, __hr)).map_err(#sm::ReadError::Data)
        }),
        (Name::Buffer, None) => or_break(quote!(#sm::late::from_content::<#ty, _>(__v, __hr))),
    };
    quote! {
        match #var {
            ::core::option::Option::Some(__v) => #present,
            ::core::option::Option::None => #missing,
        }
    }
}

/// The value of a `Result<_, ReadError<_>>` expression, or the end of the
/// build with its error.
fn or_break(result: TokenStream) -> TokenStream {
    quote! {
        match #result {
            ::core::result::Result::Ok(__v) => __v,
            ::core::result::Result::Err(__e) => break '__build ::core::result::Result::Err(__e),
        }
    }
}
