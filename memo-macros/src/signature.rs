//! What the function's signature means for caching: its receiver, its parameters and the
//! types the key is built from, with the rules a cached signature must follow.

use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, Ident, Pat, Type};

use crate::errors::Errors;
use crate::param::{Param, pattern_name};

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
