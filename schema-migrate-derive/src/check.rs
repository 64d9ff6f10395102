//! Check: validate the history against the type, and derive from it the shape
//! of every stored version and how each step converts one into the next.
//!
//! The current shape is the type itself. Walking the steps backward, each op
//! says how the previous shape differed (a `rename` changes a wire name, an
//! `add` removes a field, a `transform` changes its type, ...). Every op is
//! checked against the shape it applies to, so a typo is caught at the token.
//! A `with = fn` step is opaque: versions before it have no derivable shape
//! and are read through the reference (JSON object) path.

use std::collections::BTreeMap;

use proc_macro2::Span;
use quote::format_ident;
use syn::{Expr, Ident, LitStr, Path, Type};

use crate::ast::{Data, Field, Input, Variant};
use crate::attr::{self, Container, Op};
use crate::ctxt::{hint, Ctxt};

pub struct Plan<'a> {
    pub version: u32,
    pub tag: String,
    pub untagged: Option<Untagged>,
    pub history: History<'a>,
}

pub enum Untagged {
    Version(u32),
    Reject,
}

pub enum History<'a> {
    Declarative {
        oldest: u32,
        /// `steps[i]` goes from `oldest + i`.
        steps: Vec<&'a attr::Step>,
        /// `shapes[i]` is the shape of version `oldest + i`, the last one the
        /// current type; `None` below a `with` step.
        shapes: Vec<Option<Shape<'a>>>,
        /// `conversions[i]` builds version `oldest + i + 1` from `oldest + i`
        /// (struct fields only; enum variants map by identity).
        conversions: Vec<Vec<Conversion<'a>>>,
    },
    Typed {
        previous: &'a Path,
        fallible: bool,
        step: &'a attr::Step,
    },
}

pub enum Shape<'a> {
    Struct(Vec<Slot<'a>>),
    Enum(Vec<VariantSlot<'a>>),
}

#[derive(Clone)]
pub struct Slot<'a> {
    pub ident: Ident,
    /// `None` for flattened and skipped fields.
    pub wire: Option<String>,
    pub ty: SlotTy<'a>,
}

#[derive(Clone)]
pub enum SlotTy<'a> {
    /// Same type as the current field, read with the field's own serde attributes.
    Current(&'a Field<'a>),
    /// A field whose type changes later in history.
    Transformed(&'a Type),
    /// A field removed later in history: accepted, never read.
    Removed,
}

impl<'a> SlotTy<'a> {
    pub fn ty(&self) -> Option<&'a Type> {
        match self {
            SlotTy::Current(f) => Some(f.ty),
            SlotTy::Transformed(t) => Some(t),
            SlotTy::Removed => None,
        }
    }
}

#[derive(Clone)]
pub struct VariantSlot<'a> {
    pub ident: Ident,
    pub wire: String,
    /// `None` for a variant removed later in history.
    pub variant: Option<&'a Variant<'a>>,
    /// For a removed variant: the step (its `from`) and op that removed it.
    pub removed_by: Option<(u32, usize)>,
}

/// How one field of version N+1 is made from version N.
pub struct Conversion<'a> {
    pub target: Ident,
    pub base: Base<'a>,
    /// Applied in order; each with the op's index and the type it produces.
    pub transforms: Vec<(&'a Path, usize, Option<&'a Type>)>,
}

pub enum Base<'a> {
    Move(Ident),
    /// `add(field = expr)`: the expression and the field's type there.
    Add(Option<&'a Expr>, Option<&'a Type>),
}

