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
    /// `write_version = N`, or the current version.
    pub write_version: u32,
    /// `context = Ctx`: step functions may take `&Ctx` last.
    pub context: Option<&'a Type>,
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
        reversible: bool,
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
    /// A name that only a later version has: accepted and dropped at this
    /// version (refused under `deny_unknown_fields`), never read.
    Shadow,
}

impl<'a> SlotTy<'a> {
    pub fn ty(&self) -> Option<&'a Type> {
        match self {
            SlotTy::Current(f) => Some(f.ty),
            SlotTy::Transformed(t) => Some(t),
            SlotTy::Removed | SlotTy::Shadow => None,
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
    pub transforms: Vec<(&'a Path, usize, &'a Type, Option<&'a Type>)>,
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
        cx.error(
            version.span,
            "versions start at 1: the first version of a type is `version = 1`",
        );
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
            if other.from.is_none() {
                missing_from(cx, other, "");
                continue;
            }
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
            reversible: step.reversible.is_some(),
            step,
        }
    } else {
        for step in &c.steps {
            if let Some(f) = step.fallible {
                cx.error(f, "`fallible` applies to a typed step (`from = PreviousType`), whose conversion is TryFrom");
            }
            if let Some(r) = step.reversible {
                cx.error(r, "`reversible` applies to a typed step (`from = PreviousType`), written back with \
                    `PreviousType: From<Self>`; the ops of a declarative step say their own inverse \
                    (`remove(field: Type = expr)`, `transform(.., back = down)`, `with = up, back = down`)");
            }
        }
        declarative(cx, input, c, version, &tag)?
    };

    if let (Some(attr::Untagged::Version(n)), History::Declarative { oldest, .. }) =
        (&c.untagged, &history)
    {
        if n.value < *oldest || n.value > version.value {
            cx.error(
                n.span,
                format!(
                    "untagged payloads must be read as a version from {oldest} to {}, or rejected with \
                     `untagged = error`",
                    version.value
                ),
            );
        }
    }
    let write_version = check_write_version(cx, c, version.value, &history);
    Some(Plan {
        version: version.value,
        write_version,
        context: c.context.as_ref(),
        tag,
        untagged,
        history,
    })
}

/// Can the type write `write_version`: is it a version it reads, and can
/// every step above it be undone?
fn check_write_version(cx: &Ctxt, c: &Container, version: u32, history: &History) -> u32 {
    let Some(write) = c.write_version else {
        return version;
    };
    let oldest = match history {
        History::Declarative { oldest, .. } => *oldest,
        // Checked against the previous type's OLDEST by a const assertion.
        History::Typed { .. } => 1,
    };
    if write.value > version || write.value < oldest {
        cx.error(
            write.span,
            format!(
                "`write_version` must be a version the type reads, from {oldest} to the current {version}; \
                 without it the type writes version {version}"
            ),
        );
        return version;
    }
    let n = write.value;
    match history {
        History::Declarative { oldest, steps, .. } => {
            for (i, step) in steps.iter().enumerate() {
                let from = oldest + i as u32;
                if from < n {
                    continue;
                }
                for op in step.ops.iter().filter(|op| !crate::back::reversible(op)) {
                    cx.error(op.span(), irreversible_message(op, n, from));
                }
            }
        }
        History::Typed {
            previous,
            reversible: false,
            step,
            ..
        } if n < version => {
            let prev = crate::tokens::path_text(previous);
            let (conversion, marker) = if step.fallible.is_some() {
                ("TryFrom", "fallible, reversible")
            } else {
                ("From", "reversible")
            };
            cx.error(
                crate::attr::path_span(previous),
                format!(
                    "`write_version = {n}` writes version {n} through `{prev}`, and this step cannot be run \
                     backward: mark it `migrate(from = {prev}, {marker})` and implement \
                     `{conversion}<Self> for {prev}`"
                ),
            );
        }
        History::Typed { .. } => {}
    }
    n
}

