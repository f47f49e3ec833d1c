//! `#[cached]`: parse the arguments, validate them against the function into a plan, expand
//! the plan into the cached function and its handle.

mod config;
mod expand;
mod plan;

use proc_macro2::TokenStream;

use crate::errors;

pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[cached]` goes on a function (`fn` or `async fn`), a method or an associated function",
            );
            return errors::with_item(item, &error);
        }
    };
    let mut errors = errors::Errors::default();
    let plan = config::Config::parse(args, &mut errors).and_then(|config| plan::Plan::new(config, &func, errors));
    match plan {
        Ok(plan) => expand::expand(&plan),
        Err(error) => errors::with_item(item, &error),
    }
}
