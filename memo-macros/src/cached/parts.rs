//! Pieces of generated code that a cached function and its handle share: the tags, and the
//! cache's configuration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::plan::Plan;
use crate::codegen;

/// `vec![tag(expr), ..]` for `tags = [..]`, each conversion spanned at its expression.
pub(super) fn arg_tags(plan: &Plan<'_>) -> TokenStream {
    let p = codegen::private(&plan.subject);
    let tags = plan.tagging.exprs.iter().map(|expr| quote_spanned!(expr.span()=> #p::tag(#expr)));
    quote!(::std::vec![#(#tags),*])
}

/// The closure that adds tags from the value (`tags_from`), or one that adds none.
pub(super) fn derive_tags(plan: &Plan<'_>) -> TokenStream {
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

/// The cache's configuration.
pub(super) fn builder(plan: &Plan<'_>, p: &TokenStream) -> TokenStream {
    let s = &plan.settings;
    let fn_name = plan.subject.func.sig.ident.to_string();
    let name = match (&s.name, plan.subject.associated) {
        (Some(name), _) => quote!(#name),
        (None, false) => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
        (None, true) => quote!(::std::format!("{}::{}", ::core::any::type_name::<Self>(), #fn_name)),
    };
    // Each instantiation of a generic function has a cache of its own, named (and so keyed in
    // the L2) by its types.
    let types = plan.subject.type_params();
    let name = if types.is_empty() {
        name
    } else {
        quote!(::std::format!("{}<{}>", #name, [#(::core::any::type_name::<#types>()),*].join(", ")))
    };
    let ms = |v: u64| quote!(::core::time::Duration::from_millis(#v));
    let ttl = s.ttl_ms.map(|v| {
        let d = ms(v);
        quote!(.ttl(#d))
    });
    let jitter = s.jitter_ms.map(|v| {
        let d = ms(v);
        quote!(.jitter(#d))
    });
    let negative = s.negative_ttl_ms.map(|v| {
        let d = ms(v);
        quote!(.negative_ttl(#d))
    });
    let capacity = s.capacity.map(|c| quote!(.capacity(#c)));
    let max_bytes = s.max_bytes.map(|b| quote!(.max_bytes(#b)));
    let duration = |setter: TokenStream, v: Option<u64>| {
        v.map(|v| {
            let d = ms(v);
            quote!(.#setter(#d))
        })
    };
    let stale = duration(quote!(stale), s.stale_ms);
    let stale_if_error = duration(quote!(stale_if_error), s.stale_if_error_ms);
    let retry_after = duration(quote!(retry_after), s.retry_after_ms);
    let timeout = duration(quote!(timeout), s.timeout_ms);
    let fleet = duration(quote!(fleet_single_flight), s.fleet_lock_ms);
    let early_refresh = s.early_refresh.map(|beta| quote!(.early_refresh(#beta)));
    let version = s.version.map(|v| quote!(.version(#v)));
    quote! {
        #p::builder(#name) #version #ttl #jitter #negative #capacity #max_bytes
            #stale #stale_if_error #retry_after #timeout #early_refresh #fleet
    }
}
