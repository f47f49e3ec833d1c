//! The arguments of `#[cached(...)]`, parsed into typed values.

use proc_macro2::TokenStream;
use syn::{Expr, Ident, LitStr, Path};

use crate::args::{self, Arg, RawArg, set_once};
use crate::errors::Errors;

pub(crate) const KNOWN: &[&str] = &[
    "ttl",
    "jitter",
    "negative_ttl",
    "capacity",
    "skip",
    "key",
    "name",
    "version",
    "tags",
    "tags_from",
    "request_consistent",
    "in_impl",
    "crate",
];

/// Everything `#[cached(...)]` was given, each with the span of its name.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) ttl: Option<Arg<u64>>,
    pub(crate) jitter: Option<Arg<u64>>,
    pub(crate) negative_ttl: Option<Arg<u64>>,
    pub(crate) capacity: Option<Arg<usize>>,
    pub(crate) skip: Option<Arg<Vec<Ident>>>,
    pub(crate) key: Option<Arg<Expr>>,
    pub(crate) name: Option<Arg<LitStr>>,
    pub(crate) version: Option<Arg<u32>>,
    pub(crate) tags: Option<Arg<Vec<Expr>>>,
    pub(crate) tags_from: Option<Arg<Expr>>,
    pub(crate) request_consistent: Option<Arg<()>>,
    pub(crate) in_impl: Option<Arg<()>>,
    pub(crate) krate: Option<Arg<Path>>,
}

impl Config {
    /// Parses what it can; errors in single arguments are collected in `errors` so that the
    /// signature is still checked. Only unparseable syntax fails at once.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> syn::Result<Self> {
        let raw = args::parse_raw(tokens)?;
        let mut config = Self::default();
        for arg in &raw {
            config.take(arg, errors);
        }
        config.check(errors);
        Ok(config)
    }

    fn take(&mut self, arg: &RawArg, errors: &mut Errors) {
        let name = &arg.name;
        match name.to_string().as_str() {
            "ttl" => set_once(&mut self.ttl, name, args::duration(arg, errors), errors),
            "jitter" => set_once(&mut self.jitter, name, args::duration(arg, errors), errors),
            "negative_ttl" => set_once(&mut self.negative_ttl, name, args::duration(arg, errors), errors),
            "capacity" => set_once(&mut self.capacity, name, args::integer(arg, "capacity = 50_000", errors), errors),
            "skip" => set_once(&mut self.skip, name, args::ident_list(arg, "skip(db, client)", errors), errors),
            "key" => {
                let expr = args::assigned(arg, "key = (user.id, region)", errors).cloned();
                set_once(&mut self.key, name, expr, errors);
            }
            "name" => set_once(&mut self.name, name, args::string(arg, "name = \"products\"", errors), errors),
            "version" => set_once(&mut self.version, name, args::integer(arg, "version = 2", errors), errors),
            "tags" => set_once(
                &mut self.tags,
                name,
                args::expr_list(arg, "tags = [\"products\", format!(\"product:{id}\")]", errors),
                errors,
            ),
            "tags_from" => {
                let expr = args::assigned(
                    arg,
                    "tags_from = |products: &Vec<Product>| products.iter().map(|p| format!(\"product:{}\", p.id))",
                    errors,
                )
                .cloned();
                set_once(&mut self.tags_from, name, expr, errors);
            }
            "request_consistent" => set_once(&mut self.request_consistent, name, args::flag(arg, errors), errors),
            "in_impl" => set_once(&mut self.in_impl, name, args::flag(arg, errors), errors),
            "crate" => {
                set_once(&mut self.krate, name, args::path(arg, "crate = my_facade::memo_runtime", errors), errors)
            }
            _ => args::unknown(name, KNOWN, "cached", errors),
        }
    }

    /// Rules between arguments.
    fn check(&self, errors: &mut Errors) {
        if let (Some(jitter), None) = (&self.jitter, &self.ttl) {
            errors.at(jitter.span(), "`jitter` spreads expiry around a time to live: add `ttl = ...` too");
        }
        if let Some(ttl) = self.ttl.as_ref().filter(|t| t.value == 0) {
            errors.at(ttl.span(), "`ttl` must be greater than zero; remove `#[cached]` to turn caching off");
        }
        if let Some(ttl) = self.negative_ttl.as_ref().filter(|t| t.value == 0) {
            errors
                .at(ttl.span(), "`negative_ttl` must be greater than zero; leave it out to not keep negative results");
        }
        if let Some(capacity) = self.capacity.as_ref().filter(|c| c.value == 0) {
            errors.at(capacity.span(), "`capacity` must be at least 1; remove `#[cached]` to turn caching off");
        }
        if let (Some(skip), Some(_)) = (&self.skip, &self.key) {
            errors.at(
                skip.span(),
                "`skip` has no effect with `key = ...`: the key expression alone is the key; remove `skip(...)`",
            );
        }
    }
}
