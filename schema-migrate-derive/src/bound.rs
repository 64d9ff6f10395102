//! Generate: the where-clauses of the serde impls, inferred exactly as
//! serde_derive infers them (its `bound.rs`), so that a versioned type
//! compiles for every instantiation its serde_derive twin compiles for.
//!
//! The generated impls call serde_derive's own code for the type's mirror
//! (`__Current`, `__V{n}`), whose bounds serde infers from the same fields
//! and attributes; the impls here must imply them, no more:
//!
//! - a field's or variant's `bound` adds its predicates and takes that field
//!   out of inference; a container `bound` replaces inference altogether;
//! - otherwise each type parameter that a serialized (deserialized) field
//!   names gets `Serialize` (`Deserialize<'de>`), except inside
//!   `PhantomData` and in fields that are skipped or have their own `with`
//!   function; a field whose type is `T::Assoc` bounds `T::Assoc` instead;
//! - fields filled by `Default::default()` bound their parameters by
//!   `Default`, and a container `#[serde(default)]` bounds the type itself.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::{Pair, Punctuated};
use syn::{
    Expr, GenericArgument, Generics, Ident, Lit, LitStr, Meta, Path, PathArguments, ReturnType,
    Token, Type, TypeParamBound, TypePath, WherePredicate,
};

use crate::ast::{meta_key, nested, Data, Input};
use crate::tokens::sm;

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Ser,
    De,
}

/// A field as serde's inference sees it.
struct FieldView<'a> {
    ty: &'a Type,
    serde: Vec<Meta>,
    /// The enclosing variant's attributes, for an enum.
    variant: Option<&'a [Meta]>,
}

fn fields<'a>(input: &'a Input<'a>) -> Vec<FieldView<'a>> {
    match &input.data {
        Data::Struct(fields) => fields
            .iter()
            .map(|f| FieldView {
                ty: f.ty,
                serde: f.serde.clone(),
                variant: None,
            })
            .collect(),
        Data::Enum(variants, _) => variants
            .iter()
            .flat_map(|v| {
                v.fields.iter().map(move |f| FieldView {
                    ty: &f.ty,
                    serde: field_metas(&f.attrs),
                    variant: Some(v.serde.as_slice()),
                })
            })
            .collect(),
    }
}

/// A variant field's `#[serde]` items; a malformed one is reported by
/// `ast.rs` or by serde_derive, not again here.
fn field_metas(attrs: &[syn::Attribute]) -> Vec<Meta> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .collect()
}

fn has(metas: &[Meta], keys: &[&str]) -> bool {
    metas.iter().any(|m| keys.contains(&meta_key(m).as_str()))
}

fn skipped(metas: &[Meta], dir: Dir) -> bool {
    match dir {
        Dir::Ser => has(metas, &["skip", "skip_serializing"]),
        Dir::De => has(metas, &["skip", "skip_deserializing"]),
    }
}

fn has_with(metas: &[Meta], dir: Dir) -> bool {
    match dir {
        Dir::Ser => has(metas, &["with", "serialize_with"]),
        Dir::De => has(metas, &["with", "deserialize_with"]),
    }
}

