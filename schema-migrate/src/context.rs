//! Steps that see their context: how a record is upgraded can depend on
//! where it lives (a root graph or a subgraph, a thread's type).
//!
//! A type declares its context type with `#[schema(context = path::Ctx)]`;
//! its `transform`, `with` and `back` functions may then take `&Ctx` as an
//! extra last argument. The context reaches them through
//! [`with_context`], around any deserialization (or serialization at an
//! older version), in any format: the derive's generated code looks it up
//! by type on the current thread, so a versioned type nested anywhere
//! inside finds the context of its own `Ctx` type.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::error::BoxError;
use crate::value::TransformOutput;
use crate::write::{ByRef, ByValue};

thread_local! {
    // The contexts in scope on this thread, innermost last.
    static SCOPES: RefCell<Vec<(TypeId, Rc<dyn Any>)>> = const { RefCell::new(Vec::new()) };
    // Slots of scopes that ended, reused by the next scope of their type:
    // a loop reading record after record in its own context allocates once.
    static SPARE: RefCell<Vec<(TypeId, Rc<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

/// Contexts of at most this many types keep a spare slot.
const SPARE_SLOTS: usize = 8;

/// Runs `f` with `ctx` as the context of every step, of any versioned type
/// whose context type is `C`, that runs on this thread during the call: a
/// read (`serde_json::from_str`, any format's deserializer, the stores'
/// loads) or a write at an older version. The innermost `with_context` of a
/// type wins; contexts of other types stay visible to the types that use
/// them.
///
/// The context is cloned once per call (the scope keeps its own copy, so no
/// borrow has to outlive the call), into a slot the thread reuses for the
/// next scope of the same type: keep it small, or share what is large
/// behind an `Arc`.
///
/// Deserialization is synchronous, so under tokio the scope holds as long
/// as the read happens inside `f`: build the context, then read inside
/// `with_context`; do not hold the scope across an `.await` (a task may
/// move to another thread there).
///
/// ```
/// use schema_migrate::Versioned;
/// use serde_json::{Map, Value};
///
/// #[derive(Clone)]
/// enum Graph { Root, Subgraph }
///
/// fn nest(state: &mut Map<String, Value>, graph: &Graph) -> Result<(), String> {
///     let key = match graph { Graph::Root => "root", Graph::Subgraph => "sub" };
///     let messages = state.remove("messages").unwrap_or_default();
///     state.insert("channels".into(), serde_json::json!({ key: messages }));
///     Ok(())
/// }
///
/// #[derive(Debug, Versioned)]
/// #[schema(version = 2, context = Graph, migrate(from = 1, with = nest))]
/// struct State { channels: Map<String, Value> }
///
/// let v1 = r#"{"_version":1,"messages":["hi"]}"#;
/// let root: State = schema_migrate::with_context(&Graph::Root, || serde_json::from_str(v1))?;
/// assert!(root.channels.contains_key("root"));
/// let sub = schema_migrate::json::from_str_with::<State, _>(v1, &Graph::Subgraph)?;
/// assert!(sub.value.channels.contains_key("sub"));
///
/// // Without a context the step cannot choose: an error, never a guess.
/// let err = schema_migrate::json::from_str::<State>(v1).unwrap_err();
/// assert_eq!(err.kind(), "missing_context");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_context<C: Clone + 'static, R>(ctx: &C, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            if let Some(entry) = SCOPES.with(|s| s.borrow_mut().pop()) {
                SPARE.with(|s| {
                    let mut spare = s.borrow_mut();
                    if spare.len() < SPARE_SLOTS && spare.iter().all(|(t, _)| *t != entry.0) {
                        spare.push(entry);
                    }
                });
            }
        }
    }
    let id = TypeId::of::<C>();
    let entry = SPARE
        .with(|s| {
            let mut spare = s.borrow_mut();
            let at = spare.iter().position(|(t, _)| *t == id)?;
            let (_, mut slot) = spare.swap_remove(at);
            // A slot a step still holds (it kept the `Rc`) is not reused.
            let value = Rc::get_mut(&mut slot)?.downcast_mut::<C>()?;
            value.clone_from(ctx);
            Some(slot)
        })
        .unwrap_or_else(|| Rc::new(ctx.clone()));
    SCOPES.with(|s| s.borrow_mut().push((id, entry)));
    let _pop = Pop;
    f()
}

/// The innermost context of type `C` in scope on this thread.
fn current<C: 'static>() -> Option<Rc<C>> {
    SCOPES.with(|s| {
        let scopes = s.borrow();
        let (_, entry) = scopes.iter().rev().find(|(t, _)| *t == TypeId::of::<C>())?;
        Rc::clone(entry).downcast::<C>().ok()
    })
}

fn current_or_error<C: 'static>() -> Result<Rc<C>, BoxError> {
    current::<C>().ok_or_else(|| {
        Box::new(NeedsContext {
            context: std::any::type_name::<C>(),
        }) as BoxError
    })
}

/// A step function takes a context and none is in scope; the step's error
/// becomes [`Error::MissingContext`](crate::Error::MissingContext).
#[derive(Debug)]
pub(crate) struct NeedsContext {
    pub(crate) context: &'static str,
}

impl fmt::Display for NeedsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "needs a context of type `{}`", self.context)
    }
}

impl std::error::Error for NeedsContext {}

/// How the derive calls the step functions of a type with a context, each
/// with or without `&Ctx` last; the compiler names these traits when a
/// function does not fit.
pub mod call {
    use super::*;

