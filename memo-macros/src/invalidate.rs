//! `#[invalidate(...)]`: after a mutating function succeeds, invalidate tags, entries of cached
//! functions, or whole cached functions.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Path};

use crate::args::{self, Arg, RawArg, set_once};
use crate::errors::{self, Errors};
use crate::param::Param;
use crate::signature;

const KNOWN: &[&str] = &["tags", "entries", "all", "crate"];

#[derive(Default)]
struct Config {
    tags: Option<Arg<Vec<Expr>>>,
    entries: Option<Arg<Vec<Expr>>>,
    all: Option<Arg<Vec<Expr>>>,
    krate: Option<Arg<Path>>,
}

impl Config {
    fn take(&mut self, arg: &RawArg, errors: &mut Errors) {
        let name = &arg.name;
        match name.to_string().as_str() {
            "tags" => set_once(
                &mut self.tags,
                name,
                args::expr_list(arg, "tags = [\"products\", format!(\"product:{id}\")]", errors),
                errors,
            ),
            "entries" => {
                set_once(&mut self.entries, name, args::expr_list(arg, "entries = [load_product(&id)]", errors), errors)
            }
            "all" => set_once(&mut self.all, name, args::expr_list(arg, "all = [search_products]", errors), errors),
            "crate" => {
                set_once(&mut self.krate, name, args::path(arg, "crate = my_facade::memo_runtime", errors), errors)
            }
            _ => args::unknown(name, KNOWN, "invalidate", errors),
        }
    }
}

/// One cached function's entry to invalidate: `load_product(&id)`.
struct EntryCall {
    path: syn::ExprPath,
    args: Vec<Expr>,
    /// Parameters of the mutating function the arguments name.
    params: Vec<usize>,
}

pub(crate) fn invalidate(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match errors::parse_function(
        &item,
        "`#[invalidate]` goes on a function (`fn` or `async fn`) or a method that changes data",
    ) {
        Ok(func) => func,
        Err(tokens) => return tokens,
    };
    let raw = match args::parse_raw(args) {
        Ok(raw) => raw,
        Err(error) => return errors::with_item(item, &error),
    };
    let mut errors = Errors::default();
    let mut config = Config::default();
    for arg in &raw {
        config.take(arg, &mut errors);
    }
    if raw.iter().all(|a| a.name == "crate") {
        errors.at(
            proc_macro2::Span::call_site(),
            "`#[invalidate]` needs something to invalidate: `tags = [\"products\"]`, \
             `entries = [load_product(&id)]` or `all = [search_products]`",
        );
    }
    let sig = signature::analyze_for_invalidate(&func.sig, &mut errors);
    let entries =
        entry_calls(config.entries.as_ref().map(|a| a.value.as_slice()).unwrap_or_default(), &sig, &mut errors);
    let all = whole_functions(config.all.as_ref().map(|a| a.value.as_slice()).unwrap_or_default(), &mut errors);
    match errors.finish(()) {
        Ok(()) => {
            let krate = config.krate.map_or_else(|| syn::parse_quote!(::memo_runtime), |k| k.value);
            expand(&func, &krate, &sig, &config.tags.map(|t| t.value).unwrap_or_default(), &entries, &all)
        }
        Err(error) => errors::with_item(item, &error),
    }
}

fn entry_calls(exprs: &[Expr], params: &[Param], errors: &mut Errors) -> Vec<EntryCall> {
    let mut calls = Vec::new();
    for expr in exprs {
        match expr {
            Expr::Call(call) => match &*call.func {
                Expr::Path(path) => {
                    let mut named = Vec::new();
                    for arg in &call.args {
                        named.extend(crate::subject::named_params(arg, params).0);
                    }
                    named.sort_unstable();
                    named.dedup();
                    calls.push(EntryCall {
                        path: path.clone(),
                        args: call.args.iter().cloned().collect(),
                        params: named,
                    });
                }
                other => errors.spanned(other, "name the cached function by its path, as in `load_product(&id)`"),
            },
            other => errors.spanned(
                other,
                "an entry is a call of a cached function with the arguments whose entry to drop, \
                 as in `entries = [load_product(&id)]`",
            ),
        }
    }
    calls
}

