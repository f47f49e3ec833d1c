//! Async methods that `#[async_trait]` rewrote before memo's attribute ran.
//!
//! An attribute on the `impl` block expands before those on its methods, so with
//! `#[async_trait]` on the block a method's `#[cached]` receives a plain `fn` returning
//! `Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>` whose body is
//! `Box::pin(async move { .. })`. Such a function is memoized as the `async fn` it was written
//! as (returning `T`, its body the async block's) and emitted in the boxed form again.

use syn::{Block, Expr, ItemFn, ReturnType, Signature, Stmt, Type};

/// The function a macro rewrites, as written or, for a boxed async method, as the `async fn`
/// it came from.
pub(crate) struct Function {
    /// What the macro analyzes: for a boxed method, an `async fn` returning the future's output
    /// with the async block as its body.
    pub(crate) item: ItemFn,
    /// The boxed method's signature, which the rewritten method keeps.
    pub(crate) boxed: Option<Signature>,
}

impl Function {
    pub(crate) fn new(item: ItemFn) -> Self {
        let Some((output, block)) = boxed_output(&item.sig).zip(boxed_body(&item.block)) else {
            return Self { item, boxed: None };
        };
        let boxed = item.sig.clone();
        let mut sig = item.sig.clone();
        sig.asyncness = Some(syn::Token![async](sig.fn_token.span));
        sig.output = ReturnType::Type(syn::Token![->](sig.fn_token.span), Box::new(output));
        let block = Box::new(block);
        Self { item: ItemFn { sig, block, ..item }, boxed: Some(boxed) }
    }
}

/// `T` when the function returns `Pin<Box<dyn Future<Output = T> + ..>>`.
pub(crate) fn boxed_output(sig: &Signature) -> Option<Type> {
    if sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &sig.output else { return None };
    let boxed = only_type_argument(ty, "Pin")?;
    let Type::TraitObject(object) = only_type_argument(boxed, "Box")? else { return None };
    object.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else { return None };
        let future = bound.path.segments.last().filter(|s| s.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(args) = &future.arguments else { return None };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
            _ => None,
        })
    })
}

/// The `T` of `Name<T>` (by the last path segment's name).
fn only_type_argument<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last().filter(|s| s.ident == name)?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// The block of `async move { .. }` when that, pinned in a box, is the whole body.
fn boxed_body(block: &Block) -> Option<Block> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else { return None };
    let Expr::Path(callee) = &*call.func else { return None };
    let segments: Vec<String> = callee.path.segments.iter().map(|s| s.ident.to_string()).collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Async(future)) if future.capture.is_some() => Some(future.block.clone()),
        _ => None,
    }
}
