//! Generate: `Versioned::wire_shape`, the wire shape of every version this
//! type reads, as the derive knows it, for the schema lock
//! (`schema_migrate::testing::assert_schema_lock`).
//!
//! Each version is a list of lines, one per field or variant (plus the
//! container's wire-changing attributes at the current version): wire names,
//! types as written and the `#[serde(...)]` items that change the wire form.
//! The lines are what a lock file stores and a review reads, so they are
//! plain text, sorted by the runtime. Below a `with = fn` step the shape is
//! the function's business: the version is one "opaque" line. A typed step's
//! older versions are the previous type's own (it answers for them).

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Fields, Meta, Type};

use crate::ast::{meta_key, Data, Field, Input, Repr, Variant};
use crate::attr::{self, Op};
use crate::check::{History, Plan, Shape, Slot, SlotTy, VariantSlot};

/// Serde items that do not change what is on the wire, or that are already
/// in the line another way (`rename` and `rename_all` are in the wire names,
/// `tag` and `content` in the representation line).
const NOT_WIRE: &[&str] = &[
    "rename",
    "rename_all",
    "rename_all_fields",
    "bound",
    "borrow",
    "expecting",
    "tag",
    "content",
    "crate",
];

/// On an older version, a field read with the current field's attributes
/// records only those that decide how a stored value is decoded. The
/// others are the current version's business: `default` and `alias` only
/// widen what is read, and `skip_serializing_if`, `serialize_with` and
/// `skip_serializing` only change what is written now. Recording them on
/// older versions would make adding one to the current version a rewrite of
/// every older version, which no new version could ever repair.
const DECODING: &[&str] = &[
    "with",
    "deserialize_with",
    "flatten",
    "skip",
    "skip_deserializing",
];

