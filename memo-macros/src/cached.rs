//! `#[cached]`: parse the arguments, validate them against the function into a plan, expand
//! the plan into the cached function and its handle.

mod batch;
mod config;
mod expand;
mod handle;
mod parts;
mod plan;

use proc_macro2::TokenStream;

use crate::boxed::Function;
use crate::errors;
use crate::subject::Place;

pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let (function, companions) = rewrite(args, item, Place::Free);
    quote::quote!(#function #companions)
}

/// `#[cached]` on a method of a trait impl, for `#[cached_impl]`: the method, and its handle
/// for an inherent `impl` of the type.
pub(crate) fn in_trait_impl(args: TokenStream, item: TokenStream) -> (TokenStream, TokenStream) {
    rewrite(args, item, Place::TraitImpl)
}

/// The rewritten function and what goes beside it: its handle, or nothing after an error.
fn rewrite(args: TokenStream, item: TokenStream, place: Place) -> (TokenStream, TokenStream) {
    let func = match errors::parse_function(
        &item,
        "`#[cached]` goes on a function (`fn` or `async fn`), a method or an associated function",
    ) {
        Ok(func) => Function::new(func),
        Err(tokens) => return (tokens, TokenStream::new()),
    };
    let mut errors = errors::Errors::default();
    let expanded = config::Config::parse(args, &mut errors).and_then(|config| {
        if config.batch.is_some() {
            batch::rewrite(&config, &func, place, errors)
        } else {
            plan::Plan::new(config, &func, place, errors).map(|plan| expand::expand(&plan))
        }
    });
    expanded.unwrap_or_else(|error| (errors::with_item(item, &error), TokenStream::new()))
}
