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
/// A function whose body does not parse comes back unchanged, with no error of ours: rustc
/// reports the body's own.
pub(crate) fn parse_function(item: &TokenStream, placement: &str) -> Result<syn::ItemFn, TokenStream> {
    syn::parse2(item.clone()).map_err(|_| {
        if is_function_with_bad_body(item) {
            return item.clone();
        }
        let error = syn::Error::new(proc_macro2::Span::call_site(), placement);
        with_item(item.clone(), &error)
    })
}

/// Whether `item` is a function (attributes, visibility, signature, braces) whose body is what
/// does not parse.
fn is_function_with_bad_body(item: &TokenStream) -> bool {
    let function = |input: syn::parse::ParseStream<'_>| {
        input.call(syn::Attribute::parse_outer)?;
        input.parse::<syn::Visibility>()?;
        input.parse::<syn::Signature>()?;
        let body;
        syn::braced!(body in input);
        body.parse::<TokenStream>()
    };
    syn::parse::Parser::parse2(function, item.clone()).is_ok()
}
