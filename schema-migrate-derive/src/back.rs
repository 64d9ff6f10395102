//! The history run backward: the shape each older version is written in,
//! and how it is made from the next one, for `write_version` and the
//! run-time `to_string_at`.
//!
//! Starting from the current value (every field borrowed), each step's ops
//! are undone in reverse order: an `add` drops its field, a `rename` gives
//! back the old name, `remove(field: Type = expr)` restores the field with
//! `expr`, `transform(.., back = down)` calls `down` on the field (a
//! borrowed field is cloned for it), `rename_variant` swaps back. Where a
//! step has a `with = up, back = down` op, the typed writers stop: that
//! step and every older one run on the JSON object the last typed writer
//! produces. An op that cannot be undone ends the walk: versions below it
//! cannot be written (`check.rs` reports it when `write_version` asks for
//! one of them).

use syn::{Expr, Ident, Path, Type};

use crate::ast::{Data, Field, Input, Variant};
use crate::attr::{self, Op};
use crate::check::{History, Plan};

/// The writers of the older versions of a declarative history.
pub struct Writers<'a> {
    /// `shapes[k]` is the shape of version `VERSION - k`; `shapes[0]` the
    /// current one, every field borrowed.
    pub shapes: Vec<WriteShape<'a>>,
    /// `downs[k]` makes `shapes[k + 1]` from `shapes[k]` (struct fields, in
    /// the order of `shapes[k + 1]`); undoes the step at `step_index`.
    pub downs: Vec<Down<'a>>,
    /// Below the typed writers: step indices, newest first, undone on the
    /// JSON object written from the last typed shape.
    pub value_steps: Vec<usize>,
}

pub enum WriteShape<'a> {
    Struct(Vec<WriteField<'a>>),
    Enum(Vec<WriteVariant<'a>>),
}

#[derive(Clone)]
pub struct WriteField<'a> {
    pub ident: Ident,
    /// `None` for flattened and skipped fields, written as the type writes them.
    pub wire: Option<String>,
    pub ty: WriteTy<'a>,
}

#[derive(Clone)]
pub enum WriteTy<'a> {
    /// Borrowed from the current value, written with the field's own attributes.
    Borrowed(&'a Field<'a>),
    /// A value of an older type, made by a `back` function or restored.
    Owned(&'a Type),
}

#[derive(Clone)]
pub struct WriteVariant<'a> {
    pub variant: &'a Variant<'a>,
    pub wire: String,
}

pub struct Down<'a> {
    pub step_index: usize,
    /// The statements, in order, on the locals named after the fields.
    pub actions: Vec<Action<'a>>,
}

pub enum Action<'a> {
    /// `field = back(field)`; `borrowed`: the field is still a borrow of
    /// the current value, so it is cloned for `back`, which takes it by value.
    Back {
        field: Ident,
        op_index: usize,
        function: &'a Path,
        new: &'a Type,
        old: &'a Type,
        borrowed: bool,
    },
    /// A removed field made again: `field: ty = expr`.
    Restore {
        field: Ident,
        expr: &'a Expr,
        ty: &'a Type,
    },
}

impl<'a> WriteTy<'a> {
    pub fn ty(&self) -> &'a Type {
        match self {
            WriteTy::Borrowed(f) => f.ty,
            WriteTy::Owned(t) => t,
        }
    }
}

