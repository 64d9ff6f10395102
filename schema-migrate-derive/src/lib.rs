extern crate proc_macro; #[proc_macro_derive(Versioned, attributes(schema))] pub fn d(_i: proc_macro::TokenStream)->proc_macro::TokenStream{proc_macro::TokenStream::new()}
