//! Parsing of attribute arguments shared by the macros: `name = value`, `name(a, b)` and bare
//! `name` flags, typed conversions, and the duplicate and unknown-argument checks.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Token};

use crate::errors::Errors;

/// One argument as written, before its meaning is known.
pub(crate) struct RawArg {
    pub(crate) name: Ident,
    pub(crate) value: RawValue,
}

pub(crate) enum RawValue {
    /// `name`
    Flag,
    /// `name = expr`
    Assign(Expr),
    /// `name(tokens)`
    List(TokenStream),
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `Ident::parse_any` also accepts keywords such as `crate`.
        let name = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            RawValue::Assign(input.parse()?)
        } else if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            RawValue::List(content.parse()?)
        } else {
            RawValue::Flag
        };
        Ok(Self { name, value })
    }
}

pub(crate) fn parse_raw(tokens: TokenStream) -> syn::Result<Vec<RawArg>> {
    let args = Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens)?;
    Ok(args.into_iter().collect())
}

/// A parsed argument that remembers where it was written.
pub(crate) struct Arg<T> {
    pub(crate) name: Ident,
    pub(crate) value: T,
}

impl<T> Arg<T> {
    pub(crate) fn span(&self) -> Span {
        self.name.span()
    }
}

/// Stores an argument, or reports it as a duplicate. The one place duplicates are checked.
pub(crate) fn set_once<T>(slot: &mut Option<Arg<T>>, name: &Ident, value: Option<T>, errors: &mut Errors) {
    if slot.is_some() {
        errors.spanned(name, format_args!("duplicate argument `{name}`; give it once"));
    } else if let Some(value) = value {
        *slot = Some(Arg { name: name.clone(), value });
    }
}

/// Reports an argument no macro knows, suggesting the closest known one.
pub(crate) fn unknown(name: &Ident, known: &[&str], macro_name: &str, errors: &mut Errors) {
    let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    let written = name.to_string();
    let hint = known
        .iter()
        .map(|k| (distance(&written, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    errors.spanned(
        name,
        format_args!("unknown argument `{written}` for `#[{macro_name}]`; {hint}expected one of {list}"),
    );
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The `= value` of an argument, or an error saying how to write it.
pub(crate) fn assigned<'a>(arg: &'a RawArg, example: &str, errors: &mut Errors) -> Option<&'a Expr> {
    match &arg.value {
        RawValue::Assign(expr) => Some(expr),
        _ => {
            errors.spanned(&arg.name, format_args!("`{}` needs a value: write `{example}`", arg.name));
            None
        }
    }
}

/// Reports a value given to an argument that takes none.
pub(crate) fn flag(arg: &RawArg, errors: &mut Errors) -> Option<()> {
    match &arg.value {
        RawValue::Flag => Some(()),
        _ => {
            errors.spanned(&arg.name, format_args!("`{}` takes no value: write just `{}`", arg.name, arg.name));
            None
        }
    }
}

/// `name = [a, b, c]`: a list of expressions.
pub(crate) fn expr_list(arg: &RawArg, example: &str, errors: &mut Errors) -> Option<Vec<Expr>> {
    let expr = assigned(arg, example, errors)?;
    match expr {
        Expr::Array(array) => Some(array.elems.iter().cloned().collect()),
        _ => {
            errors.spanned(expr, format_args!("`{}` takes a list in brackets: write `{example}`", arg.name));
            None
        }
    }
}

fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(lit) => Some(&lit.lit),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

/// A duration in milliseconds: an integer number of seconds, or a string such as `"250ms"`,
/// `"30s"`, `"5m"`, `"1h"`, `"1d"` or `"1h30m"`.
pub(crate) fn duration(arg: &RawArg, errors: &mut Errors) -> Option<u64> {
    let name = &arg.name;
    let example = format!("{name} = 300` or `{name} = \"5m\"");
    let explain = format!(
        "`{name}` must be an integer number of seconds or a string with a unit, \
         such as `{name} = 300`, `{name} = \"250ms\"`, `\"30s\"`, `\"5m\"`, `\"1h\"` or `\"1h30m\"`"
    );
    amount(arg, &example, &explain, |s| s.checked_mul(1000), parse_duration_text, errors)
}

/// A quantity written as an integer (scaled by `int`) or as a string with units (read by
/// `text`); `explain` is the error at the value when it is neither.
fn amount(
    arg: &RawArg,
    example: &str,
    explain: &str,
    int: fn(u64) -> Option<u64>,
    text: fn(&str) -> Option<u64>,
    errors: &mut Errors,
) -> Option<u64> {
    let expr = assigned(arg, example, errors)?;
    let parsed = match literal(expr) {
        Some(Lit::Int(value)) => value.base10_parse::<u64>().ok().and_then(int),
        Some(Lit::Str(value)) => text(&value.value()),
        _ => None,
    };
    if parsed.is_none() {
        errors.spanned(expr, explain);
    }
    parsed
}

fn parse_duration_text(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(rest.len());
        let number: u64 = rest[..digits].replace('_', "").parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_ms: u64 = match rest[..unit_len].trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(number.checked_mul(unit_ms)?)?;
    }
    Some(total)
}

/// `name = 67_108_864` (bytes) or `name = "64MiB"`: a number of bytes.
pub(crate) fn bytes(arg: &RawArg, errors: &mut Errors) -> Option<u64> {
    let name = &arg.name;
    let explain = format!(
        "`{name}` must be an integer number of bytes or a string with a unit, such as \
         `{name} = 1_000_000`, `{name} = \"512KiB\"`, `\"64MiB\"` or `\"1GB\"` (units: B, KB, MB, GB, KiB, MiB, GiB)"
    );
    amount(arg, &format!("{name} = \"64MiB\""), &explain, Some, parse_bytes_text, errors)
}

fn parse_bytes_text(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(text.len());
    let number: u64 = text[..digits].replace('_', "").parse().ok()?;
    let unit: u64 = match text[digits..].trim() {
        "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(unit)
}

/// A non-negative integer such as `50_000`.
pub(crate) fn integer<T: std::str::FromStr>(arg: &RawArg, example: &str, errors: &mut Errors) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    let expr = assigned(arg, example, errors)?;
    match literal(expr) {
        Some(Lit::Int(int)) => match int.base10_parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.spanned(expr, format_args!("`{}`: {e}; write `{example}`", arg.name));
                None
            }
        },
        _ => {
            errors.spanned(expr, format_args!("`{}` must be an integer literal: write `{example}`", arg.name));
            None
        }
    }
}