pub fn check<'a>(cx: &Ctxt, input: &'a Input<'a>, c: &'a Container) -> Option<Plan<'a>> {
    let span = c.span.unwrap_or_else(Span::call_site);
    let Some(version) = c.version else {
        cx.error(
            span,
            "missing `version = N` in #[schema(...)]: the current version of the type",
        );
        return None;
    };
    if version.value == 0 {
        cx.error(version.span, "versions start at 1");
        return None;
    }
    let tag = c
        .tag
        .as_ref()
        .map_or_else(|| "_version".to_owned(), LitStr::value);
    check_tag(cx, input, c.tag.as_ref(), &tag);

    let untagged = c.untagged.as_ref().map(|u| match u {
        attr::Untagged::Version(n) => Untagged::Version(n.value),
        attr::Untagged::Error => Untagged::Reject,
    });

    for step in &c.steps {
        if step.from.is_none() {
            cx.error(
                step.span,
                "missing `from = N` (the version this step upgrades) or `from = PreviousType`",
            );
        }
    }
    let typed: Vec<&attr::Step> = c
        .steps
        .iter()
        .filter(|s| matches!(s.from, Some(attr::From::Type(_))))
        .collect();
    let history = if let Some(step) = typed.first() {
        let Some(attr::From::Type(previous)) = &step.from else {
            unreachable!()
        };
        for other in c.steps.iter().filter(|s| !std::ptr::eq(*s, *step)) {
            cx.error(
                other.span,
                "a typed step (`from = PreviousType`) must be the only step: the older history belongs on PreviousType",
            );
        }
        if let Some(op) = step.ops.first() {
            cx.error(op.span(), "a typed step takes no ops: it converts with `From<PreviousType>` (or `TryFrom` with `fallible`)");
        }
        if let Some(oldest) = c.oldest {
            cx.error(
                oldest.span,
                "`oldest` comes from PreviousType when the last step is typed",
            );
        }
        History::Typed {
            previous,
            fallible: step.fallible.is_some(),
            step,
        }
    } else {
        for step in &c.steps {
            if let Some(f) = step.fallible {
                cx.error(f, "`fallible` applies to a typed step (`from = PreviousType`), whose conversion is TryFrom");
            }
        }
        declarative(cx, input, c, version)?
    };

    if let (Some(attr::Untagged::Version(n)), History::Declarative { oldest, .. }) =
        (&c.untagged, &history)
    {
        if n.value < *oldest || n.value > version.value {
            cx.error(
                n.span,
                format!(
                    "untagged payloads must be read as a version from {oldest} to {}",
                    version.value
                ),
            );
        }
    }
    Some(Plan {
        version: version.value,
        tag,
        untagged,
        history,
    })
}

fn check_tag(cx: &Ctxt, input: &Input, lit: Option<&LitStr>, tag: &str) {
    if input.top_level_names().contains(&tag) {
        let span = lit.map_or_else(Span::call_site, LitStr::span);
        let what = if matches!(input.data, Data::Struct(_)) {
            "a field"
        } else {
            "the enum's variant tag or content"
        };
        cx.error(
            span,
            format!("the version tag `{tag}` is also {what}: choose another with `tag = \"...\"`"),
        );
    }
}