/// Why `op` of the step from `from` stops `write_version = n`, and what to add.
fn irreversible_message(op: &Op, n: u32, from: u32) -> String {
    let fix = match op {
        Op::Remove {
            field, ty: None, ..
        } => format!(
            "`remove({f})` cannot be undone: give its type and the value to restore, \
             `remove({f}: Type = expr)`",
            f = field.value
        ),
        Op::Remove {
            field,
            ty: Some(ty),
            ..
        } => {
            let ty = quote::ToTokens::to_token_stream(ty).to_string();
            format!(
                "`remove({f}: {ty})` cannot be undone: give the value to restore, \
                 `remove({f}: {ty} = expr)`",
                f = field.value
            )
        }
        Op::Transform {
            field,
            ty,
            function,
            ..
        } => {
            let ty = quote::ToTokens::to_token_stream(ty).to_string();
            format!(
                "`transform({f}: {ty} => {up})` cannot be undone: add its inverse, \
                 `transform({f}: {ty} => {up}, back = down)` with `fn down(New) -> {ty}`",
                f = field.value,
                up = crate::tokens::path_text(function),
            )
        }
        Op::With { function, .. } => format!(
            "`with = {up}` cannot be undone: add its inverse beside it, `with = {up}, back = down` \
             with `fn down(&mut serde_json::Map<String, Value>) -> Result<(), E>`",
            up = crate::tokens::path_text(function),
        ),
        _ => String::new(),
    };
    format!(
        "`write_version = {n}` writes version {n} by running the step from {from} backward, and {fix}"
    )
}