/// A positive number such as `1.0` or `2`.
pub(crate) fn positive_number(arg: &RawArg, example: &str, errors: &mut Errors) -> Option<f64> {
    let expr = assigned(arg, example, errors)?;
    let value = match literal(expr) {
        Some(Lit::Float(f)) => f.base10_parse::<f64>().ok(),
        Some(Lit::Int(i)) => i.base10_parse::<f64>().ok(),
        _ => None,
    };
    match value {
        Some(v) if v > 0.0 && v.is_finite() => Some(v),
        _ => {
            errors.spanned(expr, format_args!("`{}` must be a positive number: write `{example}`", arg.name));
            None
        }
    }
}

/// A string literal.
pub(crate) fn string(arg: &RawArg, example: &str, errors: &mut Errors) -> Option<LitStr> {
    let expr = assigned(arg, example, errors)?;
    match literal(expr) {
        Some(Lit::Str(s)) => Some(s.clone()),
        _ => {
            errors.spanned(expr, format_args!("`{}` must be a string literal: write `{example}`", arg.name));
            None
        }
    }
}

/// `name(a, b, c)`: a list of identifiers.
pub(crate) fn ident_list(arg: &RawArg, example: &str, errors: &mut Errors) -> Option<Vec<Ident>> {
    let RawValue::List(tokens) = &arg.value else {
        errors.spanned(&arg.name, format_args!("`{}` takes a list of parameter names: write `{example}`", arg.name));
        return None;
    };
    let names = |input: ParseStream<'_>| Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any);
    match names.parse2(tokens.clone()) {
        Ok(list) => Some(list.into_iter().collect()),
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format_args!("`{}` takes parameter names: write `{example}`", arg.name),
            ));
            None
        }
    }
}

/// `crate = path` or `crate = "path"`.
pub(crate) fn path(arg: &RawArg, example: &str, errors: &mut Errors) -> Option<syn::Path> {
    let expr = assigned(arg, example, errors)?;
    let parsed = match expr {
        Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => s.parse::<syn::Path>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        errors.spanned(expr, format_args!("`{}` must be a path: write `{example}`", arg.name));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration_text("250ms"), Some(250));
        assert_eq!(parse_duration_text("30s"), Some(30_000));
        assert_eq!(parse_duration_text("5m"), Some(300_000));
        assert_eq!(parse_duration_text("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_text("1d"), Some(86_400_000));
        assert_eq!(parse_duration_text("10"), None);
        assert_eq!(parse_duration_text("5x"), None);
        assert_eq!(parse_duration_text(""), None);
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_bytes_text("64MiB"), Some(64 << 20));
        assert_eq!(parse_bytes_text("512 KiB"), Some(512 << 10));
        assert_eq!(parse_bytes_text("1GB"), Some(1_000_000_000));
        assert_eq!(parse_bytes_text("1_000B"), Some(1_000));
        assert_eq!(parse_bytes_text("64"), None, "a string needs a unit");
        assert_eq!(parse_bytes_text("64mb"), None);
        assert_eq!(parse_bytes_text(""), None);
    }

    #[test]
    fn suggestions_use_edit_distance() {
        assert_eq!(distance("tll", "ttl"), 1);
        assert_eq!(distance("jiter", "jitter"), 1);
        assert!(distance("capacity", "ttl") > 2);
    }
}