/// The body of `fn wire_shape(version: u32) -> Option<&'static [&'static str]>`.
pub fn wire_shape(input: &Input, plan: &Plan) -> TokenStream {
    let none = quote!(::core::option::Option::None);
    match &plan.history {
        History::Declarative {
            oldest,
            steps,
            shapes,
            ..
        } => {
            let last = shapes.len().saturating_sub(1);
            let arms = shapes.iter().enumerate().map(|(i, shape)| {
                let version = oldest + i as u32;
                let mut lines = match shape {
                    None => vec![format!(
                        "opaque: read through a `with = fn` step (the step from version {}); \
                         only fixtures see its shape",
                        first_with(steps, i).map_or(version, |at| oldest + at as u32)
                    )],
                    Some(Shape::Struct(slots)) => struct_lines(slots, &steps[i..], i == last),
                    Some(Shape::Enum(variants)) => enum_lines(input, variants),
                };
                if i == last {
                    lines.extend(container_lines(input));
                }
                quote!(#version => ::core::option::Option::Some(&[#(#lines),*]))
            });
            quote! {
                match version {
                    #(#arms,)*
                    _ => #none,
                }
            }
        }
        History::Typed { previous, .. } => {
            let version = plan.version;
            let mut lines = match &input.data {
                Data::Struct(fields) => fields.iter().map(field_line).collect(),
                Data::Enum(variants, _) => {
                    let mut lines: Vec<String> = variants.iter().map(variant_line).collect();
                    lines.extend(repr_line(input));
                    lines
                }
            };
            lines.extend(container_lines(input));
            quote! {
                if version == #version {
                    ::core::option::Option::Some(&[#(#lines),*])
                } else {
                    <#previous as ::schema_migrate::Versioned>::wire_shape(version)
                }
            }
        }
    }
}

/// The index (among `steps`) of the first `with` step at or after `from`.
fn first_with(steps: &[&attr::Step], from: usize) -> Option<usize> {
    (from..steps.len()).find(|&i| steps[i].ops.iter().any(|op| matches!(op, Op::With { .. })))
}

/// `later` are the steps from this version on: a field they remove is
/// described with the type its `remove(field: Type)` gives.
fn struct_lines(slots: &[Slot], later: &[&attr::Step], current: bool) -> Vec<String> {
    slots
        .iter()
        .filter_map(|slot| match &slot.ty {
            // A name only a later version has: not part of this version.
            SlotTy::Shadow => None,
            SlotTy::Current(field) => {
                // Renamed at a later step, the field's aliases are the
                // current version's, not this one's.
                let renamed = slot.wire != field.wire;
                Some(field_line_as(field, slot.wire.as_deref(), renamed, current))
            }
            SlotTy::Transformed(ty) => Some(format!(
                "field {}: {}",
                slot.wire.as_deref().unwrap_or("?"),
                type_text(ty)
            )),
            SlotTy::Removed => {
                let wire = slot.wire.as_deref().unwrap_or("?");
                Some(match removed_type(wire, later) {
                    Some(ty) => format!("field {wire}: {ty} (removed later)"),
                    None => format!("field {wire}: (removed later, type not declared)"),
                })
            }
        })
        .collect()
}

/// The `Type` of `remove(field: Type)` that drops `wire` (following later
/// renames to the name it is removed under).
fn removed_type(wire: &str, later: &[&attr::Step]) -> Option<String> {
    let mut name = wire.to_owned();
    for step in later {
        for op in &step.ops {
            match op {
                Op::Rename { from, to, .. } if from.value == name => name.clone_from(&to.value),
                Op::Remove { field, ty, .. } if field.value == name => {
                    return ty.as_ref().map(type_text);
                }
                _ => {}
            }
        }
    }
    None
}

fn field_line(field: &Field) -> String {
    field_line_as(field, field.wire.as_deref(), false, true)
}

fn field_line_as(field: &Field, wire: Option<&str>, renamed: bool, current: bool) -> String {
    let attrs: Vec<String> = field
        .serde
        .iter()
        .filter(|m| !NOT_WIRE.contains(&meta_key(m).as_str()))
        .filter(|m| current || DECODING.contains(&meta_key(m).as_str()))
        .filter(|m| !(renamed && meta_key(m) == "alias"))
        .map(meta_text)
        .collect();
    let name = match wire {
        Some(wire) => wire.to_owned(),
        // Flattened or skipped: no wire name of its own; the attribute says which.
        None => format!("({})", unraw(&field.ident.to_string())),
    };
    let mut line = format!("field {name}: {}", type_text(field.ty));
    if !attrs.is_empty() {
        line.push_str(&format!(" #[serde({})]", attrs.join(", ")));
    }
    line
}

fn enum_lines(input: &Input, variants: &[VariantSlot]) -> Vec<String> {
    let mut lines: Vec<String> = variants
        .iter()
        .map(|slot| match slot.variant {
            Some(variant) if variant.wire == slot.wire => variant_line(variant),
            // Renamed later: this version's name, the variant's content.
            Some(variant) => variant_body(&slot.wire, variant),
            None => format!("variant {}: (removed later)", slot.wire),
        })
        .collect();
    lines.extend(repr_line(input));
    lines
}

fn variant_line(variant: &Variant) -> String {
    variant_body(&variant.wire, variant)
}

fn variant_body(wire: &str, variant: &Variant) -> String {
    let content = match variant.fields {
        Fields::Unit => "unit".to_owned(),
        Fields::Unnamed(fields) => {
            let types: Vec<String> = fields.unnamed.iter().map(|f| type_text(&f.ty)).collect();
            format!("({})", types.join(", "))
        }
        Fields::Named(fields) => {
            let fields: Vec<String> = fields
                .named
                .iter()
                .map(|f| {
                    let name = f.ident.as_ref().map(|i| unraw(&i.to_string()));
                    let serde: Vec<String> = f
                        .attrs
                        .iter()
                        .filter(|a| a.path().is_ident("serde"))
                        .map(|a| compact(&a.meta.to_token_stream().to_string()))
                        .collect();
                    let prefix = if serde.is_empty() {
                        String::new()
                    } else {
                        format!("#[{}] ", serde.join(", "))
                    };
                    format!("{prefix}{}: {}", name.unwrap_or_default(), type_text(&f.ty))
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
    };
    let attrs: Vec<String> = variant
        .serde
        .iter()
        .filter(|m| !NOT_WIRE.contains(&meta_key(m).as_str()))
        .map(meta_text)
        .collect();
    let mut line = format!("variant {wire}: {content}");
    if !attrs.is_empty() {
        line.push_str(&format!(" #[serde({})]", attrs.join(", ")));
    }
    line
}

fn repr_line(input: &Input) -> Option<String> {
    match &input.data {
        Data::Enum(_, Repr::Internal { tag }) => {
            Some(format!("representation: internally tagged, tag = {tag:?}"))
        }
        Data::Enum(_, Repr::Adjacent { tag, content }) => Some(format!(
            "representation: adjacently tagged, tag = {tag:?}, content = {content:?}"
        )),
        Data::Struct(_) => None,
    }
}

/// The container's items that change how every field is read or written
/// (`deny_unknown_fields`, `default`, ...), on the current version.
fn container_lines(input: &Input) -> Vec<String> {
    input
        .serde
        .iter()
        .filter(|m| !NOT_WIRE.contains(&meta_key(m).as_str()))
        .map(|m| format!("container: #[serde({})]", meta_text(m)))
        .collect()
}

fn meta_text(meta: &Meta) -> String {
    compact(&meta.to_token_stream().to_string())
}

fn type_text(ty: &Type) -> String {
    compact(&ty.to_token_stream().to_string())
}

/// Token text without the spaces the token printer puts between every
/// token (`Option < u32 >`), so that lines read as the source does.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.get(i + 1).copied();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            // Keep the space between two words (`dyn Trait`, `impl X`) and
            // after a comma, `=` or `:` separator as written in source.
            let keep = (word(prev) && word(next))
                || matches!(prev, Some(',' | '=' | ';'))
                || matches!(next, Some('='))
                || (prev == Some(':') && next != Some(':') && !out.ends_with("::"))
                || matches!(next, Some('{' | '}'))
                || matches!(prev, Some('{' | '}'));
            if keep {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unraw(ident: &str) -> String {
    ident.strip_prefix("r#").unwrap_or(ident).to_owned()
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compact_reads_as_source() {
        assert_eq!(compact("Option < u32 >"), "Option<u32>");
        assert_eq!(
            compact("std :: collections :: BTreeMap < String , Vec < u8 > >"),
            "std::collections::BTreeMap<String, Vec<u8>>"
        );
        assert_eq!(compact("default = \"x\""), "default = \"x\"");
        assert_eq!(compact("Box < dyn Fn (u32) >"), "Box<dyn Fn(u32)>");
        assert_eq!(compact("& 'static str"), "&'static str");
        assert_eq!(compact("[u8 ; 4]"), "[u8; 4]");
    }
}
