//! Code both memoizing macros generate: the shape of the return type and the key closure.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::signature::Receiver;
use crate::subject::{Key, Subject};

/// `#krate::__private`.
pub(crate) fn private(subject: &Subject<'_>) -> TokenStream {
    let krate = &subject.krate;
    quote!(#krate::__private)
}

/// Brings the shape selectors into scope and picks the shape of the return type
/// (`__memo_shape`), checking at the return type's span that it can be stored.
pub(crate) fn prelude(subject: &Subject<'_>) -> TokenStream {
    let p = private(subject);
    let ret = &subject.ret;
    let checked = proc_macro2::Ident::new("checked", ret.span());
    let check = quote_spanned!(ret.span()=> #p::Cacheable((&&&#p::Select::<#ret>::new()).shape()).#checked());
    quote! {
        use #p::shape_selectors::*;
        let __memo_shape = #check;
    }
}

/// The closure that builds a key from borrowed arguments:
/// `|(a, b): (&A, &str)| (KeyArgument::<A>(a).cache_key_part(), KeyArgument::<str>(b).cache_key_part())`.
pub(crate) fn key_fn(subject: &Subject<'_>, key_use: KeyUse) -> TokenStream {
    let p = private(subject);
    // Method names made at the span they are reported at, with the rest of the call.
    let (part, whole) = match key_use {
        KeyUse::Cache => ("cache_key_part", "cache_key"),
        KeyUse::Distributed => ("distributed_key_part", "distributed_cache_key"),
    };
    let (indices, uses_self) = subject.key_inputs();
    let mut pats = Vec::new();
    let mut tys = Vec::new();
    if uses_self {
        pats.push(quote!(__memo_self));
        tys.push(quote!(&Self));
    }
    for &i in indices {
        let param = &subject.params[i];
        let ident = param.ident.as_ref();
        pats.push(quote!(#ident));
        tys.push(param.borrowed_type());
    }
    let body = match &subject.key {
        Key::Params(indices) => {
            let parts: Vec<TokenStream> = indices
                .iter()
                .map(|&i| {
                    let param = &subject.params[i];
                    let ident = param.ident.as_ref();
                    let ty = param.key_source_type();
                    {
                        let part = proc_macro2::Ident::new(part, param.ty.span());
                        quote_spanned!(param.ty.span()=> #p::KeyArgument::<#ty>(#ident).#part())
                    }
                })
                .collect();
            if parts.len() == 1 { quote!(#(#parts)*) } else { quote!((#(#parts,)*)) }
        }
        Key::Expr { expr, params, .. } => {
            let rebinds = params.iter().filter_map(|&i| subject.params[i].rebind());
            let whole = proc_macro2::Ident::new(whole, expr.span());
            let key = quote_spanned!(expr.span()=> #p::KeyValue(#expr).#whole());
            quote!({ #(#rebinds)* #key })
        }
    };
    quote!(|(#(#pats,)*): (#(#tys,)*)| #body)
}

/// What a key is checked to be, at the argument's type (or the `key = ...` expression): a
/// type that is not is reported there once, and the key's type is an error from then on.
#[derive(Clone, Copy)]
pub(crate) enum KeyUse {
    /// A key of an in-process cache or request memo.
    Cache,
    /// A key that also names an entry in the L2: it serializes.
    Distributed,
}

/// Where the arguments passed to the key closure come from.
#[derive(Clone, Copy)]
pub(crate) enum KeySource {
    /// Inside the rewritten function: arguments are owned or borrowed as declared.
    Function,
    /// Inside a handle function: every key argument is already a reference.
    Handle,
}

/// The tuple passed to the key closure.
pub(crate) fn call_args(subject: &Subject<'_>, source: KeySource) -> TokenStream {
    let (indices, uses_self) = subject.key_inputs();
    let mut args = Vec::new();
    if uses_self {
        args.push(match (source, subject.receiver) {
            (KeySource::Handle, _) | (_, Some(Receiver::Ref)) => quote!(self),
            (_, Some(Receiver::Value)) => quote!(&self),
            (_, Some(Receiver::Typed) | None) => quote!(&*self),
        });
    }
    for &i in indices {
        let param = &subject.params[i];
        let ident = param.ident.as_ref();
        args.push(match (source, &param.referent) {
            (KeySource::Handle, _) => quote!(#ident),
            (KeySource::Function, Some(_)) => quote!(&*#ident),
            (KeySource::Function, None) => quote!(&#ident),
        });
    }
    quote!((#(#args,)*))
}

/// The rewritten function with `body`: as written, or for a method `#[async_trait]` boxed,
/// with the boxed signature and `body` in the boxed future.
pub(crate) fn function(subject: &Subject<'_>, body: TokenStream) -> TokenStream {
    let func = subject.func;
    let attrs = &func.attrs;
    let vis = &func.vis;
    match subject.boxed {
        Some(sig) => quote!(#(#attrs)* #vis #sig { ::std::boxed::Box::pin(async move { #body }) }),
        None => {
            let sig = signature(subject);
            quote!(#(#attrs)* #vis #sig { #body })
        }
    }
}

/// The rewritten function's signature (as an `async fn` when `#[async_trait]` boxed it):
/// `'static` on the type parameters, pattern parameters named (the loader binds the patterns).
pub(crate) fn signature(subject: &Subject<'_>) -> syn::Signature {
    let mut sig = subject.func.sig.clone();
    make_static(&mut sig.generics);
    let typed = sig.inputs.iter_mut().filter_map(|input| match input {
        syn::FnArg::Typed(typed) => Some(typed),
        syn::FnArg::Receiver(_) => None,
    });
    for (typed, param) in typed.zip(&subject.params) {
        if let (Some(_), Some(ident)) = (&param.pattern, &param.ident) {
            *typed.pat = syn::parse_quote!(#ident);
        }
    }
    sig
}

/// Adds `'static` to each type parameter's bounds where they are written: in the `where`
/// clause if it bounds the parameter, else beside the parameter.
fn make_static(generics: &mut syn::Generics) {
    let bounded_in_where: Vec<syn::Ident> = generics
        .where_clause
        .iter()
        .flat_map(|w| &w.predicates)
        .filter_map(|predicate| match predicate {
            syn::WherePredicate::Type(bound) => match &bound.bounded_ty {
                syn::Type::Path(path) => path.path.get_ident().cloned(),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let lifetime: syn::TypeParamBound = syn::parse_quote!('static);
    let params: Vec<syn::Ident> = generics.type_params().map(|param| param.ident.clone()).collect();
    for param in generics.type_params_mut() {
        if !bounded_in_where.contains(&param.ident) {
            param.bounds.push(lifetime.clone());
        }
    }
    for predicate in generics.where_clause.iter_mut().flat_map(|w| &mut w.predicates) {
        if let syn::WherePredicate::Type(bound) = predicate
            && matches!(&bound.bounded_ty, syn::Type::Path(path) if path.path.get_ident().is_some_and(|i| params.contains(i)))
        {
            bound.bounds.push(lifetime.clone());
        }
    }
}

/// `where T: 'static, ..` for each type parameter: an instantiation's cache is found by its
/// types' `TypeId`.
pub(crate) fn static_types(subject: &Subject<'_>) -> syn::WhereClause {
    let types = subject.type_params();
    syn::parse_quote!(where #(#types: 'static,)*)
}

/// The body as a loader: `move || -> R { body }` or `async move { body }`, binding pattern
/// parameters first (`let (a, b) = a_b;`) unless the caller has (`bound`).
pub(crate) fn loader(subject: &Subject<'_>, bound: bool) -> TokenStream {
    let block = &subject.func.block;
    let ret = &subject.ret;
    let destructure = if bound { TokenStream::new() } else { destructure(subject) };
    let body = if destructure.is_empty() {
        quote!(#block)
    } else {
        let stmts = &block.stmts;
        quote!({ #destructure #(#stmts)* })
    };
    if subject.is_async { quote!(async move #body) } else { quote!(move || -> #ret #body) }
}

/// `let (a, b) = a_b;` for each pattern parameter, before the user's code that names `a`.
pub(crate) fn destructure(subject: &Subject<'_>) -> TokenStream {
    subject.params.iter().filter_map(crate::param::Param::destructure).collect()
}