/// The writers of a declarative history; `None` for a typed one (which
/// writes older versions through the previous type).
pub fn writers<'a>(input: &'a Input<'a>, plan: &Plan<'a>) -> Option<Writers<'a>> {
    let History::Declarative { steps, .. } = &plan.history else {
        return None;
    };
    let mut shape = match &input.data {
        Data::Struct(fields) => WriteShape::Struct(
            fields
                .iter()
                .map(|f| WriteField {
                    ident: f.ident.clone(),
                    wire: f.wire.clone(),
                    ty: WriteTy::Borrowed(f),
                })
                .collect(),
        ),
        Data::Enum(variants, _) => WriteShape::Enum(
            variants
                .iter()
                .map(|v| WriteVariant {
                    variant: v,
                    wire: v.wire.clone(),
                })
                .collect(),
        ),
    };
    let mut out = Writers {
        shapes: Vec::new(),
        downs: Vec::new(),
        value_steps: Vec::new(),
    };
    let mut typed = true;
    for (step_index, step) in steps.iter().enumerate().rev() {
        if !step.ops.iter().all(reversible) {
            break;
        }
        if typed && step.ops.iter().any(|op| matches!(op, Op::With { .. })) {
            typed = false;
        }
        if !typed {
            out.value_steps.push(step_index);
            continue;
        }
        let (earlier, down) = step_back(step_index, step, &shape);
        out.shapes.push(std::mem::replace(&mut shape, earlier));
        out.downs.push(down);
    }
    out.shapes.push(shape);
    Some(out)
}

/// Whether a value can be written back across `op`.
pub fn reversible(op: &Op) -> bool {
    match op {
        Op::Add { .. }
        | Op::Rename { .. }
        | Op::RenameVariant { .. }
        | Op::RemoveVariant { .. } => true,
        Op::Remove { restore, .. } => restore.is_some(),
        Op::Transform { back, .. } | Op::With { back, .. } => back.is_some(),
    }
}

/// The shape before `step` and how it is made, from the shape after it.
/// The history was checked, so every name an op uses is there.
fn step_back<'a>(
    step_index: usize,
    step: &'a attr::Step,
    later: &WriteShape<'a>,
) -> (WriteShape<'a>, Down<'a>) {
    let mut actions = Vec::new();
    let shape = match later {
        WriteShape::Struct(fields) => {
            let mut fields = fields.clone();
            for (op_index, op) in step.ops.iter().enumerate().rev() {
                let find = |fields: &[WriteField], name: &str| {
                    fields.iter().position(|f| f.wire.as_deref() == Some(name))
                };
                match op {
                    Op::Add { field, .. } => {
                        if let Some(pos) = find(&fields, &field.value) {
                            fields.remove(pos);
                        }
                    }
                    Op::Rename { from, to } => {
                        if let Some(pos) = find(&fields, &to.value) {
                            fields[pos].wire = Some(from.value.clone());
                        }
                    }
                    Op::Remove {
                        field,
                        ty: Some(ty),
                        restore: Some(expr),
                    } => {
                        let ident = quote::format_ident!("__restored_{}_{}", step_index, op_index);
                        actions.push(Action::Restore {
                            field: ident.clone(),
                            expr,
                            ty,
                        });
                        fields.push(WriteField {
                            ident,
                            wire: Some(field.value.clone()),
                            ty: WriteTy::Owned(ty),
                        });
                    }
                    Op::Transform {
                        field,
                        ty,
                        back: Some(function),
                        ..
                    } => {
                        if let Some(pos) = find(&fields, &field.value) {
                            let f = &mut fields[pos];
                            actions.push(Action::Back {
                                field: f.ident.clone(),
                                op_index,
                                function,
                                new: f.ty.ty(),
                                old: ty,
                                borrowed: matches!(f.ty, WriteTy::Borrowed(_)),
                            });
                            f.ty = WriteTy::Owned(ty);
                        }
                    }
                    // Not reached: the walk stops at irreversible ops, and a
                    // `with` step is undone on the JSON object.
                    Op::Remove { .. } | Op::Transform { .. } | Op::With { .. } => {}
                    Op::RenameVariant { .. } | Op::RemoveVariant { .. } => {}
                }
            }
            WriteShape::Struct(fields)
        }
        WriteShape::Enum(variants) => {
            let mut variants = variants.clone();
            for op in step.ops.iter().rev() {
                if let Op::RenameVariant { from, to } = op {
                    if let Some(v) = variants.iter_mut().find(|v| v.wire == to.value) {
                        v.wire.clone_from(&from.value);
                    }
                }
            }
            WriteShape::Enum(variants)
        }
    };
    (
        shape,
        Down {
            step_index,
            actions,
        },
    )
}
