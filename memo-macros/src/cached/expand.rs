//! Code generation for `#[cached]`: the plan in, the cached function and its handle out.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::handle::{Names, handle};
use super::parts::{arg_tags, derive_tags};
use super::plan::Plan;
use crate::codegen::{self, KeySource, KeyUse};

/// Input:
///
/// ```text
/// #[cached(ttl = 60)]
/// pub fn price(id: u64, db: &Db) -> Result<u32, DbError> { body }
/// ```
///
/// Output (free function; in an `impl` block the handle is `price_invalidate` etc.):
///
/// ```text
/// pub fn price(id: u64, db: &Db) -> Result<u32, DbError> {
///     let __memo_shape = (&&&Select::<Result<u32, DbError>>::new()).shape();
///     let __memo_key_fn = |(id,): (&u64,)| KeyArgument::<u64>(id).cache_key_part();
///     let __memo_key = __memo_key_fn((&id,));
///     price::__memo_cache(key_of(&__memo_key_fn), __memo_shape)
///         .get_or_load(__memo_key, Load::new(__memo_shape, move || -> Result<u32, DbError> { body }))
/// }
/// pub struct price { .. }
/// impl price {
///     fn __memo_cache(KeyOf<K>, S) -> &'static Cache<K, S::Stored> { static CELL: CacheCell = ..; .. }
///     fn __memo_site<V: Visit<(&u64,), R>>(visit: V) -> V::Out { /* shape, key closure */ visit.visit(..) }
///     pub fn invalidate(id: &u64) -> bool { price::__memo_site(Invalidate((id,))) }
///     pub fn invalidate_all() { price::__memo_site(InvalidateAll) }
///     pub fn put(id: &u64, value: Result<u32, DbError>) { price::__memo_site(Put { .. }) }
///     pub fn stats() -> CacheStats { price::__memo_site(Stats) }
/// }
/// ```
pub(crate) fn expand(plan: &Plan<'_>) -> TokenStream {
    let subject = &plan.subject;
    let func = subject.func;
    let p = codegen::private(subject);
    let ident = &func.sig.ident;
    let names = Names::new(plan);
    let accessor = &names.accessor;
    let prelude = codegen::prelude(subject);
    let key_use = if plan.settings.distributed { KeyUse::Distributed } else { KeyUse::Cache };
    let key_fn = codegen::key_fn(subject, key_use);
    // A value that cannot be kept in the L2 is reported once, at the return type.
    let l2_shape = plan.settings.distributed.then(|| {
        let check = quote_spanned!(subject.ret.span()=> #p::L2Shape(__memo_shape).serializable());
        quote!(let __memo_shape = #check;)
    });
    let call_args = codegen::call_args(subject, KeySource::Function);
    let loader = codegen::loader(subject);
    let load = if plan.settings.distributed { distributed_load(plan, &loader) } else { load(plan, &loader) };
    let load = if plan.settings.request_consistent { request_consistent(plan, &load) } else { load };
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    let function = quote! {
        #(#attrs)*
        #vis #sig {
            #prelude
            #l2_shape
            let __memo_key_fn = #key_fn;
            let __memo_key = __memo_key_fn(#call_args);
            let __memo_cache = #accessor(#p::key_of(&__memo_key_fn), __memo_shape);
            #load
        }
    };
    let handle = handle(plan, &names, &p);
    if subject.associated {
        quote!(#function #handle)
    } else {
        let doc = format!("Handle of the cached function [`{ident}()`]: invalidation, write-through and statistics.");
        quote! {
            #function
            #[doc = #doc]
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #ident {
                _private: (),
            }
            impl #ident {
                #handle
            }
        }
    }
}

/// The one load call: a [`Load`] of the body, with the tags from the arguments computed in it
/// (on a miss only, before the body takes the arguments), the tags from the value, and, when
/// loads may outlive the call (`stale`, `early_refresh`, `timeout`), `background()` and the
/// timeout's answer.
///
/// Input: the loader `move || -> R { body }` (or `async move { body }`).
/// Output: `cache.get_or_load(key, Load::new(shape, move || -> R { body }))`, or for example
/// `cache.get_or_load_async(key, Load::tagged_body(shape, async move { (tags, body.await) })
/// .tags_from(derive).background()).await`.
fn load(plan: &Plan<'_>, loader: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let p = codegen::private(subject);
    let body = if plan.tagging.exprs.is_empty() {
        quote!(#p::Load::new(__memo_shape, #loader))
    } else {
        let tags = arg_tags(plan);
        let tagged = if subject.is_async {
            quote!(async move { let __memo_tags = #tags; (__memo_tags, #loader.await) })
        } else {
            quote!(move || { let __memo_tags = #tags; (__memo_tags, (#loader)()) })
        };
        quote!(#p::Load::tagged_body(__memo_shape, #tagged))
    };
    let derive = plan.tagging.from_value.is_some().then(|| {
        let derive = derive_tags(plan);
        quote!(.tags_from(#derive))
    });
    let background = plan.settings.background.then(|| quote!(.background()));
    let on_timeout = plan.settings.timeout_ms.is_some().then(|| {
        let ret = &subject.ret;
        let answer = quote_spanned!(ret.span()=> <#ret as #p::FromTimeout>::from_timeout);
        quote!(.on_timeout(#answer))
    });
    let load = quote!(#body #derive #background #on_timeout);
    if subject.is_async {
        quote!(__memo_cache.get_or_load_async(__memo_key, #load).await)
    } else {
        quote!(__memo_cache.get_or_load(__memo_key, #load))
    }
}

/// The load of a `distributed` (async) function: the cache reads through the L2 beneath it.
/// (The key and the value were checked to serialize where they were made, at their types.)
///
/// Output: `cache.through_l2()`, then the one load call.
fn distributed_load(plan: &Plan<'_>, loader: &TokenStream) -> TokenStream {
    let load = load(plan, loader);
    quote! {
        let __memo_cache = __memo_cache.through_l2();
        #load
    }
}

/// Wraps the cache lookup in the request memo: inside a request scope, the first answer for a
/// key is the answer for the rest of the request.
///
/// Input: the lookup `L` (a block evaluating to the return value).
/// Output: `request_memo(&SITE, Some(key.clone()) if in a scope, shape, move || L)`.
fn request_consistent(plan: &Plan<'_>, lookup: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let p = codegen::private(subject);
    let ret = &subject.ret;
    let fn_name = subject.func.sig.ident.to_string();
    let name = match &plan.settings.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
    };
    let site = quote! {
        static __MEMO_SITE: #p::MemoSite = #p::MemoSite::over_cache(#name);
    };
    if subject.is_async {
        quote! {{
            #site
            let __memo_scoped = #p::in_scope().then(|| ::core::clone::Clone::clone(&__memo_key));
            #p::request_memo_async(&__MEMO_SITE, __memo_scoped, __memo_shape, async move { #lookup }).await
        }}
    } else {
        quote! {{
            #site
            let __memo_scoped = #p::in_scope().then(|| ::core::clone::Clone::clone(&__memo_key));
            #p::request_memo(&__MEMO_SITE, __memo_scoped, __memo_shape, move || -> #ret { #lookup })
        }}
    }
}
