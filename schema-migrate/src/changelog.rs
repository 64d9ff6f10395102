use std::fmt::Write as _;

use crate::{Op, Step, Versioned};

/// The history of `T` as Markdown, newest version first: one section per
/// version with its step's description and ops in words, for release notes,
/// a review, or the command line's `history`.
///
/// ```
/// use schema_migrate::Versioned;
///
/// #[derive(Versioned)]
/// #[schema(
///     version = 3,
///     tag = "schema_version",
///     migrate(from = 1, description = "Retries", add(retries = 3)),
///     migrate(from = 2, rename(title = name)),
/// )]
/// struct Job { name: String, retries: u32 }
///
/// let log = schema_migrate::changelog::<Job>();
/// assert!(log.starts_with("# Job\n"));
/// assert!(log.contains("## Version 3\n\nFrom version 2.\n\n- `title` is renamed to `name`."));
/// assert!(log.contains("## Version 2: Retries\n\nFrom version 1.\n\n- `retries` is added; older records get `3`."));
/// assert!(log.contains("## Version 1\n\nThe oldest version still read."));
/// ```
pub fn changelog<T: Versioned>() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", T::NAME);
    let _ = write!(
        out,
        "Current version: {}. The version is stored in the field `{}`. ",
        T::VERSION,
        T::TAG
    );
    let _ = writeln!(
        out,
        "Versions {} to {} are read (and upgraded on read); newer ones are refused.",
        T::OLDEST,
        T::VERSION
    );
    let history = T::history();
    for version in (T::OLDEST..=T::VERSION).rev() {
        out.push('\n');
        match history.iter().find(|s| s.to == version) {
            Some(step) => section(&mut out, T::NAME, step),
            None if version == T::OLDEST => {
                let _ = writeln!(
                    out,
                    "## Version {version}\n\nThe oldest version still read."
                );
            }
            None => {
                let _ = writeln!(out, "## Version {version}\n\n(No step recorded.)");
            }
        }
    }
    out
}

fn section(out: &mut String, type_name: &str, step: &Step) {
    let _ = write!(out, "## Version {}", step.to);
    if let Some(description) = step.description {
        let _ = write!(out, ": {description}");
    }
    let _ = write!(out, "\n\nFrom version {}", step.from);
    if step.type_name != type_name {
        // A typed step's older history lives on the previous type.
        let _ = write!(out, " (a step of `{}`)", step.type_name);
    }
    out.push_str(".\n\n");
    for op in step.ops {
        let _ = writeln!(out, "- {}", in_words(op));
    }
}

/// One op as a sentence. Patterns use `..` so that fields added to an op
/// (its inverse, say) need no change here.
fn in_words(op: &Op) -> String {
    match op {
        Op::Add {
            field,
            default: Some(default),
            ..
        } => format!("`{field}` is added; older records get `{default}`."),
        Op::Add { field, .. } => {
            format!("`{field}` is added; older records get its type's default value.")
        }
        Op::Rename { from, to, .. } => format!("`{from}` is renamed to `{to}`."),
        Op::Remove {
            field,
            ty: Some(ty),
            ..
        } => format!("`{field}` (`{ty}`) is removed; its stored value is dropped."),
        Op::Remove { field, .. } => {
            format!("`{field}` is removed; its stored value is dropped.")
        }
        Op::Transform {
            field,
            from_type,
            function,
            ..
        } => {
            format!("`{field}` changes type: a stored `{from_type}` is converted by `{function}`.")
        }
        Op::With { function, .. } => {
            format!("The record is restructured by `{function}` (free-form, on the JSON object).")
        }
        Op::RenameVariant { from, to, .. } => format!("Variant `{from}` is renamed to `{to}`."),
        Op::RemoveVariant { variant, .. } => {
            format!("Variant `{variant}` is removed; a record stored with it fails to upgrade.")
        }
        Op::Typed {
            previous,
            fallible: true,
            ..
        } => format!("Converted from the previous type `{previous}` by `TryFrom` (may fail)."),
        Op::Typed { previous, .. } => {
            format!("Converted from the previous type `{previous}` by `From`.")
        }
    }
}
