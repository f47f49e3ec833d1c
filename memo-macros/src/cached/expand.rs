//! Code generation for `#[cached]`: the plan in, the cached function and its handle out.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::plan::{Key, Plan};
use super::signature::Receiver;

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
    let func = plan.func;
    let p = private(plan);
    let ret = &plan.ret;
    let ident = &func.sig.ident;
    let names = Names::new(plan);
    let accessor = &names.accessor;
    let prelude = prelude(plan);
    let key_fn = key_fn(plan);
    let call_args = call_args(plan, KeySource::Function);
    let block = &func.block;
    let load = if plan.is_async {
        quote! {
            // A hit returns without building the loader's future.
            if let ::core::option::Option::Some(__memo_hit) = __memo_cache.hit(&__memo_key, __memo_shape) {
                return __memo_hit;
            }
            __memo_cache.load_async(__memo_key, __memo_shape, async move #block).await
        }
    } else {
        quote!(__memo_cache.get_or_load(__memo_key, __memo_shape, move || -> #ret #block))
    };
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
    if plan.associated {
        quote!(#function #handle)
    } else {
        let vis = &func.vis;
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
        let ident = &plan.func.sig.ident;
        if plan.associated {
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

fn private(plan: &Plan<'_>) -> TokenStream {
    let krate = &plan.krate;
    quote!(#krate::__private)
}

/// Brings the shape selectors into scope and picks the shape of the return type.
fn prelude(plan: &Plan<'_>) -> TokenStream {
    let p = private(plan);
    let ret = &plan.ret;
    let check = quote_spanned!(ret.span()=> #p::assert_cacheable(&__memo_shape));
    quote! {
        #[allow(unused_imports)]
        use #p::select::{SelectOption as _, SelectPlain as _, SelectResult as _, SelectResultOption as _};
        let __memo_shape = (&&&#p::Select::<#ret>::new()).shape();
        #check;
    }
}

/// The closure that builds a key from borrowed arguments:
/// `|(a, b): (&A, &str)| (Clone::clone(a), ToOwned::to_owned(b))`.
fn key_fn(plan: &Plan<'_>) -> TokenStream {
    let p = private(plan);
    let (indices, uses_self) = key_inputs(plan);
    let mut pats = Vec::new();
    let mut tys = Vec::new();
    if uses_self {
        pats.push(quote!(__memo_self));
        tys.push(quote!(&Self));
    }
    for &i in indices {
        let param = &plan.params[i];
        let ident = param.ident.as_ref();
        pats.push(quote!(#ident));
        tys.push(param.borrowed_type());
    }
    let body = match &plan.key {
        Key::Params(indices) => {
            let parts: Vec<TokenStream> = indices
                .iter()
                .map(|&i| {
                    let param = &plan.params[i];
                    let ident = param.ident.as_ref();
                    let ty = param.key_source_type();
                    quote_spanned!(param.ty.span()=> <#ty as #p::KeyPart>::key_part(#ident))
                })
                .collect();
            if parts.len() == 1 { quote!(#(#parts)*) } else { quote!((#(#parts,)*)) }
        }
        Key::Expr { expr, params, .. } => {
            let rebinds = params.iter().filter_map(|&i| {
                let param = &plan.params[i];
                let ident = param.ident.as_ref()?;
                param.referent.is_none().then(|| quote!(let #ident = ::core::clone::Clone::clone(#ident);))
            });
            let key = quote_spanned!(expr.span()=> #p::KeyExpr::into_key(#expr));
            quote!({ #(#rebinds)* #key })
        }
    };
    quote!(|(#(#pats,)*): (#(#tys,)*)| #body)
}

/// The parameters the key closure takes, and whether it takes `self`.
fn key_inputs<'p>(plan: &'p Plan<'_>) -> (&'p [usize], bool) {
    match &plan.key {
        Key::Params(indices) => (indices, false),
        Key::Expr { params, uses_self, .. } => (params, *uses_self),
    }
}

#[derive(Clone, Copy)]
enum KeySource {
    /// Inside the cached function: arguments are owned or borrowed as declared.
    Function,
    /// Inside a handle function: every key argument is already a reference.
    Handle,
}

/// The tuple passed to the key closure.
fn call_args(plan: &Plan<'_>, source: KeySource) -> TokenStream {
    let (indices, uses_self) = key_inputs(plan);
    let mut args = Vec::new();
    if uses_self {
        args.push(match (source, plan.receiver) {
            (KeySource::Handle, _) | (_, Some(Receiver::Ref)) => quote!(self),
            (_, Some(Receiver::Value)) => quote!(&self),
            (_, Some(Receiver::Typed) | None) => quote!(&*self),
        });
    }
    for &i in indices {
        let param = &plan.params[i];
        let ident = param.ident.as_ref();
        args.push(match (source, &param.referent) {
            (KeySource::Handle, _) => quote!(#ident),
            (KeySource::Function, Some(_)) => quote!(&*#ident),
            (KeySource::Function, None) => quote!(&#ident),
        });
    }
    quote!((#(#args,)*))
}

/// The handle's functions (and the cache accessor they and the function share).
fn handle(plan: &Plan<'_>, names: &Names, p: &TokenStream) -> TokenStream {
    let ret = &plan.ret;
    let vis = &plan.func.vis;
    let fn_name = plan.func.sig.ident.to_string();
    let builder = builder(plan, p);
    let Names { accessor, accessor_def, invalidate, invalidate_all, put, stats } = names;
    let prelude = prelude(plan);
    let key_fn = key_fn(plan);
    let call_args = call_args(plan, KeySource::Handle);
    let (indices, uses_self) = key_inputs(plan);
    let self_param = uses_self.then(|| quote!(&self,));
    let params: Vec<TokenStream> = indices
        .iter()
        .map(|&i| {
            let param = &plan.params[i];
            let ident = param.ident.as_ref();
            let ty = param.borrowed_type();
            quote!(#ident: #ty)
        })
        .collect();
    let subject = if plan.associated { format!("[`Self::{fn_name}`]") } else { format!("[`{fn_name}()`]") };
    let doc_invalidate = format!("Removes the value {subject} cached for these arguments; true if there was one.");
    let doc_invalidate_all = format!("Removes every value {subject} cached.");
    let doc_put = format!(
        "Stores `value` as what {subject} returns for these arguments (write-through after an update). \
         Errors are not stored; negative values only with `negative_ttl`."
    );
    let doc_stats = format!("Statistics of {subject}'s cache.");
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
        #vis fn #put(#self_param #(#params,)* value: #ret) {
            #prelude
            let __memo_key_fn = #key_fn;
            let __memo_key = __memo_key_fn(#call_args);
            #p::put(#accessor(&__memo_key_fn, __memo_shape), __memo_key, __memo_shape, value);
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
    let fn_name = plan.func.sig.ident.to_string();
    let name = match (&s.name, plan.associated) {
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
    let version = s.version.map(|v| quote!(.version(#v)));
    quote!(<#p::CacheBuilder as ::core::default::Default>::default().name(#name) #version #ttl #jitter #negative #capacity)
}
