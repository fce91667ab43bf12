//! The `name[]` query parameters that select families (client_golang 1.24).

/// The values of every `name[]` parameter in `query` (the key may be percent-encoded,
/// `name%5B%5D`), or `None` when there is none: then every family is served.
pub(crate) fn selected_names(query: Option<&str>) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for pair in query?.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key) == "name[]" {
            names.push(decode(value));
        }
    }
    (!names.is_empty()).then_some(names)
}

/// Decodes `%XX` escapes and `+` (form encoding's space); a malformed escape is kept
/// as written, and bytes that do not form UTF-8 are replaced.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_every_name_parameter() {
        let names = selected_names(Some("name[]=a&x=1&name%5B%5D=b_total&name[]=c%3Ad"));
        assert_eq!(names.unwrap(), ["a", "b_total", "c:d"]);
    }

    #[test]
    fn no_name_parameter_means_no_selection() {
        assert_eq!(selected_names(None), None);
        assert_eq!(selected_names(Some("")), None);
        assert_eq!(selected_names(Some("name=a&names[]=b")), None);
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(decode("a%zz%4"), "a%zz%4");
        assert_eq!(decode("%ff"), "\u{fffd}");
        assert_eq!(decode("a+b"), "a b");
    }
}
