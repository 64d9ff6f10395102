//! Generate: `Serialize`, tag first, at the write version, and
//! `SerializeVersioned`, which writes any version the history can be run
//! backward to (`back.rs`).
//!
//! - The current version is written through the mirror of the type
//!   (`__Current`, see `de.rs`).
//! - `__W{n}` is version n as written: the fields the current value still
//!   has are borrowed from it (written with their own `#[serde]`
//!   attributes), the others are owned values made by `back` functions or
//!   restored. `__W{n+1}::__down` makes `__W{n}`; the newest one borrows
//!   every field of the value.
//! - Below a `with = up, back = down` step, the last typed writer's output
//!   is a JSON object, on which the older steps are undone.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Fields, GenericParam, Generics, Ident, Lifetime, LifetimeParam};

use crate::ast::{Data, Input, Repr};
use crate::attr::{self, Op};
use crate::back::{Action, Down, WriteField, WriteShape, WriteTy, WriteVariant, Writers};
use crate::bound::ser_generics;
use crate::check::{History, Plan};
use crate::tokens::{
    container_metas_except, phantom, serde_attr, sm, typed_default, without_names, SERDE_CRATE,
};

pub fn generate(input: &Input, plan: &Plan) -> TokenStream {
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let g = ser_generics(input);
    let (impl_g, _, where_c) = g.split_for_impl();
    let turbofish = ty_g.as_turbofish();
    let current = quote! {
        __Current #turbofish::serialize(
            self,
            #sm::TagFirst::new(
                __serializer,
                <Self as ::schema_migrate::Versioned>::NAME,
                <Self as ::schema_migrate::Versioned>::TAG,
                <Self as ::schema_migrate::Versioned>::VERSION,
            ),
        )
    };
    let serialize = if plan.write_version == plan.version {
        current.clone()
    } else {
        quote! {
            <Self as ::schema_migrate::SerializeVersioned>::__serialize_at(
                self,
                <Self as ::schema_migrate::Versioned>::WRITE_VERSION,
                __serializer,
            )
        }
    };
    let (writer_types, older) = match &plan.history {
        _ if input.packed => (TokenStream::new(), TokenStream::new()),
        History::Declarative { oldest, .. } => match crate::back::writers(input, plan) {
            Some(writers) => declarative(input, plan, *oldest, &writers),
            None => (TokenStream::new(), TokenStream::new()),
        },
        History::Typed {
            previous,
            fallible,
            reversible: true,
            ..
        } => (TokenStream::new(), typed(input, previous, *fallible)),
        History::Typed { .. } => (TokenStream::new(), TokenStream::new()),
    };
    let version = plan.version;
    quote! {
        #writer_types

        #[automatically_derived]
        impl #impl_g #sm::serde::Serialize for #ident #ty_g #where_c {
            fn serialize<__S>(&self, __serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #sm::serde::Serializer,
            {
                #serialize
            }
        }

        #[automatically_derived]
        impl #impl_g ::schema_migrate::SerializeVersioned for #ident #ty_g #where_c {
            fn __serialize_at<__S>(
                &self,
                __version: ::core::primitive::u32,
                __serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #sm::serde::Serializer,
            {
                match __version {
                    #version => #current,
                    #older
                    _ => ::core::result::Result::Err(#sm::back::unwritable::<Self, __S::Error>(__version)),
                }
            }
        }
    }
}

/// A typed step marked `reversible`: the previous type, made from a clone
/// of the value, writes the older versions.
fn typed(input: &Input, previous: &syn::Path, fallible: bool) -> TokenStream {
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let span = crate::attr::path_span(previous);
    let step_ref = quote!(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[0]);
    let convert = if fallible {
        quote_spanned! {span=>
            match <#previous as ::core::convert::TryFrom<Self>>::try_from(::core::clone::Clone::clone(self)) {
                ::core::result::Result::Ok(__v) => __v,
                ::core::result::Result::Err(__e) => return ::core::result::Result::Err(#sm::back::raise(
                    #sm::back::failed(#step_ref, 0, ::std::string::ToString::to_string(&__e).into()))),
            }
        }
    } else {
        quote_spanned! {span=>
            <#previous as ::core::convert::From<Self>>::from(::core::clone::Clone::clone(self))
        }
    };
    quote! {
        __version if __version < <Self as ::schema_migrate::Versioned>::VERSION => {
            let __previous: #previous = #convert;
            <#previous as ::schema_migrate::SerializeVersioned>::__serialize_at(&__previous, __version, __serializer)
        }
    }
}

