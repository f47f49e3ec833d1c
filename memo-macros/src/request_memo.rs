//! `#[request_memo]`: within a request scope, equal calls run once and share their result.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Expr, Ident, Path};

use crate::args::{self, Arg, RawArg, set_once};
use crate::boxed::Function;
use crate::codegen::{self, KeySource};
use crate::errors::{self, Errors};
use crate::subject::{KeyArgs, Place, Subject};

const KNOWN: &[&str] = &["skip", "key", "crate"];

#[derive(Default)]
struct Config {
    skip: Option<Arg<Vec<Ident>>>,
    key: Option<Arg<Expr>>,
    krate: Option<Arg<Path>>,
}

impl Config {
    fn take(&mut self, arg: &RawArg, errors: &mut Errors) {
        let name = &arg.name;
        match name.to_string().as_str() {
            "skip" => set_once(&mut self.skip, name, args::ident_list(arg, "skip(db, client)", errors), errors),
            "key" => {
                let expr = args::assigned(arg, "key = (user.id, region)", errors).cloned();
                set_once(&mut self.key, name, expr, errors);
            }
            "crate" => {
                set_once(&mut self.krate, name, args::path(arg, "crate = my_facade::memo_runtime", errors), errors)
            }
            "ttl" | "jitter" | "negative_ttl" | "capacity" | "max_bytes" | "weigher" => errors.spanned(
                name,
                format_args!(
                    "`{name}` is an argument of `#[cached]`: a request memo lives exactly as long as its request; \
                     use `#[cached({name} = ...)]` to keep values across requests"
                ),
            ),
            _ => args::unknown(name, KNOWN, "request_memo", errors),
        }
    }
}

pub(crate) fn request_memo(args: TokenStream, item: TokenStream) -> TokenStream {
    let func =
        match errors::parse_function(&item, "`#[request_memo]` goes on a function (`fn` or `async fn`) or a method") {
            Ok(func) => Function::new(func),
            Err(tokens) => return tokens,
        };
    let mut errors = Errors::default();
    let raw = match args::parse_raw(args) {
        Ok(raw) => raw,
        Err(error) => return errors::with_item(item, &error),
    };
    let mut config = Config::default();
    for arg in &raw {
        config.take(arg, &mut errors);
    }
    if let (Some(skip), Some(_)) = (&config.skip, &config.key) {
        errors.at(
            skip.span(),
            "`skip` has no effect with `key = ...`: the key expression alone is the key; remove `skip(...)`",
        );
    }
    let key_args = KeyArgs {
        macro_name: "request_memo",
        skip: config.skip.as_ref(),
        key: config.key.as_ref(),
        krate: config.krate.as_ref(),
        place: Place::Free,
    };
    let subject = Subject::new(&func, &key_args, &mut errors);
    match errors.finish(subject) {
        Ok(Some(subject)) => expand(&subject),
        Ok(None) => item,
        Err(error) => errors::with_item(item, &error),
    }
}

/// Input:
///
/// ```text
/// #[request_memo]
/// async fn user(id: u64) -> Result<User, DbError> { body }
/// ```
///
/// Output:
///
/// ```text
/// async fn user(id: u64) -> Result<User, DbError> {
///     let __memo_shape = (&&&Select::<Result<User, DbError>>::new()).shape();
///     static __MEMO_SITE: MemoSite = MemoSite::new(concat!(module_path!(), "::user"));
///     let __memo_key = in_scope().then(|| key_fn((&id,)));
///     request_memo_async(&__MEMO_SITE, __memo_key, __memo_shape, async move { body }).await
/// }
/// ```
fn expand(subject: &Subject<'_>) -> TokenStream {
    let func = subject.func;
    let p = codegen::private(subject);
    let fn_name = func.sig.ident.to_string();
    let prelude = codegen::prelude(subject);
    let key_fn = codegen::key_fn(subject, codegen::KeyUse::Cache);
    let call_args = codegen::call_args(subject, KeySource::Function);
    let loader = codegen::loader(subject, false);
    let call = if subject.is_async {
        quote!(#p::request_memo_async(&__MEMO_SITE, __memo_key, __memo_shape, #loader).await)
    } else {
        quote!(#p::request_memo(&__MEMO_SITE, __memo_key, __memo_shape, #loader))
    };
    codegen::function(
        subject,
        quote! {
            #prelude
            static __MEMO_SITE: #p::MemoSite =
                #p::MemoSite::new(::core::concat!(::core::module_path!(), "::", #fn_name));
            // Outside a scope the key is not even built.
            let __memo_key = if #p::in_scope() {
                let __memo_key_fn = #key_fn;
                ::core::option::Option::Some(__memo_key_fn(#call_args))
            } else {
                ::core::option::Option::None
            };
            #call
        },
    )
}
