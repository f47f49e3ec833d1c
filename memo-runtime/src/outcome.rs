//! How a function's return value is classified: positive, negative or error.
//!
//! `#[cached]` decides by the return *type*, resolved by the compiler, not by how it is
//! spelled: `type DbResult<T> = Result<T, DbError>` and `anyhow::Result<T>` are results, and a
//! type alias for an `Option` is an option. The rules:
//!
//! | return type | positive (stored for `ttl`) | negative (stored for `negative_ttl`) | error (never stored) |
//! |---|---|---|---|
//! | `Result<Option<T>, E>` | `Ok(Some(_))` | `Ok(None)` | `Err(_)` |
//! | `Result<T, E>` | `Ok(_)` | — | `Err(_)` |
//! | `Option<T>` | `Some(_)` | `None` | — |
//! | anything else | every value | — | — |
//!
//! For a `Result`, only the `Ok` value is stored and cloned, so the error type needs neither
//! `Clone` nor `Sync`.
//!
//! ```
//! use memo_runtime::outcome::{Outcome, Shape, Select};
//! # #[allow(unused_imports)]
//! use memo_runtime::outcome::select::*;
//!
//! type DbResult<T> = Result<T, String>;
//!
//! let shape = (&&&Select::<DbResult<Option<u32>>>::new()).shape();
//! assert!(matches!(shape.split(Ok(None)), Outcome::Negative(None)));
//! assert!(matches!(shape.split(Ok(Some(7))), Outcome::Positive(Some(7))));
//! assert!(matches!(shape.split(Err("down".into())), Outcome::Error(_)));
//! ```

use std::marker::PhantomData;

/// What a call produced, as the cache sees it.
#[derive(Debug)]
pub enum Outcome<S, R> {
    /// A value to keep for the time to live.
    Positive(S),
    /// An absent value (`None`, `Ok(None)`), kept only for the negative time to live.
    Negative(S),
    /// An error: returned to the caller, never stored.
    Error(R),
}

/// A value type that can be stored in a cache and handed out to many callers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be cached: a cached value must be `Clone + Send + Sync + 'static`",
    label = "this return value is cloned out of the cache on every hit",
    note = "wrap a value that is not `Clone` in `std::sync::Arc` and return `Arc<{Self}>`"
)]
pub trait CacheValue: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

/// A key type: the owned form of the arguments that identify a call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key: it must be `Clone + Eq + Hash + Send + Sync + 'static`",
    label = "this argument is part of the cache key",
    note = "leave it out of the key with `skip(..)`, or give the key yourself with `key = ...`"
)]
pub trait CacheKey: Clone + Eq + std::hash::Hash + Send + Sync + 'static {}
impl<T: Clone + Eq + std::hash::Hash + Send + Sync + 'static> CacheKey for T {}

/// Maps a function's return type to what the cache stores and back.
pub trait Shape: Copy + Send + Sync + 'static {
    /// The function's return type.
    type Output;
    /// What the cache keeps for a non-error outcome.
    type Stored: CacheValue;
    /// Classifies a returned value.
    fn split(self, output: Self::Output) -> Outcome<Self::Stored, Self::Output>;
    /// Rebuilds a return value from a stored one.
    fn rebuild(self, stored: Self::Stored) -> Self::Output;
}

