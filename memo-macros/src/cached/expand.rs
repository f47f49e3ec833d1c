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
///     // The key first (the arguments are borrowed for it), then the load, which takes them.
///     price::__memo_site(Call).key((&id,)).get_or_run(move || -> Result<u32, DbError> { body })
/// }
/// pub struct price { .. }
/// impl price {
///     fn __memo_site<V: Visit<(&u64,), R>>(visit: V) -> V::Out<impl Parts<R> + use<V>> {
///         static CELL: CacheCell = CacheCell::new();
///         let __memo_shape = Cacheable((&&&Select::<Result<u32, DbError>>::new()).shape()).checked();
///         let __memo_key_fn = |(id,): (&u64,)| KeyArgument::<u64>(id).cache_key_part();
///         visit.visit(Site(__memo_shape, __memo_key_fn, tags_from, CELL.with(|| builder)))
///     }
///     pub fn invalidate(id: &u64) -> bool { price::__memo_site(Invalidate((id,))) }
///     pub fn invalidate_all() { price::__memo_site(InvalidateAll) }
///     pub fn put(id: &u64, value: Result<u32, DbError>) { price::__memo_site(Put((id,), value, tags)) }
///     pub fn refresh(id: u64, db: &Db) -> Result<u32, DbError> { sync_refresh(|| price(id, db)) }
///     pub fn stats() -> CacheStats { price::__memo_site(Stats) }
/// }
/// ```
///
/// A function with tags, stale values, a timeout, `distributed` or `request_consistent`, or in
/// an `impl` block, makes its own shape and key closure and asks the accessor for the slot
/// (`GetSlot`): `price::__memo_site(GetSlot).cache(&__memo_key_fn, __memo_shape).get_or_make(
/// __memo_key_fn((&id,)), __memo_shape, move || Load::new(..).tags(..))`.
pub(crate) fn expand(plan: &Plan<'_>) -> (TokenStream, TokenStream) {
    let subject = &plan.subject;
    let func = subject.func;
    let p = codegen::private(subject);
    let ident = &func.sig.ident;
    let names = Names::new(plan);
    let site = &names.site;
    let prelude = codegen::prelude(subject);
    let key_use = if plan.settings.distributed { KeyUse::Distributed } else { KeyUse::Cache };
    let key_fn = codegen::key_fn(subject, key_use);
    // A value that cannot be kept in the L2 is reported once, at the return type.
    let l2_shape = plan.settings.distributed.then(|| {
        let check = quote_spanned!(subject.ret.span()=> #p::L2Shape(__memo_shape).serializable());
        quote!(let __memo_shape = #check;)
    });
    let call_args = codegen::call_args(subject, KeySource::Function);
    // The L1 cache, or for a `distributed` function the L1 reading through the L2 beneath it.
    // (The key and the value were checked to serialize where they were made, at their types.)
    let through_l2 = plan.settings.distributed.then(|| quote!(.through_l2()));
    let cache = quote!(#site(#p::GetSlot).cache(&__memo_key_fn, __memo_shape) #through_l2);
    let lookup = if plan.settings.request_consistent {
        request_consistent(plan, &cache, &quote!(__memo_key_fn(#call_args)))
    } else {
        load(plan, &cache, &quote!(__memo_key_fn(#call_args)))
    };
    let function = if compact(plan) {
        // The body alone, with the accessor's key function and shape: the key first (the
        // arguments are borrowed for it only), then the load, which takes them.
        let loader = codegen::loader(subject, false);
        let run = if subject.is_async { quote!(get_or_run_async(#loader).await) } else { quote!(get_or_run(#loader)) };
        codegen::function(subject, quote!(#site(#p::Call).key(#call_args).#run))
    } else {
        codegen::function(
            subject,
            quote! {
                #prelude
                #l2_shape
                let __memo_key_fn = #key_fn;
                #lookup
            },
        )
    };
    let handle = handle(plan, &names, &p);
    if subject.associated {
        (function, handle)
    } else {
        let vis = &func.vis;
        let doc = format!("Handle of the cached function [`{ident}()`]: invalidation, write-through and statistics.");
        // Generic over the function's type parameters: `load::<User>::invalidate(&id)`.
        let types = subject.type_params();
        let (impl_generics, fields, where_clause) = if types.is_empty() {
            (None, quote!({}), None)
        } else {
            let (impl_generics, _, _) = func.sig.generics.split_for_impl();
            let mut where_clause = codegen::static_types(subject);
            where_clause.predicates.extend(func.sig.generics.where_clause.iter().flat_map(|w| w.predicates.clone()));
            let fields = quote!({ __memo_types: ::core::marker::PhantomData<fn() -> (#(#types,)*)> });
            (Some(impl_generics), fields, Some(where_clause))
        };
        let generics = (!types.is_empty()).then(|| quote!(<#(#types),*>));
        let handle = quote! {
            #[doc = #doc]
            #[allow(non_camel_case_types, dead_code)]
            #[non_exhaustive]
            #vis struct #ident #generics #fields
            impl #impl_generics #ident #generics #where_clause {
                #handle
            }
        };
        (function, handle)
    }
}

/// Whether the function is a free function whose body is its whole load (no tags, stale values
/// or timeout), kept in the L1 alone and outside the request memo: its call needs nothing but
/// the site's key function and shape.
fn compact(plan: &Plan<'_>) -> bool {
    let settings = &plan.settings;
    !plan.subject.associated && !settings.distributed && !settings.request_consistent && bare(plan)
}

/// Whether the load is the body alone: no tags to compute, nothing to run in the background.
fn bare(plan: &Plan<'_>) -> bool {
    plan.tagging.exprs.is_empty() && plan.tagging.from_value.is_none() && !plan.settings.background
}

/// The one load call: a [`Load`] of the body, with the tags from the arguments computed in it
/// (on a miss only, before the body takes the arguments), the tags from the value, and, when
/// loads may outlive the call (`stale`, `early_refresh`, `timeout`), `background()` and the
/// timeout's answer.
///
/// Input: the cache and key expressions (the loader, `move || -> R { body }` or
/// `async move { body }`, is made here).
/// Output: `Keyed::new(cache, key, shape).get_or_run(move || -> R { body })` for a body alone,
/// `cache.get_or_make(key, shape, move || Load::new(shape, move || -> R { body }).tags(..))`,
/// or for example `cache.get_or_make_async(key, shape, move || Load::tagged_body(shape, async
/// move { (tags, body.await) }).tags_from(derive).background()).await`: the load is made on a
/// miss only, so a hit builds nothing of it.
fn load(plan: &Plan<'_>, cache: &TokenStream, key: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let p = codegen::private(subject);
    if bare(plan) {
        // The body alone: the cache runs it as it is, with nothing to make on a miss.
        let loader = codegen::loader(subject, false);
        return if subject.is_async {
            quote!(#p::Keyed::new(#cache, #key, __memo_shape).get_or_run_async(#loader).await)
        } else {
            quote!(#p::Keyed::new(#cache, #key, __memo_shape).get_or_run(#loader))
        };
    }
    let body = if plan.tagging.exprs.is_empty() {
        let loader = codegen::loader(subject, false);
        quote!(#p::Load::new(__memo_shape, #loader))
    } else {
        // Tags may name a pattern parameter's bindings: they are bound before the tags.
        let tags = arg_tags(plan);
        let destructure = codegen::destructure(subject);
        let loader = codegen::loader(subject, true);
        let tagged = if subject.is_async {
            quote!(async move { #destructure let __memo_tags = #tags; (__memo_tags, #loader.await) })
        } else {
            quote!(move || { #destructure let __memo_tags = #tags; (__memo_tags, (#loader)()) })
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
        quote!(#cache.get_or_make_async(#key, __memo_shape, move || #load).await)
    } else {
        quote!(#cache.get_or_make(#key, __memo_shape, move || #load))
    }
}

/// Wraps the cache lookup in the request memo: inside a request scope, the first answer for a
/// key is the answer for the rest of the request.
///
/// Output: `let key = ..; request_memo(&SITE, Some(key.clone()) if in a scope, shape, move ||
/// cache.get_or_load(key, ..))`.
fn request_consistent(plan: &Plan<'_>, cache: &TokenStream, key: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let p = codegen::private(subject);
    let ret = &subject.ret;
    let fn_name = subject.func.sig.ident.to_string();
    let name = match &plan.settings.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
    };
    let lookup = load(plan, cache, &quote!(__memo_key));
    let memo = if subject.is_async {
        quote!(#p::request_memo_async(&__MEMO_SITE, __memo_scoped, __memo_shape, async move { #lookup }).await)
    } else {
        quote!(#p::request_memo(&__MEMO_SITE, __memo_scoped, __memo_shape, move || -> #ret { #lookup }))
    };
    quote! {
        static __MEMO_SITE: #p::MemoSite = #p::MemoSite::over_cache(#name);
        let __memo_key = #key;
        let __memo_scoped = #p::in_scope().then(|| ::core::clone::Clone::clone(&__memo_key));
        #memo
    }
}
