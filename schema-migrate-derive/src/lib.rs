//! `#[derive(Versioned)]` for the `schema-migrate` crate; see its documentation.
//!
//! The pipeline: `attr.rs` and `ast.rs` parse the `#[schema]` history and the
//! item (with its `#[serde]` attributes), `check.rs` validates the history and
//! derives each stored version's shape, and `expand.rs` with `ser.rs` and
//! `de.rs` generate the code (`late.rs`: the reader of payloads whose tag is
//! not first; `bound.rs`: the impls' bounds, inferred as serde_derive infers
//! them; `fields.rs`: the names each version models; `shape.rs`: each
//! version's wire shape, for the schema lock); `fallback.rs` stubs
//! the impls when there are errors.

mod ast;
mod attr;
mod back;
mod bound;
mod case;
mod check;
mod ctxt;
mod de;
mod expand;
mod fallback;
mod fields;
mod late;
mod ser;
mod shape;
mod tokens;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

#[proc_macro_derive(Versioned, attributes(schema, serde))]
pub fn derive_versioned(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand::derive(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => fallback::expand(&input, err).into(),
    }
}