    /// The step function takes no context.
    #[derive(Debug)]
    pub enum Plain {}

    /// The step function takes `&Ctx` last.
    #[derive(Debug)]
    pub enum Contextual {}

    /// A `transform` function of a type with a context: `fn(Old) -> New` or
    /// `fn(Old, &Ctx) -> New`, either also returning `Result<New, E>`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` does not fit `transform(.. : {Old} => ..)` producing `{New}` with the context `{Ctx}`",
        label = "expected `fn({Old}) -> {New}` or `fn({Old}, &{Ctx}) -> {New}`",
        note = "either may return `Result<{New}, E>` with `E: Display`"
    )]
    pub trait Transform<Old, New, Ctx, How> {
        /// Calls the function, with the context in scope if it takes one.
        fn apply(self, old: Old) -> Result<New, BoxError>;
    }

    impl<F, Old, New, Ctx> Transform<Old, New, Ctx, Plain> for F
    where
        F: crate::TransformFn<Old, New>,
    {
        #[inline]
        fn apply(self, old: Old) -> Result<New, BoxError> {
            crate::TransformFn::apply(self, old)
        }
    }

    impl<F, Old, New, Ctx: 'static, Out> Transform<Old, New, Ctx, Contextual> for F
    where
        F: FnOnce(Old, &Ctx) -> Out,
        Out: TransformOutput<New>,
    {
        #[inline]
        fn apply(self, old: Old) -> Result<New, BoxError> {
            let ctx = current_or_error::<Ctx>()?;
            self(old, &*ctx).into_step()
        }
    }

    /// A `back` function of a type with a context: the forms of
    /// [`BackFn`](crate::BackFn), with or without `&Ctx` last.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` does not fit `back = ..` writing `{Old}` from `{New}` with the context `{Ctx}`",
        label = "expected `fn(&{New}) -> {Old}` or `fn({New}) -> {Old}` (with `{New}: Clone`), with or without a last `&{Ctx}`",
        note = "either may return `Result<{Old}, E>` with `E: Display`"
    )]
    pub trait Back<New, Old, Ctx, How> {
        /// Calls the function on a borrowed value.
        fn back_ref(self, new: &New) -> Result<Old, BoxError>;
        /// Calls the function on an owned value.
        fn back_owned(self, new: New) -> Result<Old, BoxError>;
    }

    impl<F, New, Old, Ctx, How> Back<New, Old, Ctx, (How, Plain)> for F
    where
        F: crate::BackFn<New, Old, How>,
    {
        #[inline]
        fn back_ref(self, new: &New) -> Result<Old, BoxError> {
            self.back_ref(new)
        }

        #[inline]
        fn back_owned(self, new: New) -> Result<Old, BoxError> {
            self.back_owned(new)
        }
    }

    impl<F, New, Old, Ctx: 'static, Out> Back<New, Old, Ctx, (ByValue, Contextual)> for F
    where
        F: FnOnce(New, &Ctx) -> Out,
        New: Clone,
        Out: TransformOutput<Old>,
    {
        #[inline]
        fn back_ref(self, new: &New) -> Result<Old, BoxError> {
            let ctx = current_or_error::<Ctx>()?;
            self(new.clone(), &*ctx).into_step()
        }

        #[inline]
        fn back_owned(self, new: New) -> Result<Old, BoxError> {
            let ctx = current_or_error::<Ctx>()?;
            self(new, &*ctx).into_step()
        }
    }

    impl<F, New, Old, Ctx: 'static, Out> Back<New, Old, Ctx, (ByRef, Contextual)> for F
    where
        F: FnOnce(&New, &Ctx) -> Out,
        Out: TransformOutput<Old>,
    {
        #[inline]
        fn back_ref(self, new: &New) -> Result<Old, BoxError> {
            let ctx = current_or_error::<Ctx>()?;
            self(new, &*ctx).into_step()
        }

        #[inline]
        fn back_owned(self, new: New) -> Result<Old, BoxError> {
            let ctx = current_or_error::<Ctx>()?;
            self(&new, &*ctx).into_step()
        }
    }

    /// A `with` function (or its `back`) of a type with a context.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` does not fit `with = ..` with the context `{Ctx}`",
        label = "expected `fn(&mut Map<String, Value>) -> Result<(), E>` or `fn(&mut Map<String, Value>, &{Ctx}) -> Result<(), E>` with `E: Display`"
    )]
    pub trait With<Ctx, How> {
        /// Calls the function on the object.
        fn call(self, object: &mut Map<String, Value>) -> Result<(), BoxError>;
    }

    impl<F, Ctx, E> With<Ctx, Plain> for F
    where
        F: FnOnce(&mut Map<String, Value>) -> Result<(), E>,
        E: fmt::Display,
    {
        fn call(self, object: &mut Map<String, Value>) -> Result<(), BoxError> {
            self(object).map_err(|e| e.to_string().into())
        }
    }

    impl<F, Ctx: 'static, E> With<Ctx, Contextual> for F
    where
        F: FnOnce(&mut Map<String, Value>, &Ctx) -> Result<(), E>,
        E: fmt::Display,
    {
        fn call(self, object: &mut Map<String, Value>) -> Result<(), BoxError> {
            let ctx = current_or_error::<Ctx>()?;
            self(object, &*ctx).map_err(|e| e.to_string().into())
        }
    }
}
