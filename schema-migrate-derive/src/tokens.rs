//! Shared pieces of generated code: how it names the runtime, and the
//! fragments more than one generator writes.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::{Expr, Generics, Ident, Type};

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
