//! Stub impls emitted beside `compile_error!`, so that one mistake in the
//! history is one error, not a wall of "trait not implemented" follow-ons.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::tokens::sm;

pub fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let sm = sm();
    let ident = &input.ident;
    let name = ident.to_string();
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let mut de_g = input.generics.clone();
    de_g.params.insert(0, syn::parse_quote!('de));
    let (de_impl_g, _, _) = de_g.split_for_impl();
    let compile_errors = error.to_compile_error();
    quote! {
        #compile_errors
        #[allow(unreachable_code, unused_variables, reason = "stubs beside a compile error")]
        const _: () = {
            impl #impl_g ::schema_migrate::Versioned for #ident #ty_g #where_c {
                const NAME: &'static ::core::primitive::str = #name;
                const VERSION: ::core::primitive::u32 = 1;
                const TAG: &'static ::core::primitive::str = "_version";
                const OLDEST: ::core::primitive::u32 = 1;
                const UNTAGGED: ::schema_migrate::Untagged = ::schema_migrate::Untagged::Reject;
                const STEPS: &'static [::schema_migrate::Step] = &[];
                fn history() -> ::std::vec::Vec<&'static ::schema_migrate::Step> {
                    ::std::vec::Vec::new()
                }
            }
            impl #impl_g #sm::serde::Serialize for #ident #ty_g #where_c {
                fn serialize<__S: #sm::serde::Serializer>(&self, __s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    ::core::unimplemented!()
                }
            }
            impl #impl_g ::schema_migrate::SerializeVersioned for #ident #ty_g #where_c {
                fn __serialize_at<__S: #sm::serde::Serializer>(
                    &self,
                    __version: ::core::primitive::u32,
                    __s: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error> {
                    ::core::unimplemented!()
                }
            }
            impl #de_impl_g #sm::serde::Deserialize<'de> for #ident #ty_g #where_c {
                fn deserialize<__D: #sm::serde::Deserializer<'de>>(__d: __D) -> ::core::result::Result<Self, __D::Error> {
                    ::core::unimplemented!()
                }
            }
            impl #de_impl_g ::schema_migrate::DeserializeVersioned<'de> for #ident #ty_g #where_c {
                fn __read_map<__A: #sm::serde::de::MapAccess<'de>>(
                    __version: ::core::primitive::u32,
                    __map: __A,
                ) -> ::core::result::Result<Self, #sm::ReadError<__A::Error>> {
                    ::core::unimplemented!()
                }
                fn __read_value(
                    __version: ::core::primitive::u32,
                    __object: #sm::serde_json::Map<::std::string::String, #sm::serde_json::Value>,
                ) -> ::core::result::Result<Self, ::schema_migrate::Error> {
                    ::core::unimplemented!()
                }
            }
        };
    }
}
