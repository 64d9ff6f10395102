//! Parse: `#[schema(...)]` into a typed model. Syntax only; meaning is
//! checked in `check.rs`.

use proc_macro2::{Span, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, Ident, LitInt, LitStr, Path, Token, Type};

use crate::ctxt::{hint, Ctxt};

/// A field or variant name in an op: an identifier or a string (for wire
/// names that are not identifiers, such as `"user-name"`).
#[derive(Clone, Debug)]
pub struct Name {
    pub value: String,
    pub span: Span,
}

impl Parse for Name {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            Ok(Name {
                value: lit.value(),
                span: lit.span(),
            })
        } else {
            let ident = Ident::parse_any(input)?;
            let value = ident.to_string();
            let value = value
                .strip_prefix("r#")
                .map_or(value.clone(), str::to_owned);
            Ok(Name {
                value,
                span: ident.span(),
            })
        }
    }
}

use syn::ext::IdentExt as _;

mod kw {
    syn::custom_keyword!(back);
}

#[derive(Clone, Copy, Debug)]
pub struct Num {
    pub value: u32,
    pub span: Span,
}

#[derive(Default)]
pub struct Container {
    /// The `schema` keyword of the first attribute, for errors about missing keys.
    pub span: Option<Span>,
    pub version: Option<Num>,
    pub tag: Option<LitStr>,
    pub untagged: Option<Untagged>,
    pub oldest: Option<Num>,
    /// `write_version = N`: the version `Serialize` writes.
    pub write_version: Option<Num>,
    /// `context = path::Ctx`: what the step functions may take as `&Ctx`.
    pub context: Option<Type>,
    pub steps: Vec<Step>,
}

pub enum Untagged {
    Version(Num),
    Error,
}

pub struct Step {
    /// The `migrate` keyword.
    pub span: Span,
    pub from: Option<From>,
    pub description: Option<LitStr>,
    pub fallible: Option<Span>,
    /// `reversible` on a typed step: `PreviousType: From<Self>`.
    pub reversible: Option<Span>,
    pub ops: Vec<Op>,
}

pub enum From {
    Version(Num),
    Type(Path),
}

pub enum Op {
    Add {
        field: Name,
        default: Option<Expr>,
    },
    Rename {
        from: Name,
        to: Name,
    },
    Remove {
        field: Name,
        ty: Option<Type>,
        /// `= expr`: the value written back at the older version.
        restore: Option<Expr>,
    },
    Transform {
        field: Name,
        ty: Type,
        function: Path,
        /// `back = down`: `down(New) -> Old`.
        back: Option<Path>,
    },
    With {
        function: Path,
        back: Option<Path>,
    },
    RenameVariant {
        from: Name,
        to: Name,
    },
    RemoveVariant {
        variant: Name,
    },
}

impl Op {
    /// The token to point at when the op is misplaced.
    pub fn span(&self) -> Span {
        match self {
            Op::Add { field, .. } | Op::Remove { field, .. } | Op::Transform { field, .. } => {
                field.span
            }
            Op::Rename { from, .. } | Op::RenameVariant { from, .. } => from.span,
            Op::With { function, .. } => path_span(function),
            Op::RemoveVariant { variant } => variant.span,
        }
    }
}

pub fn path_span(p: &Path) -> Span {
    p.segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}

const CONTAINER_KEYS: &[&str] = &[
    "version",
    "tag",
    "untagged",
    "oldest",
    "write_version",
    "context",
    "migrate",
];
const STEP_KEYS: &[&str] = &[
    "from",
    "description",
    "fallible",
    "reversible",
    "add",
    "rename",
    "remove",
    "transform",
    "with",
    "back",
    "rename_variant",
    "remove_variant",
];

/// Parses every `#[schema(...)]` attribute; errors go to `cx`, parsing goes on
/// past them so that all are reported.
pub fn parse(cx: &Ctxt, attrs: &[Attribute]) -> Container {
    let mut c = Container::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("schema")) {
        c.span
            .get_or_insert_with(|| attr.path().segments[0].ident.span());
        if let Err(e) =
            attr.parse_args_with(|input: ParseStream| parse_container(cx, &mut c, input))
        {
            cx.push(e);
        }
    }
    c
}