fn declarative<'a>(
    cx: &Ctxt,
    input: &'a Input<'a>,
    c: &'a Container,
    version: attr::Num,
) -> Option<History<'a>> {
    let oldest = c.oldest.map_or(1, |o| o.value);
    if let Some(o) = c.oldest {
        if o.value == 0 || o.value > version.value {
            cx.error(
                o.span,
                format!(
                    "`oldest` must be from 1 to the current version {}",
                    version.value
                ),
            );
            return None;
        }
    }

    let mut by_from: BTreeMap<u32, &attr::Step> = BTreeMap::new();
    for step in &c.steps {
        let Some(attr::From::Version(from)) = &step.from else {
            continue;
        };
        if from.value >= version.value {
            cx.error(
                from.span,
                format!(
                    "this step upgrades version {} to {}, but the current version is {}",
                    from.value,
                    from.value + 1,
                    version.value
                ),
            );
        } else if from.value < oldest {
            cx.error(
                from.span,
                format!(
                    "this step upgrades version {}, older than `oldest = {oldest}`",
                    from.value
                ),
            );
        } else if by_from.insert(from.value, step).is_some() {
            cx.error(
                from.span,
                format!(
                    "duplicate step from version {}: one step per version",
                    from.value
                ),
            );
        }
    }
    let missing: Vec<u32> = (oldest..version.value)
        .filter(|v| !by_from.contains_key(v))
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|v| format!("migrate(from = {v}, ...)"))
            .collect::<Vec<_>>()
            .join(", ");
        cx.error(
            version.span,
            format!(
                "the history has a gap: version {} needs a step from every older version down to {oldest}; missing {list} \
                 (or raise `oldest`)",
                version.value
            ),
        );
        return None;
    }
    let steps: Vec<&attr::Step> = by_from.into_values().collect();

    let current = match &input.data {
        Data::Struct(fields) => Shape::Struct(
            fields
                .iter()
                .map(|f| Slot {
                    ident: f.ident.clone(),
                    wire: f.wire.clone(),
                    ty: SlotTy::Current(f),
                })
                .collect(),
        ),
        Data::Enum(variants, _) => Shape::Enum(
            variants
                .iter()
                .map(|v| VariantSlot {
                    ident: v.ident.clone(),
                    wire: v.wire.clone(),
                    variant: Some(v),
                    removed_by: None,
                })
                .collect(),
        ),
    };
    let mut shapes = vec![Some(current)];
    let mut conversions = Vec::new();
    let mut added_at: BTreeMap<String, u32> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate().rev() {
        let from = oldest + i as u32;
        let later = shapes.last().expect("at least the current shape");
        let (earlier, conv) = match later {
            Some(Shape::Struct(slots)) => {
                match step_back_struct(cx, step, from, slots, &added_at) {
                    Some((earlier, conv)) => (Some(Shape::Struct(earlier)), conv),
                    None => (None, Vec::new()),
                }
            }
            Some(Shape::Enum(slots)) => (
                step_back_enum(cx, step, from, slots).map(Shape::Enum),
                Vec::new(),
            ),
            None => (None, Vec::new()),
        };
        for op in &step.ops {
            if let Op::Add { field, .. } = op {
                added_at.insert(field.value.clone(), from);
            }
        }
        shapes.push(earlier);
        conversions.push(conv);
    }
    shapes.reverse();
    conversions.reverse();
    Some(History::Declarative {
        oldest,
        steps,
        shapes,
        conversions,
    })
}

