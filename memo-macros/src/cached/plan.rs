//! Validation: the arguments and the signature, checked together, become a plan that
//! expansion turns into code without further checks.

use syn::LitStr;

use super::config::Config;
use crate::boxed::Function;
use crate::errors::Errors;
use crate::subject::{KeyArgs, Place, Subject};

/// How entries are kept.
pub(crate) struct Settings {
    pub(crate) ttl_ms: Option<u64>,
    pub(crate) jitter_ms: Option<u64>,
    pub(crate) negative_ttl_ms: Option<u64>,
    pub(crate) capacity: Option<usize>,
    pub(crate) max_bytes: Option<u64>,
    /// `weigher = ...`: what a stored value weighs against `max_bytes`.
    pub(crate) weigher: Option<syn::Expr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<u32>,
    /// Within a request scope, repeated calls answer from the request memo.
    pub(crate) request_consistent: bool,
    pub(crate) stale_ms: Option<u64>,
    pub(crate) stale_if_error_ms: Option<u64>,
    pub(crate) retry_after_ms: Option<u64>,
    pub(crate) early_refresh: Option<f64>,
    pub(crate) timeout_ms: Option<u64>,
    /// Loads may outlive the call (`stale`, `early_refresh`, `timeout`): the body is `'static`.
    pub(crate) background: bool,
    /// Entries are also kept in the shared L2.
    pub(crate) distributed: bool,
    /// One load per key across the instances, with a lock lasting this long.
    pub(crate) fleet_lock_ms: Option<u64>,
}

/// How long a fleet-wide load lock lasts without `lock_ttl` or `timeout`.
const DEFAULT_LOCK_TTL_MS: u64 = 5_000;

/// Tags an entry carries.
#[derive(Default)]
pub(crate) struct Tagging {
    /// `tags = [...]`: expressions over the arguments.
    pub(crate) exprs: Vec<syn::Expr>,
    /// Parameters the expressions name (indices), and whether they name `self`.
    pub(crate) params: Vec<usize>,
    pub(crate) uses_self: bool,
    /// `tags_from = ...`: a closure over the stored value.
    pub(crate) from_value: Option<syn::Expr>,
}

pub(crate) struct Plan<'f> {
    pub(crate) subject: Subject<'f>,
    pub(crate) settings: Settings,
    pub(crate) tagging: Tagging,
}

impl<'f> Plan<'f> {
    pub(crate) fn new(config: Config, function: &'f Function, place: Place, mut errors: Errors) -> syn::Result<Self> {
        let func = &function.item;
        let args = KeyArgs {
            macro_name: "cached",
            skip: config.skip.as_ref(),
            key: config.key.as_ref(),
            krate: config.krate.as_ref(),
            place: if config.in_impl.is_some() { Place::Impl } else { place },
        };
        let subject = Subject::new(function, &args, &mut errors);
        let settings = Settings {
            ttl_ms: config.ttl.as_ref().map(|a| a.value),
            jitter_ms: config.jitter.as_ref().map(|a| a.value),
            negative_ttl_ms: config.negative_ttl.as_ref().map(|a| a.value),
            capacity: config.capacity.as_ref().map(|a| a.value),
            max_bytes: config.max_bytes.as_ref().map(|a| a.value),
            weigher: config.weigher.as_ref().map(|a| a.value.clone()),
            name: config.name.as_ref().map(|a| a.value.clone()),
            version: config.version.as_ref().map(|a| a.value),
            request_consistent: config.request_consistent.is_some(),
            stale_ms: config.stale.as_ref().map(|a| a.value),
            stale_if_error_ms: config.stale_if_error.as_ref().map(|a| a.value),
            retry_after_ms: config.retry_after.as_ref().map(|a| a.value),
            early_refresh: config.early_refresh.as_ref().map(|a| a.value),
            timeout_ms: config.timeout.as_ref().map(|a| a.value),
            background: config.background_argument().is_some(),
            distributed: config.distributed.is_some(),
            fleet_lock_ms: config.fleet_single_flight.as_ref().map(|_| {
                let lock_ttl = config.lock_ttl.as_ref().or(config.timeout.as_ref());
                lock_ttl.map_or(DEFAULT_LOCK_TTL_MS, |a| a.value)
            }),
        };
        if let Some(arg) = &config.distributed
            && func.sig.asyncness.is_none()
        {
            errors.at(arg.span(), "`distributed` needs an `async fn`: reading the L2 is asynchronous");
        }
        if let Some(arg) = &config.request_consistent
            && func.sig.generics.type_params().next().is_some()
        {
            errors.at(
                arg.span(),
                "`request_consistent` is not available on a generic function: call the generic function from a \
                 non-generic one that has it",
            );
        }
        if let Some(arg) = config.background_argument() {
            crate::signature::require_owned(&func.sig, arg, &mut errors);
        }
        let subject = errors.finish(subject)?;
        let tagging = match &subject {
            Some(subject) => {
                let exprs = config.tags.map(|t| t.value).unwrap_or_default();
                let mut params = Vec::new();
                let mut uses_self = false;
                for expr in &exprs {
                    let (named, this) = crate::subject::named_params(expr, &subject.params);
                    params.extend(named);
                    uses_self |= this;
                }
                params.sort_unstable();
                params.dedup();
                Tagging { exprs, params, uses_self, from_value: config.tags_from.map(|t| t.value) }
            }
            None => Tagging::default(),
        };
        // `Subject::new` reports why whenever it returns `None`, so `finish` failed already then.
        subject
            .map(|subject| Self { subject, settings, tagging })
            .ok_or_else(|| syn::Error::new(func.sig.ident.span(), "`#[cached]` cannot rewrite this function"))
    }
}
