//! Collects every error a macro finds so that they are reported together.

use proc_macro2::TokenStream;
use quote::ToTokens;

#[derive(Default)]
pub(crate) struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// `Ok(value)` when nothing went wrong, else all the errors.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, syn::Error> {
        match self.first {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// The user's item unchanged followed by the errors, so that the item still resolves (no
/// follow-on "cannot find function" errors) and IDEs keep working.
pub(crate) fn with_item(item: TokenStream, error: &syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(error.to_compile_error());
    out
}

/// The function an attribute was put on, or the item unchanged with an error saying where the
/// attribute goes (`placement`).
pub(crate) fn parse_function(item: &TokenStream, placement: &str) -> Result<syn::ItemFn, TokenStream> {
    syn::parse2(item.clone()).map_err(|_| {
        let error = syn::Error::new(proc_macro2::Span::call_site(), placement);
        with_item(item.clone(), &error)
    })
}