/// The struct shape at `from`, given the shape at `from + 1`; `None` if the
/// step has a `with` op (the shape before it is not known).
fn step_back_struct<'a>(
    cx: &Ctxt,
    step: &'a attr::Step,
    from: u32,
    later: &[Slot<'a>],
    added_at: &BTreeMap<String, u32>,
) -> Option<(Vec<Slot<'a>>, Vec<Conversion<'a>>)> {
    let to = from + 1;
    let mut slots: Vec<Slot<'a>> = later.to_vec();
    let mut conv: Vec<Conversion<'a>> = later
        .iter()
        .map(|s| Conversion {
            target: s.ident.clone(),
            base: Base::Move(s.ident.clone()),
            transforms: Vec::new(),
        })
        .collect();
    let mut produced: BTreeMap<String, Span> = BTreeMap::new();
    let mut opaque = false;
    for (index, op) in step.ops.iter().enumerate().rev() {
        let missing = |cx: &Ctxt, name: &attr::Name, slots: &[Slot]| {
            let names = slots.iter().filter_map(|s| s.wire.as_deref());
            let mut msg = format!(
                "no field `{}` at version {to}{}",
                name.value,
                hint(&name.value, names)
            );
            if let Some(at) = added_at.get(&name.value) {
                msg.push_str(&format!(" (it is added by the step from {at})"));
            }
            cx.error(name.span, msg);
        };
        match op {
            Op::With { .. } => {
                opaque = true;
                break;
            }
            Op::Add { field, default } => {
                if let Some(prev) = produced.insert(field.value.clone(), field.span) {
                    let _ = prev;
                    cx.error(
                        field.span,
                        format!(
                            "`{}` is already added or renamed to in this step",
                            field.value
                        ),
                    );
                    continue;
                }
                let Some(pos) = position(&slots, &field.value) else {
                    missing(cx, field, &slots);
                    continue;
                };
                let slot = slots.remove(pos);
                let c = conv
                    .iter_mut()
                    .find(|c| c.target == slot.ident)
                    .expect("conversion for every slot");
                c.base = Base::Add(default.as_ref(), slot.ty.ty());
            }
            Op::Rename { from: old, to: new } => {
                if old.value == new.value {
                    cx.error(new.span, "renaming a field to its own name");
                    continue;
                }
                if produced.insert(new.value.clone(), new.span).is_some() {
                    cx.error(
                        new.span,
                        format!(
                            "`{}` is already added or renamed to in this step",
                            new.value
                        ),
                    );
                    continue;
                }
                let Some(pos) = position(&slots, &new.value) else {
                    missing(cx, new, &slots);
                    continue;
                };
                if position(&slots, &old.value).is_some() {
                    cx.error(
                        old.span,
                        format!(
                            "cannot rename `{}` to `{}`: `{}` is still a field at version {to}, so the rename would \
                             lose one of them (remove or rename the other first)",
                            old.value, new.value, old.value
                        ),
                    );
                    continue;
                }
                slots[pos].wire = Some(old.value.clone());
            }
            Op::Remove { field, .. } => {
                if position(&slots, &field.value).is_some() {
                    cx.error(
                        field.span,
                        format!(
                            "cannot remove `{}`: it is still a field at version {to}; to change its type use \
                             transform({}: OldType => function), to change its name use rename",
                            field.value, field.value
                        ),
                    );
                    continue;
                }
                slots.push(Slot {
                    ident: format_ident!("__removed_{}_{}", from, index),
                    wire: Some(field.value.clone()),
                    ty: SlotTy::Removed,
                });
            }
            Op::Transform {
                field,
                ty,
                function,
            } => {
                let Some(pos) = position(&slots, &field.value) else {
                    missing(cx, field, &slots);
                    continue;
                };
                let produces = slots[pos].ty.ty();
                let removed = matches!(slots[pos].ty, SlotTy::Removed);
                if !removed {
                    slots[pos].ty = SlotTy::Transformed(ty);
                    let ident = slots[pos].ident.clone();
                    let c = conv
                        .iter_mut()
                        .find(|c| c.target == ident)
                        .expect("conversion for every slot");
                    c.transforms.insert(0, (function, index, produces));
                }
            }
            Op::RenameVariant { from, .. } | Op::RemoveVariant { variant: from } => {
                cx.error(
                    from.span,
                    "rename_variant and remove_variant apply to enums; this is a struct",
                );
            }
        }
    }
    if opaque {
        return None;
    }
    Some((slots, conv))
}

fn position(slots: &[Slot], wire: &str) -> Option<usize> {
    slots.iter().position(|s| s.wire.as_deref() == Some(wire))
}

