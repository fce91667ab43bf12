//! The `#[label(...)]` attribute, and the naming rules the derives apply at compile time.

use syn::{Attribute, LitInt, LitStr};

/// What `#[label(...)]` attributes on one field or variant say.
#[derive(Default)]
pub(crate) struct LabelAttr {
    /// `rename = "..."`.
    pub(crate) rename: Option<LitStr>,
    /// `max = N`.
    pub(crate) max: Option<LitInt>,
}

/// Parses every `#[label(...)]` among `attrs`; `allow_max` says whether `max` may appear.
pub(crate) fn parse(attrs: &[Attribute], allow_max: bool) -> syn::Result<LabelAttr> {
    let mut out = LabelAttr::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("label")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("max") && allow_max {
                let max: LitInt = meta.value()?.parse()?;
                max.base10_parse::<u64>()?;
                out.max = Some(max);
                Ok(())
            } else if allow_max {
                Err(meta.error("unknown label attribute: expected `rename = \"...\"` or `max = N`"))
            } else {
                Err(meta.error("unknown label attribute: expected `rename = \"...\"`"))
            }
        })?;
    }
    Ok(out)
}

/// Why `name` is not a usable Prometheus label name, if it is not.
pub(crate) fn label_name_problem(name: &str) -> Option<&'static str> {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Some("label names must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if name.starts_with("__") {
        return Some("label names starting with __ are reserved for Prometheus");
    }
    None
}

/// `name` in snake_case: words split before an uppercase letter that follows a lowercase
/// letter or a digit, or that starts a word after an acronym (`HTTPServer` is
/// `http_server`), then lowercased.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if boundary && prev != '_' {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        for (from, to) in [
            ("Get", "get"),
            ("NotFound", "not_found"),
            ("HTTPServer", "http_server"),
            ("GET", "get"),
            ("Http2Push", "http2_push"),
            ("V2", "v2"),
            ("Already_Snake", "already_snake"),
            ("ABCDef", "abc_def"),
        ] {
            assert_eq!(snake_case(from), to, "{from}");
        }
    }

    #[test]
    fn label_names_follow_prometheus_rules() {
        for ok in ["a", "_a", "code", "a9_b"] {
            assert_eq!(label_name_problem(ok), None, "{ok}");
        }
        for bad in ["", "9a", "a-b", "__reserved", "é"] {
            assert!(label_name_problem(bad).is_some(), "{bad}");
        }
    }
}
