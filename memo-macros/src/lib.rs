//! Attribute macros for [memo-runtime](https://docs.rs/memo-runtime). Depend on
//! `memo-runtime`, which re-exports them; the documentation lives there.

mod args;
mod cached;
mod errors;

use proc_macro::TokenStream;

/// Caches a function's results; documented where `memo_runtime` re-exports it.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    cached::cached(args.into(), item.into()).into()
}
