//! One parameter of a memoized function: its name, its type and the forms the key and the
//! generated code need of them, and, for a parameter bound to a pattern, the pattern.

use proc_macro2::TokenStream;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Ident, Pat, Type};

/// One parameter other than `self`.
pub(crate) struct Param {
    /// The parameter's name; for a pattern such as `(a, b): (u8, u8)`, a name made of its
    /// bindings (`a_b`) that the rewritten function gives the parameter (`None` only for
    /// `#[invalidate]`, which does not rename).
    pub(crate) ident: Option<Ident>,
    /// The pattern, for a parameter not bound to a plain name: the rewritten function binds it
    /// from `ident` where the user's code runs.
    pub(crate) pattern: Option<Pat>,
    pub(crate) ty: Type,
    /// The referenced type when the parameter is `&T`, or the `T` of a `Cow<'a, T>`, which is
    /// keyed and handled like a `&T` (it derefs to one): the key holds `T`'s owned form, not
    /// the borrow, and the handle takes `&T`.
    pub(crate) referent: Option<Type>,
    pub(crate) mutable_ref: bool,
    /// An `impl Trait` in the type: such a parameter can only be left out of the key.
    pub(crate) impl_trait: Option<syn::TypeImplTrait>,
}

impl Param {
    /// The type the key part is made from: the referent of `&T`, else the type; lifetimes
    /// elided so that it can be written where the function's lifetimes are not declared.
    pub(crate) fn key_source_type(&self) -> Type {
        elide_lifetimes(self.referent.clone().unwrap_or_else(|| self.ty.clone()))
    }

    /// The parameter's type as the key closure takes it: by reference, lifetimes elided.
    pub(crate) fn borrowed_type(&self) -> TokenStream {
        match &self.referent {
            Some(inner) => {
                let inner = elide_lifetimes(inner.clone());
                quote::quote!(&#inner)
            }
            None => {
                let ty = elide_lifetimes(self.ty.clone());
                quote::quote!(&#ty)
            }
        }
    }
}

impl Param {
    /// [`borrowed_type`](Self::borrowed_type) with every elided or anonymous lifetime named
    /// `lifetime`, for a signature that must spell it.
    pub(crate) fn borrowed_type_with(&self, lifetime: &syn::Lifetime) -> TokenStream {
        struct Name<'l>(&'l syn::Lifetime);
        impl VisitMut for Name<'_> {
            fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
                if lifetime.ident == "_" {
                    *lifetime = self.0.clone();
                }
            }
            fn visit_type_reference_mut(&mut self, node: &mut syn::TypeReference) {
                if node.lifetime.is_none() {
                    node.lifetime = Some(self.0.clone());
                }
                syn::visit_mut::visit_type_reference_mut(self, node);
            }
        }
        let mut ty = elide_lifetimes(self.referent.clone().unwrap_or_else(|| self.ty.clone()));
        Name(lifetime).visit_type_mut(&mut ty);
        quote::quote!(&#lifetime #ty)
    }
}

/// The name of a pattern parameter: its bindings joined (`(a, b)` gives `a_b`), or `arg{i}`.
pub(crate) fn pattern_name(pat: &Pat, index: usize) -> Ident {
    let names: Vec<String> =
        bindings(pat).iter().map(|ident| ident.to_string().trim_start_matches('_').to_owned()).collect();
    let name = names.join("_");
    if name.is_empty() {
        quote::format_ident!("arg{}", index)
    } else {
        Ident::new(&name, proc_macro2::Span::call_site())
    }
}

/// The names a pattern binds.
pub(crate) fn bindings(pat: &Pat) -> Vec<Ident> {
    struct Names(Vec<Ident>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, node: &'ast syn::PatIdent) {
            self.0.push(node.ident.clone());
            syn::visit::visit_pat_ident(self, node);
        }
    }
    let mut names = Names(Vec::new());
    names.visit_pat(pat);
    names.0
}

impl Param {
    /// Whether what the key is made from (the referent of `&T` or `Cow<'a, T>`, else the type)
    /// borrows: names a lifetime other than `'static` or holds a reference.
    pub(crate) fn borrows(&self) -> bool {
        struct Finder(bool);
        impl<'ast> Visit<'ast> for Finder {
            fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
                self.0 |= lifetime.ident != "static";
            }
            fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
                self.0 |= node.lifetime.is_none();
                syn::visit::visit_type_reference(self, node);
            }
        }
        let mut finder = Finder(false);
        finder.visit_type(self.referent.as_ref().unwrap_or(&self.ty));
        finder.0
    }

    /// Whether user code naming `name` reads this parameter: its name or one of its pattern's
    /// bindings.
    pub(crate) fn binds(&self, name: &Ident) -> bool {
        self.ident.as_ref() == Some(name) || self.pattern.as_ref().is_some_and(|pat| bindings(pat).contains(name))
    }

    /// Where the user's body runs: `let (a, b) = a_b;` for a pattern parameter.
    pub(crate) fn destructure(&self) -> Option<TokenStream> {
        let (pat, ident) = (self.pattern.as_ref()?, &self.ident);
        Some(quote::quote!(let #pat = #ident;))
    }

    /// In a closure given the parameter by reference as `ident` (the key closure, `put`):
    /// binds what a key or tag expression names, as an owned clone, or the pattern's bindings.
    pub(crate) fn rebind(&self) -> Option<TokenStream> {
        let ident = self.ident.as_ref()?;
        match (&self.pattern, &self.referent) {
            (Some(pat), referent) => {
                let mut pat = pat.clone();
                Immutable.visit_pat_mut(&mut pat);
                // The expression may name some of the bindings only.
                Some(match referent {
                    Some(_) => quote::quote!(#[allow(unused_variables)] let #pat = #ident;),
                    None => quote::quote!(#[allow(unused_variables)] let #pat = ::core::clone::Clone::clone(#ident);),
                })
            }
            (None, None) => Some(quote::quote!(let #ident = ::core::clone::Clone::clone(#ident);)),
            (None, Some(_)) => None,
        }
    }
}

/// Drops `mut` from a pattern's bindings (a copy bound only to be read).
struct Immutable;

impl VisitMut for Immutable {
    fn visit_pat_ident_mut(&mut self, node: &mut syn::PatIdent) {
        node.mutability = None;
        syn::visit_mut::visit_pat_ident_mut(self, node);
    }
}

/// Replaces named lifetimes other than `'static` with `'_`, so the type can be written in a
/// closure that does not declare them.
fn elide_lifetimes(mut ty: Type) -> Type {
    struct Elide;
    impl VisitMut for Elide {
        fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
            if lifetime.ident != "static" {
                *lifetime = syn::Lifetime::new("'_", lifetime.span());
            }
        }
        fn visit_type_reference_mut(&mut self, node: &mut syn::TypeReference) {
            if node.lifetime.as_ref().is_some_and(|l| l.ident != "static") {
                node.lifetime = None;
            }
            syn::visit_mut::visit_type_reference_mut(self, node);
        }
    }
    Elide.visit_type_mut(&mut ty);
    ty
}
