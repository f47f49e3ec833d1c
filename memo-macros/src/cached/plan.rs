//! Validation: the arguments and the signature, checked together, become a plan that
//! expansion turns into code without further checks.

use proc_macro2::{Ident, TokenStream, TokenTree};
use syn::{Expr, ItemFn, LitStr, Path, Type};

use super::config::Config;
use super::signature::{self, Param, Receiver};
use crate::errors::Errors;

/// What the key is built from.
pub(crate) enum Key {
    /// The listed parameters (indices into `Plan::params`), in order.
    Params(Vec<usize>),
    /// `key = expr`: the expression (with `self` renamed to `__memo_self`), the parameters it
    /// names, and whether it reads `self`.
    Expr { expr: Expr, params: Vec<usize>, uses_self: bool },
}

/// How entries are kept.
pub(crate) struct Settings {
    pub(crate) ttl_ms: Option<u64>,
    pub(crate) jitter_ms: Option<u64>,
    pub(crate) negative_ttl_ms: Option<u64>,
    pub(crate) capacity: Option<usize>,
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<u32>,
}

pub(crate) struct Plan<'f> {
    pub(crate) func: &'f ItemFn,
    pub(crate) krate: Path,
    pub(crate) ret: Type,
    pub(crate) is_async: bool,
    /// In an `impl` block: the handle is a set of associated functions.
    pub(crate) associated: bool,
    pub(crate) receiver: Option<Receiver>,
    pub(crate) params: Vec<Param>,
    pub(crate) key: Key,
    pub(crate) settings: Settings,
}

impl<'f> Plan<'f> {
    pub(crate) fn new(config: Config, func: &'f ItemFn, mut errors: Errors) -> syn::Result<Self> {
        let sig = signature::analyze(&func.sig, &mut errors);
        let ret = signature::return_type(&func.sig, &mut errors);
        let skipped = config.skip.as_ref().map(|s| s.value.clone()).unwrap_or_default();
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
            if !self_skipped && config.key.is_none() {
                errors.spanned(
                    self_token,
                    "`#[cached]` on a method needs `skip(self)` or `key = ...`: the cache is shared by all \
                     instances, so `self` cannot be part of the key",
                );
            }
        }
        let key = match &config.key {
            Some(arg) => key_from_expr(&arg.value, &sig.params),
            None => Key::Params(default_key(&sig.params, &skipped, &mut errors)),
        };
        let krate = config.krate.as_ref().map_or_else(|| syn::parse_quote!(::memo_runtime), |k| k.value.clone());
        let settings = Settings {
            ttl_ms: config.ttl.as_ref().map(|a| a.value),
            jitter_ms: config.jitter.as_ref().map(|a| a.value),
            negative_ttl_ms: config.negative_ttl.as_ref().map(|a| a.value),
            capacity: config.capacity.as_ref().map(|a| a.value),
            name: config.name.as_ref().map(|a| a.value.clone()),
            version: config.version.as_ref().map(|a| a.value),
        };
        let ret = errors.finish(ret)?;
        Ok(Self {
            func,
            krate,
            ret: ret.unwrap_or_else(|| syn::parse_quote!(())),
            is_async: func.sig.asyncness.is_some(),
            associated: sig.receiver.is_some() || config.in_impl.is_some(),
            receiver: sig.receiver.map(|(kind, _)| kind),
            params: sig.params,
            key,
            settings,
        })
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
            Some(_) => keyed.push(i),
            None => errors.spanned(
                &param.ty,
                "`#[cached]` builds the key from parameter names: bind this parameter to a name, \
                 or give the key with `key = ...`",
            ),
        }
    }
    keyed
}

fn key_from_expr(expr: &Expr, params: &[Param]) -> Key {
    let mut named = Vec::new();
    let mut uses_self = false;
    let tokens = rename_self(quote::ToTokens::to_token_stream(expr), &mut named, &mut uses_self);
    let expr = syn::parse2(tokens).unwrap_or_else(|_| expr.clone());
    let params = params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ident.as_ref().is_some_and(|i| named.contains(i)))
        .map(|(i, _)| i)
        .collect();
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
