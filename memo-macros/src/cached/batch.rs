//! `#[cached(batch)]`: a function that takes many keys and returns the values it found,
//! cached key by key (`Cache::get_many_or_load`). The first parameter holds the keys (`Vec<K>`
//! or `&[K]`); on a call the body runs once, with that parameter holding only the keys that
//! missed. The other parameters are cloned for each run of the body (it runs again only for
//! keys whose load by another call failed). With `distributed`, the cache reads through the L2
//! (`__memo_cache()` ends in `L2Key(cache).serializable().through_l2()`, which checks that the
//! key and value types serialize, each at its type). With `stale` or `early_refresh`, the call
//! is `get_many_or_reload_tagged(_async)` and an async `one` is `get_gathered_or_reload_tagged`:
//! stale keys answer at once and reload apart from the call (a task, or the load pool for a
//! sync function), so the other parameters must be owned.
//!
//! Input:
//!
//! ```text
//! #[cached(batch, ttl = 60)]
//! pub async fn products(ids: &[u64], db: &Db) -> Result<HashMap<u64, Product>, DbError> { body }
//! ```
//!
//! Output:
//!
//! ```text
//! pub async fn products(ids: &[u64], db: &Db) -> Result<HashMap<u64, Product>, DbError> {
//!     same_keys::<u64, u64>();
//!     BatchOutput::from_map(products::__memo_cache().get_many_or_load_tagged_async(
//!         ids.iter().cloned(),
//!         no_tags,
//!         move |__memo_keys: Vec<u64>| {
//!             let db = Clone::clone(&db);
//!             async move { BatchOutput::into_map(products::__memo_body(&__memo_keys, db).await) }
//!         },
//!     ).await)
//! }
//! pub struct products {}
//! impl products {
//!     fn __memo_cache() -> &'static Cache<u64, Option<Product>> { /* a static cell */ }
//!     pub fn invalidate(key: &u64) -> bool { .. }
//!     pub fn invalidate_all() { .. }
//!     pub fn put(key: &u64, value: Product) { .. }
//!     pub fn stats() -> CacheStats { .. }
//!     async fn __memo_body(ids: &[u64], db: &Db) -> Result<HashMap<u64, Product>, DbError> { body }
//!     pub async fn one(key: u64, db: &Db) -> Result<Option<Product>, DbError> {
//!         BatchOutput::one(products::__memo_cache().get_gathered_tagged(key, no_tags, /* the same loader */).await)
//!     }
//! }
//! ```

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Pat, ReturnType, Type};

use super::config::Config;
use crate::boxed::Function;
use crate::errors::Errors;
use crate::subject::Place;

/// How the body takes the keys that missed, which the cache hands over as a `Vec<K>`.
enum Keys {
    /// `Vec<K>`: as they are.
    Owned,
    /// `&[K]` or `&Vec<K>`: by reference.
    Borrowed,
}

