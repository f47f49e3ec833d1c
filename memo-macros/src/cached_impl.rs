//! `#[cached_impl]`: the `#[cached]` methods of a trait impl, with their handles in an
//! inherent `impl` of the type (a trait impl may hold only the trait's items).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{ImplItem, ItemImpl, Meta};

use crate::errors;

/// Input:
///
/// ```text
/// #[cached_impl]
/// impl<T: Db> Repo for PgRepo<T> {
///     #[cached(ttl = 60, skip(self))]
///     async fn find(&self, id: u64) -> Option<User> { body }
/// }
/// ```
///
/// Output:
///
/// ```text
/// impl<T: Db> Repo for PgRepo<T> {
///     async fn find(&self, id: u64) -> Option<User> { /* as #[cached] rewrites a method */ }
/// }
/// #[allow(dead_code)]
/// impl<T: Db> PgRepo<T> {
///     pub fn __memo_site_find(..) { .. }
///     pub fn find_invalidate(id: &u64) -> bool { .. }
///     /* find_invalidate_all, find_put, find_refresh, find_stats */
/// }
/// ```
pub(crate) fn cached_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let error = syn::Error::new_spanned(args, "`#[cached_impl]` takes no arguments: remove them");
        return errors::with_item(item, &error);
    }
    let Ok(mut block) = syn::parse2::<ItemImpl>(item.clone()) else {
        let error = syn::Error::new(
            proc_macro2::Span::call_site(),
            "`#[cached_impl]` goes on an `impl Trait for Type` block whose methods carry `#[cached]`",
        );
        return errors::with_item(item, &error);
    };
    if block.trait_.is_none() {
        // In an inherent impl each method's `#[cached]` puts its handle beside it.
        return item;
    }
    let mut handles = Vec::new();
    let mut paths = Vec::new();
    for member in &mut block.items {
        let ImplItem::Fn(method) = member else { continue };
        let Some(at) = method.attrs.iter().position(is_cached) else { continue };
        let attr = method.attrs.remove(at);
        paths.push(attr.path().clone());
        let args = match attr.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens,
            Meta::NameValue(value) => {
                let error = syn::Error::new_spanned(value, "write `#[cached(ttl = 60, ...)]` or `#[cached]`");
                *member = ImplItem::Verbatim(errors::with_item(method.to_token_stream(), &error));
                continue;
            }
        };
        let (function, handle) = crate::cached::in_trait_impl(args, method.to_token_stream());
        *member = ImplItem::Verbatim(function);
        handles.push(handle);
    }
    if handles.is_empty() {
        return block.into_token_stream();
    }
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let self_ty = &block.self_ty;
    // The handles' `refresh` calls the trait's methods: the trait is in scope, by the path
    // the block names it with (its arguments dropped).
    let mut trait_path = block.trait_.as_ref().map(|(path, _)| path.clone());
    if let Some(last) = trait_path.as_mut().and_then(|path| path.segments.last_mut()) {
        last.arguments = syn::PathArguments::None;
    }
    quote! {
        #block
        #[allow(dead_code)]
        impl #impl_generics #self_ty #where_clause {
            #(#handles)*
        }
        // The attributes this expanded are used, as the imports that name them.
        #(#[allow(unused_imports)] use #paths as _;)*
        #[allow(unused_imports)]
        use #trait_path as _;
    }
}

/// `#[cached(..)]`, `#[memo_runtime::cached(..)]` and other paths ending in `cached`.
fn is_cached(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|segment| segment.ident == "cached")
}
