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
    /// `remove(field)` or `remove(field: Type)`.
    Remove {
        field: &'static str,
        ty: Option<&'static str>,
    },
    /// `transform(field: OldType => function)`.
    Transform {
        field: &'static str,
        from_type: &'static str,
        function: &'static str,
    },
    /// `with = function`: free-form restructuring of the JSON object.
    With { function: &'static str },
    /// `rename_variant(from = to)`.
    RenameVariant {
        from: &'static str,
        to: &'static str,
    },
    /// `remove_variant(variant)`.
    RemoveVariant { variant: &'static str },
    /// `migrate(from = PreviousType)`: `Self: From<PreviousType>` (or `TryFrom` when fallible).
    Typed {
        previous: &'static str,
        fallible: bool,
    },
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
            Op::Remove { field, ty: Some(t) } => write!(f, "remove({field}: {t})"),
            Op::Remove { field, ty: None } => write!(f, "remove({field})"),
            Op::Transform {
                field,
                from_type,
                function,
            } => {
                write!(f, "transform({field}: {from_type} => {function})")
            }
            Op::With { function } => write!(f, "with = {function}"),
            Op::RenameVariant { from, to } => write!(f, "rename_variant({from} = {to})"),
            Op::RemoveVariant { variant } => write!(f, "remove_variant({variant})"),
            Op::Typed {
                previous,
                fallible: false,
            } => write!(f, "From<{previous}>"),
            Op::Typed {
                previous,
                fallible: true,
            } => write!(f, "TryFrom<{previous}>"),
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
