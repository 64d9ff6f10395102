//! Shared pieces of generated code: how it names the runtime, and the
//! fragments more than one generator writes.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::{Expr, Generics, Ident, Meta, Type};

use crate::ast::{meta_key, Input};

/// The runtime, as generated code names it.
pub fn sm() -> TokenStream {
    quote!(::schema_migrate::__private)
}

pub const SERDE_CRATE: &str = "::schema_migrate::__private::serde";

/// A path as the user wrote it, without the spaces of its token stream.
pub fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// A field that makes an otherwise unused type parameter used.
pub fn phantom(generics: &Generics) -> Option<(Ident, Type)> {
    let params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    if params.is_empty() {
        return None;
    }
    Some((
        syn::parse_quote!(__phantom),
        syn::parse_quote!(::core::marker::PhantomData<fn() -> (#(#params,)*)>),
    ))
}

/// `let __v: Ty = expr;`, spanned on the expression so a wrong type is
/// reported there.
pub fn typed_default(expr: Option<&Expr>, ty: &Type) -> TokenStream {
    match expr {
        Some(e) => {
            let span = syn::spanned::Spanned::span(e);
            quote_spanned!(span=> { let __default: #ty = #e; __default })
        }
        None => quote!(<#ty as ::core::default::Default>::default()),
    }
}

/// `#[serde(a, b, ...)]`, or nothing for no items.
pub fn serde_attr(metas: &[&Meta]) -> TokenStream {
    if metas.is_empty() {
        TokenStream::new()
    } else {
        quote!(#[serde(#(#metas),*)])
    }
}

/// A field's or variant's own attributes, minus its name, which the hidden
/// readers and writers spell out. Aliases stay: the reference path reads
/// them at every version, through the current type, and writing ignores them.
pub fn without_names(metas: &[Meta]) -> Vec<&Meta> {
    metas.iter().filter(|m| meta_key(m) != "rename").collect()
}

/// The container's `#[serde]` items but the `dropped` keys.
pub fn container_metas_except<'a>(input: &'a Input, dropped: &[&str]) -> Vec<&'a Meta> {
    input
        .serde
        .iter()
        .filter(|m| !dropped.contains(&meta_key(m).as_str()))
        .collect()
}
