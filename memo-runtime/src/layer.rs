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
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;

use crate::scope::{self, Scope};
use crate::switch::{Bypass, Reads};

/// Runs each request in its own request scope; see [`RequestMemo`].
///
/// Configuration only: cheap to clone. `N` says whether requests may bypass the caches
/// ([`bypass_on_no_cache`](Self::bypass_on_no_cache)).
#[derive(Debug)]
pub struct RequestMemoLayer<N = AnyRequest> {
    max_entries: Option<usize>,
    requests: PhantomData<fn() -> N>,
}

/// Requests of any type, all read through the caches: [`RequestMemoLayer`]'s default.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyRequest;

/// HTTP requests, those saying `Cache-Control: no-cache` [bypassing](crate::bypass) the caches;
/// see [`RequestMemoLayer::bypass_on_no_cache`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCacheBypass;

impl<N> Clone for RequestMemoLayer<N> {
    fn clone(&self) -> Self {
        Self { max_entries: self.max_entries, requests: PhantomData }
    }
}

impl Default for RequestMemoLayer {
    fn default() -> Self {
        Self { max_entries: None, requests: PhantomData }
    }
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

    /// Lets an HTTP request that says `Cache-Control: no-cache` run [bypassing](crate::bypass)
    /// the caches: its cached calls read nothing, load from the source and store what they
    /// load (so that the next requests see it too). Off by default.
    ///
    /// Turn it on only where the clients are trusted (an internal or authenticated API): any
    /// client that sends the header makes each of its requests load from the source, which
    /// is the load a cache is there to keep off it.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use memo_runtime::cached;
    ///
    /// #[cached(ttl = "5m")]
    /// async fn price(id: u64) -> u64 {
    ///     id * 100
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/price", get(|| async { price(1).await.to_string() }))
    ///     .layer(memo_runtime::RequestMemoLayer::new().bypass_on_no_cache());
    /// ```
    #[must_use]
    pub fn bypass_on_no_cache(self) -> RequestMemoLayer<NoCacheBypass> {
        RequestMemoLayer { max_entries: self.max_entries, requests: PhantomData }
    }
}

impl<N> RequestMemoLayer<N> {
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

impl<S, N> Layer<S> for RequestMemoLayer<N> {
    type Service = RequestMemo<S, N>;

    fn layer(&self, inner: S) -> RequestMemo<S, N> {
        RequestMemo { inner, max_entries: self.max_entries, requests: PhantomData }
    }
}

/// A service that runs each call of the inner service in a fresh request scope (or in the
/// caller's scope, if it already has one). The scope, and every value memoized in it, is
/// dropped when the response future completes or is dropped.
pub struct RequestMemo<S, N = AnyRequest> {
    inner: S,
    max_entries: Option<usize>,
    requests: PhantomData<fn() -> N>,
}

impl<S: Clone, N> Clone for RequestMemo<S, N> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), max_entries: self.max_entries, requests: PhantomData }
    }
}

impl<S: fmt::Debug, N> fmt::Debug for RequestMemo<S, N> {
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
        Self { inner, max_entries: None, requests: PhantomData }
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
}

impl<S, N> RequestMemo<S, N> {
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

    /// Calls the inner service in the request's scope, reading the caches as `reads` says.
    fn call_in_scope<Request, F>(&mut self, request: Request, reads: Reads) -> ResponseFuture<F>
    where
        S: Service<Request, Future = F>,
        F: Future,
    {
        let scope = scope::current().unwrap_or_else(|| match self.max_entries {
            Some(max) => Scope::with_max_entries(max),
            None => Scope::new(),
        });
        // The inner service's synchronous part runs in the scope too.
        let future = scope.clone().run_sync(|| {
            let _reads = reads.enter();
            self.inner.call(request)
        });
        ResponseFuture { inner: scope.run(Bypass::new(reads, future)) }
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
        self.call_in_scope(request, Reads::current())
    }
}

impl<S, B> Service<http::Request<B>> for RequestMemo<S, NoCacheBypass>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let reads = if says_no_cache(request.headers()) { Reads::Bypassed } else { Reads::current() };
        self.call_in_scope(request, reads)
    }
}

/// Whether a `Cache-Control` header carries the `no-cache` directive.
fn says_no_cache(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-cache"))
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestMemo`]: the inner future, polled in the request's scope.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Option<Scope>, Bypass<F>>,
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

#[cfg(test)]
mod tests {
    #[test]
    fn finds_no_cache_among_the_directives() {
        let says = |values: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for value in values {
                headers.append(http::header::CACHE_CONTROL, value.parse().expect("a header value"));
            }
            super::says_no_cache(&headers)
        };
        assert!(says(&["no-cache"]));
        assert!(says(&["max-age=0, No-Cache"]));
        assert!(says(&["max-age=0", "no-cache"]));
        assert!(!says(&[]));
        assert!(!says(&["no-store", "max-age=0"]));
        assert!(!says(&["no-cache-please"]));
    }
}