/// The function, checked, and its handle; or every error found.
pub(super) fn rewrite(
    config: &Config,
    function: &Function,
    place: Place,
    mut errors: Errors,
) -> syn::Result<(TokenStream, TokenStream)> {
    let func = &function.item;
    let sig = &func.sig;
    if function.boxed.is_some() || !matches!(place, Place::Free) || sig.receiver().is_some() {
        errors.spanned(
            &sig.ident,
            "`batch` goes on a free function for now: call it from the method, or cache one key per call without `batch`",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(&sig.generics, "a `batch` function has no generic parameters yet: give the types");
    }
    if let (Some(distributed), None) = (&config.distributed, &sig.asyncness) {
        errors.at(distributed.name.span(), "`distributed` needs an `async fn`: reading the L2 is asynchronous");
    }
    // Stale keys reload apart from the call (a task, or the load pool), after it has its answer.
    let reloads = config.stale.as_ref().map(|a| &a.name).or(config.early_refresh.as_ref().map(|a| &a.name));
    let returns = "a `batch` function returns `HashMap<K, V>` or `Result<HashMap<K, V>, E>` (or an alias of one): \
                   `-> Result<HashMap<u64, Product>, DbError>`";
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => Some(ty),
        ReturnType::Default => {
            errors.spanned(&sig.ident, returns);
            None
        }
    };
    if let Some(ret) = ret.filter(|ret| map_types(ret).is_none() && !maybe_alias(ret)) {
        errors.spanned(ret, returns);
    }
    let mut params = sig.inputs.iter().filter_map(|input| match input {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    });
    let keys = params.next();
    let kind = keys.and_then(|keys| keys_kind(&keys.ty));
    if kind.is_none() {
        let message = "a `batch` function takes its keys first, as `Vec<K>` or `&[K]`: `fn products(ids: &[u64])`";
        match keys {
            Some(keys) => errors.spanned(&keys.ty, message),
            None => errors.spanned(&sig.inputs, message),
        }
    }
    let others: Vec<_> = params.collect();
    for param in keys.into_iter().chain(others.iter().copied()) {
        if !matches!(&*param.pat, Pat::Ident(ident) if ident.subpat.is_none() && ident.by_ref.is_none()) {
            errors.spanned(&param.pat, "a `batch` function's parameters are plain names: destructure in the body");
        }
    }
    if let Some(reloads) = reloads {
        for param in others.iter().filter(|param| matches!(&*param.ty, Type::Reference(_))) {
            errors.spanned(
                &param.ty,
                format_args!(
                    "with `{reloads}`, a `batch` function's other parameters are owned, as stale keys reload after the call: take `{}` by value (cloned for each load)",
                    match &*param.ty {
                        Type::Reference(reference) => reference.elem.to_token_stream().to_string(),
                        _ => String::new(),
                    }
                ),
            );
        }
    }
    let (Some(ret), Some((kind, element)), Some(keys)) = (errors.finish(ret)?, kind, keys) else {
        return Err(syn::Error::new(sig.ident.span(), "`#[cached(batch)]` cannot rewrite this function"));
    };
    let krate = config.krate.as_ref().map_or_else(
        || quote!(::memo_runtime),
        |k| {
            let path = &k.value;
            quote!(#path)
        },
    );
    let p = quote!(#krate::__private);
    let ident = &sig.ident;
    let span = ret.span();
    let from_map = quote_spanned!(span=> <#ret as #p::BatchOutput>::from_map);
    let into_map = quote_spanned!(span=> <#ret as #p::BatchOutput>::into_map);
    // The key and value types as written, or through the return type when it is named another
    // way (a type alias): a type that is not a map is then reported there, by the trait.
    let (key, value) = match map_types(ret) {
        Some((key, value)) => (key.to_token_stream(), value.to_token_stream()),
        None => (
            quote_spanned!(span=> <#ret as #p::BatchOutput>::Key),
            quote_spanned!(span=> <#ret as #p::BatchOutput>::Value),
        ),
    };
    let pat = &keys.pat;
    let name = |pat: &Pat| match pat {
        Pat::Ident(ident) => ident.ident.clone(),
        other => syn::Ident::new("__memo_unreachable", other.span()),
    };
    let keys_name = name(pat);
    let (given, missed) = match kind {
        Keys::Owned => (quote!(#keys_name), quote!(__memo_keys)),
        Keys::Borrowed => (quote!(#keys_name.iter().cloned()), quote!(&__memo_keys)),
    };
    // The keys taken are the map's keys: a mismatch is first reported at the parameter.
    let same_keys = quote_spanned!(keys.ty.span()=> #p::same_keys::<#element, #key>(););
    let names: Vec<_> = others.iter().map(|param| name(&param.pat)).collect();
    // `tags_from`: the tags of each value found, as for a single-key function.
    let tags_from = match config.tags_from.as_ref().map(|a| &a.value) {
        Some(syn::Expr::Closure(closure)) if closure.inputs.len() == 1 => {
            let (pat, body) = (&closure.inputs[0], &closure.body);
            quote_spanned!(closure.span()=> |__memo_value: &_| { let #pat = __memo_value; #p::collect_tags(#body) })
        }
        Some(function) => {
            quote_spanned!(function.span()=> |__memo_value: &_| #p::collect_tags((#function)(__memo_value)))
        }
        None => quote!(#p::no_tags),
    };
    let is_async = sig.asyncness.is_some();
    // What runs the body for the keys that missed: the other parameters cloned for each run,
    // the user's body in `__memo_body`.
    let loader = if is_async {
        quote! {
            move |__memo_keys: ::std::vec::Vec<#key>| {
                #(let #names = ::core::clone::Clone::clone(&#names);)*
                async move { #into_map(#ident::__memo_body(#missed, #(#names),*).await) }
            }
        }
    } else {
        quote! {
            move |__memo_keys: ::std::vec::Vec<#key>| {
                #(let #names = ::core::clone::Clone::clone(&#names);)*
                #into_map(#ident::__memo_body(#missed, #(#names),*))
            }
        }
    };
    let (get_many, wait) = match (is_async, reloads.is_some()) {
        (true, true) => (quote!(get_many_or_reload_tagged_async), quote!(.await)),
        (true, false) => (quote!(get_many_or_load_tagged_async), quote!(.await)),
        (false, true) => (quote!(get_many_or_reload_tagged), quote!()),
        (false, false) => (quote!(get_many_or_load_tagged), quote!()),
    };
    let call = quote! {
        #same_keys
        #from_map(#ident::__memo_cache().#get_many(#given, #tags_from, #loader) #wait)
    };
    // The parameters are used by the body's function only: here they need no `mut`.
    let mut sig = sig.clone();
    for input in &mut sig.inputs {
        if let FnArg::Typed(typed) = input
            && let Pat::Ident(ident) = &mut *typed.pat
        {
            ident.mutability = None;
        }
    }
    let (attrs, vis) = (&func.attrs, &func.vis);
    let function = quote!(#(#attrs)* #vis #sig { #call });
    // `one(key, ..)`: one key, gathered with the calls of its request scope (async).
    let one_output = quote_spanned!(span=> <#ret as #p::BatchOutput>::One);
    let one_from = quote_spanned!(span=> <#ret as #p::BatchOutput>::one);
    let other_inputs = sig.inputs.iter().skip(1);
    let one_body = if is_async {
        let gathered = match reloads {
            Some(_) => quote!(get_gathered_or_reload_tagged),
            None => quote!(get_gathered_tagged),
        };
        quote!(#one_from(#ident::__memo_cache().#gathered(key, #tags_from, #loader).await))
    } else {
        quote! {
            let __memo_found = #ident::__memo_cache().#get_many([::core::clone::Clone::clone(&key)], #tags_from, #loader);
            #one_from(__memo_found.map(|mut __memo_found| __memo_found.remove(&key)))
        }
    };
    let asyncness = &func.sig.asyncness;
    let fn_name = ident.to_string();
    let one_doc = if is_async {
        format!(
            "[`{fn_name}()`] for one key: inside a request scope, the calls of `one` made at the same time go to the \
             cache as one batch (the round closes when the first call's task has turned once)."
        )
    } else {
        format!("[`{fn_name}()`] for one key.")
    };
    let (body_inputs, block) = (&func.sig.inputs, &func.block);
    let extra = quote! {
        #[doc(hidden)]
        #asyncness fn __memo_body(#body_inputs) -> #ret #block
        #[doc = #one_doc]
        #vis #asyncness fn one(key: #key, #(#other_inputs),*) -> #one_output {
            #one_body
        }
    };
    Ok((function, handle(config, func, &p, (&key, &value), extra)))
}

/// `Vec<K>` or a reference to a slice or a `Vec`: how the body takes its keys, and `K`.
fn keys_kind(ty: &Type) -> Option<(Keys, &Type)> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_none() => match &*reference.elem {
            Type::Slice(slice) => Some((Keys::Borrowed, &slice.elem)),
            elem => Some((Keys::Borrowed, generic_args(elem, "Vec")?.first()?)),
        },
        ty => Some((Keys::Owned, generic_args(ty, "Vec")?.first()?)),
    }
}

/// `K` and `V` of `HashMap<K, V>` or `Result<HashMap<K, V>, E>`, as written (the handle's
/// signatures show them so).
fn map_types(ty: &Type) -> Option<(&Type, &Type)> {
    if let Some([key, value, ..]) = generic_args(ty, "HashMap").as_deref() {
        return Some((key, value));
    }
    map_types(generic_args(ty, "Result")?.first()?)
}

/// Whether a return type that is not written as a map may name one another way (a type alias,
/// checked by the compiler then): a path that is none of std's other containers.
fn maybe_alias(ty: &Type) -> bool {
    const NOT_MAPS: [&str; 10] =
        ["Vec", "Option", "String", "Box", "Arc", "Rc", "BTreeMap", "HashSet", "BTreeSet", "VecDeque"];
    let Type::Path(path) = ty else { return false };
    path.qself.is_none()
        && path.path.segments.last().is_some_and(|last| !NOT_MAPS.iter().any(|name| last.ident == name))
}

/// The type arguments of a path type whose last segment is `name`.
fn generic_args<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last().filter(|s| path.qself.is_none() && s.ident == name)?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    Some(
        args.args
            .iter()
            .filter_map(|arg| if let syn::GenericArgument::Type(ty) = arg { Some(ty) } else { None })
            .collect(),
    )
}

/// The handle: the cache accessor and `invalidate`, `invalidate_all`, `put`, `stats` per key.
fn handle(
    config: &Config,
    func: &syn::ItemFn,
    p: &TokenStream,
    (key, value): (&TokenStream, &TokenStream),
    extra: TokenStream,
) -> TokenStream {
    let (ident, vis) = (&func.sig.ident, &func.vis);
    let fn_name = ident.to_string();
    let name = match &config.name {
        Some(name) => {
            let name = &name.value;
            quote!(#name)
        }
        None => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
    };
    let ms = |v: u64| quote!(::core::time::Duration::from_millis(#v));
    let ttl = config.ttl.as_ref().map(|a| ms(a.value)).map(|d| quote!(.ttl(#d)));
    let jitter = config.jitter.as_ref().map(|a| ms(a.value)).map(|d| quote!(.jitter(#d)));
    let negative = config.negative_ttl.as_ref().map(|a| ms(a.value)).map(|d| quote!(.negative_ttl(#d)));
    let capacity = config.capacity.as_ref().map(|a| a.value).map(|c| quote!(.capacity(#c)));
    let max_bytes = config.max_bytes.as_ref().map(|a| a.value).map(|b| quote!(.max_bytes(#b)));
    let version = config.version.as_ref().map(|a| a.value).map(|v| quote!(.version(#v)));
    let stale = config.stale.as_ref().map(|a| ms(a.value)).map(|d| quote!(.stale(#d)));
    let stale_if_error = config.stale_if_error.as_ref().map(|a| ms(a.value)).map(|d| quote!(.stale_if_error(#d)));
    let retry_after = config.retry_after.as_ref().map(|a| ms(a.value)).map(|d| quote!(.retry_after(#d)));
    let early_refresh = config.early_refresh.as_ref().map(|a| a.value).map(|beta| quote!(.early_refresh(#beta)));
    // `distributed`: the cache reads through the L2, its key and value types checked to
    // serialize, each reported at its type (once: a failed check leaves nothing to check next).
    let cache = match config.distributed {
        Some(_) => {
            let key_checked = quote_spanned!(key.span()=> #p::L2Key(__memo_cache).serializable());
            let value_checked = quote_spanned!(value.span()=> __memo_cache.through_l2());
            quote!(let __memo_cache = #key_checked; #value_checked)
        }
        None => quote!(__memo_cache),
    };
    let doc =
        format!("Handle of the batch function [`{fn_name}()`]: invalidation, write-through and statistics, per key.");
    let invalidate = format!("Removes what [`{fn_name}()`] cached for this key; true if there was something.");
    let invalidate_all = format!("Removes everything [`{fn_name}()`] cached.");
    let put = format!("Stores `value` as what [`{fn_name}()`] finds for this key (write-through after an update).");
    let stats = format!("Statistics of [`{fn_name}()`]'s cache.");
    quote! {
        #[doc = #doc]
        #[allow(non_camel_case_types, dead_code)]
        #[non_exhaustive]
        #vis struct #ident {}
        impl #ident {
            #[doc(hidden)]
            #vis fn __memo_cache() -> &'static #p::Cache<#key, ::core::option::Option<#value>> {
                static __MEMO_CELL: #p::CacheCell = #p::CacheCell::new();
                let __memo_cache = __MEMO_CELL
                    .with(|| {
                        #p::builder(#name) #version #ttl #jitter #negative #stale #early_refresh
                            #stale_if_error #retry_after #capacity #max_bytes
                    })
                    .get_or_init();
                #cache
            }
            #[doc = #invalidate]
            #[inline]
            #vis fn invalidate(key: &#key) -> bool {
                #ident::__memo_cache().invalidate(key)
            }
            #[doc = #invalidate_all]
            #[inline]
            #vis fn invalidate_all() {
                #ident::__memo_cache().invalidate_all()
            }
            #[doc = #put]
            #[inline]
            #vis fn put(key: &#key, value: #value) {
                #ident::__memo_cache().insert(::core::clone::Clone::clone(key), ::core::option::Option::Some(value))
            }
            #[doc = #stats]
            #[inline]
            #vis fn stats() -> #p::CacheStats {
                #ident::__memo_cache().stats()
            }
            #extra
        }
    }
}