macro_rules! shape_type {
    ($(#[$doc:meta])* $name:ident<$($p:ident),*>) => {
        $(#[$doc])*
        pub struct $name<$($p),*>(PhantomData<fn() -> ($($p,)*)>);
        impl<$($p),*> Clone for $name<$($p),*> {
            fn clone(&self) -> Self { *self }
        }
        impl<$($p),*> Copy for $name<$($p),*> {}
        impl<$($p),*> Default for $name<$($p),*> {
            fn default() -> Self { Self(PhantomData) }
        }
        impl<$($p),*> std::fmt::Debug for $name<$($p),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

shape_type!(
    /// `Result<Option<T>, E>`: `Ok(Some)` positive, `Ok(None)` negative, `Err` error.
    ResultOptionShape<T, E>
);
shape_type!(
    /// `Result<T, E>`: `Ok` positive, `Err` error.
    ResultShape<T, E>
);
shape_type!(
    /// `Option<T>`: `Some` positive, `None` negative.
    OptionShape<T>
);
shape_type!(
    /// Any other type: every value is positive.
    PlainShape<R>
);
shape_type!(
    /// The selector the macros use to pick a shape for a return type; see the module docs.
    Select<R>
);

impl<R> Select<R> {
    /// A selector for the return type `R`.
    #[must_use]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: CacheValue, E: 'static> Shape for ResultOptionShape<T, E> {
    type Output = Result<Option<T>, E>;
    type Stored = Option<T>;
    fn split(self, output: Self::Output) -> Outcome<Option<T>, Self::Output> {
        match output {
            Ok(Some(v)) => Outcome::Positive(Some(v)),
            Ok(None) => Outcome::Negative(None),
            Err(e) => Outcome::Error(Err(e)),
        }
    }
    fn rebuild(self, stored: Option<T>) -> Self::Output {
        Ok(stored)
    }
}

impl<T: CacheValue, E: 'static> Shape for ResultShape<T, E> {
    type Output = Result<T, E>;
    type Stored = T;
    fn split(self, output: Self::Output) -> Outcome<T, Self::Output> {
        match output {
            Ok(v) => Outcome::Positive(v),
            Err(e) => Outcome::Error(Err(e)),
        }
    }
    fn rebuild(self, stored: T) -> Self::Output {
        Ok(stored)
    }
}

impl<T: CacheValue> Shape for OptionShape<T> {
    type Output = Option<T>;
    type Stored = Option<T>;
    fn split(self, output: Option<T>) -> Outcome<Option<T>, Option<T>> {
        match output {
            Some(v) => Outcome::Positive(Some(v)),
            None => Outcome::Negative(None),
        }
    }
    fn rebuild(self, stored: Option<T>) -> Option<T> {
        stored
    }
}

impl<R: CacheValue> Shape for PlainShape<R> {
    type Output = R;
    type Stored = R;
    fn split(self, output: R) -> Outcome<R, R> {
        Outcome::Positive(output)
    }
    fn rebuild(self, stored: R) -> R {
        stored
    }
}

/// Autoref-based selection of a [`Shape`] for a concrete return type.
///
/// `(&&&Select::<R>::new()).shape()` resolves, at the call site where `R` is a concrete type,
/// to the most specific of: `Result<Option<T>, E>`, `Result<T, E>`, `Option<T>`, anything.
/// Bring all four traits into scope with `use memo_runtime::outcome::select::*;`.
pub mod select {
    use super::{OptionShape, PhantomData, PlainShape, ResultOptionShape, ResultShape, Select};

    /// Picks [`ResultOptionShape`] for `Result<Option<T>, E>`.
    pub trait SelectResultOption {
        /// The shape for this return type.
        type Shape;
        /// Returns the shape.
        fn shape(self) -> Self::Shape;
    }
    /// Picks [`ResultShape`] for `Result<T, E>`.
    pub trait SelectResult {
        /// The shape for this return type.
        type Shape;
        /// Returns the shape.
        fn shape(self) -> Self::Shape;
    }
    /// Picks [`OptionShape`] for `Option<T>`.
    pub trait SelectOption {
        /// The shape for this return type.
        type Shape;
        /// Returns the shape.
        fn shape(self) -> Self::Shape;
    }
    /// Picks [`PlainShape`] for every other type.
    pub trait SelectPlain {
        /// The shape for this return type.
        type Shape;
        /// Returns the shape.
        fn shape(self) -> Self::Shape;
    }

    /// For `#[invalidate]`: an `Err` is an error, whatever `T` is (no bounds).
    pub trait SelectErrorResult<R> {
        /// Whether `output` is an error.
        fn output_is_error(self, output: &R) -> bool;
    }
    /// For `#[invalidate]`: other return types are never errors.
    pub trait SelectErrorAny<R> {
        /// Whether `output` is an error: never.
        fn output_is_error(self, output: &R) -> bool;
    }

    impl<T, E> SelectErrorResult<Result<T, E>> for &Select<Result<T, E>> {
        fn output_is_error(self, output: &Result<T, E>) -> bool {
            output.is_err()
        }
    }
    impl<R> SelectErrorAny<R> for Select<R> {
        fn output_is_error(self, _: &R) -> bool {
            false
        }
    }

    impl<T, E> SelectResultOption for &&&Select<Result<Option<T>, E>> {
        type Shape = ResultOptionShape<T, E>;
        fn shape(self) -> Self::Shape {
            ResultOptionShape(PhantomData)
        }
    }
    impl<T, E> SelectResult for &&Select<Result<T, E>> {
        type Shape = ResultShape<T, E>;
        fn shape(self) -> Self::Shape {
            ResultShape(PhantomData)
        }
    }
    impl<T> SelectOption for &Select<Option<T>> {
        type Shape = OptionShape<T>;
        fn shape(self) -> Self::Shape {
            OptionShape(PhantomData)
        }
    }
    impl<R> SelectPlain for Select<R> {
        type Shape = PlainShape<R>;
        fn shape(self) -> Self::Shape {
            PlainShape(PhantomData)
        }
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow, reason = "autoref selection needs exactly three borrows")]
mod tests {
    use super::select::*;
    use super::*;

    type Aliased<T> = Result<T, std::io::Error>;
    type MaybeName = Option<String>;

    fn kind<S: Shape>(shape: S, out: S::Output) -> &'static str {
        match shape.split(out) {
            Outcome::Positive(_) => "positive",
            Outcome::Negative(_) => "negative",
            Outcome::Error(_) => "error",
        }
    }

    #[test]
    fn sees_through_type_aliases() {
        let s = (&&&Select::<Aliased<Option<u8>>>::new()).shape();
        assert_eq!(kind(s, Ok(None)), "negative");
        assert_eq!(kind(s, Ok(Some(1))), "positive");
        assert_eq!(kind(s, Err(std::io::Error::other("x"))), "error");
        let s = (&&&Select::<Aliased<u8>>::new()).shape();
        assert_eq!(kind(s, Ok(0)), "positive");
        let s = (&&&Select::<MaybeName>::new()).shape();
        assert_eq!(kind(s, None), "negative");
        let s = (&&&Select::<(u8, MaybeName)>::new()).shape();
        assert_eq!(kind(s, (1, None)), "positive");
    }

    #[test]
    fn error_types_need_not_be_clone() {
        struct NotClone;
        let s = (&&&Select::<Result<u8, NotClone>>::new()).shape();
        assert!(matches!(s.split(Err(NotClone)), Outcome::Error(Err(NotClone))));
        assert!(matches!(s.rebuild(3), Ok(3)));
    }
}