fn lit_str(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// The predicates of `bound = ".."` or `bound(serialize = "..", deserialize = "..")`
/// for one direction. A string that does not parse is serde_derive's to
/// report, on the mirror; it counts as given.
fn bound(metas: &[Meta], dir: Dir) -> Option<Vec<WherePredicate>> {
    let parse = |s: &LitStr| {
        s.parse_with(Punctuated::<WherePredicate, Token![,]>::parse_terminated)
            .map(|p| p.into_iter().collect())
            .unwrap_or_default()
    };
    let side = match dir {
        Dir::Ser => "serialize",
        Dir::De => "deserialize",
    };
    metas
        .iter()
        .filter(|m| m.path().is_ident("bound"))
        .find_map(|m| match m {
            Meta::NameValue(nv) => lit_str(&nv.value).map(parse),
            Meta::List(list) => nested(list).ok()?.iter().find_map(|inner| match inner {
                Meta::NameValue(nv) if nv.path.is_ident(side) => lit_str(&nv.value).map(parse),
                _ => None,
            }),
            Meta::Path(_) => None,
        })
}

/// serde's `needs_serialize_bound` / `needs_deserialize_bound`.
fn needs_bound(f: &FieldView, dir: Dir) -> bool {
    let own = |metas: &[Meta]| {
        !skipped(metas, dir) && !has_with(metas, dir) && bound(metas, dir).is_none()
    };
    own(&f.serde) && f.variant.map_or(true, own)
}

/// serde's `requires_default`: the field is filled by `Default::default()`.
fn requires_default(f: &FieldView, container_default: bool) -> bool {
    let default = f.serde.iter().find(|m| meta_key(m) == "default");
    match default {
        Some(Meta::Path(_)) => true,
        Some(_) => false,
        None => !container_default && skipped(&f.serde, Dir::De),
    }
}

/// The container's `default`: `Some(true)` for `#[serde(default)]`,
/// `Some(false)` for `default = "path"`.
fn container_default(input: &Input) -> Option<bool> {
    if !matches!(input.data, Data::Struct(_)) {
        return None;
    }
    input
        .serde
        .iter()
        .find(|m| meta_key(m) == "default")
        .map(|m| matches!(m, Meta::Path(_)))
}

/// `Serialize` impl generics: the type's own, plus serde's inferred bounds.
pub fn ser_generics(input: &Input) -> Generics {
    let sm = sm();
    let mut predicates = explicit(input, Dir::Ser);
    if let Some(container) = bound(&input.serde, Dir::Ser) {
        predicates.extend(container.iter().map(|p| quote!(#p)));
    } else {
        let fields = fields(input);
        let types = fields
            .iter()
            .filter(|f| needs_bound(f, Dir::Ser))
            .map(|f| f.ty);
        predicates.extend(with_bound(
            input.generics,
            types,
            &quote!(#sm::serde::Serialize),
        ));
    }
    extend(input.generics, predicates)
}

/// `Deserialize<'de>` impl generics: the type's own with `'de`, serde's
/// inferred bounds over the current fields and `old_types` (field types of
/// older versions that differ from the current ones), and `extra`.
pub fn de_generics(input: &Input, old_types: &[&Type], extra: Vec<TokenStream>) -> Generics {
    let sm = sm();
    let mut predicates = explicit(input, Dir::De);
    if let Some(container) = bound(&input.serde, Dir::De) {
        predicates.extend(container.iter().map(|p| quote!(#p)));
    } else {
        let container_default = container_default(input);
        if container_default == Some(true) {
            let ident = input.ident;
            let (_, ty_g, _) = input.generics.split_for_impl();
            predicates.push(quote!(#ident #ty_g: ::core::default::Default));
        }
        let fields = fields(input);
        let types = fields
            .iter()
            .filter(|f| needs_bound(f, Dir::De))
            .map(|f| f.ty)
            .chain(old_types.iter().copied());
        predicates.extend(with_bound(
            input.generics,
            types,
            &quote!(#sm::serde::Deserialize<'de>),
        ));
        let defaulted = fields
            .iter()
            .filter(|f| requires_default(f, container_default.is_some()))
            .map(|f| f.ty);
        predicates.extend(with_bound(
            input.generics,
            defaulted,
            &quote!(::core::default::Default),
        ));
    }
    predicates.extend(extra);
    let mut g = extend(input.generics, predicates);
    g.params.insert(0, syn::parse_quote!('de));
    g
}

/// Whether `ty` names one of the type's parameters (so a bound on it is not
/// trivially true or false).
pub fn mentions_param(generics: &Generics, ty: &Type) -> bool {
    let mut v = FindTyParams::new(generics);
    v.visit_field(ty);
    !v.relevant.is_empty() || !v.associated.is_empty()
}

/// The predicates of every field's and variant's own `bound`.
fn explicit(input: &Input, dir: Dir) -> Vec<TokenStream> {
    let mut out: Vec<TokenStream> = Vec::new();
    let mut push = |metas: &[Meta]| {
        if let Some(preds) = bound(metas, dir) {
            out.extend(preds.iter().map(|p| quote!(#p)));
        }
    };
    match &input.data {
        Data::Struct(fields) => fields.iter().for_each(|f| push(&f.serde)),
        Data::Enum(variants, _) => {
            for v in variants {
                push(&v.serde);
                for f in v.fields {
                    push(&field_metas(&f.attrs));
                }
            }
        }
    }
    out
}

fn extend(generics: &Generics, predicates: Vec<TokenStream>) -> Generics {
    let mut g = generics.clone();
    let where_c = g.make_where_clause();
    for p in predicates {
        where_c.predicates.push(syn::parse_quote!(#p));
    }
    g
}

/// serde's `with_bound`: `bound` on each parameter the types name, and on
/// each `T::Assoc` a type is.
fn with_bound<'a>(
    generics: &Generics,
    types: impl Iterator<Item = &'a Type>,
    bound: &TokenStream,
) -> Vec<TokenStream> {
    let mut v = FindTyParams::new(generics);
    for ty in types {
        v.visit_field(ty);
    }
    let params = generics
        .type_params()
        .map(|p| &p.ident)
        .filter(|id| v.relevant.contains(*id))
        .map(|id| quote!(#id: #bound));
    let associated = v.associated.iter().map(|ty| quote!(#ty: #bound));
    params.chain(associated).collect()
}

/// serde_derive's visitor: which type parameters a field's type uses.
struct FindTyParams<'ast> {
    all: HashSet<Ident>,
    relevant: HashSet<Ident>,
    associated: Vec<&'ast TypePath>,
}

impl<'ast> FindTyParams<'ast> {
    fn new(generics: &Generics) -> Self {
        FindTyParams {
            all: generics.type_params().map(|p| p.ident.clone()).collect(),
            relevant: HashSet::new(),
            associated: Vec::new(),
        }
    }

    fn visit_field(&mut self, ty: &'ast Type) {
        if let Type::Path(path) = ungroup(ty) {
            if let Some(Pair::Punctuated(first, _)) = path.path.segments.pairs().next() {
                if self.all.contains(&first.ident) && !self.associated.contains(&path) {
                    self.associated.push(path);
                }
            }
        }
        self.visit_type(ty);
    }

    fn visit_path(&mut self, path: &'ast Path) {
        if let Some(seg) = path.segments.last() {
            // `PhantomData<T>` is serializable whatever `T` is.
            if seg.ident == "PhantomData" {
                return;
            }
        }
        if path.leading_colon.is_none() && path.segments.len() == 1 {
            let id = &path.segments[0].ident;
            if self.all.contains(id) {
                self.relevant.insert(id.clone());
            }
        }
        for segment in &path.segments {
            self.visit_arguments(&segment.arguments);
        }
    }

    fn visit_type(&mut self, ty: &'ast Type) {
        match ty {
            Type::Array(ty) => self.visit_type(&ty.elem),
            Type::BareFn(ty) => {
                for arg in &ty.inputs {
                    self.visit_type(&arg.ty);
                }
                self.visit_return(&ty.output);
            }
            Type::Group(ty) => self.visit_type(&ty.elem),
            Type::ImplTrait(ty) => ty.bounds.iter().for_each(|b| self.visit_bound(b)),
            Type::Paren(ty) => self.visit_type(&ty.elem),
            Type::Path(ty) => {
                if let Some(qself) = &ty.qself {
                    self.visit_type(&qself.ty);
                }
                self.visit_path(&ty.path);
            }
            Type::Ptr(ty) => self.visit_type(&ty.elem),
            Type::Reference(ty) => self.visit_type(&ty.elem),
            Type::Slice(ty) => self.visit_type(&ty.elem),
            Type::TraitObject(ty) => ty.bounds.iter().for_each(|b| self.visit_bound(b)),
            Type::Tuple(ty) => ty.elems.iter().for_each(|t| self.visit_type(t)),
            // A parameter named only inside a macro is not considered used.
            _ => {}
        }
    }

    fn visit_arguments(&mut self, arguments: &'ast PathArguments) {
        match arguments {
            PathArguments::None => {}
            PathArguments::AngleBracketed(args) => {
                for arg in &args.args {
                    match arg {
                        GenericArgument::Type(ty) => self.visit_type(ty),
                        GenericArgument::AssocType(assoc) => self.visit_type(&assoc.ty),
                        _ => {}
                    }
                }
            }
            PathArguments::Parenthesized(args) => {
                args.inputs.iter().for_each(|t| self.visit_type(t));
                self.visit_return(&args.output);
            }
        }
    }

    fn visit_return(&mut self, output: &'ast ReturnType) {
        if let ReturnType::Type(_, ty) = output {
            self.visit_type(ty);
        }
    }

    fn visit_bound(&mut self, bound: &'ast TypeParamBound) {
        if let TypeParamBound::Trait(bound) = bound {
            self.visit_path(&bound.path);
        }
    }
}

fn ungroup(mut ty: &Type) -> &Type {
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    ty
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;
    use syn::{parse_quote, DeriveInput};

    /// The where-clause predicates of both impls, as text without spaces.
    fn bounds(item: &DeriveInput) -> (Vec<String>, Vec<String>) {
        let cx = Ctxt::default();
        let input = crate::ast::parse(&cx, item).expect("parses");
        let text = |g: Generics| {
            g.where_clause
                .map(|w| {
                    w.predicates
                        .iter()
                        .map(|p| quote!(#p).to_string().replace(' ', ""))
                        .collect()
                })
                .unwrap_or_default()
        };
        let ser = text(ser_generics(&input));
        let de = text(de_generics(&input, &[], Vec::new()));
        cx.check().expect("no errors");
        (ser, de)
    }

    const SER: &str = ":::schema_migrate::__private::serde::Serialize";
    const DE: &str = ":::schema_migrate::__private::serde::Deserialize<'de>";

    #[test]
    fn skipped_phantom_and_with_fields_add_no_serde_bound() {
        let (ser, de) = bounds(&parse_quote! {
            struct S<T, U, W> {
                #[serde(skip)]
                a: PhantomData<T>,
                #[serde(skip)]
                b: Option<U>,
                #[serde(with = "as_text")]
                c: W,
            }
        });
        assert!(ser.is_empty(), "{ser:?}");
        assert_eq!(de, ["U:::core::default::Default"]);
    }

    #[test]
    fn associated_types_are_bounded_themselves() {
        let (ser, de) = bounds(&parse_quote! {
            struct S<X: Family, T> { item: X::Item, list: Vec<T> }
        });
        assert_eq!(ser, [format!("T{SER}"), format!("X::Item{SER}")]);
        assert_eq!(de, [format!("T{DE}"), format!("X::Item{DE}")]);
    }

    #[test]
    fn field_and_container_bound_replace_inference() {
        let (ser, de) = bounds(&parse_quote! {
            struct S<T, U> {
                #[serde(bound(serialize = "T: Display", deserialize = "T: FromStr"))]
                t: T,
                u: U,
            }
        });
        assert_eq!(ser, ["T:Display".to_owned(), format!("U{SER}")]);
        assert_eq!(de, ["T:FromStr".to_owned(), format!("U{DE}")]);

        let (ser, de) = bounds(&parse_quote! {
            #[serde(bound = "T: Clone")]
            struct S<T> { t: T }
        });
        assert_eq!(
            (ser, de),
            (vec!["T:Clone".to_owned()], vec!["T:Clone".to_owned()])
        );
    }

    #[test]
    fn container_default_bounds_the_type_only_when_bare() {
        let (_, de) = bounds(&parse_quote! {
            #[serde(default)]
            struct S<T> { #[serde(skip)] t: T }
        });
        assert_eq!(de, ["S<T>:::core::default::Default"]);
        let (_, de) = bounds(&parse_quote! {
            #[serde(default = "S::make")]
            struct S<T> { #[serde(skip)] t: T }
        });
        assert!(de.is_empty(), "{de:?}");
    }
}