/// The writer types and the match arms of the versions they write.
fn declarative(
    input: &Input,
    plan: &Plan,
    oldest: u32,
    writers: &Writers,
) -> (TokenStream, TokenStream) {
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let wg = writer_generics(input.generics);
    let version = plan.version;
    let mut types = TokenStream::new();
    for (k, shape) in writers.shapes.iter().enumerate() {
        let v = version - k as u32;
        types.extend(writer_type(input, &wg, v, shape, k > 0));
    }
    types.extend(newest_writer(input, &wg, version, &writers.shapes[0]));
    for (k, down) in writers.downs.iter().enumerate() {
        let v = version - k as u32;
        types.extend(down_impl(
            input,
            &wg,
            v,
            &writers.shapes[k],
            &writers.shapes[k + 1],
            down,
            plan.context,
        ));
    }
    let raise = quote!(return ::core::result::Result::Err(#sm::back::raise(__e)));
    let chain = |k: usize| {
        let downs = (0..k).map(|_| {
            quote! {
                let __w = match __w.__down() {
                    ::core::result::Result::Ok(__w) => __w,
                    ::core::result::Result::Err(__e) => #raise,
                };
            }
        });
        let newest = version_ident(version);
        quote! {
            let __w = #newest::__of(self);
            #(#downs)*
        }
    };
    let tag_first = |v: TokenStream| {
        quote! {
            #sm::TagFirst::new(
                __serializer,
                <Self as ::schema_migrate::Versioned>::NAME,
                <Self as ::schema_migrate::Versioned>::TAG,
                #v,
            )
        }
    };
    let mut arms = TokenStream::new();
    for k in 1..writers.shapes.len() {
        let v = version - k as u32;
        let chain = chain(k);
        let tag_first = tag_first(quote!(#v));
        arms.extend(quote! {
            #v => {
                #chain
                #sm::serde::Serialize::serialize(&__w, #tag_first)
            }
        });
    }
    if let (Some(&newest), Some(&oldest_step)) =
        (writers.value_steps.first(), writers.value_steps.last())
    {
        let k = writers.shapes.len() - 1;
        let chain = chain(k);
        let (high, low) = (oldest + newest as u32, oldest + oldest_step as u32);
        let written = version - k as u32;
        let History::Declarative { steps, .. } = &plan.history else {
            unreachable!("value steps belong to a declarative history")
        };
        let blocks = writers.value_steps.iter().map(|&i| {
            let from = oldest + i as u32;
            let step_ref = quote!(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[#i]);
            let ops = value_ops(input, steps[i], &step_ref, plan.context);
            quote! {
                if __version <= #from {
                    #(#ops)*
                }
            }
        });
        arms.extend(quote! {
            #low..=#high => {
                #chain
                let mut __object = match #sm::back::to_object(<Self as ::schema_migrate::Versioned>::NAME, #written, &__w) {
                    ::core::result::Result::Ok(__o) => __o,
                    ::core::result::Result::Err(__e) => #raise,
                };
                let __undone = (|| -> ::core::result::Result<(), ::schema_migrate::Error> {
                    #(#blocks)*
                    ::core::result::Result::Ok(())
                })();
                if let ::core::result::Result::Err(__e) = __undone {
                    #raise
                }
                #sm::back::write_object(
                    __object,
                    __serializer,
                    <Self as ::schema_migrate::Versioned>::NAME,
                    <Self as ::schema_migrate::Versioned>::TAG,
                    __version,
                )
            }
        });
    }
    (types, arms)
}

fn version_ident(v: u32) -> Ident {
    format_ident!("__W{}", v)
}

