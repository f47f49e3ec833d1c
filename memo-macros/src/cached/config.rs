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
    "max_bytes",
    "weigher",
    "skip",
    "key",
    "name",
    "version",
    "stale",
    "stale_if_error",
    "retry_after",
    "early_refresh",
    "timeout",
    "tags",
    "tags_from",
    "distributed",
    "fleet_single_flight",
    "lock_ttl",
    "request_consistent",
    "in_impl",
    "batch",
    "crate",
];

/// Everything `#[cached(...)]` was given, each with the span of its name.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) ttl: Option<Arg<u64>>,
    pub(crate) jitter: Option<Arg<u64>>,
    pub(crate) negative_ttl: Option<Arg<u64>>,
    pub(crate) capacity: Option<Arg<usize>>,
    pub(crate) max_bytes: Option<Arg<u64>>,
    pub(crate) weigher: Option<Arg<Expr>>,
    pub(crate) skip: Option<Arg<Vec<Ident>>>,
    pub(crate) key: Option<Arg<Expr>>,
    pub(crate) name: Option<Arg<LitStr>>,
    pub(crate) version: Option<Arg<u32>>,
    pub(crate) stale: Option<Arg<u64>>,
    pub(crate) stale_if_error: Option<Arg<u64>>,
    pub(crate) retry_after: Option<Arg<u64>>,
    pub(crate) early_refresh: Option<Arg<f64>>,
    pub(crate) timeout: Option<Arg<u64>>,
    pub(crate) tags: Option<Arg<Vec<Expr>>>,
    pub(crate) tags_from: Option<Arg<Expr>>,
    pub(crate) request_consistent: Option<Arg<()>>,
    pub(crate) distributed: Option<Arg<()>>,
    pub(crate) fleet_single_flight: Option<Arg<()>>,
    pub(crate) lock_ttl: Option<Arg<u64>>,
    pub(crate) in_impl: Option<Arg<()>>,
    pub(crate) batch: Option<Arg<()>>,
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
            "max_bytes" => set_once(&mut self.max_bytes, name, args::bytes(arg, errors), errors),
            "weigher" => {
                let expr = args::assigned(arg, "weigher = |page: &Page| page.html.len()", errors).cloned();
                set_once(&mut self.weigher, name, expr, errors);
            }
            "skip" => set_once(&mut self.skip, name, args::ident_list(arg, "skip(db, client)", errors), errors),
            "key" => {
                let expr = args::assigned(arg, "key = (user.id, region)", errors).cloned();
                set_once(&mut self.key, name, expr, errors);
            }
            "name" => set_once(&mut self.name, name, args::string(arg, "name = \"products\"", errors), errors),
            "version" => set_once(&mut self.version, name, args::integer(arg, "version = 2", errors), errors),
            "stale" => set_once(&mut self.stale, name, args::duration(arg, errors), errors),
            "stale_if_error" => set_once(&mut self.stale_if_error, name, args::duration(arg, errors), errors),
            "retry_after" => set_once(&mut self.retry_after, name, args::duration(arg, errors), errors),
            "early_refresh" => set_once(
                &mut self.early_refresh,
                name,
                args::positive_number(arg, "early_refresh = 1.0", errors),
                errors,
            ),
            "timeout" => set_once(&mut self.timeout, name, args::duration(arg, errors), errors),
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
            "distributed" => set_once(&mut self.distributed, name, args::flag(arg, errors), errors),
            "fleet_single_flight" => set_once(&mut self.fleet_single_flight, name, args::flag(arg, errors), errors),
            "lock_ttl" => set_once(&mut self.lock_ttl, name, args::duration(arg, errors), errors),
            "request_consistent" => set_once(&mut self.request_consistent, name, args::flag(arg, errors), errors),
            "in_impl" => set_once(&mut self.in_impl, name, args::flag(arg, errors), errors),
            "batch" => set_once(&mut self.batch, name, args::flag(arg, errors), errors),
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
        if let Some(bytes) = self.max_bytes.as_ref().filter(|b| b.value == 0) {
            errors.at(bytes.span(), "`max_bytes` must be at least 1; remove `#[cached]` to turn caching off");
        }
        if let (Some(weigher), None) = (&self.weigher, &self.max_bytes) {
            errors.at(
                weigher.span(),
                "`weigher` says what a value weighs against a bound in bytes: add `max_bytes = \"64MiB\"` too",
            );
        }
        for (arg, what) in [
            (self.stale.as_ref().map(Arg::span), "`stale` serves a value for a while after its time to live"),
            (self.stale_if_error.as_ref().map(Arg::span), "`stale_if_error` keeps a value past its time to live"),
            (
                self.early_refresh.as_ref().map(Arg::span),
                "`early_refresh` reloads a value shortly before its time to live ends",
            ),
        ] {
            if let (Some(span), None) = (arg, &self.ttl) {
                errors.at(span, format_args!("{what}: add `ttl = ...` too"));
            }
        }
        if let (Some(retry), None) = (&self.retry_after, &self.stale_if_error) {
            errors.at(retry.span(), "`retry_after` paces retries of a failing load answered by `stale_if_error`: add `stale_if_error = ...` too");
        }
        if let (Some(fleet), None) = (&self.fleet_single_flight, &self.distributed) {
            errors.at(
                fleet.span(),
                "`fleet_single_flight` takes a lock in the shared Redis L2 before a load: add `distributed` too",
            );
        }
        if let (Some(lock_ttl), None) = (&self.lock_ttl, &self.fleet_single_flight) {
            errors.at(
                lock_ttl.span(),
                "`lock_ttl` is how long a fleet-wide load lock lasts: add `fleet_single_flight` too",
            );
        }
        for arg in
            [&self.stale, &self.stale_if_error, &self.retry_after, &self.timeout, &self.lock_ttl].into_iter().flatten()
        {
            if arg.value == 0 {
                errors.at(arg.span(), format_args!("`{}` must be greater than zero; leave it out instead", arg.name));
            }
        }
        if self.batch.is_some() {
            for name in self.unbatched() {
                errors.at(
                    name.span(),
                    format_args!(
                        "`{name}` does not work with `batch` yet: remove it, or cache one key per call without `batch`"
                    ),
                );
            }
        }
        if let (Some(skip), Some(_)) = (&self.skip, &self.key) {
            errors.at(
                skip.span(),
                "`skip` has no effect with `key = ...`: the key expression alone is the key; remove `skip(...)`",
            );
        }
    }
}

