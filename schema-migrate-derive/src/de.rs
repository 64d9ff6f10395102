//! Generate: `Deserialize`, as typed readers of every stored version.
//!
//! - `__Current` mirrors the type with the user's own `#[serde]` attributes
//!   (`#[serde(remote)]`), so the current version deserializes straight into
//!   `Self` with serde_derive's code.
//! - `__V{n}` is the shape of each older version derived by `check.rs`, with
//!   an `__upgrade` that builds version n+1 by moving fields.
//! - Versions older than a `with = fn` step are read as a JSON object and
//!   upgraded by `__read_value`, the reference path, which exists for every
//!   version as the specification the typed readers are tested against.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{Fields, Ident, Meta};

use crate::ast::{meta_key, path_value, Data, Input, Repr};
use crate::attr::{self, Op};
use crate::bound::{de_generics, mentions_param};
use crate::check::{Base, Conversion, History, Plan, Shape, Slot, SlotTy, VariantSlot};
use crate::tokens::{
    container_metas_except, phantom, serde_attr, sm, typed_default, without_names, SERDE_CRATE,
};

pub fn generate(input: &Input, plan: &Plan) -> TokenStream {
    let mirror = mirror(input);
    let (old_types, read_map, read_value, extra_bounds) = match &plan.history {
        History::Declarative {
            oldest,
            steps,
            shapes,
            conversions,
        } => {
            let old_types = old_types(input, *oldest, shapes, conversions, plan.context);
            let read_map = declarative_read_map(input, plan, *oldest, shapes);
            let (read_value, bounds) =
                declarative_read_value(input, *oldest, steps, shapes, plan.context);
            (old_types, read_map, read_value, bounds)
        }
        History::Typed {
            previous, fallible, ..
        } => {
            let (read_map, read_value) = typed_reads(input, plan, previous, *fallible);
            (TokenStream::new(), read_map, read_value, Vec::new())
        }
    };
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let mut extra = step_bounds(input, plan);
    if input.generics.type_params().next().is_some() {
        extra.extend(extra_bounds);
    }
    let g = de_generics(input, &old_field_types(plan), extra);
    let (impl_g, _, where_c) = g.split_for_impl();
    let read_late = crate::late::read_late(input, plan);
    // `#[serde(expecting = "...")]`: what a wrongly typed payload is said
    // not to be, as serde_derive says it.
    let expecting = crate::ast::container_expecting(input).map(|text| {
        quote! {
            fn __expecting() -> ::core::option::Option<&'static ::core::primitive::str> {
                ::core::option::Option::Some(#text)
            }
        }
    });
    quote! {
        #mirror
        #old_types

        #[automatically_derived]
        impl #impl_g #sm::serde::Deserialize<'de> for #ident #ty_g #where_c {
            fn deserialize<__D>(__deserializer: __D) -> ::core::result::Result<Self, __D::Error>
            where
                __D: #sm::serde::Deserializer<'de>,
            {
                match #sm::deserialize::<Self, __D>(__deserializer) {
                    ::core::result::Result::Ok((__value, _)) => ::core::result::Result::Ok(__value),
                    ::core::result::Result::Err(__err) => ::core::result::Result::Err(__err),
                }
            }
        }

        #[automatically_derived]
        impl #impl_g ::schema_migrate::DeserializeVersioned<'de> for #ident #ty_g #where_c {
            fn __read_map<__A>(
                __version: ::core::primitive::u32,
                __map: __A,
            ) -> ::core::result::Result<Self, #sm::ReadError<__A::Error>>
            where
                __A: #sm::serde::de::MapAccess<'de>,
            {
                #read_map
            }

            fn __read_value(
                __version: ::core::primitive::u32,
                mut __object: #sm::serde_json::Map<::std::string::String, #sm::serde_json::Value>,
            ) -> ::core::result::Result<Self, ::schema_migrate::Error> {
                #read_value
            }

            #read_late
            #expecting
        }
    }
}

