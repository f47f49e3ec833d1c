//! Attribute macros for [memo-runtime](https://docs.rs/memo-runtime). Depend on
//! `memo-runtime`, which re-exports them; the documentation lives there.

mod args;
mod boxed;
mod cached;
mod cached_impl;
mod codegen;
mod errors;
mod invalidate;
mod param;
mod request_memo;
mod signature;
mod subject;

use proc_macro::TokenStream;

/// Caches a function's results; documented where `memo_runtime` re-exports it.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    cached::cached(args.into(), item.into()).into()
}

/// Gives the cached methods of a trait impl their handles; documented where `memo_runtime`
/// re-exports it.
#[proc_macro_attribute]
pub fn cached_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    cached_impl::cached_impl(args.into(), item.into()).into()
}

/// Memoizes a function within a request scope; documented where `memo_runtime` re-exports it.
#[proc_macro_attribute]
pub fn request_memo(args: TokenStream, item: TokenStream) -> TokenStream {
    request_memo::request_memo(args.into(), item.into()).into()
}

/// Invalidates cached entries after a function succeeds; documented where `memo_runtime`
/// re-exports it.
#[proc_macro_attribute]
pub fn invalidate(args: TokenStream, item: TokenStream) -> TokenStream {
    invalidate::invalidate(args.into(), item.into()).into()
}