/// The type's generics with the lifetime of the borrowed value first.
fn writer_generics(generics: &Generics) -> Generics {
    let mut g = generics.clone();
    g.params.insert(
        0,
        GenericParam::Lifetime(LifetimeParam::new(Lifetime::new("'__w", Span::call_site()))),
    );
    g
}

/// The `#[serde]` attributes of the writer of an older version: the
/// container's, minus what only reading uses and the names the writer
/// spells out per field and variant.
fn container_attr(input: &Input) -> TokenStream {
    let kept = container_metas_except(
        input,
        &[
            "crate",
            "rename_all",
            "default",
            "rename",
            "deny_unknown_fields",
            "expecting",
        ],
    );
    let (ser_name, _) = input.names();
    let kept = serde_attr(&kept);
    quote!(#kept #[serde(rename = #ser_name)])
}

/// `__W{v}`; only the older versions are serialized.
fn writer_type(
    input: &Input,
    wg: &Generics,
    v: u32,
    shape: &WriteShape,
    serialized: bool,
) -> TokenStream {
    let sm = sm();
    let name = version_ident(v);
    let (impl_g, _, where_c) = wg.split_for_impl();
    let derive = serialized.then(|| {
        let container = container_attr(input);
        quote! {
            #[derive(#sm::serde::Serialize)]
            #[serde(crate = #SERDE_CRATE)]
            #container
        }
    });
    let attrs = |attrs: TokenStream| {
        if serialized {
            attrs
        } else {
            TokenStream::new()
        }
    };
    let phantom = phantom(input.generics);
    match shape {
        WriteShape::Struct(fields) => {
            let fields = fields.iter().map(|f| {
                let WriteField { ident, wire, ty } = f;
                let rename = wire.as_ref().map(|w| quote!(#[serde(rename = #w)]));
                match ty {
                    WriteTy::Borrowed(field) => {
                        let own = match wire {
                            Some(_) => serde_attr(&without_names(&field.serde)),
                            None => serde_attr(&field.serde.iter().collect::<Vec<_>>()),
                        };
                        let a = attrs(quote!(#rename #own));
                        let t = field.ty;
                        quote!(#a #ident: &'__w #t)
                    }
                    WriteTy::Owned(t) => {
                        let a = attrs(quote!(#rename));
                        quote!(#a #ident: #t)
                    }
                }
            });
            let skip = attrs(quote!(#[serde(skip)]));
            let phantom_field = phantom.map(|(f, t)| quote!(#skip #f: #t,));
            quote! {
                #derive
                struct #name #impl_g #where_c {
                    #(#fields,)*
                    #skip __life: ::core::marker::PhantomData<&'__w ()>,
                    #phantom_field
                }
            }
        }
        WriteShape::Enum(variants) => {
            let variants = variants.iter().map(|WriteVariant { variant, wire }| {
                let ident = variant.ident;
                let own = serde_attr(&without_names(&variant.serde));
                let a = attrs(quote!(#[serde(rename = #wire)] #own));
                let fields = borrowed_fields(variant.fields, serialized);
                quote!(#a #ident #fields)
            });
            let skip = attrs(quote!(#[serde(skip)]));
            let phantom_ty = phantom.map(|(f, t)| quote!(#f: #t,));
            quote! {
                #derive
                enum #name #impl_g #where_c {
                    #(#variants,)*
                    #skip __Life { __life: ::core::marker::PhantomData<&'__w ()>, #phantom_ty __never: ::core::convert::Infallible },
                }
            }
        }
    }
}

/// A variant's fields, borrowed, with their serde attributes.
fn borrowed_fields(fields: &Fields, with_attrs: bool) -> TokenStream {
    let attrs = |f: &syn::Field| {
        if !with_attrs {
            return TokenStream::new();
        }
        let attrs = f.attrs.iter().filter(|a| a.path().is_ident("serde"));
        quote!(#(#attrs)*)
    };
    match fields {
        Fields::Named(named) => {
            let fields = named.named.iter().map(|f| {
                let (a, ident, ty) = (attrs(f), &f.ident, &f.ty);
                quote!(#a #ident: &'__w #ty)
            });
            quote!({ #(#fields,)* })
        }
        Fields::Unnamed(unnamed) => {
            let fields = unnamed.unnamed.iter().map(|f| {
                let (a, ty) = (attrs(f), &f.ty);
                quote!(#a &'__w #ty)
            });
            quote!(( #(#fields,)* ))
        }
        Fields::Unit => TokenStream::new(),
    }
}

/// `__W{VERSION}::__of(&value)`: every field borrowed.
fn newest_writer(input: &Input, wg: &Generics, v: u32, shape: &WriteShape) -> TokenStream {
    let name = version_ident(v);
    let ident = input.ident;
    let (impl_g, w_ty_g, where_c) = wg.split_for_impl();
    let (_, ty_g, _) = input.generics.split_for_impl();
    let phantom_init =
        phantom(input.generics).map(|(f, _)| quote!(#f: ::core::marker::PhantomData,));
    let body = match shape {
        WriteShape::Struct(fields) => {
            let fields = fields.iter().map(|f| {
                let i = &f.ident;
                quote!(#i: &__value.#i)
            });
            quote! {
                #name {
                    #(#fields,)*
                    __life: ::core::marker::PhantomData,
                    #phantom_init
                }
            }
        }
        WriteShape::Enum(variants) => {
            let arms = variants.iter().map(|WriteVariant { variant, .. }| {
                let vi = variant.ident;
                let (b, _) = crate::de::variant_move(variant.fields);
                quote!(#ident::#vi #b => #name::#vi #b)
            });
            quote!(match __value { #(#arms,)* })
        }
    };
    quote! {
        impl #impl_g #name #w_ty_g #where_c {
            #[inline]
            fn __of(__value: &'__w #ident #ty_g) -> Self {
                #body
            }
        }
    }
}

/// `__W{v}::__down`, making `__W{v-1}` by undoing the step from v-1.
fn down_impl(
    input: &Input,
    wg: &Generics,
    v: u32,
    later: &WriteShape,
    earlier: &WriteShape,
    down: &Down,
    context: Option<&syn::Type>,
) -> TokenStream {
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let (impl_g, w_ty_g, where_c) = wg.split_for_impl();
    let name = version_ident(v);
    let target = version_ident(v - 1);
    let step_index = down.step_index;
    let step_ref = quote!(&<#ident #ty_g as ::schema_migrate::Versioned>::STEPS[#step_index]);
    let local = |i: &Ident| format_ident!("__f_{}", i);
    let phantom = phantom(input.generics);
    let body = match (later, earlier) {
        (WriteShape::Struct(later), WriteShape::Struct(earlier)) => {
            let keeps = |i: &Ident| earlier.iter().any(|f| f.ident == *i);
            let bind = later.iter().map(|f| {
                let i = &f.ident;
                if keeps(i) {
                    let l = local(i);
                    quote!(#i: #l)
                } else {
                    quote!(#i: _)
                }
            });
            let actions = down.actions.iter().map(|a| action(a, &step_ref, context));
            let build = earlier.iter().map(|f| {
                let i = &f.ident;
                let l = local(i);
                quote!(#i: #l)
            });
            let phantom_bind = phantom.as_ref().map(|(f, _)| quote!(#f,));
            quote! {
                let #name { #(#bind,)* __life, #phantom_bind } = self;
                #(#actions)*
                ::core::result::Result::Ok(#target { #(#build,)* __life, #phantom_bind })
            }
        }
        (WriteShape::Enum(variants), _) => {
            let arms = variants.iter().map(|WriteVariant { variant, .. }| {
                let vi = variant.ident;
                let (b, _) = crate::de::variant_move(variant.fields);
                quote!(#name::#vi #b => #target::#vi #b)
            });
            let phantom_bind = phantom.as_ref().map(|(f, _)| quote!(#f,));
            quote! {
                ::core::result::Result::Ok(match self {
                    #(#arms,)*
                    #name::__Life { __life, #phantom_bind __never } => #target::__Life { __life, #phantom_bind __never },
                })
            }
        }
        _ => unreachable!("a step keeps a struct a struct"),
    };
    quote! {
        impl #impl_g #name #w_ty_g #where_c {
            #[inline]
            fn __down(self) -> ::core::result::Result<#target #w_ty_g, ::schema_migrate::Error> {
                #body
            }
        }
    }
}

/// One statement of a `__down`, on the locals named after the fields.
fn action(a: &Action, step_ref: &TokenStream, context: Option<&syn::Type>) -> TokenStream {
    let sm = sm();
    match a {
        Action::Back {
            field,
            op_index,
            function,
            new,
            old,
            borrowed,
        } => {
            let l = format_ident!("__f_{}", field);
            // On the user's function: a signature that does not fit, or a
            // field that cannot be cloned for it, is reported there.
            let span = crate::attr::path_span(function);
            // A borrowed field is lent to `back` (or cloned for one that
            // takes it by value); one an earlier `back` made is moved.
            let method = if *borrowed {
                quote_spanned!(span=> back_ref)
            } else {
                quote_spanned!(span=> back_owned)
            };
            let call = match context {
                Some(ctx) => quote_spanned! {span=>
                    ::schema_migrate::context::call::Back::<#new, #old, #ctx, _>::#method(#function, #l)
                },
                None => quote_spanned! {span=>
                    ::schema_migrate::BackFn::<#new, #old, _>::#method(#function, #l)
                },
            };
            quote! {
                let #l = match #call {
                    ::core::result::Result::Ok(__old) => __old,
                    ::core::result::Result::Err(__e) => {
                        return ::core::result::Result::Err(#sm::back::failed(#step_ref, #op_index, __e));
                    }
                };
            }
        }
        Action::Restore { field, expr, ty } => {
            let l = format_ident!("__f_{}", field);
            let value = typed_default(Some(expr), ty);
            quote!(let #l = #value;)
        }
    }
}

/// A step undone on the JSON object, its ops in reverse order.
fn value_ops(
    input: &Input,
    step: &attr::Step,
    step_ref: &TokenStream,
    context: Option<&syn::Type>,
) -> Vec<TokenStream> {
    let sm = sm();
    let variant_tag = match &input.data {
        Data::Enum(_, Repr::Internal { tag } | Repr::Adjacent { tag, .. }) => Some(tag.as_str()),
        Data::Struct(_) => None,
    };
    step.ops
        .iter()
        .enumerate()
        .rev()
        .map(|(op_index, op)| match op {
            Op::Add { field, .. } => {
                let f = &field.value;
                quote!(#sm::back::unadd(&mut __object, #f);)
            }
            Op::Rename { from, to } => {
                let (a, b) = (&from.value, &to.value);
                quote!(#sm::back::unrename(&mut __object, #a, #b);)
            }
            Op::Remove {
                field,
                ty: Some(ty),
                restore: Some(expr),
            } => {
                let f = &field.value;
                let value = typed_default(Some(expr), ty);
                quote!(#sm::back::restore(&mut __object, #step_ref, #op_index, #f, #sm::serde_json::to_value(&#value))?;)
            }
            Op::Transform {
                field,
                ty,
                back: Some(function),
                ..
            } => {
                let f = &field.value;
                let span = crate::attr::path_span(function);
                let call = match context {
                    Some(ctx) => quote_spanned! {span=>
                        ::schema_migrate::context::call::Back::<_, #ty, #ctx, _>::back_owned(#function, __new)
                    },
                    None => quote_spanned! {span=>
                        ::schema_migrate::BackFn::<_, #ty, _>::back_owned(#function, __new)
                    },
                };
                quote!(#sm::back::transform(&mut __object, #step_ref, #op_index, #f, |__new| #call)?;)
            }
            Op::With {
                back: Some(function),
                ..
            } => crate::de::with_call(quote!(#sm::back), function, context, step_ref, op_index),
            Op::RenameVariant { from, to } => {
                let (a, b) = (&from.value, &to.value);
                let tag = variant_tag.unwrap_or_default();
                quote!(#sm::back::rename_variant(&mut __object, #tag, #a, #b);)
            }
            // `writers` stops at ops that cannot be undone; a removed
            // variant is never written.
            Op::Remove { .. } | Op::Transform { .. } | Op::With { .. } | Op::RemoveVariant { .. } => {
                TokenStream::new()
            }
        })
        .collect()
}
