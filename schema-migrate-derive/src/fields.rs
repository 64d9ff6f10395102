//! Generate: `Versioned::stored_fields`, the names each stored version
//! models, so that a store writing an upgraded record back can carry the
//! fields its version did not know instead of dropping them.
//!
//! A version's names are the wire names of its fields and their aliases.
//! A name that only a later version has (a shadow) is not modelled by the
//! version, so a record holding it carries it, and the store then finds it
//! colliding with the written version. Where a version's shape is not known
//! (below a `with` step), or any name is taken (a `flatten` field keeps
//! what the others do not), or the type is an enum, the answer is `None`
//! and nothing is carried.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Meta;

use crate::ast::{meta_key, Data, Field, Input};
use crate::check::{History, Plan, Shape, Slot, SlotTy};

/// The body of `fn stored_fields(version: u32) -> Option<&'static [&'static str]>`.
pub fn stored_fields(input: &Input, plan: &Plan) -> TokenStream {
    let none = quote!(::core::option::Option::None);
    match &plan.history {
        History::Declarative { oldest, shapes, .. } => {
            let arms = shapes.iter().enumerate().filter_map(|(i, shape)| {
                let version = oldest + i as u32;
                let Some(Shape::Struct(slots)) = shape else {
                    return None;
                };
                let names = slot_names(slots)?;
                Some(quote!(#version => ::core::option::Option::Some(&[#(#names),*])))
            });
            quote! {
                match version {
                    #(#arms,)*
                    _ => #none,
                }
            }
        }
        History::Typed { previous, .. } => {
            let version = plan.version;
            let current = match &input.data {
                Data::Struct(fields) => field_names(fields),
                Data::Enum(..) => None,
            };
            let current = match current {
                Some(names) => quote!(::core::option::Option::Some(&[#(#names),*])),
                None => none,
            };
            quote! {
                if version == #version {
                    #current
                } else {
                    <#previous as ::schema_migrate::Versioned>::stored_fields(version)
                }
            }
        }
    }
}

/// Every name a version with these slots reads, or `None` if it reads any.
fn slot_names(slots: &[Slot]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for slot in slots {
        match &slot.ty {
            SlotTy::Shadow => {}
            SlotTy::Current(field) if is_flatten(field) => return None,
            SlotTy::Current(field) => {
                names.extend(slot.wire.clone());
                // Renamed at some step, the field's aliases are the current
                // version's, not this one's.
                if slot.wire == field.wire {
                    names.extend(field.serde.iter().filter_map(alias));
                }
            }
            SlotTy::Transformed(_) | SlotTy::Removed => names.extend(slot.wire.clone()),
        }
    }
    Some(names)
}

fn is_flatten(field: &Field) -> bool {
    field.serde.iter().any(|m| meta_key(m) == "flatten")
}

/// The wire names and aliases of `fields`, or `None` if one is flattened.
fn field_names(fields: &[Field]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for field in fields {
        if is_flatten(field) {
            return None;
        }
        names.extend(field.wire.clone());
        names.extend(field.serde.iter().filter_map(alias));
    }
    Some(names)
}

fn alias(meta: &Meta) -> Option<String> {
    match meta {
        Meta::NameValue(nv) if nv.path.is_ident("alias") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}
