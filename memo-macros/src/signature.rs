//! What the function's signature means for caching: its receiver, its parameters and the
//! types the key is built from, with the rules a cached signature must follow.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, Pat, Type};

use crate::errors::Errors;

/// How the function takes `self`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `&self` or `&mut self`
    Ref,
    /// `self` or `mut self`
    Value,
    /// `self: Arc<Self>` and other typed receivers
    Typed,
}

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

pub(crate) struct Signature {
    pub(crate) receiver: Option<(Receiver, syn::Token![self])>,
    pub(crate) params: Vec<Param>,
}

/// `generic` says whether type parameters are allowed (a free function of `#[cached]`: one
/// cache per instantiation).
pub(crate) fn analyze(sig: &syn::Signature, macro_name: &str, generic: bool, errors: &mut Errors) -> Signature {
    if let Some(constness) = &sig.constness {
        errors.spanned(
            constness,
            format_args!(
                "`#[{macro_name}]` cannot go on a `const fn`: its calls may run at compile time; remove `const`"
            ),
        );
    }
    let method = sig.inputs.iter().any(|input| matches!(input, FnArg::Receiver(_)));
    for param in &sig.generics.params {
        let message = match param {
            syn::GenericParam::Lifetime(_) => continue,
            syn::GenericParam::Type(_) if generic && !method => continue,
            syn::GenericParam::Const(_) => format!(
                "`#[{macro_name}]` cannot memoize a function with a const parameter: write a function for each \
                 value, or take the value as an argument"
            ),
            syn::GenericParam::Type(_) if macro_name == "cached" => "`#[cached]` keeps one cache per instantiation \
                 of a generic free function, not of a generic method or associated function: call a generic free \
                 function from it"
                .to_owned(),
            syn::GenericParam::Type(_) => format!(
                "`#[{macro_name}]` cannot memoize a generic function: apply it to a non-generic function for each \
                 type instead"
            ),
        };
        errors.spanned(param, message);
    }
    let mut receiver = None;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                let kind = if borrows_self(r) {
                    Receiver::Ref
                } else if matches!(r.kind, syn::ReceiverKind::Typed(..)) {
                    Receiver::Typed
                } else {
                    Receiver::Value
                };
                receiver = Some((kind, r.self_token));
            }
            FnArg::Typed(typed) => {
                let (ident, pattern) = match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => (p.ident.clone(), None),
                    pat => (pattern_name(pat, params.len()), Some(pat.clone())),
                };
                let (referent, mutable_ref) = match &*typed.ty {
                    Type::Reference(r) => (Some((*r.elem).clone()), r.mutability.is_some()),
                    ty => (cow_referent(ty).cloned(), false),
                };
                let impl_trait = find_impl_trait(&typed.ty);
                let ty = (*typed.ty).clone();
                params.push(Param { ident: Some(ident), pattern, ty, referent, mutable_ref, impl_trait });
            }
        }
    }
    // A pattern's name must not be another parameter's.
    for i in 0..params.len() {
        let taken = |ident: &Option<Ident>| params.iter().enumerate().any(|(j, p)| j != i && p.ident == *ident);
        if params[i].pattern.is_some() && taken(&params[i].ident) {
            params[i].ident = Some(quote::format_ident!("__memo_arg{}", i));
        }
    }
    Signature { receiver, params }
}