impl Config {
    /// The arguments given that a `batch` function does not take (yet): it keeps entries with
    /// a time to live, jitter, a negative time to live, a bound and tags from each value, in
    /// the L1 and, `distributed`, in the L2, serves stale ones while it reloads them, and
    /// answers a failed load with the last good values (`stale_if_error`).
    fn unbatched(&self) -> impl Iterator<Item = &Ident> {
        let names = [
            self.weigher.as_ref().map(|a| &a.name),
            self.skip.as_ref().map(|a| &a.name),
            self.key.as_ref().map(|a| &a.name),
            self.timeout.as_ref().map(|a| &a.name),
            self.tags.as_ref().map(|a| &a.name),
            self.request_consistent.as_ref().map(|a| &a.name),
            self.fleet_single_flight.as_ref().map(|a| &a.name),
            self.lock_ttl.as_ref().map(|a| &a.name),
            self.in_impl.as_ref().map(|a| &a.name),
        ];
        names.into_iter().flatten()
    }

    /// The argument that makes loads run apart from their caller, if any: such loads need a
    /// `'static` body.
    pub(crate) fn background_argument(&self) -> Option<&Ident> {
        self.stale
            .as_ref()
            .map(|a| &a.name)
            .or(self.early_refresh.as_ref().map(|a| &a.name))
            .or(self.timeout.as_ref().map(|a| &a.name))
    }
}
