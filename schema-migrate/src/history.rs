use std::fmt;

/// One step of a type's history: the migration from version `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The type the step belongs to.
    pub type_name: &'static str,
    /// The version the step reads.
    pub from: u32,
    /// The version it produces, `from + 1`.
    pub to: u32,
    /// The `description = "..."` of the step.
    pub description: Option<&'static str>,
    /// The operations, in the order they are applied.
    pub ops: &'static [Op],
}

/// One operation of a [`Step`], as written in `#[schema(migrate(...))]`.
/// Field and variant names are wire names, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[allow(
    missing_docs,
    reason = "each variant's fields are the op's own arguments, named as written"
)]
pub enum Op {
    /// `add(field)` or `add(field = expr)`; `default` is the expression's source text.
    Add {
        field: &'static str,
        default: Option<&'static str>,
    },
    /// `rename(from = to)`.
    Rename {
        from: &'static str,
        to: &'static str,
    },
    /// `remove(field)`, `remove(field: Type)` or `remove(field: Type = expr)`;
    /// `restore` is the expression's source text, the value the field gets
    /// back when a newer value is written at the older version.
    Remove {
        field: &'static str,
        ty: Option<&'static str>,
        restore: Option<&'static str>,
    },
    /// `transform(field: OldType => function)`, with `back = function` the
    /// inverse that writes the older version.
    Transform {
        field: &'static str,
        from_type: &'static str,
        function: &'static str,
        back: Option<&'static str>,
    },
    /// `with = function`: free-form restructuring of the JSON object; `back`
    /// its inverse.
    With {
        function: &'static str,
        back: Option<&'static str>,
    },
    /// `rename_variant(from = to)`.
    RenameVariant {
        from: &'static str,
        to: &'static str,
    },
    /// `remove_variant(variant)`.
    RemoveVariant { variant: &'static str },
    /// `migrate(from = PreviousType)`: `Self: From<PreviousType>` (or
    /// `TryFrom` when fallible); `reversible`: `PreviousType: From<Self>`
    /// (or `TryFrom`) writes the older version.
    Typed {
        previous: &'static str,
        fallible: bool,
        reversible: bool,
    },
}

impl Op {
    /// Whether a value can be written back across this op, to the version
    /// before it: an `add` drops its field, a `rename` or `rename_variant`
    /// swaps back and a `remove_variant` needs nothing, while `remove` needs
    /// the value to restore, `transform` and `with` a `back` function, and a
    /// typed step `reversible`.
    ///
    /// ```
    /// use schema_migrate::{Op, Versioned};
    ///
    /// #[derive(Versioned)]
    /// #[schema(version = 2, migrate(from = 1, add(retries = 3), remove(owner: String = "nobody".into())))]
    /// struct Job { retries: u32 }
    ///
    /// assert!(Job::STEPS[0].ops.iter().all(Op::is_reversible));
    /// assert_eq!(Job::STEPS[0].ops[1].to_string(), r#"remove(owner: String = "nobody".into())"#);
    /// ```
    pub const fn is_reversible(&self) -> bool {
        match self {
            Op::Add { .. }
            | Op::Rename { .. }
            | Op::RenameVariant { .. }
            | Op::RemoveVariant { .. } => true,
            Op::Remove { restore, .. } => restore.is_some(),
            Op::Transform { back, .. } | Op::With { back, .. } => back.is_some(),
            Op::Typed { reversible, .. } => *reversible,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Add {
                field,
                default: Some(d),
            } => write!(f, "add({field} = {d})"),
            Op::Add {
                field,
                default: None,
            } => write!(f, "add({field})"),
            Op::Rename { from, to } => write!(f, "rename({from} = {to})"),
            Op::Remove {
                field,
                ty: Some(t),
                restore: Some(r),
            } => write!(f, "remove({field}: {t} = {r})"),
            Op::Remove {
                field, ty: Some(t), ..
            } => write!(f, "remove({field}: {t})"),
            Op::Remove { field, .. } => write!(f, "remove({field})"),
            Op::Transform {
                field,
                from_type,
                function,
                back,
            } => {
                write!(f, "transform({field}: {from_type} => {function}")?;
                if let Some(back) = back {
                    write!(f, ", back = {back}")?;
                }
                f.write_str(")")
            }
            Op::With { function, back } => {
                write!(f, "with = {function}")?;
                if let Some(back) = back {
                    write!(f, ", back = {back}")?;
                }
                Ok(())
            }
            Op::RenameVariant { from, to } => write!(f, "rename_variant({from} = {to})"),
            Op::RemoveVariant { variant } => write!(f, "remove_variant({variant})"),
            Op::Typed {
                previous,
                fallible,
                reversible,
            } => {
                let conversion = if *fallible { "TryFrom" } else { "From" };
                write!(f, "{conversion}<{previous}>")?;
                if *reversible {
                    write!(f, ", back {conversion}<Self>")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.type_name, self.from, self.to)?;
        if let Some(d) = self.description {
            write!(f, " {d:?}")?;
        }
        for (i, op) in self.ops.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{op}")?;
        }
        Ok(())
    }
}