fn whole_functions(exprs: &[Expr], errors: &mut Errors) -> Vec<syn::ExprPath> {
    exprs
        .iter()
        .filter_map(|expr| match expr {
            Expr::Path(path) => Some(path.clone()),
            other => {
                errors.spanned(other, "`all` lists cached functions by path, as in `all = [search_products]`");
                None
            }
        })
        .collect()
}

/// The handle function `name` of the cached function at `path`: `f::invalidate` for a free
/// function, `Type::m_invalidate` for a method, known by the segment before it naming a type
/// (`Self`, or capitalized as type names are).
fn handle_fn(path: &syn::ExprPath, name: &str) -> TokenStream {
    let segments = &path.path.segments;
    let owner = segments.len().checked_sub(2).map(|i| segments[i].ident.to_string());
    let method = owner.is_some_and(|owner| owner == "Self" || owner.starts_with(|c: char| c.is_ascii_uppercase()));
    let mut path = path.clone();
    match path.path.segments.last_mut() {
        Some(last) if method => {
            last.ident = format_ident!("{}_{}", last.ident, name, span = last.ident.span());
            quote!(#path)
        }
        _ => {
            let name = proc_macro2::Ident::new(name, path.span());
            quote!(#path::#name)
        }
    }
}

/// Input:
///
/// ```text
/// #[invalidate(tags = [format!("product:{id}")], entries = [load_product(&id)])]
/// async fn rename(id: u64, name: String) -> Result<(), DbError> { body }
/// ```
///
/// Output:
///
/// ```text
/// async fn rename(id: u64, name: String) -> Result<(), DbError> {
///     let __memo_tags = vec![tag(format!("product:{id}"))];
///     let __memo_entry_0 = { let id = id.clone(); move || { load_product::invalidate(&(&id)); } };
///     let __memo_output = async move { body }.await;
///     if !is_error(&__memo_output) { invalidate_tags(__memo_tags); __memo_entry_0(); }
///     __memo_output
/// }
/// ```
fn expand(
    func: &syn::ItemFn,
    krate: &Path,
    params: &[Param],
    tags: &[Expr],
    entries: &[EntryCall],
    all: &[syn::ExprPath],
) -> TokenStream {
    let p = quote!(#krate::__private);
    let ret: syn::Type = match &func.sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let tag_values = tags.iter().map(|expr| quote_spanned!(expr.span()=> #p::tag(#expr)));
    let entry_names: Vec<_> = (0..entries.len()).map(|i| format_ident!("__memo_entry_{}", i)).collect();
    let entry_defs = entries.iter().zip(&entry_names).map(|(entry, name)| {
        let rebinds = entry.params.iter().filter_map(|&i| {
            let ident = params[i].ident.as_ref()?;
            Some(quote!(let #ident = ::core::clone::Clone::clone(&#ident);))
        });
        let path = &entry.path;
        // The handle takes references: an argument given by value or by reference works alike
        // (`&&T` coerces to `&T`, `&&String` to `&str`).
        let args = entry.args.iter().map(|arg| quote_spanned!(arg.span()=> &(#arg)));
        let handle = handle_fn(path, "invalidate");
        let call = quote_spanned!(path.span()=> #handle(#(#args),*));
        quote!(let #name = { #(#rebinds)* move || { let _ = #call; } };)
    });
    let all_calls = all.iter().map(|path| {
        let handle = handle_fn(path, "invalidate_all");
        quote_spanned!(path.span()=> #handle();)
    });
    let block = &func.block;
    let run =
        if func.sig.asyncness.is_some() { quote!(async move #block.await) } else { quote!((move || -> #ret #block)()) };
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#attrs)*
        #vis #sig {
            #[allow(unused_imports)]
            use #p::select::{SelectErrorResult as _, SelectErrorAny as _};
            // Evaluated before the body, which may take the arguments.
            let __memo_tags: ::std::vec::Vec<#p::Tag> = ::std::vec![#(#tag_values),*];
            #(#entry_defs)*
            let __memo_output: #ret = #run;
            if !(&&#p::Select::<#ret>::new()).output_is_error(&__memo_output) {
                #p::invalidate_tags(&__memo_tags);
                #(#entry_names();)*
                #(#all_calls)*
            }
            __memo_output
        }
    }
}
