//! `#[cached]`: parse the arguments, validate them against the function into a plan, expand
//! the plan into the cached function and its handle.

mod config;
mod expand;
mod handle;
mod parts;
mod plan;

use proc_macro2::TokenStream;

use crate::errors;

pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match errors::parse_function(
        &item,
        "`#[cached]` goes on a function (`fn` or `async fn`), a method or an associated function",
    ) {
        Ok(func) => func,
        Err(tokens) => return tokens,
    };
    let mut errors = errors::Errors::default();
    let plan = config::Config::parse(args, &mut errors).and_then(|config| plan::Plan::new(config, &func, errors));
    match plan {
        Ok(plan) => expand::expand(&plan),
        Err(error) => errors::with_item(item, &error),
    }
}