fn parse_container(cx: &Ctxt, c: &mut Container, input: ParseStream) -> syn::Result<()> {
    for_each_key(cx, input, |key, input| match key.to_string().as_str() {
        "version" => num_value(input).map(|n| set_once(cx, &mut c.version, n, &key)),
        "oldest" => num_value(input).map(|n| set_once(cx, &mut c.oldest, n, &key)),
        "write_version" => num_value(input).map(|n| set_once(cx, &mut c.write_version, n, &key)),
        "context" => {
            input.parse::<Token![=]>()?;
            let ty: Type = input.parse()?;
            set_once(cx, &mut c.context, ty, &key);
            Ok(())
        }
        "tag" => {
            input.parse::<Token![=]>()?;
            let lit: LitStr = input.parse()?;
            if lit.value().is_empty() {
                cx.error(lit.span(), "the version tag cannot be an empty string");
            }
            set_once(cx, &mut c.tag, lit, &key);
            Ok(())
        }
        "untagged" => {
            input.parse::<Token![=]>()?;
            let value = if input.peek(LitInt) {
                Untagged::Version(parse_num(input)?)
            } else {
                let word: Ident = input.parse()?;
                if word != "error" {
                    cx.error(word.span(), "expected a version number or `error`: `untagged = 1` reads untagged payloads as version 1, `untagged = error` rejects them");
                }
                Untagged::Error
            };
            set_once(cx, &mut c.untagged, value, &key);
            Ok(())
        }
        "migrate" => {
            let content;
            syn::parenthesized!(content in input);
            let step = parse_step(cx, key.span(), &content);
            c.steps.push(step);
            Ok(())
        }
        other => {
            cx.error(
                key.span(),
                format!(
                    "unknown schema key `{other}`; expected one of: {}{}",
                    CONTAINER_KEYS.join(", "),
                    hint(other, CONTAINER_KEYS.iter().copied())
                ),
            );
            skip_to_comma(input)
        }
    })
}

fn parse_step(cx: &Ctxt, span: Span, input: ParseStream) -> Step {
    let mut step = Step {
        span,
        from: None,
        description: None,
        fallible: None,
        reversible: None,
        ops: Vec::new(),
    };
    if let Err(e) = parse_step_items(cx, &mut step, input) {
        cx.push(e);
        // Tokens left in a group are reported again by syn as "unexpected
        // token" on the same spot; the first error already says it.
        drain(input);
    }
    step
}

fn parse_step_items(cx: &Ctxt, step: &mut Step, input: ParseStream) -> syn::Result<()> {
    for_each_key(cx, input, |key, input| {
        parse_step_item(cx, step, &key, input)
    })
}

