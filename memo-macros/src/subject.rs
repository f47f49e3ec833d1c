//! The function a macro rewrites, validated: its return type, receiver, parameters and how its
//! key is formed. Shared by `#[cached]` and `#[request_memo]`.

use proc_macro2::{Ident, TokenStream, TokenTree};
use syn::{Expr, ItemFn, Path, Type};

use crate::boxed::Function;

use crate::args::Arg;
use crate::errors::Errors;
use crate::param::Param;
use crate::signature::{self, Receiver};

/// What the key is built from.
pub(crate) enum Key {
    /// The listed parameters (indices into `Subject::params`), in order.
    Params(Vec<usize>),
    /// `key = expr`: the expression (with `self` renamed to `__memo_self`), the parameters it
    /// names, and whether it reads `self`.
    Expr { expr: Expr, params: Vec<usize>, uses_self: bool },
}

/// The arguments every memoizing macro takes about keys and paths.
pub(crate) struct KeyArgs<'a> {
    pub(crate) macro_name: &'static str,
    pub(crate) skip: Option<&'a Arg<Vec<Ident>>>,
    pub(crate) key: Option<&'a Arg<Expr>>,
    pub(crate) krate: Option<&'a Arg<Path>>,
    pub(crate) place: Place,
}

/// Where the function is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Not known to be in an `impl` block: a free function, or a method (it has a receiver).
    Free,
    /// In an `impl` block (`in_impl`).
    Impl,
    /// In a trait impl, rewritten by `#[cached_impl]`: generated companions go in an inherent
    /// `impl` of the type, public as the trait's methods are.
    TraitImpl,
}

pub(crate) struct Subject<'f> {
    pub(crate) func: &'f ItemFn,
    /// The signature to emit when `#[async_trait]` boxed the method (see `boxed`).
    pub(crate) boxed: Option<&'f syn::Signature>,
    pub(crate) place: Place,
    pub(crate) krate: Path,
    pub(crate) ret: Type,
    pub(crate) is_async: bool,
    /// In an `impl` block: generated companions are associated functions.
    pub(crate) associated: bool,
    pub(crate) receiver: Option<Receiver>,
    pub(crate) params: Vec<Param>,
    pub(crate) key: Key,
}

impl<'f> Subject<'f> {
    /// Checks the function against the key arguments; every problem goes to `errors`.
    /// `None` when the function cannot be rewritten at all.
    pub(crate) fn new(function: &'f Function, args: &KeyArgs<'_>, errors: &mut Errors) -> Option<Self> {
        let func = &function.item;
        let macro_name = args.macro_name;
        let generic = macro_name == "cached" && args.place == Place::Free;
        let sig = signature::analyze(&func.sig, macro_name, generic, errors);
        let ret = signature::return_type(&func.sig, macro_name, errors);
        let skipped = args.skip.map(|s| s.value.clone()).unwrap_or_default();
        for name in &skipped {
            let known =
                (name == "self" && sig.receiver.is_some()) || sig.params.iter().any(|p| p.ident.as_ref() == Some(name));
            if !known {
                let names: Vec<String> = sig
                    .receiver
                    .iter()
                    .map(|_| "`self`".to_owned())
                    .chain(sig.params.iter().filter_map(|p| p.ident.as_ref()).map(|i| format!("`{i}`")))
                    .collect();
                let list = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
                errors.spanned(
                    name,
                    format_args!("`skip({name})`: this function has no parameter `{name}`; its parameters are {list}"),
                );
            }
        }
        if let Some((_, self_token)) = &sig.receiver {
            let self_skipped = skipped.iter().any(|s| s == "self");
            if !self_skipped && args.key.is_none() {
                errors.spanned(
                    self_token,
                    format_args!(
                        "`#[{macro_name}]` on a method needs `skip(self)` or `key = ...`: the memo is shared by all \
                         instances, so `self` cannot be part of the key"
                    ),
                );
            }
        }
        let key = match args.key {
            Some(arg) => key_from_expr(&arg.value, &sig.params),
            None => Key::Params(default_key(&sig.params, &skipped, errors)),
        };
        let keyed = match &key {
            Key::Params(indices) | Key::Expr { params: indices, .. } => indices,
        };
        for &i in keyed {
            if let Some(impl_trait) = &sig.params[i].impl_trait {
                errors.spanned(
                    impl_trait,
                    format_args!(
                        "`#[{macro_name}]` cannot key by an `impl Trait` argument: leave it out with `skip(..)` \
                         (a database handle or client is not part of the key), or take a concrete type"
                    ),
                );
            }
        }
        let krate = args.krate.map_or_else(|| syn::parse_quote!(::memo_runtime), |k| k.value.clone());
        Some(Self {
            func,
            boxed: function.boxed.as_ref(),
            place: args.place,
            krate,
            ret: ret?,
            is_async: func.sig.asyncness.is_some(),
            associated: sig.receiver.is_some() || args.place != Place::Free,
            receiver: sig.receiver.map(|(kind, _)| kind),
            params: sig.params,
            key,
        })
    }

