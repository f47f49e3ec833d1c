//! The handle of a cached function: its site accessor, `invalidate`, `invalidate_all`, `put`,
//! `refresh` and `stats`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::parts::{arg_tags, builder, derive_tags};
use super::plan::Plan;
use crate::codegen::{self, KeySource};
use crate::subject::Place;

/// Names of the generated handle functions: `invalidate` inside the handle type for a free
/// function, `{method}_invalidate` beside a method.
pub(super) struct Names {
    pub(super) site: TokenStream,
    site_def: Ident,
    invalidate: Ident,
    invalidate_all: Ident,
    put: Ident,
    refresh: Ident,
    stats: Ident,
}

impl Names {
    pub(super) fn new(plan: &Plan<'_>) -> Self {
        let ident = &plan.subject.func.sig.ident;
        if plan.subject.associated {
            let site_def = format_ident!("__memo_site_{}", ident);
            Self {
                site: quote!(Self::#site_def),
                site_def,
                invalidate: format_ident!("{}_invalidate", ident),
                invalidate_all: format_ident!("{}_invalidate_all", ident),
                put: format_ident!("{}_put", ident),
                refresh: format_ident!("{}_refresh", ident),
                stats: format_ident!("{}_stats", ident),
            }
        } else {
            let types = plan.subject.type_params();
            let generics = (!types.is_empty()).then(|| quote!(::<#(#types),*>));
            Self {
                site: quote!(#ident #generics::__memo_site),
                site_def: format_ident!("__memo_site"),
                invalidate: format_ident!("invalidate"),
                invalidate_all: format_ident!("invalidate_all"),
                put: format_ident!("put"),
                refresh: format_ident!("refresh"),
                stats: format_ident!("stats"),
            }
        }
    }
}

/// The handle's functions and the one site accessor through which they and the function reach
/// the cache (with a visitor, see `__private::Visit`): the cache's slot and description, the
/// shape, the key closure and the tags from the value are written once for all of them.
pub(super) fn handle(plan: &Plan<'_>, names: &Names, p: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let ret = &subject.ret;
    let vis = subject.companion_vis();
    let fn_name = subject.func.sig.ident.to_string();
    let builder = builder(plan, p);
    let Names { site, site_def, invalidate, invalidate_all, put, refresh, stats } = names;
    let prelude = codegen::prelude(subject);
    let key_fn = codegen::key_fn(subject, codegen::KeyUse::Cache);
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
    let lifetime = syn::Lifetime::new("'__memo", proc_macro2::Span::call_site());
    let self_arg = uses_self.then(|| quote!(&#lifetime Self,));
    let arg_types = indices.iter().map(|&i| subject.params[i].borrowed_type_with(&lifetime));
    // `put` also takes what the tag expressions name, and `&self` if they read it.
    let mut put_indices: Vec<usize> = indices.iter().chain(&plan.tagging.params).copied().collect();
    put_indices.sort_unstable();
    put_indices.dedup();
    let put_params: Vec<TokenStream> = put_indices.iter().map(typed).collect();
    // `value`, unless the function has a parameter of that name.
    let value = if put_indices.iter().any(|&i| subject.params[i].ident.as_ref().is_some_and(|i| i == "value")) {
        format_ident!("__memo_value")
    } else {
        format_ident!("value")
    };
    let put_self = (uses_self || plan.tagging.uses_self).then(|| quote!(&self,));
    let tag_rebinds = plan.tagging.params.iter().filter_map(|&i| subject.params[i].rebind());
    let tags = if plan.tagging.exprs.is_empty() {
        quote!([])
    } else {
        let tags = arg_tags(plan);
        quote!({ #(#tag_rebinds)* #tags })
    };
    let derive = derive_tags(plan);
    // A weigher of another type than the stored value is reported at the weigher.
    let weighing = plan.settings.weigher.as_ref().map(|weigher| {
        let check = quote_spanned!(weigher.span()=> #p::Weighs(__memo_shape).values(#weigher));
        quote!(.weighing(#check))
    });
    let target = match subject.place {
        // A link to a trait's method from the type's inherent impl may not resolve.
        Place::TraitImpl => format!("`{fn_name}`"),
        _ if subject.associated => format!("[`Self::{fn_name}`]"),
        _ => format!("[`{fn_name}()`]"),
    };
    let doc_invalidate = format!("Removes the value {target} cached for these arguments; true if there was one.");
    let doc_invalidate_all = format!("Removes every value {target} cached.");
    let doc_put = format!(
        "Stores `value` as what {target} returns for these arguments (write-through after an update). \
         Errors are not stored; negative values only with `negative_ttl`."
    );
    let doc_stats = format!("Statistics of {target}'s cache.");
    let refresh = refresh_fn(plan, refresh, &target, p);
    // A `static` in a generic function is one for all its instantiations: theirs are looked up
    // by their types.
    let types = subject.type_params();
    // A free function's key type and shape do not name the arguments' lifetime, so that the
    // function can ask the accessor for its key, then run its load with it (see
    // `__private::Call`); in an `impl` block they take what is in scope.
    let captures = (!subject.associated).then(|| quote!(+ use<__MemoVisit #(, #types)*>));
    let (cell, cell_name) = if types.is_empty() {
        (quote!(static __MEMO_CELL: #p::CacheCell = #p::CacheCell::new();), quote!(__MEMO_CELL))
    } else {
        let cell = quote! {
            static __MEMO_CELLS: #p::GenericCells = #p::GenericCells::new();
            let __memo_cell = __MEMO_CELLS.cell::<(#(#types,)*)>();
        };
        (cell, quote!(__memo_cell))
    };
    quote! {
        #[doc(hidden)]
        #vis fn #site_def<#lifetime, __MemoVisit: #p::Visit<(#self_arg #(#arg_types,)*), #ret>>(
            visit: __MemoVisit,
        ) -> __MemoVisit::Out<impl #p::Parts<#ret> #captures> {
            #cell
            #prelude
            let __memo_key_fn = #key_fn;
            visit.visit(#p::Site(__memo_shape, __memo_key_fn, #derive, #cell_name.with(|| #builder) #weighing))
        }

        #[doc = #doc_invalidate]
        #[inline]
        #vis fn #invalidate(#self_param #(#params),*) -> bool {
            #site(#p::Invalidate(#call_args))
        }

        #[doc = #doc_invalidate_all]
        #[inline]
        #vis fn #invalidate_all() {
            #site(#p::InvalidateAll)
        }

        #[doc = #doc_put]
        #[inline]
        #vis fn #put(#put_self #(#put_params,)* #value: #ret) {
            #site(#p::Put(#call_args, #value, #tags))
        }

        #refresh

        #[doc = #doc_stats]
        #[inline]
        #vis fn #stats() -> #p::CacheStats {
            #site(#p::Stats)
        }
    }
}

/// `refresh`: the function's own signature under another name, calling the function as a
/// refresh (it reads no cache; see `__private::sync_refresh`).
fn refresh_fn(plan: &Plan<'_>, name: &Ident, target: &str, p: &TokenStream) -> TokenStream {
    let subject = &plan.subject;
    let ident = &subject.func.sig.ident;
    let vis = subject.companion_vis();
    let mut sig = codegen::signature(subject);
    sig.ident = name.clone();
    // A free function's type parameters are the handle type's.
    let free = !subject.associated;
    if free {
        sig.generics.params =
            sig.generics.params.into_iter().filter(|param| !matches!(param, syn::GenericParam::Type(_))).collect();
    }
    // The parameters are only passed on: none needs to be `mut` here, and one named as the
    // function would hide it.
    let hiding = format_ident!("__memo_{}", ident);
    let mut args = Vec::new();
    for input in &mut sig.inputs {
        match input {
            syn::FnArg::Receiver(receiver) => receiver.mutability = None,
            syn::FnArg::Typed(typed) => {
                if let syn::Pat::Ident(pat) = &mut *typed.pat {
                    pat.mutability = None;
                    if free && pat.ident == *ident {
                        pat.ident = hiding.clone();
                    }
                    args.push(pat.ident.clone());
                }
            }
        }
    }
    let call = if subject.receiver.is_some() {
        quote!(self.#ident(#(#args),*))
    } else if subject.associated {
        quote!(Self::#ident(#(#args),*))
    } else {
        // Explicit type arguments are not allowed beside `impl Trait` ones: inferred then.
        let types = subject.type_params();
        let explicit = !types.is_empty() && subject.params.iter().all(|param| param.impl_trait.is_none());
        let generics = explicit.then(|| quote!(::<#(#types),*>));
        quote!(#ident #generics(#(#args),*))
    };
    let body = if subject.is_async { quote!(#p::refresh(#call).await) } else { quote!(#p::sync_refresh(|| #call)) };
    let doc = format!(
        "Reloads {target} for these arguments now and returns the new value: reads no cache, runs the \
         body (calls that miss meanwhile wait for this load), then stores the value and, when the \
         function is `distributed`, writes it to the L2 and tells the other instances. For \
         \"I know it changed\"; the calls the body makes read their caches as usual."
    );
    quote! {
        #[doc = #doc]
        #[inline]
        #vis #sig {
            #body
        }
    }
}
