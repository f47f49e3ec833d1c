//! What a body that may leave its caller is made of: the shape that rebuilds its output, the
//! function of tags from its value and the maker of its load, with what lets them run on
//! another thread or task said once.

use crate::outcome::Shape;
use crate::tags::Tag;

/// Tags computed from a loaded value by a load that may run on another thread or task.
pub(super) trait SendDerive<V>: FnOnce(&V) -> Vec<Tag> + Send + 'static {}

impl<V, D: FnOnce(&V) -> Vec<Tag> + Send + 'static> SendDerive<V> for D {}

/// Starts a load that may outlive its call: `make()` gives the load, whose output is the tags
/// computed with it and the call's output `O`.
pub(super) trait MakeLoad<O>: Send + 'static {
    /// The load.
    type Load: Future<Output = (Vec<Tag>, O)> + Send + 'static;
    /// Starts it.
    fn make(self) -> Self::Load;
}

impl<O, M, F> MakeLoad<O> for M
where
    M: FnOnce() -> F + Send + 'static,
    F: Future<Output = (Vec<Tag>, O)> + Send + 'static,
{
    type Load = F;
    fn make(self) -> F {
        self()
    }
}

/// A background-mode call's body, which may leave its caller: the shape that rebuilds the
/// output, the function of tags from the value and the maker of the load. What lets them run on
/// another thread or task is said once, here.
pub(super) struct Body<S, D, M> {
    pub(super) shape: S,
    pub(super) derive: D,
    pub(super) make: M,
}

/// A [`Body`] whose parts may leave the caller.
pub(super) trait Detached<V>: Sized {
    type Shape: Shape<Stored = V, Output: Send + 'static>;
    type Derive: SendDerive<V>;
    type Make: MakeLoad<Out<Self, V>>;
    fn shape(&self) -> Self::Shape;
    fn parts(self) -> Body<Self::Shape, Self::Derive, Self::Make>;
}

/// The output of a detached body's function.
pub(super) type Out<B, V> = <<B as Detached<V>>::Shape as Shape>::Output;

impl<V, S, D, M> Detached<V> for Body<S, D, M>
where
    S: Shape<Stored = V>,
    S::Output: Send + 'static,
    D: SendDerive<V>,
    M: MakeLoad<S::Output>,
{
    type Shape = S;
    type Derive = D;
    type Make = M;

    fn shape(&self) -> S {
        self.shape
    }

    fn parts(self) -> Self {
        self
    }
}