    /// The visibility of the generated companions: the function's, or `pub` in a trait impl,
    /// whose methods are as visible as the trait.
    pub(crate) fn companion_vis(&self) -> TokenStream {
        match self.place {
            Place::TraitImpl => quote::quote!(pub),
            Place::Free | Place::Impl => quote::ToTokens::to_token_stream(&self.func.vis),
        }
    }

    /// The function's type parameters (a generic free function of `#[cached]`).
    pub(crate) fn type_params(&self) -> Vec<&Ident> {
        self.func.sig.generics.type_params().map(|param| &param.ident).collect()
    }

    /// The parameters the key closure takes, and whether it takes `self`.
    pub(crate) fn key_inputs(&self) -> (&[usize], bool) {
        match &self.key {
            Key::Params(indices) => (indices, false),
            Key::Expr { params, uses_self, .. } => (params, *uses_self),
        }
    }
}

/// Every parameter not skipped, each of which must be a named, non-`&mut` parameter.
fn default_key(params: &[Param], skipped: &[Ident], errors: &mut Errors) -> Vec<usize> {
    let mut keyed = Vec::new();
    for (i, param) in params.iter().enumerate() {
        match &param.ident {
            Some(ident) if skipped.contains(ident) => continue,
            Some(ident) if param.mutable_ref => errors.spanned(
                &param.ty,
                format_args!(
                    "`{ident}` is a `&mut` argument and cannot be part of the key: a hit skips the body, \
                     so it would not be changed; leave it out with `skip({ident})` if the result does not depend on it"
                ),
            ),
            Some(ident) if is_float(&param.key_source_type()) => errors.spanned(
                &param.ty,
                format_args!(
                    "`{ident}` is a float, which cannot be part of a key: floats are neither `Eq` nor `Hash` \
                     (`NaN != NaN`); key by its bits with `key = ...` and `{ident}.to_bits()`, or leave it out \
                     with `skip({ident})`"
                ),
            ),
            Some(ident) if param.borrows() => errors.spanned(
                &param.ty,
                format_args!(
                    "`{ident}` borrows, and a key outlives the call: key by an owned type (`String` for `&str` \
                     inside it, `Cow<'static, str>`, `Vec<String>` for `Vec<&str>`), give the key with \
                     `key = ...`, or leave it out with `skip({ident})`"
                ),
            ),
            // Every parameter of a memoized function has a name (see `signature::Param`).
            Some(_) | None => keyed.push(i),
        }
    }
    keyed
}

/// `f32` or `f64`, as written.
fn is_float(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && (p.path.is_ident("f64") || p.path.is_ident("f32")))
}

/// The parameters (indices) an expression names, and whether it names `self`.
pub(crate) fn named_params(expr: &Expr, params: &[Param]) -> (Vec<usize>, bool) {
    let mut named = Vec::new();
    let mut uses_self = false;
    rename_self(quote::ToTokens::to_token_stream(expr), &mut named, &mut uses_self);
    let indices =
        params.iter().enumerate().filter(|(_, p)| named.iter().any(|name| p.binds(name))).map(|(i, _)| i).collect();
    (indices, uses_self)
}

fn key_from_expr(expr: &Expr, params: &[Param]) -> Key {
    let mut named = Vec::new();
    let mut uses_self = false;
    let tokens = rename_self(quote::ToTokens::to_token_stream(expr), &mut named, &mut uses_self);
    let expr = syn::parse2(tokens).unwrap_or_else(|_| expr.clone());
    let params =
        params.iter().enumerate().filter(|(_, p)| named.iter().any(|name| p.binds(name))).map(|(i, _)| i).collect();
    Key::Expr { expr, params, uses_self }
}

/// Renames `self` to `__memo_self` and collects every identifier the tokens name.
fn rename_self(tokens: TokenStream, named: &mut Vec<Ident>, uses_self: &mut bool) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "self" => {
                *uses_self = true;
                TokenTree::Ident(Ident::new("__memo_self", ident.span()))
            }
            TokenTree::Ident(ident) => {
                named.push(ident.clone());
                TokenTree::Ident(ident)
            }
            TokenTree::Literal(literal) => {
                // `format!("{id}")` names `id` inside the string.
                named.extend(
                    format_captures(&literal.to_string()).into_iter().map(|name| Ident::new(&name, literal.span())),
                );
                TokenTree::Literal(literal)
            }
            TokenTree::Group(group) => {
                let inner = rename_self(group.stream(), named, uses_self);
                let mut renamed = proc_macro2::Group::new(group.delimiter(), inner);
                renamed.set_span(group.span());
                TokenTree::Group(renamed)
            }
            other => other,
        })
        .collect()
}

/// The identifiers a format string captures: `"{id} {name:>8}"` gives `id` and `name`.
fn format_captures(literal: &str) -> Vec<String> {
    if !literal.starts_with('"') && !literal.starts_with('r') {
        return Vec::new();
    }
    let mut names = Vec::new();
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '{' {
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            continue;
        }
        let name: String = chars.by_ref().take_while(|c| *c != '}' && *c != ':').collect();
        let name = name.trim();
        let is_ident = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if is_ident {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_captures_find_inline_arguments() {
        assert_eq!(super::format_captures(r#""product:{id}:{ name }:{x:>4}:{{lit}}:{0}:{}""#), ["id", "name", "x"]);
        assert!(super::format_captures("42").is_empty());
    }
}