fn missing_from(cx: &Ctxt, step: &attr::Step, note: &str) {
    cx.error(
        step.span,
        format!(
            "missing `from = N` (the version this step upgrades) or `from = PreviousType`{note}"
        ),
    );
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
    tag: &str,
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
    let mut duplicates: Vec<attr::Num> = Vec::new();
    for step in &c.steps {
        let Some(attr::From::Version(from)) = &step.from else {
            continue;
        };
        if from.value >= version.value {
            cx.error(
                from.span,
                format!(
                    "this step upgrades version {} to {}, but the current version is {}: a step's `from` \
                     must be below `version` (if this step is new, raise it to `version = {}`)",
                    from.value,
                    from.value + 1,
                    version.value,
                    from.value + 1
                ),
            );
        } else if from.value < oldest {
            cx.error(
                from.span,
                format!(
                    "this step upgrades version {}, older than `oldest = {oldest}`: remove the step, or \
                     lower `oldest` to keep reading version {}",
                    from.value, from.value
                ),
            );
        } else {
            match by_from.entry(from.value) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(step);
                }
                // The first step from this version stays; the later one is
                // the duplicate, reported once the gaps are known.
                std::collections::btree_map::Entry::Occupied(_) => duplicates.push(*from),
            }
        }
    }
    let missing: Vec<u32> = (oldest..version.value)
        .filter(|v| !by_from.contains_key(v))
        .collect();
    let list = missing
        .iter()
        .map(|v| format!("migrate(from = {v}, ...)"))
        .collect::<Vec<_>>()
        .join(", ");
    let fromless: Vec<&attr::Step> = c.steps.iter().filter(|s| s.from.is_none()).collect();
    for step in &fromless {
        // The step without `from` is most likely the missing one: say which
        // numbers are free instead of reporting the gap separately.
        let note = if missing.is_empty() {
            String::new()
        } else {
            format!("; the history has no {list}")
        };
        missing_from(cx, step, &note);
    }
    for from in &duplicates {
        // A duplicate `from` is most often a mistyped number for a missing
        // step: name it here rather than in a second error.
        let note = if missing.is_empty() {
            String::new()
        } else {
            format!("; the history has no {list}: is this that step?")
        };
        cx.error(
            from.span,
            format!(
                "duplicate step from version {}: one step per version{note}",
                from.value
            ),
        );
    }
    if !missing.is_empty() && fromless.is_empty() && duplicates.is_empty() {
        cx.error(
            version.span,
            format!(
                "the history has a gap: version {} needs a step from every older version down to {oldest}; missing {list} \
                 (or raise `oldest`)",
                version.value
            ),
        );
    }
    // Across a gap the walk goes on as if the missing step changed nothing,
    // so that mistakes in the other steps are reported now too.
    let chain: Vec<Option<&attr::Step>> = (oldest..version.value)
        .map(|v| by_from.get(&v).copied())
        .collect();

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
    let strict = input
        .serde
        .iter()
        .any(|m| crate::ast::meta_key(m) == "deny_unknown_fields");
    let mut shapes = vec![Some(current)];
    let mut conversions = Vec::new();
    let mut added_at: BTreeMap<String, (u32, Span)> = BTreeMap::new();
    for (i, step) in chain.iter().enumerate().rev() {
        let from = oldest + i as u32;
        let later = shapes.last().expect("at least the current shape");
        let Some(step) = step else {
            let same = match later {
                Some(Shape::Struct(slots)) => Some(Shape::Struct(slots.clone())),
                Some(Shape::Enum(slots)) => Some(Shape::Enum(slots.clone())),
                None => None,
            };
            shapes.push(same);
            conversions.push(Vec::new());
            continue;
        };
        let (earlier, conv) = match later {
            Some(Shape::Struct(slots)) => {
                match step_back_struct(cx, step, from, slots, &added_at, tag, strict) {
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
                added_at.insert(field.value.clone(), (from, field.span));
            }
        }
        shapes.push(earlier);
        conversions.push(conv);
    }
    shapes.reverse();
    conversions.reverse();
    if !missing.is_empty() || !fromless.is_empty() || !duplicates.is_empty() {
        return None;
    }
    let steps: Vec<&attr::Step> = chain.into_iter().flatten().collect();
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
    added_at: &BTreeMap<String, (u32, Span)>,
    tag: &str,
    strict: bool,
) -> Option<(Vec<Slot<'a>>, Vec<Conversion<'a>>)> {
    let to = from + 1;
    // A shadow at N+1 stands for a name of N+2; it means nothing at N.
    let mut slots: Vec<Slot<'a>> = later.iter().filter(|s| !is_shadow(s)).cloned().collect();
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
    let clashes = same_name_twice(cx, step);
    let old_name_is_tag = |cx: &Ctxt, name: &attr::Name| {
        if name.value == tag {
            cx.error(
                name.span,
                format!(
                    "`{tag}` is the version tag, so version {from} cannot have a field of that name: \
                     choose another tag with `tag = \"...\"`"
                ),
            );
        }
    };
    for (index, op) in step.ops.iter().enumerate().rev() {
        if clashes.contains(&index) {
            continue;
        }
        let missing = |cx: &Ctxt, name: &attr::Name, slots: &[Slot]| {
            let names: Vec<&str> = slots
                .iter()
                .filter(|s| !is_shadow(s))
                .filter_map(|s| s.wire.as_deref())
                .collect();
            let mut msg = format!("no field `{}` at version {to}", name.value);
            let suggestion = hint(&name.value, names.iter().copied());
            if !suggestion.is_empty() {
                msg.push_str(&suggestion);
            } else if let Some((at, _)) = added_at.get(&name.value) {
                msg.push_str(&format!(" (it is added by the step from {at})"));
            } else if names.is_empty() {
                msg.push_str(" (it has no fields)");
            } else {
                msg.push_str(&format!(
                    "; its fields are: {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            cx.error(name.span, msg);
        };
        match op {
            Op::With { .. } => {
                opaque = true;
                break;
            }
            Op::Add { field, default } => {
                produced.insert(field.value.clone(), field.span);
                let Some(pos) = field_position(&slots, &field.value) else {
                    if let Some((at, later_add)) = added_at.get(&field.value) {
                        // Two steps add the same field: the later `add` is
                        // the one adding a field that is already there.
                        cx.error(
                            *later_add,
                            format!(
                                "`{}` is already a field at version {at}: the step from {from} adds it; \
                                 remove one of the two `add`s (or remove({}) in between)",
                                field.value, field.value
                            ),
                        );
                    } else {
                        missing(cx, field, &slots);
                    }
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
                    cx.error(
                        new.span,
                        "renaming a field to its own name; remove this rename",
                    );
                    continue;
                }
                produced.insert(new.value.clone(), new.span);
                let Some(pos) = field_position(&slots, &new.value) else {
                    missing(cx, new, &slots);
                    continue;
                };
                if field_position(&slots, &old.value).is_some() {
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
                old_name_is_tag(cx, old);
                slots[pos].wire = Some(old.value.clone());
                unshadow(&mut slots, &old.value);
            }
            Op::Remove { field, .. } => {
                if field_position(&slots, &field.value).is_some() {
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
                old_name_is_tag(cx, field);
                unshadow(&mut slots, &field.value);
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
                ..
            } => {
                let Some(pos) = field_position(&slots, &field.value) else {
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
                    c.transforms.insert(0, (function, index, ty, produces));
                }
            }
            Op::RenameVariant { from, .. } | Op::RemoveVariant { variant: from } => {
                cx.error(
                    from.span,
                    "rename_variant and remove_variant apply to enums; this is a struct: to rename a field \
                     use rename(old = new), to drop one use remove(field)",
                );
            }
        }
    }
    if opaque {
        return None;
    }
    // A name that first exists at N+1 is not a field of version N: a payload
    // of version N that holds it anyway has it read and dropped, never
    // caught by a flattened map nor moved forward (as the reference path
    // drops it too).
    // With deny_unknown_fields such a key is refused instead, on both paths.
    for (k, name) in produced.keys().enumerate().filter(|_| !strict) {
        if position(&slots, name).is_none() {
            slots.push(Slot {
                ident: format_ident!("__shadow_{}_{}", from, k),
                wire: Some(name.clone()),
                ty: SlotTy::Shadow,
            });
        }
    }
    Some((slots, conv))
}

fn position(slots: &[Slot], wire: &str) -> Option<usize> {
    slots.iter().position(|s| s.wire.as_deref() == Some(wire))
}

/// A name that a later version introduces, kept in an older shape only so
/// that a payload holding it is read and dropped; it is not a field there.
fn is_shadow(slot: &Slot) -> bool {
    matches!(slot.ty, SlotTy::Shadow)
}

/// A real field of an older version replaces a shadow of the same name.
fn unshadow(slots: &mut Vec<Slot>, wire: &str) {
    slots.retain(|s| !(is_shadow(s) && s.wire.as_deref() == Some(wire)));
}

/// Where the field named `wire` is, for checking an op against the shape.
fn field_position(slots: &[Slot], wire: &str) -> Option<usize> {
    slots
        .iter()
        .position(|s| s.wire.as_deref() == Some(wire) && !is_shadow(s))
}

/// Within one step, each name of version N is consumed once (by `rename` or
/// `remove`) and each name of version N+1 is produced once (by `add` or
/// `rename`). Reports the later use of a name, on its token; returns the
/// indices of those ops, which the walk then skips.
fn same_name_twice(cx: &Ctxt, step: &attr::Step) -> Vec<usize> {
    let mut produced: BTreeMap<&str, &str> = BTreeMap::new();
    let mut consumed: BTreeMap<&str, &str> = BTreeMap::new();
    let mut skip = Vec::new();
    for (index, op) in step.ops.iter().enumerate() {
        let (new, old) = match op {
            Op::Add { field, .. } => (Some((field, "added")), None),
            Op::Rename { from, to } => (
                Some((to, "the new name of a rename")),
                Some((from, "renamed")),
            ),
            Op::Remove { field, .. } => (None, Some((field, "removed"))),
            _ => (None, None),
        };
        if let Some((name, what)) = new {
            if let Some(before) = produced.insert(&name.value, what) {
                cx.error(
                    name.span,
                    format!(
                        "`{}` is already {before} in this step; a step can produce each field once",
                        name.value
                    ),
                );
                skip.push(index);
                continue;
            }
        }
        if let Some((name, what)) = old {
            if let Some(before) = consumed.insert(&name.value, what) {
                cx.error(
                    name.span,
                    format!(
                        "`{}` is already {before} in this step; a step can rename or remove each field once",
                        name.value
                    ),
                );
                skip.push(index);
            }
        }
    }
    skip
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
        assert_eq!(wires(0), ["destination", "legacy", "travelers"]);
        assert_eq!(
            wires(1),
            ["destination", "travelers", "legacy", "destination_city"]
        );
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
                .any(|e| e.contains("no migrate(from = 2, ...), migrate(from = 3, ...)")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_name_used_twice_in_one_step_is_reported_at_the_second_use() {
        let errors = plan_errors(parse_quote! {
            #[schema(version = 2, migrate(from = 1, add(a, b, a), rename(x = c), remove(x)))]
            struct S { a: u8, b: u8, c: u8 }
        });
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`a` is already added"), "{errors:?}");
        assert!(errors[1].contains("`x` is already renamed"), "{errors:?}");
    }

    #[test]
    fn adding_a_field_that_an_older_step_added() {
        let errors = plan_errors(parse_quote! {
            #[schema(version = 3, migrate(from = 1, add(a)), migrate(from = 2, add(a, b)))]
            struct S { a: u8, b: u8 }
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("`a` is already a field at version 2"),
            "{errors:?}"
        );
        // Removed in between, then added again: a valid history.
        let errors = plan_errors(parse_quote! {
            #[schema(version = 4, migrate(from = 1, add(a)), migrate(from = 2, remove(a)),
                migrate(from = 3, add(a)))]
            struct S { a: u8 }
        });
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_step_without_from_names_the_missing_version() {
        let errors = plan_errors(parse_quote! {
            #[schema(version = 3, migrate(from = 1, add(a)), migrate(add(b)))]
            struct S { a: u8, b: u8 }
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("missing `from = N`")
                && errors[0].contains("no migrate(from = 2, ...)"),
            "{errors:?}"
        );
    }

    #[test]
    fn an_old_field_named_like_the_tag() {
        let errors = plan_errors(parse_quote! {
            #[schema(version = 2, tag = "v", migrate(from = 1, rename(v = w)))]
            struct S { w: u8 }
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("`v` is the version tag"), "{errors:?}");
    }

    #[test]
    fn lists_the_fields_when_no_name_is_close() {
        let errors = plan_errors(parse_quote! {
            #[schema(version = 2, migrate(from = 1, add(zzz)))]
            struct S { alpha: u8, beta: u8 }
        });
        assert!(
            errors[0].contains("its fields are: `alpha`, `beta`"),
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
