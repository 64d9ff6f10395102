//! Generate: `Serialize`, through the mirror of the type, tag first.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Input;
use crate::bound::ser_generics;
use crate::check::Plan;
use crate::expand::sm;

pub fn generate(input: &Input, _plan: &Plan) -> TokenStream {
    let sm = sm();
    let ident = input.ident;
    let (_, ty_g, _) = input.generics.split_for_impl();
    let g = ser_generics(input);
    let (impl_g, _, where_c) = g.split_for_impl();
    let turbofish = ty_g.as_turbofish();
    quote! {
        #[automatically_derived]
        impl #impl_g #sm::serde::Serialize for #ident #ty_g #where_c {
            fn serialize<__S>(&self, __serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #sm::serde::Serializer,
            {
                __Current #turbofish::serialize(
                    self,
                    #sm::TagFirst::new(
                        __serializer,
                        <Self as ::schema_migrate::Versioned>::NAME,
                        <Self as ::schema_migrate::Versioned>::TAG,
                        <Self as ::schema_migrate::Versioned>::VERSION,
                    ),
                )
            }
        }
    }
}