/// `key ..., key ..., ...`: an error in one item is reported and parsing
/// resumes at the next comma, so every bad item of an attribute is reported.
fn for_each_key(
    cx: &Ctxt,
    input: ParseStream,
    mut item: impl FnMut(Ident, ParseStream) -> syn::Result<()>,
) -> syn::Result<()> {
    while !input.is_empty() {
        let key = Ident::parse_any(input)?;
        if let Err(e) = item(key, input) {
            cx.push(e);
            skip_to_comma(input)?;
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

fn parse_step_item(cx: &Ctxt, step: &mut Step, key: &Ident, input: ParseStream) -> syn::Result<()> {
    match key.to_string().as_str() {
        "from" => {
            input.parse::<Token![=]>()?;
            let from = if input.peek(LitInt) {
                From::Version(parse_num(input)?)
            } else {
                From::Type(input.parse()?)
            };
            if step.from.is_some() {
                cx.error(key.span(), "duplicate `from` in one migrate step");
            } else {
                step.from = Some(from);
            }
        }
        "description" => {
            input.parse::<Token![=]>()?;
            let lit: LitStr = input.parse()?;
            set_once(cx, &mut step.description, lit, key);
        }
        "fallible" => set_once(cx, &mut step.fallible, key.span(), key),
        "reversible" => set_once(cx, &mut step.reversible, key.span(), key),
        "with" => {
            input.parse::<Token![=]>()?;
            step.ops.push(Op::With {
                function: input.parse()?,
                back: None,
            });
        }
        // `with = up, back = down`: the inverse of the `with` just before it.
        "back" => {
            input.parse::<Token![=]>()?;
            let down: Path = input.parse()?;
            match step.ops.last_mut() {
                Some(Op::With {
                    back: back @ None, ..
                }) => *back = Some(down),
                Some(Op::With { .. }) => cx.error(
                    key.span(),
                    "duplicate `back`: this `with` step already has its inverse",
                ),
                _ => cx.error(
                    key.span(),
                    "`back = function` follows `with = function` (the inverse of a `with` step); \
                     a transform takes it inside: `transform(field: Old => up, back = down)`",
                ),
            }
        }
        "add" => list(input, |input| {
            let field: Name = input.parse()?;
            let default = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            step.ops.push(Op::Add { field, default });
            Ok(())
        })?,
        "rename" => list(input, |input| {
            let (from, to) = name_pair(input)?;
            step.ops.push(Op::Rename { from, to });
            Ok(())
        })?,
        "rename_variant" => list(input, |input| {
            let (from, to) = name_pair(input)?;
            step.ops.push(Op::RenameVariant { from, to });
            Ok(())
        })?,
        "remove" => list(input, |input| {
            let field: Name = input.parse()?;
            let ty = if input.peek(Token![:]) {
                input.parse::<Token![:]>()?;
                Some(input.parse::<Type>()?)
            } else {
                None
            };
            let restore = if input.peek(Token![=]) {
                let eq = input.parse::<Token![=]>()?;
                if ty.is_none() {
                    return Err(syn::Error::new(
                        eq.span,
                        "a restored field needs its type: `remove(field: Type = expr)`",
                    ));
                }
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            step.ops.push(Op::Remove { field, ty, restore });
            Ok(())
        })?,
        "remove_variant" => list(input, |input| {
            step.ops.push(Op::RemoveVariant {
                variant: input.parse()?,
            });
            Ok(())
        })?,
        "transform" => list(input, |input| {
            let field: Name = input.parse()?;
            input.parse::<Token![:]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `transform(field: OldType => path::to::function)`",
                )
            })?;
            let ty: Type = input.parse()?;
            input.parse::<Token![=>]>().map_err(|e| {
                syn::Error::new(e.span(), "expected `=>` and the function: `transform(field: OldType => path::to::function)`")
            })?;
            let function: Path = input.parse()?;
            // `, back = down` (a field named `back` would be followed by `:`).
            let back = if input.peek(Token![,]) && input.peek2(kw::back) && input.peek3(Token![=]) {
                input.parse::<Token![,]>()?;
                input.parse::<kw::back>()?;
                input.parse::<Token![=]>()?;
                Some(input.parse::<Path>()?)
            } else {
                None
            };
            step.ops.push(Op::Transform {
                field,
                ty,
                function,
                back,
            });
            Ok(())
        })?,
        other => {
            cx.error(
                key.span(),
                format!(
                    "unknown migrate key `{other}`; expected one of: {}{}",
                    STEP_KEYS.join(", "),
                    hint(other, STEP_KEYS.iter().copied())
                ),
            );
            skip_to_comma(input)?;
        }
    }
    Ok(())
}

/// `( item, item, ... )`
fn list(
    input: ParseStream,
    mut item: impl FnMut(ParseStream) -> syn::Result<()>,
) -> syn::Result<()> {
    let content;
    syn::parenthesized!(content in input);
    let result = (|| {
        while !content.is_empty() {
            item(&content)?;
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        Ok(())
    })();
    if result.is_err() {
        // See `parse_step`: one error per mistake, not a second one for the
        // tokens the failed item left behind.
        drain(&content);
    }
    result
}

fn drain(input: ParseStream) {
    while !input.is_empty() {
        if input.parse::<TokenTree>().is_err() {
            break;
        }
    }
}

fn name_pair(input: ParseStream) -> syn::Result<(Name, Name)> {
    let from: Name = input.parse()?;
    input
        .parse::<Token![=]>()
        .map_err(|e| syn::Error::new(e.span(), "expected `old = new`"))?;
    let to: Name = input.parse()?;
    Ok((from, to))
}

fn num_value(input: ParseStream) -> syn::Result<Num> {
    input.parse::<Token![=]>()?;
    parse_num(input)
}

fn parse_num(input: ParseStream) -> syn::Result<Num> {
    let lit: LitInt = input.parse()?;
    let value = lit.base10_parse::<u32>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "expected a version number (a non-negative integer that fits in u32)",
        )
    })?;
    Ok(Num {
        value,
        span: lit.span(),
    })
}

fn set_once<T>(cx: &Ctxt, slot: &mut Option<T>, value: T, key: &Ident) {
    if slot.is_some() {
        cx.error(
            key.span(),
            format!("duplicate `{key}`: it is already given above; keep one"),
        );
    } else {
        *slot = Some(value);
    }
}