/// The name of a pattern parameter: its bindings joined (`(a, b)` gives `a_b`), or `arg{i}`.
fn pattern_name(pat: &Pat, index: usize) -> Ident {
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

/// The return type, or an error when it cannot be cached.
pub(crate) fn return_type(sig: &syn::Signature, macro_name: &str, errors: &mut Errors) -> Option<Type> {
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        errors.spanned(
            &sig.ident,
            format_args!(
                "`#[{macro_name}]` needs a return value to keep, and this function returns `()`; \
                 to run something once, use `std::sync::OnceLock`"
            ),
        );
        return None;
    };
    if crate::boxed::boxed_output(sig).is_some() {
        errors.spanned(
            ty,
            format_args!(
                "`#[{macro_name}]` cannot store a boxed future: write the function as an `async fn` \
                 (with `#[async_trait]`, memo reads the `async fn` it rewrote as long as the body is only \
                 `Box::pin(async move {{ .. }})`)"
            ),
        );
        return None;
    }
    if let Some(impl_trait) = find_impl_trait(ty) {
        let hint = if sig.asyncness.is_none() && impl_trait.to_token_stream().to_string().contains("Future") {
            "write an `async fn` instead of returning `impl Future`"
        } else {
            "return a named type (or a `Box<dyn Trait>` inside an `Arc`)"
        };
        errors.spanned(impl_trait, format_args!("`#[{macro_name}]` cannot store an `impl Trait` return value: {hint}"));
        return None;
    }
    if let Some(borrowed) = find_borrow(ty) {
        errors.spanned(
            borrowed,
            format_args!(
                "`#[{macro_name}]` cannot store a borrowed return value: it outlives the call; \
                 return an owned type such as `String`, `Vec<T>` or `Arc<T>`"
            ),
        );
        return None;
    }
    Some((**ty).clone())
}

fn find_impl_trait(ty: &Type) -> Option<syn::TypeImplTrait> {
    struct Finder(Option<syn::TypeImplTrait>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert_with(|| node.clone());
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// A reference type whose lifetime is not `'static`.
fn find_borrow(ty: &Type) -> Option<syn::TypeReference> {
    struct Finder(Option<syn::TypeReference>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
            if node.lifetime.as_ref().is_none_or(|l| l.ident != "static") {
                self.0.get_or_insert_with(|| node.clone());
            }
            syn::visit::visit_type_reference(self, node);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// The `T` of a `Cow<'a, T>` (known by its last path segment's name).
fn cow_referent(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last().filter(|s| s.ident == "Cow")?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    types.next().filter(|_| types.next().is_none())
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

/// The parameters of a function that `#[invalidate]` wraps: any signature that can be rewritten
/// (no `const fn`), whatever its parameter types.
pub(crate) fn analyze_for_invalidate(sig: &syn::Signature, errors: &mut Errors) -> Vec<Param> {
    if let Some(constness) = &sig.constness {
        errors.spanned(constness, "`#[invalidate]` cannot go on a `const fn`: remove `const`");
    }
    sig.inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(Param {
                ident: match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
                    _ => None,
                },
                ty: (*typed.ty).clone(),
                pattern: None,
                referent: None,
                mutable_ref: false,
                impl_trait: None,
            }),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// `&self`, `&mut self` and any borrowed receiver syn adds later (not `self`, `self: T`).
fn borrows_self(r: &syn::Receiver) -> bool {
    !matches!(r.kind, syn::ReceiverKind::Value | syn::ReceiverKind::Typed(..))
}

/// Loads that outlive their caller (`arg` is what makes them) need a `'static` body: no
/// borrowed parameters and no `&self`.
pub(crate) fn require_owned(sig: &syn::Signature, arg: &syn::Ident, errors: &mut Errors) {
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) if borrows_self(r) => errors.spanned(
                r,
                format_args!(
                    "`{arg}` loads in the background, after the call returns, so the function must own its \
                     arguments: take `self: Arc<Self>` instead of `&self`"
                ),
            ),
            FnArg::Typed(typed) => {
                if let Some(borrowed) = find_borrow(&typed.ty) {
                    let inner = &borrowed.elem;
                    errors.spanned(
                        &typed.ty,
                        format_args!(
                            "`{arg}` loads in the background, after the call returns, so the function must own its \
                             arguments: take `{}` by value (a cloneable handle) or as `Arc<{}>` instead of a reference",
                            quote::ToTokens::to_token_stream(inner),
                            quote::ToTokens::to_token_stream(inner),
                        ),
                    );
                }
            }
            FnArg::Receiver(_) => {}
        }
    }
}
