//! Code generation for `#[cached]`: the plan in, the cached function and its handle out.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::plan::Plan;
use crate::codegen::{self, KeySource};

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
///     let __memo_key_fn = |(id,): (&u64,)| <u64 as KeyPart>::key_part(id);
///     let __memo_key = __memo_key_fn((&id,));
///     price::__memo_cache(&__memo_key_fn, __memo_shape)
///         .get_or_load(__memo_key, __memo_shape, move || -> Result<u32, DbError> { body })
/// }
/// pub struct price { .. }
/// impl price {
///     fn __memo_cache(..) -> &'static Cache<K, S::Stored> { static CELL: CacheCell = ..; .. }
///     pub fn invalidate(id: &u64) -> bool { .. }
///     pub fn invalidate_all() { .. }
///     pub fn put(id: &u64, value: Result<u32, DbError>) { .. }
///     pub fn stats() -> CacheStats { .. }
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
    let key_fn = codegen::key_fn(subject);
    let call_args = codegen::call_args(subject, KeySource::Function);
    let loader = codegen::loader(subject);
    let load = if plan.settings.distributed {
        distributed_load(plan, &loader)
    } else if plan.settings.detached {
        detached_load(plan, &loader)
    } else if plan.tagging.is_empty() {
        if subject.is_async {
            quote! {
                // A hit returns without building the loader's future.
                if let ::core::option::Option::Some(__memo_hit) = __memo_cache.hit(&__memo_key, __memo_shape) {
                    return __memo_hit;
                }
                __memo_cache.load_async(__memo_key, __memo_shape, #loader).await
            }
        } else {
            quote!(__memo_cache.get_or_load(__memo_key, __memo_shape, #loader))
        }
    } else {
        tagged_load(plan, &loader)
    };
    let load = if plan.settings.request_consistent { request_consistent(plan, &load) } else { load };
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    let function = quote! {
        #(#attrs)*
        #vis #sig {
            #prelude
            let __memo_key_fn = #key_fn;
            let __memo_key = __memo_key_fn(#call_args);
            let __memo_cache = #accessor(&__memo_key_fn, __memo_shape);
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

/// The load path of a tagged function: the tags from the arguments are computed when a load
/// starts (on a miss only), before the body takes the arguments.
///
/// Input: the loader `move || -> R { body }` (or `async move { body }`).
/// Output: `get_or_load_tagged(key, shape, derive, move || (vec![tag(..)], (move || -> R { body })()))`.
fn tagged_load(plan: &Plan<'_>, loader: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let tags = arg_tags(plan);
    let derive = derive_tags(plan);
    if subject.is_async {
        quote! {
            if let ::core::option::Option::Some(__memo_hit) = __memo_cache.hit(&__memo_key, __memo_shape) {
                return __memo_hit;
            }
            __memo_cache
                .load_async_tagged(__memo_key, __memo_shape, #derive, async move {
                    let __memo_tags = #tags;
                    (__memo_tags, #loader.await)
                })
                .await
        }
    } else {
        quote! {
            __memo_cache.get_or_load_tagged(__memo_key, __memo_shape, #derive, move || {
                let __memo_tags = #tags;
                (__memo_tags, (#loader)())
            })
        }
    }
}

/// The load path when loads may outlive the call (`stale`, `early_refresh`, `timeout`): the
/// loader owns the arguments and may run on another thread or task.
///
/// Input: the loader `move || -> R { body }` (or `async move { body }`).
/// Output: `get_or_load_detached(key, shape, derive, on_timeout, move || (tags, loader()))`, or
/// for an async function `get_or_load_detached_async(.., move || async move { (tags, body.await) })`.
fn detached_load(plan: &Plan<'_>, loader: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let tags = arg_tags(plan);
    let derive = derive_tags(plan);
    let on_timeout = on_timeout(plan);
    if subject.is_async {
        quote! {
            if let ::core::option::Option::Some(__memo_hit) = __memo_cache.hit(&__memo_key, __memo_shape) {
                return __memo_hit;
            }
            __memo_cache
                .get_or_load_detached_async(__memo_key, __memo_shape, #derive, #on_timeout, move || async move {
                    let __memo_tags = #tags;
                    (__memo_tags, #loader.await)
                })
                .await
        }
    } else {
        quote! {
            __memo_cache.get_or_load_detached(__memo_key, __memo_shape, #derive, #on_timeout, move || {
                let __memo_tags = #tags;
                (__memo_tags, (#loader)())
            })
        }
    }
}

/// The load path of a `distributed` (async) function: L1, then the L2, then the body.
///
/// Input: the loader `async move { body }`.
/// Output: `get_or_load_distributed(key, shape, derive, async move { (tags, body.await) })`,
/// after checks that the key and value types serialize, spanned at the name and return type.
fn distributed_load(plan: &Plan<'_>, loader: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let p = codegen::private(subject);
    let tags = arg_tags(plan);
    let derive = derive_tags(plan);
    let key_check = quote_spanned!(subject.func.sig.ident.span()=> #p::assert_distributed_key(&__memo_key));
    let value_check = quote_spanned!(subject.ret.span()=> #p::assert_distributed_value(&__memo_shape));
    let load = if plan.settings.detached {
        let on_timeout = on_timeout(plan);
        quote! {
            __memo_cache
                .get_or_load_distributed_detached(__memo_key, __memo_shape, #derive, #on_timeout, move || async move {
                    let __memo_tags = #tags;
                    (__memo_tags, #loader.await)
                })
                .await
        }
    } else {
        quote! {
            __memo_cache
                .get_or_load_distributed(__memo_key, __memo_shape, #derive, async move {
                    let __memo_tags = #tags;
                    (__memo_tags, #loader.await)
                })
                .await
        }
    };
    quote! {
        #key_check;
        #value_check;
        if let ::core::option::Option::Some(__memo_hit) = __memo_cache.hit(&__memo_key, __memo_shape) {
            return __memo_hit;
        }
        #load
    }
}

/// `Some(<R as FromTimeout>::from_timeout)` with a `timeout`, spanned at the return type, else
/// `None`.
fn on_timeout(plan: &Plan<'_>) -> TokenStream {
    let p = codegen::private(&plan.subject);
    let ret = &plan.subject.ret;
    if plan.settings.timeout_ms.is_some() {
        let from_timeout = quote_spanned!(ret.span()=> <#ret as #p::FromTimeout>::from_timeout);
        quote!(::core::option::Option::Some(#from_timeout as fn(#p::LoadTimeout) -> #ret))
    } else {
        quote!(::core::option::Option::None)
    }
}

/// `vec![tag(expr), ..]` for `tags = [..]`, each conversion spanned at its expression.
fn arg_tags(plan: &Plan<'_>) -> TokenStream {
    let p = codegen::private(&plan.subject);
    let tags = plan.tagging.exprs.iter().map(|expr| quote_spanned!(expr.span()=> #p::tag(#expr)));
    quote!(::std::vec![#(#tags),*])
}

/// The closure that adds tags from the value (`tags_from`), or one that adds none.
fn derive_tags(plan: &Plan<'_>) -> TokenStream {
    let p = codegen::private(&plan.subject);
    match &plan.tagging.from_value {
        // A closure literal is inlined, so the tags are collected while the borrow of the value
        // lives (a closure returning an iterator over its argument cannot be typed on its own).
        Some(syn::Expr::Closure(closure)) if closure.inputs.len() == 1 => {
            let pat = &closure.inputs[0];
            let body = &closure.body;
            quote_spanned!(closure.span()=> |__memo_value: &_| { let #pat = __memo_value; #p::collect_tags(#body) })
        }
        Some(function) => {
            quote_spanned!(function.span()=> |__memo_value: &_| #p::collect_tags((#function)(__memo_value)))
        }
        None => quote!(#p::no_tags),
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

/// Names of the generated handle functions: `invalidate` inside the handle type for a free
/// function, `{method}_invalidate` beside a method.
struct Names {
    accessor: TokenStream,
    accessor_def: Ident,
    invalidate: Ident,
    invalidate_all: Ident,
    put: Ident,
    stats: Ident,
}

impl Names {
    fn new(plan: &Plan<'_>) -> Self {
        let ident = &plan.subject.func.sig.ident;
        if plan.subject.associated {
            let accessor_def = format_ident!("__memo_cache_{}", ident);
            Self {
                accessor: quote!(Self::#accessor_def),
                accessor_def,
                invalidate: format_ident!("{}_invalidate", ident),
                invalidate_all: format_ident!("{}_invalidate_all", ident),
                put: format_ident!("{}_put", ident),
                stats: format_ident!("{}_stats", ident),
            }
        } else {
            Self {
                accessor: quote!(#ident::__memo_cache),
                accessor_def: format_ident!("__memo_cache"),
                invalidate: format_ident!("invalidate"),
                invalidate_all: format_ident!("invalidate_all"),
                put: format_ident!("put"),
                stats: format_ident!("stats"),
            }
        }
    }
}

/// The handle's functions (and the cache accessor they and the function share).
fn handle(plan: &Plan<'_>, names: &Names, p: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let ret = &subject.ret;
    let vis = &subject.func.vis;
    let fn_name = subject.func.sig.ident.to_string();
    let builder = builder(plan, p);
    let Names { accessor, accessor_def, invalidate, invalidate_all, put, stats } = names;
    let prelude = codegen::prelude(subject);
    let key_fn = codegen::key_fn(subject);
    let call_args = codegen::call_args(subject, KeySource::Handle);
    let (indices, uses_self) = subject.key_inputs();
    let self_param = uses_self.then(|| quote!(&self,));
    let typed = |&i: &usize| {
        let param = &subject.params[i];
        let ident = param.ident.as_ref();
        let ty = param.borrowed_type();
        quote!(#ident: #ty)
    };
    let params: Vec<TokenStream> = indices.iter().map(typed).collect();
    // `put` also takes what the tag expressions name, and `&self` if they read it.
    let mut put_indices: Vec<usize> = indices.iter().chain(&plan.tagging.params).copied().collect();
    put_indices.sort_unstable();
    put_indices.dedup();
    let put_params: Vec<TokenStream> = put_indices.iter().map(typed).collect();
    let put_self = (uses_self || plan.tagging.uses_self).then(|| quote!(&self,));
    let tag_rebinds = plan.tagging.params.iter().filter_map(|&i| {
        let param = &subject.params[i];
        let ident = param.ident.as_ref()?;
        param.referent.is_none().then(|| quote!(let #ident = ::core::clone::Clone::clone(#ident);))
    });
    let tags = arg_tags(plan);
    let derive = derive_tags(plan);
    let target = if subject.associated { format!("[`Self::{fn_name}`]") } else { format!("[`{fn_name}()`]") };
    let doc_invalidate = format!("Removes the value {target} cached for these arguments; true if there was one.");
    let doc_invalidate_all = format!("Removes every value {target} cached.");
    let doc_put = format!(
        "Stores `value` as what {target} returns for these arguments (write-through after an update). \
         Errors are not stored; negative values only with `negative_ttl`."
    );
    let doc_stats = format!("Statistics of {target}'s cache.");
    quote! {
        #[doc(hidden)]
        #[inline(always)]
        #[allow(clippy::type_complexity)]
        #vis fn #accessor_def<__MemoArgs, __MemoKey: #p::CacheKey, __MemoShape: #p::Shape>(
            _key_fn: &impl ::core::ops::Fn(__MemoArgs) -> __MemoKey,
            _shape: __MemoShape,
        ) -> &'static #p::Cache<__MemoKey, __MemoShape::Stored> {
            static CELL: #p::CacheCell = #p::CacheCell::new();
            CELL.get_or_init(|| #builder)
        }

        #[doc = #doc_invalidate]
        #vis fn #invalidate(#self_param #(#params),*) -> bool {
            #prelude
            let __memo_key_fn = #key_fn;
            let __memo_key = __memo_key_fn(#call_args);
            #accessor(&__memo_key_fn, __memo_shape).invalidate(&__memo_key)
        }

        #[doc = #doc_invalidate_all]
        #vis fn #invalidate_all() {
            #prelude
            let __memo_key_fn = #key_fn;
            #accessor(&__memo_key_fn, __memo_shape).invalidate_all();
        }

        #[doc = #doc_put]
        #vis fn #put(#put_self #(#put_params,)* value: #ret) {
            #prelude
            let __memo_key_fn = #key_fn;
            let __memo_key = __memo_key_fn(#call_args);
            let __memo_tags = { #(#tag_rebinds)* #tags };
            #p::put(#accessor(&__memo_key_fn, __memo_shape), __memo_key, __memo_shape, value, __memo_tags, #derive);
        }

        #[doc = #doc_stats]
        #vis fn #stats() -> #p::CacheStats {
            #prelude
            let __memo_key_fn = #key_fn;
            #accessor(&__memo_key_fn, __memo_shape).stats()
        }
    }
}

/// The cache's configuration.
fn builder(plan: &Plan<'_>, p: &TokenStream) -> TokenStream {
    let s = &plan.settings;
    let fn_name = plan.subject.func.sig.ident.to_string();
    let name = match (&s.name, plan.subject.associated) {
        (Some(name), _) => quote!(#name),
        (None, false) => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
        (None, true) => quote!(::std::format!("{}::{}", ::core::any::type_name::<Self>(), #fn_name)),
    };
    let ms = |v: u64| quote!(::core::time::Duration::from_millis(#v));
    let ttl = s.ttl_ms.map(|v| {
        let d = ms(v);
        quote!(.time_to_live(#d))
    });
    let jitter = s.jitter_ms.map(|v| {
        let d = ms(v);
        quote!(.jitter(#d))
    });
    let negative = s.negative_ttl_ms.map(|v| {
        let d = ms(v);
        quote!(.negative_time_to_live(#d))
    });
    let capacity = s.capacity.map(|c| quote!(.max_capacity(#c)));
    let duration = |setter: TokenStream, v: Option<u64>| {
        v.map(|v| {
            let d = ms(v);
            quote!(.#setter(#d))
        })
    };
    let stale = duration(quote!(stale_while_revalidate), s.stale_ms);
    let stale_if_error = duration(quote!(stale_if_error), s.stale_if_error_ms);
    let retry_after = duration(quote!(retry_after), s.retry_after_ms);
    let timeout = duration(quote!(load_timeout), s.timeout_ms);
    let early_refresh = s.early_refresh.map(|beta| quote!(.early_refresh(#beta)));
    let version = s.version.map(|v| quote!(.version(#v)));
    quote! {
        <#p::CacheBuilder as ::core::default::Default>::default().name(#name) #version #ttl #jitter #negative #capacity
            #stale #stale_if_error #retry_after #timeout #early_refresh
    }
}