/// Error recovery: drop tokens up to the next top-level comma.
fn skip_to_comma(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn parse_ok(attr: Attribute) -> Container {
        let cx = Ctxt::default();
        let c = parse(&cx, &[attr]);
        cx.check().expect("no errors");
        c
    }

    fn parse_err(attr: Attribute) -> Vec<String> {
        let cx = Ctxt::default();
        parse(&cx, &[attr]);
        let err = cx.check().expect_err("errors");
        err.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn parses_the_travel_history() {
        let c = parse_ok(parse_quote! {
            #[schema(
                version = 4,
                tag = "schema_version",
                migrate(from = 1, description = "Added travelers", add(travelers = 1)),
                migrate(from = 2, description = "Renamed destination", rename(destination = destination_city)),
                migrate(from = 3, transform(travelers: u32 => crate::by_type)),
            )]
        });
        assert_eq!(c.version.unwrap().value, 4);
        assert_eq!(c.tag.unwrap().value(), "schema_version");
        assert_eq!(c.steps.len(), 3);
        assert!(matches!(
            c.steps[0].from,
            Some(From::Version(Num { value: 1, .. }))
        ));
        assert_eq!(
            c.steps[0].description.as_ref().unwrap().value(),
            "Added travelers"
        );
        match &c.steps[0].ops[..] {
            [Op::Add {
                field,
                default: Some(_),
            }] => assert_eq!(field.value, "travelers"),
            _ => panic!("expected one add"),
        }
        match &c.steps[1].ops[..] {
            [Op::Rename { from, to }] => assert_eq!(
                (&*from.value, &*to.value),
                ("destination", "destination_city")
            ),
            _ => panic!("expected one rename"),
        }
        assert!(matches!(&c.steps[2].ops[..], [Op::Transform { .. }]));
    }

    #[test]
    fn parses_every_op_form() {
        let c = parse_ok(parse_quote! {
            #[schema(version = 3, untagged = error, oldest = 2,
                migrate(from = 2, add(a, b = vec![1, 2]), remove(c, d: Option<u8>), rename("user-name" = user_name),
                        with = fix::up, rename_variant(Old = New), remove_variant(Gone), description = "x"))]
        });
        assert!(matches!(c.untagged, Some(Untagged::Error)));
        assert_eq!(c.oldest.unwrap().value, 2);
        let ops = &c.steps[0].ops;
        assert_eq!(ops.len(), 8);
        assert!(matches!(
            &ops[1],
            Op::Add {
                default: Some(_),
                ..
            }
        ));
        assert!(matches!(&ops[3], Op::Remove { ty: Some(_), .. }));
        match &ops[4] {
            Op::Rename { from, .. } => assert_eq!(from.value, "user-name"),
            _ => panic!(),
        }
    }

    #[test]
    fn parses_a_typed_step() {
        let c =
            parse_ok(parse_quote! { #[schema(version = 2, migrate(from = v1::State, fallible))] });
        assert!(matches!(c.steps[0].from, Some(From::Type(_))));
        assert!(c.steps[0].fallible.is_some());
    }

    #[test]
    fn reports_every_unknown_key_with_a_suggestion() {
        let errors = parse_err(parse_quote! {
            #[schema(versoin = 2, migrate(from = 1, ad(x)), tga = "v")]
        });
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("unknown schema key `versoin`")
                && errors[0].contains("did you mean `version`")
        );
        assert!(
            errors[1].contains("unknown migrate key `ad`")
                && errors[1].contains("did you mean `add`")
        );
        assert!(errors[2].contains("did you mean `tag`"));
    }

    #[test]
    fn rejects_duplicates_and_bad_numbers() {
        let errors = parse_err(parse_quote! { #[schema(version = 2, version = 3, oldest = -1)] });
        assert!(
            errors.iter().any(|e| e.contains("duplicate `version`")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("expected integer literal") || e.contains("version number")),
            "{errors:?}"
        );
    }

    #[test]
    fn explains_transform_syntax() {
        let errors = parse_err(
            parse_quote! { #[schema(version = 2, migrate(from = 1, transform(a => f)))] },
        );
        assert!(
            errors[0].contains("transform(field: OldType => path::to::function)"),
            "{errors:?}"
        );
        assert_eq!(errors.len(), 1, "no second 'unexpected token': {errors:?}");
    }

    #[test]
    fn one_error_for_a_missing_comma() {
        let errors =
            parse_err(parse_quote! { #[schema(version = 2, migrate(from = 1 description = "x"))] });
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