fn step_back_enum<'a>(
    cx: &Ctxt,
    step: &'a attr::Step,
    from: u32,
    later: &[VariantSlot<'a>],
) -> Option<Vec<VariantSlot<'a>>> {
    let to = from + 1;
    let mut slots = later.to_vec();
    let find = |slots: &[VariantSlot], name: &str| slots.iter().position(|s| s.wire == name);
    for (index, op) in step.ops.iter().enumerate().rev() {
        match op {
            Op::With { .. } => return None,
            Op::RenameVariant { from: old, to: new } => {
                let Some(pos) = find(&slots, &new.value) else {
                    let names = slots.iter().map(|s| s.wire.as_str());
                    cx.error(
                        new.span,
                        format!(
                            "no variant `{}` at version {to}{}",
                            new.value,
                            hint(&new.value, names)
                        ),
                    );
                    continue;
                };
                if find(&slots, &old.value).is_some() {
                    cx.error(
                        old.span,
                        format!(
                            "cannot rename variant `{}`: it is still a variant at version {to}",
                            old.value
                        ),
                    );
                    continue;
                }
                slots[pos].wire = old.value.clone();
            }
            Op::RemoveVariant { variant } => {
                if find(&slots, &variant.value).is_some() {
                    cx.error(
                        variant.span,
                        format!(
                            "cannot remove variant `{}`: it is still a variant at version {to}",
                            variant.value
                        ),
                    );
                    continue;
                }
                slots.push(VariantSlot {
                    ident: format_ident!("__Removed{}_{}", from, index),
                    wire: variant.value.clone(),
                    variant: None,
                    removed_by: Some((from, index)),
                });
            }
            Op::Add { field: name, .. }
            | Op::Remove { field: name, .. }
            | Op::Transform { field: name, .. } => {
                cx.error(
                    name.span,
                    "field ops (add, rename, remove, transform) apply to structs; for an enum use rename_variant, \
                     remove_variant, `with = fn`, or give the variant's data its own versioned type",
                );
            }
            Op::Rename { from: name, .. } => {
                cx.error(name.span, "`rename` renames struct fields; to rename an enum variant use rename_variant(Old = New)");
            }
        }
    }
    Some(slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{parse_quote, DeriveInput};

    fn plan_errors(item: DeriveInput) -> Vec<String> {
        let cx = Ctxt::default();
        let container = attr::parse(&cx, &item.attrs);
        if let Some(input) = crate::ast::parse(&cx, &item) {
            check(&cx, &input, &container);
        }
        cx.check()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn derives_old_shapes_backward() {
        let item: DeriveInput = parse_quote! {
            #[schema(version = 4,
                migrate(from = 1, add(travelers = 1)),
                migrate(from = 2, rename(destination = destination_city), remove(legacy)),
                migrate(from = 3, transform(travelers: u32 => by_type)))]
            struct TripState { destination_city: String, travelers: Travelers }
        };
        let cx = Ctxt::default();
        let container = attr::parse(&cx, &item.attrs);
        let input = crate::ast::parse(&cx, &item).unwrap();
        let plan = check(&cx, &input, &container).unwrap();
        cx.check().unwrap();
        let History::Declarative { shapes, .. } = plan.history else {
            panic!()
        };
        let wires = |v: usize| match &shapes[v] {
            Some(Shape::Struct(slots)) => slots
                .iter()
                .map(|s| s.wire.clone().unwrap())
                .collect::<Vec<_>>(),
            _ => panic!(),
        };
        assert_eq!(wires(0), ["destination", "legacy"]);
        assert_eq!(wires(1), ["destination", "travelers", "legacy"]);
        assert_eq!(wires(2), ["destination_city", "travelers"]);
        assert_eq!(wires(3), ["destination_city", "travelers"]);
    }

    #[test]
    fn reports_all_history_errors_at_once() {
        let errors = plan_errors(parse_quote! {
            #[schema(version = 4,
                migrate(from = 1, add(travellers = 1)),
                migrate(from = 1, rename(a = b)),
                migrate(from = 5))]
            struct S { travelers: u32, c: u8 }
        });
        assert!(
            errors
                .iter()
                .any(|e| e.contains("did you mean `travelers`")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("duplicate step from version 1")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("current version is 4")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("missing migrate(from = 2, ...), migrate(from = 3, ...)")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_with_step_makes_older_shapes_opaque() {
        let item: DeriveInput = parse_quote! {
            #[schema(version = 3, migrate(from = 1, with = fix), migrate(from = 2, add(x)))]
            struct S { x: u8 }
        };
        let cx = Ctxt::default();
        let container = attr::parse(&cx, &item.attrs);
        let input = crate::ast::parse(&cx, &item).unwrap();
        let plan = check(&cx, &input, &container).unwrap();
        let History::Declarative { shapes, .. } = plan.history else {
            panic!()
        };
        assert!(shapes[0].is_none() && shapes[1].is_some() && shapes[2].is_some());
    }
}
