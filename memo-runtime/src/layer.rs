//! Tower middleware that gives every request its own [request scope](mod@crate::scope) (feature
//! `tower`): axum, tonic, hyper and any other `tower::Service`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use memo_runtime::RequestMemoLayer;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(RequestMemoLayer::new().max_entries(10_000));
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;

use crate::scope::{self, Scope};

/// Runs each request in its own request scope; see [`RequestMemo`].
///
/// Configuration only: cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct RequestMemoLayer {
    max_entries: Option<usize>,
}

impl RequestMemoLayer {
    /// A layer whose scopes keep every result.
    ///
    /// ```
    /// let layer = memo_runtime::RequestMemoLayer::new();
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Bounds how many results one request keeps; beyond it, calls still run and share
    /// concurrent runs, but their results are not kept.
    ///
    /// ```
    /// use tower_layer::Layer;
    ///
    /// let service = memo_runtime::RequestMemoLayer::new().max_entries(1_000).layer(());
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = Some(max_entries);
        self
    }
}

impl<S> Layer<S> for RequestMemoLayer {
    type Service = RequestMemo<S>;

    fn layer(&self, inner: S) -> RequestMemo<S> {
        RequestMemo { inner, max_entries: self.max_entries }
    }
}

/// A service that runs each call of the inner service in a fresh request scope (or in the
/// caller's scope, if it already has one). The scope, and every value memoized in it, is
/// dropped when the response future completes or is dropped.
#[derive(Clone)]
pub struct RequestMemo<S> {
    inner: S,
    max_entries: Option<usize>,
}

impl<S: fmt::Debug> fmt::Debug for RequestMemo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestMemo").field("inner", &self.inner).field("max_entries", &self.max_entries).finish()
    }
}

impl<S> RequestMemo<S> {
    /// Wraps `inner`.
    ///
    /// ```
    /// let service = memo_runtime::RequestMemo::new(());
    /// assert_eq!(*service.get_ref(), ());
    /// ```
    pub fn new(inner: S) -> Self {
        Self { inner, max_entries: None }
    }

    /// A [`RequestMemoLayer`] to build this service with.
    ///
    /// ```
    /// let layer = memo_runtime::RequestMemo::<()>::layer().max_entries(100);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn layer() -> RequestMemoLayer {
        RequestMemoLayer::new()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// let mut service = memo_runtime::RequestMemo::new(1u8);
    /// *service.get_mut() += 1;
    /// assert_eq!(service.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Request> Service<Request> for RequestMemo<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let scope = scope::current().unwrap_or_else(|| match self.max_entries {
            Some(max) => Scope::with_max_entries(max),
            None => Scope::new(),
        });
        // The inner service's synchronous part runs in the scope too.
        let future = scope.clone().run_sync(|| self.inner.call(request));
        ResponseFuture { inner: scope.run(future) }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestMemo`]: the inner future, polled in the request's scope.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Option<Scope>, F>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F: Future> Future for ResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}