/// The types older versions read a field as, where they differ from the
/// current field's: serde_derive's readers of those versions bound the type
/// parameters they name.
fn old_field_types<'a>(plan: &Plan<'a>) -> Vec<&'a syn::Type> {
    let History::Declarative { shapes, .. } = &plan.history else {
        return Vec::new();
    };
    shapes
        .iter()
        .flatten()
        .filter_map(|shape| match shape {
            Shape::Struct(slots) => Some(slots),
            Shape::Enum(_) => None,
        })
        .flatten()
        .filter_map(|slot| match slot.ty {
            SlotTy::Transformed(ty) => Some(ty),
            _ => None,
        })
        .collect()
}

/// The bounds the generated code needs beyond serde_derive's, on a generic
/// type: an `add` without a value defaults a field whose type names a
/// parameter, and a typed step reads its previous type.
fn step_bounds(input: &Input, plan: &Plan) -> Vec<TokenStream> {
    let g = input.generics;
    if g.type_params().next().is_none() {
        return Vec::new();
    }
    match &plan.history {
        History::Declarative { conversions, .. } => conversions
            .iter()
            .flatten()
            .filter_map(|c| match c.base {
                Base::Add(None, Some(ty)) if mentions_param(g, ty) => {
                    Some(quote!(#ty: ::core::default::Default))
                }
                _ => None,
            })
            .collect(),
        History::Typed { previous, .. } => {
            vec![quote!(#previous: ::schema_migrate::DeserializeVersioned<'de>)]
        }
    }
}

/// `__Current`: the type itself, as serde_derive sees it.
fn mirror(input: &Input) -> TokenStream {
    let ident = input.ident;
    let remote = ident.to_string();
    let (impl_g, _, where_c) = input.generics.split_for_impl();
    // serde_derive's remote code fills a missing field from `default =
    // "path"` as is; a bare `default` it bounds by `__Current: Default`,
    // which the impl below provides from the type's own `Default`.
    let bare_default = matches!(container_default(input), Some((_, Some(_))));
    let container: Vec<&Meta> = input
        .serde
        .iter()
        .filter(|m| {
            let key = meta_key(m);
            key != "crate" && key != "rename" && !(bare_default && key == "default")
        })
        .collect();
    let mut container = serde_attr(&container);
    // The mirror's own name never reaches the wire or a message.
    let (ser_name, de_name) = input.names();
    container.extend(quote!(#[serde(rename(serialize = #ser_name, deserialize = #de_name))]));
    // Only serde's reading of it matters: the mirror is never built, so its
    // layout is irrelevant, and `C` keeps clippy's `repr_packed_without_abi`
    // to the user's own type.
    if input.packed {
        container.extend(quote!(#[repr(C, packed)]));
    }
    let mut default_impl_tokens = TokenStream::new();
    if bare_default {
        container.extend(quote!(#[serde(default)]));
        if let Data::Struct(fields) = &input.data {
            let fields: Vec<(Ident, TokenStream)> = fields
                .iter()
                .map(|f| {
                    let i = f.ident;
                    (i.clone(), quote!(__default.#i))
                })
                .collect();
            default_impl_tokens = default_impl(input, &format_ident!("__Current"), &fields);
        }
    }
    let sm = sm();
    let body = match &input.data {
        Data::Struct(fields) => {
            let fields = fields.iter().map(|f| {
                let attrs = serde_attr(&f.serde.iter().collect::<Vec<_>>());
                let (ident, ty) = (f.ident, f.ty);
                quote!(#attrs #ident: #ty)
            });
            quote!(struct __Current #impl_g #where_c { #(#fields,)* })
        }
        Data::Enum(variants, _) => {
            let variants = variants.iter().map(|v| {
                let attrs = serde_attr(&v.serde.iter().collect::<Vec<_>>());
                let ident = v.ident;
                let fields = variant_fields(v.fields);
                quote!(#attrs #ident #fields)
            });
            quote!(enum __Current #impl_g #where_c { #(#variants,)* })
        }
    };
    quote! {
        #[derive(#sm::serde::Serialize, #sm::serde::Deserialize)]
        #[serde(crate = #SERDE_CRATE, remote = #remote)]
        #container
        #body
        #default_impl_tokens
    }
}

/// The fields of a variant with only their serde attributes.
fn variant_fields(fields: &Fields) -> TokenStream {
    let serde_attrs = |f: &syn::Field| {
        let attrs = f.attrs.iter().filter(|a| a.path().is_ident("serde"));
        quote!(#(#attrs)*)
    };
    match fields {
        Fields::Named(named) => {
            let fields = named.named.iter().map(|f| {
                let (attrs, ident, ty) = (serde_attrs(f), &f.ident, &f.ty);
                quote!(#attrs #ident: #ty)
            });
            quote!({ #(#fields,)* })
        }
        Fields::Unnamed(unnamed) => {
            let fields = unnamed.unnamed.iter().map(|f| {
                let (attrs, ty) = (serde_attrs(f), &f.ty);
                quote!(#attrs #ty)
            });
            quote!(( #(#fields,)* ))
        }
        Fields::Unit => TokenStream::new(),
    }
}

/// With a container `#[serde(default)]` (or `default = "path"`), missing
/// fields take their values from the type's default. The hidden readers get
/// a `Default` built from it, field by field. Returns the expression that
/// makes the user's default value, and the bound it needs.
fn container_default(input: &Input) -> Option<(TokenStream, Option<TokenStream>)> {
    if !matches!(input.data, Data::Struct(_)) {
        return None;
    }
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let meta = input.serde.iter().find(|m| meta_key(m) == "default")?;
    match meta {
        Meta::NameValue(_) => {
            let path = path_value(meta)?;
            Some((quote!(#path()), None))
        }
        _ => Some((
            quote!(<#ident #ty_g as ::core::default::Default>::default()),
            Some(quote!(#ident #ty_g: ::core::default::Default)),
        )),
    }
}

/// `impl Default for #name`, taking each field from the user's default.
fn default_impl(input: &Input, name: &Ident, fields: &[(Ident, TokenStream)]) -> TokenStream {
    let Some((source, bound)) = container_default(input) else {
        return TokenStream::new();
    };
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let mut g = input.generics.clone();
    if let Some(bound) = bound {
        g.make_where_clause()
            .predicates
            .push(syn::parse_quote!(#bound));
    }
    let (impl_g, _, where_c) = g.split_for_impl();
    let assigns = fields.iter().map(|(f, v)| quote!(#f: #v));
    quote! {
        impl #impl_g ::core::default::Default for #name #ty_g #where_c {
            fn default() -> Self {
                let __default: #ident #ty_g = #source;
                #name { #(#assigns,)* }
            }
        }
    }
}

fn deny_unknown_fields(input: &Input) -> bool {
    input
        .serde
        .iter()
        .any(|m| meta_key(m) == "deny_unknown_fields")
}

fn version_ident(v: u32) -> Ident {
    format_ident!("__V{}", v)
}

/// Container attributes for an old version's reader: names are spelled out
/// per field and variant there, and a container `default` would need
/// `Default` on the hidden type.
fn old_container_attr(input: &Input) -> TokenStream {
    let kept = container_metas_except(input, &["crate", "rename_all", "default", "rename"]);
    let (_, de_name) = input.names();
    let mut attr = serde_attr(&kept);
    attr.extend(quote!(#[serde(rename = #de_name)]));
    attr
}

fn old_types(
    input: &Input,
    oldest: u32,
    shapes: &[Option<Shape>],
    conversions: &[Vec<Conversion>],
    context: Option<&syn::Type>,
) -> TokenStream {
    let sm = sm();
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let ident = input.ident;
    let container = old_container_attr(input);
    let phantom = phantom(input.generics);
    let last = shapes.len() - 1;
    let mut out = TokenStream::new();
    for (i, shape) in shapes.iter().enumerate().take(last) {
        let Some(shape) = shape else { continue };
        let version = oldest + i as u32;
        let name = version_ident(version);
        let is_last = i + 1 == last;
        let (target_ty, target_path) = if is_last {
            (quote!(#ident #ty_g), quote!(#ident))
        } else {
            let next = version_ident(version + 1);
            (quote!(#next #ty_g), quote!(#next))
        };
        let step_index = i;
        let applied = quote!(#sm::value::applied(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[#step_index]););
        let step_ref = quote!(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[#step_index]);
        match shape {
            Shape::Struct(slots) => {
                let fields = slots.iter().map(old_field);
                let phantom_field = phantom
                    .as_ref()
                    .map(|(f, t)| quote!(#[serde(skip)] #f: #t,));
                let conv = &conversions[i];
                let next_slots: Vec<&Slot> = match shapes[i + 1].as_ref() {
                    Some(Shape::Struct(s)) => s.iter().collect(),
                    _ => unreachable!("a known shape is followed by known shapes"),
                };
                let assigns = conv.iter().map(|c| {
                    let target = &c.target;
                    let slot = next_slots
                        .iter()
                        .find(|s| s.ident == *target)
                        .expect("slot for conversion");
                    let value = conversion_value(c, slot, &step_ref, context);
                    quote!(#target: #value)
                });
                let phantom_assign = match (&phantom, is_last) {
                    (Some((f, _)), false) => quote!(#f: ::core::marker::PhantomData,),
                    _ => TokenStream::new(),
                };
                let mut defaults: Vec<(Ident, TokenStream)> = slots
                    .iter()
                    .map(|slot| {
                        let f = &slot.ident;
                        let v = match slot.ty {
                            SlotTy::Current(_) => quote!(__default.#f),
                            SlotTy::Transformed(_) => quote!(::core::default::Default::default()),
                            SlotTy::Removed | SlotTy::Shadow => quote!(#sm::IgnoredAny),
                        };
                        (f.clone(), v)
                    })
                    .collect();
                if let Some((f, _)) = &phantom {
                    defaults.push((f.clone(), quote!(::core::marker::PhantomData)));
                }
                let default_impl_tokens = default_impl(input, &name, &defaults);
                let default_attr = container_default(input).map(|_| quote!(#[serde(default)]));
                out.extend(quote! {
                    #default_impl_tokens
                    #[derive(#sm::serde::Deserialize)]
                    #[serde(crate = #SERDE_CRATE)]
                    #container
                    #default_attr
                    struct #name #impl_g #where_c {
                        #(#fields,)*
                        #phantom_field
                    }

                    impl #impl_g #name #ty_g #where_c {
                        #[inline]
                        fn __upgrade(self) -> ::core::result::Result<#target_ty, ::schema_migrate::Error> {
                            #applied
                            ::core::result::Result::Ok(#target_path { #(#assigns,)* #phantom_assign })
                        }
                    }
                });
            }
            Shape::Enum(variants) => {
                let Data::Enum(_, repr) = &input.data else {
                    unreachable!()
                };
                let next: Vec<&VariantSlot> = match shapes[i + 1].as_ref() {
                    Some(Shape::Enum(s)) => s.iter().collect(),
                    _ => unreachable!("a known shape is followed by known shapes"),
                };
                let defs = variants.iter().map(|v| old_variant(v, repr));
                let phantom_variant = phantom.as_ref().map(
                    |(_, t)| quote!(#[serde(skip)] __Phantom { __marker: #t, __never: ::core::convert::Infallible },),
                );
                let arms = variants.iter().map(|v| {
                    let vi = &v.ident;
                    match (v.variant, next.iter().any(|n| n.ident == *vi)) {
                        (Some(current), true) => {
                            let (pattern, build) = variant_move(current.fields);
                            quote!(#name::#vi #pattern => ::core::result::Result::Ok(#target_path::#vi #build))
                        }
                        (None, true) => quote!(#name::#vi(__x) => ::core::result::Result::Ok(#target_path::#vi(__x))),
                        (_, false) => {
                            let (_, op) = v.removed_by.expect("a variant missing later was removed");
                            let wire = &v.wire;
                            quote!(#name::#vi(_) => ::core::result::Result::Err(#sm::value::removed_variant(#step_ref, #op, #wire)))
                        }
                    }
                });
                let phantom_arm = phantom.as_ref().map(|_| {
                    if is_last {
                        quote!(#name::__Phantom { __never, .. } => match __never {},)
                    } else {
                        quote!(#name::__Phantom { __marker, __never } => ::core::result::Result::Ok(#target_path::__Phantom { __marker, __never }),)
                    }
                });
                out.extend(quote! {
                    #[derive(#sm::serde::Deserialize)]
                    #[serde(crate = #SERDE_CRATE)]
                    #container
                    enum #name #impl_g #where_c {
                        #(#defs,)*
                        #phantom_variant
                    }

                    impl #impl_g #name #ty_g #where_c {
                        #[inline]
                        fn __upgrade(self) -> ::core::result::Result<#target_ty, ::schema_migrate::Error> {
                            #applied
                            match self {
                                #(#arms,)*
                                #phantom_arm
                            }
                        }
                    }
                });
            }
        }
    }
    out
}

fn old_field(slot: &Slot) -> TokenStream {
    let sm = sm();
    let ident = &slot.ident;
    let rename = slot.wire.as_ref().map(|w| quote!(#[serde(rename = #w)]));
    match &slot.ty {
        SlotTy::Current(field) => {
            let attrs = serde_attr(&without_names(&field.serde));
            let ty = field.ty;
            quote!(#rename #attrs #ident: #ty)
        }
        SlotTy::Transformed(ty) => quote!(#rename #ident: #ty),
        SlotTy::Removed | SlotTy::Shadow => {
            quote!(#rename #[serde(default)] #ident: #sm::IgnoredAny)
        }
    }
}

fn old_variant(v: &VariantSlot, repr: &Repr) -> TokenStream {
    let sm = sm();
    let ident = &v.ident;
    let wire = &v.wire;
    match v.variant {
        Some(current) => {
            let attrs = serde_attr(&without_names(&current.serde));
            let fields = variant_fields(current.fields);
            quote!(#[serde(rename = #wire)] #attrs #ident #fields)
        }
        // An adjacently tagged variant may have no content at all.
        None => match repr {
            Repr::Internal { .. } => quote!(#[serde(rename = #wire)] #ident(#sm::IgnoredAny)),
            Repr::Adjacent { .. } => {
                quote!(#[serde(rename = #wire)] #ident(::core::option::Option<#sm::IgnoredAny>))
            }
        },
    }
}

/// The pattern binding a variant's fields, and the same fields to build it.
pub fn variant_move(fields: &Fields) -> (TokenStream, TokenStream) {
    match fields {
        Fields::Named(named) => {
            let names: Vec<_> = named
                .named
                .iter()
                .map(|f| f.ident.clone().expect("named"))
                .collect();
            (quote!({ #(#names),* }), quote!({ #(#names),* }))
        }
        Fields::Unnamed(unnamed) => {
            let names: Vec<Ident> = (0..unnamed.unnamed.len())
                .map(|i| format_ident!("__{}", i))
                .collect();
            (quote!(( #(#names),* )), quote!(( #(#names),* )))
        }
        Fields::Unit => (TokenStream::new(), TokenStream::new()),
    }
}

/// `function` applied to `value` as a transform from `old` to `new`, every
/// token on the user's function path: a signature that does not fit is
/// reported there, once (the typed reader and the reference path write the
/// same call, which the compiler reports as one error).
fn transform_call(
    function: &syn::Path,
    old: &syn::Type,
    new: Option<&syn::Type>,
    context: Option<&syn::Type>,
    value: &TokenStream,
) -> TokenStream {
    let new = new.map_or_else(|| quote!(_), ToTokens::to_token_stream);
    let span = crate::attr::path_span(function);
    match context {
        // With a context, the function may take `&Ctx` last.
        Some(ctx) => quote_spanned! {span=>
            ::schema_migrate::context::call::Transform::<#old, #new, #ctx, _>::apply(#function, #value)
        },
        None => quote_spanned! {span=>
            ::schema_migrate::TransformFn::<#old, #new>::apply(#function, #value)
        },
    }
}

/// A `with` step's call on `__object`, through `apply` (`value::with`, or
/// `back::with` for the inverse) and its boxed form for a type with a
/// context, whose function may take `&Ctx` last.
pub fn with_call(
    apply: TokenStream,
    function: &syn::Path,
    context: Option<&syn::Type>,
    step_ref: &TokenStream,
    op_index: usize,
) -> TokenStream {
    match context {
        Some(ctx) => {
            let span = crate::attr::path_span(function);
            let call = quote_spanned! {span=>
                ::schema_migrate::context::call::With::<#ctx, _>::call(#function, __m)
            };
            quote!(#apply::with_boxed(&mut __object, #step_ref, #op_index, |__m| #call)?;)
        }
        None => quote!(#apply::with(&mut __object, #step_ref, #op_index, #function)?;),
    }
}

/// The value of one field of version N+1 built from `self` at version N.
fn conversion_value(
    c: &Conversion,
    target: &Slot,
    step_ref: &TokenStream,
    context: Option<&syn::Type>,
) -> TokenStream {
    let sm = sm();
    if matches!(target.ty, SlotTy::Removed | SlotTy::Shadow) {
        // Removed later in history: never read, so nothing to compute.
        return quote!(#sm::IgnoredAny);
    }
    let mut value = match &c.base {
        Base::Move(from) => quote!(self.#from),
        Base::Add(expr, Some(ty)) => typed_default(*expr, ty),
        Base::Add(_, None) => quote!(#sm::IgnoredAny),
    };
    for (function, op, old_ty, produces) in &c.transforms {
        let Some(new_ty) = produces else { continue };
        // On the user's function: a signature that does not fit is one
        // error there, saying which signature a transform needs.
        let call = transform_call(function, old_ty, Some(new_ty), context, &value);
        value = quote! {
            match #call {
                ::core::result::Result::Ok(__new) => __new,
                ::core::result::Result::Err(__err) => {
                    return ::core::result::Result::Err(#sm::value::step_failed(#step_ref, #op, __err));
                }
            }
        };
    }
    value
}

fn declarative_read_map(
    input: &Input,
    plan: &Plan,
    oldest: u32,
    shapes: &[Option<Shape>],
) -> TokenStream {
    let sm = sm();
    let (_, ty_g, _) = input.generics.split_for_impl();
    let turbofish = ty_g.as_turbofish();
    let current = plan.version;
    let last = shapes.len() - 1;
    let arms = shapes.iter().enumerate().take(last).map(|(i, shape)| {
        let version = oldest + i as u32;
        if shape.is_some() {
            let name = version_ident(version);
            let upgrades = (i..last).map(|_| {
                quote! {
                    let __value = match __value.__upgrade() {
                        ::core::result::Result::Ok(__v) => __v,
                        ::core::result::Result::Err(__e) => return ::core::result::Result::Err(#sm::ReadError::Migrate(__e)),
                    };
                }
            });
            quote! {
                #version => {
                    let __value = match <#name #ty_g as #sm::serde::Deserialize>::deserialize(#sm::MapAccessDeserializer::new(__map)) {
                        ::core::result::Result::Ok(__v) => __v,
                        ::core::result::Result::Err(__e) => return ::core::result::Result::Err(#sm::ReadError::Data(__e)),
                    };
                    #(#upgrades)*
                    ::core::result::Result::Ok(__value)
                }
            }
        } else {
            quote! {
                #version => {
                    let __object = match #sm::read_object(__map) {
                        ::core::result::Result::Ok(__o) => __o,
                        ::core::result::Result::Err(__e) => return ::core::result::Result::Err(#sm::ReadError::Data(__e)),
                    };
                    <Self as ::schema_migrate::DeserializeVersioned<'de>>::__read_value(#version, __object)
                        .map_err(#sm::ReadError::Migrate)
                }
            }
        }
    });
    quote! {
        match __version {
            #current => __Current #turbofish::deserialize(#sm::MapAccessDeserializer::new(__map))
                .map_err(#sm::ReadError::Data),
            #(#arms)*
            _ => ::core::result::Result::Err(#sm::ReadError::Migrate(
                #sm::unsupported_version::<Self>(__version),
            )),
        }
    }
}

/// The reference path, and the bounds it needs on generic types.
fn declarative_read_value(
    input: &Input,
    oldest: u32,
    steps: &[&attr::Step],
    shapes: &[Option<Shape>],
    context: Option<&syn::Type>,
) -> (TokenStream, Vec<TokenStream>) {
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let turbofish = ty_g.as_turbofish();
    let variant_tag = match &input.data {
        Data::Enum(_, Repr::Internal { tag } | Repr::Adjacent { tag, .. }) => Some(tag.clone()),
        Data::Struct(_) => None,
    };
    let strict = deny_unknown_fields(input);
    let mut bounds = Vec::new();
    let blocks = steps.iter().enumerate().map(|(i, step)| {
        let from = oldest + i as u32;
        let step_ref = quote!(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[#i]);
        // Field types at N+1 are known when its shape is; below a `with` step
        // the op's own tokens decide them.
        let later: Option<&[Slot]> = match shapes[i + 1].as_ref() {
            Some(Shape::Struct(s)) => Some(s),
            _ => None,
        };
        let mut produced_types = type_after_ops(step, later);
        let ops = step.ops.iter().enumerate().map(|(op_index, op)| match op {
            Op::Add { field, default } => {
                let name = &field.value;
                let value = match produced_types.remove(&(op_index, name.clone())) {
                    Some(Some(ty)) => {
                        bounds.push(quote!(#ty: #sm::serde::Serialize));
                        let v = typed_default(default.as_ref(), &ty);
                        quote!(#sm::serde_json::to_value(&#v))
                    }
                    Some(None) => return TokenStream::new(),
                    None => match default {
                        Some(e) => quote!(#sm::serde_json::to_value(&#e)),
                        None => quote!(::core::result::Result::Ok(#sm::serde_json::Value::Null)),
                    },
                };
                quote!(#sm::value::add(&mut __object, #step_ref, #op_index, #name, #strict, #value)?;)
            }
            Op::Rename { from, to } => {
                let (a, b) = (&from.value, &to.value);
                quote!(#sm::value::rename(&mut __object, #step_ref, #a, #b, #strict)?;)
            }
            Op::Remove { field, .. } => {
                let f = &field.value;
                quote!(#sm::value::remove(&mut __object, #f);)
            }
            Op::Transform { field, ty, function, .. } => {
                let f = &field.value;
                match produced_types.remove(&(op_index, f.clone())) {
                    Some(Some(new_ty)) => {
                        bounds.push(quote!(#new_ty: #sm::serde::Serialize));
                        bounds.push(quote!(#ty: #sm::serde::de::DeserializeOwned));
                        let call = transform_call(function, ty, Some(&new_ty), context, &quote!(__old));
                        quote!(#sm::value::transform(&mut __object, #step_ref, #op_index, #f, |__old: #ty| #call)?;)
                    }
                    Some(None) => TokenStream::new(),
                    None => {
                        let call = transform_call(function, ty, None, context, &quote!(__old));
                        quote!(#sm::value::transform(&mut __object, #step_ref, #op_index, #f, |__old: #ty| #call)?;)
                    }
                }
            }
            Op::With { function, .. } => with_call(quote!(#sm::value), function, context, &step_ref, op_index),
            Op::RenameVariant { from, to } => {
                let (a, b) = (&from.value, &to.value);
                let tag = variant_tag.as_deref().unwrap_or_default();
                quote!(#sm::value::rename_variant(&mut __object, #step_ref, #tag, #a, #b)?;)
            }
            Op::RemoveVariant { variant } => {
                let v = &variant.value;
                let tag = variant_tag.as_deref().unwrap_or_default();
                quote!(#sm::value::remove_variant(&__object, #step_ref, #op_index, #tag, #v)?;)
            }
        });
        let ops: Vec<TokenStream> = ops.collect();
        quote! {
            if __version <= #from {
                #(#ops)*
                #sm::value::applied(#step_ref);
            }
        }
    });
    let blocks: Vec<TokenStream> = blocks.collect();
    let body = quote! {
        #(#blocks)*
        #sm::value::finish(
            <Self as ::schema_migrate::Versioned>::NAME,
            __version,
            __object,
            |__v| __Current #turbofish::deserialize(__v),
        )
    };
    (body, bounds)
}

/// For each `add` and `transform` of a step, the type of the field it
/// produces: `Some(Some(ty))` when known, `Some(None)` for a field removed
/// later (the op is skipped, as in the typed reader), nothing when the shape
/// after the step is unknown.
fn type_after_ops(
    step: &attr::Step,
    later: Option<&[Slot]>,
) -> std::collections::HashMap<(usize, String), Option<syn::Type>> {
    let mut out = std::collections::HashMap::new();
    let Some(later) = later else { return out };
    // Walk back from the shape after the step, tracking each field's type.
    let mut fields: Vec<(String, Option<syn::Type>)> = later
        .iter()
        .filter_map(|s| Some((s.wire.clone()?, s.ty.ty().cloned())))
        .collect();
    for (index, op) in step.ops.iter().enumerate().rev() {
        match op {
            Op::Add { field, .. } => {
                if let Some(pos) = fields.iter().position(|(n, _)| *n == field.value) {
                    let (_, ty) = fields.remove(pos);
                    out.insert((index, field.value.clone()), ty);
                }
            }
            Op::Rename { from, to } => {
                if let Some(entry) = fields.iter_mut().find(|(n, _)| *n == to.value) {
                    entry.0 = from.value.clone();
                }
            }
            Op::Remove { field, .. } => fields.push((field.value.clone(), None)),
            Op::Transform { field, ty, .. } => {
                if let Some(entry) = fields.iter_mut().find(|(n, _)| *n == field.value) {
                    let after = entry.1.clone();
                    out.insert((index, field.value.clone()), after.clone());
                    if after.is_some() {
                        entry.1 = Some(ty.clone());
                    }
                }
            }
            Op::With { .. } => break,
            Op::RenameVariant { .. } | Op::RemoveVariant { .. } => {}
        }
    }
    out
}

fn typed_reads(
    input: &Input,
    plan: &Plan,
    previous: &syn::Path,
    fallible: bool,
) -> (TokenStream, TokenStream) {
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let turbofish = ty_g.as_turbofish();
    let current = plan.version;
    let span = crate::attr::path_span(previous);
    let step_ref = quote!(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[0]);
    let convert = if fallible {
        quote::quote_spanned! {span=>
            match <Self as ::core::convert::TryFrom<#previous>>::try_from(__previous) {
                ::core::result::Result::Ok(__v) => ::core::result::Result::Ok(__v),
                ::core::result::Result::Err(__e) => ::core::result::Result::Err(
                    #sm::value::step_failed(#step_ref, 0, ::std::string::ToString::to_string(&__e).into())),
            }
        }
    } else {
        quote::quote_spanned! {span=>
            ::core::result::Result::Ok(<Self as ::core::convert::From<#previous>>::from(__previous))
        }
    };
    let prev_de = quote!(<#previous as ::schema_migrate::DeserializeVersioned<'de>>);
    let read_map = quote! {
        if __version == #current {
            return __Current #turbofish::deserialize(#sm::MapAccessDeserializer::new(__map)).map_err(#sm::ReadError::Data);
        }
        let __previous = #prev_de::__read_map(__version, __map)?;
        #sm::value::applied(#step_ref);
        let __converted: ::core::result::Result<Self, ::schema_migrate::Error> = #convert;
        __converted.map_err(#sm::ReadError::Migrate)
    };
    let read_value = quote! {
        if __version == #current {
            return #sm::value::finish(
                <Self as ::schema_migrate::Versioned>::NAME,
                __version,
                __object,
                |__v| __Current #turbofish::deserialize(__v),
            );
        }
        let __previous = #prev_de::__read_value(__version, __object)?;
        #sm::value::applied(#step_ref);
        #convert
    };
    (read_map, read_value)
}
