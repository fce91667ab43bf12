//! Go's regular expressions as relabeling uses them: [`GoRegex`] compiles RE2 syntax
//! fully anchored (`^(?:…)$`) with the `regex` crate, reading it as Go does where the
//! two dialects differ, and [`Template`] expands `$1`, `${1}` and `${name}` as Go's
//! `Regexp.Expand`.

use std::fmt;
use std::sync::Arc;

use regex::{Captures, Regex};

/// A regular expression of a relabeling rule, anchored at both ends as Prometheus
/// anchors it, compiled once.
///
/// The pattern is read as Go reads RE2 syntax: `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`)
/// are the ASCII classes `[0-9]`, `[0-9A-Za-z_]`, `[\t\n\f\r ]`, `\b`/`\B` the ASCII
/// word boundary, `\Q…\E` quotes, a `{` that does not start a repetition is a literal,
/// and `[` and `&&`/`~~` inside a class are literals. Syntax the `regex` crate accepts
/// and Go rejects (`(?x)`, `(?<name>…)`) is accepted.
///
/// ```
/// use promsdk_harness::relabel::GoRegex;
/// let re = GoRegex::new(r"f(\w+)").unwrap();
/// assert!(re.is_match("foo"));
/// assert!(!re.is_match("a foo"), "anchored");
/// assert!(!re.is_match("fé"), r"\w is ASCII, as in Go");
/// assert_eq!(re.as_str(), r"f(\w+)");
/// ```
#[derive(Clone)]
pub struct GoRegex {
    source: Arc<str>,
    compiled: Regex,
    /// The pattern is `(.*)`: group 1 is the whole input when it has no newline.
    match_all: bool,
}

/// A pattern that does not compile, as [`GoRegex::new`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regex {regex:?}: {message}")]
pub struct RegexError {
    /// The pattern as written.
    pub regex: String,
    /// What the regex compiler said.
    pub message: String,
}

impl GoRegex {
    /// Compiles `pattern` anchored as `^(?:pattern)$`.
    pub fn new(pattern: &str) -> Result<Self, RegexError> {
        let anchored = format!("^(?:{})$", translate(pattern));
        let compiled = Regex::new(&anchored).map_err(|e| RegexError {
            regex: pattern.to_owned(),
            message: e.to_string(),
        })?;
        Ok(GoRegex {
            source: pattern.into(),
            compiled,
            match_all: pattern == "(.*)",
        })
    }

    /// The pattern as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        if self.match_all {
            return !text.contains('\n');
        }
        self.compiled.is_match(text)
    }

    /// The groups of a match of the whole of `text`, if it matches.
    pub(crate) fn captures<'t>(&self, text: &'t str) -> Option<Groups<'t>> {
        if self.match_all {
            return (!text.contains('\n')).then_some(Groups::All(text));
        }
        self.compiled.captures(text).map(Groups::Captures)
    }

    /// The index of the group named `name`.
    fn group_index(&self, name: &str) -> Option<usize> {
        self.compiled.capture_names().position(|n| n == Some(name))
    }
}

impl PartialEq for GoRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for GoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoRegex({:?})", self.source)
    }
}

/// The groups of one match.
pub(crate) enum Groups<'t> {
    /// `(.*)` matched: groups 0 and 1 are the whole text.
    All(&'t str),
    /// Any other pattern.
    Captures(Captures<'t>),
}

impl<'t> Groups<'t> {
    fn get(&self, i: usize) -> Option<&'t str> {
        match self {
            Groups::All(text) => (i <= 1).then_some(*text),
            Groups::Captures(c) => c.get(i).map(|m| m.as_str()),
        }
    }
}

/// A replacement or target-label template, split once into literal text and group
/// references with the rules of Go's `Regexp.Expand`: `$$` is a `$`; `$name` takes
/// the longest run of letters, digits and `_` as the name (so `$1x` is the group
/// named `1x`, which does not exist, and expands to nothing); `${name}` ends at the
/// brace; a name of digits without a leading zero is a group number; a group that
/// does not exist or did not take part in the match expands to nothing; a `$` not
/// followed by a valid name is a literal `$`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    parts: Vec<Part>,
    /// The expansion when the template has no group references.
    literal: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Group(usize),
    /// A reference to a group the regex does not have: expands to nothing.
    Nothing,
}

impl Template {
    /// Splits `template`, resolving group names against `regex`.
    pub(crate) fn new(template: &str, regex: &GoRegex) -> Self {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            text.push_str(&rest[..dollar]);
            rest = &rest[dollar + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                text.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = extract(rest) else {
                text.push('$');
                continue;
            };
            rest = after;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(
                match group_number(name).or_else(|| regex.group_index(name)) {
                    Some(i) if i < regex.compiled.captures_len() => Part::Group(i),
                    _ => Part::Nothing,
                },
            );
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        let literal = match parts.as_slice() {
            [] => Some(Arc::from("")),
            [Part::Text(t)] => Some(Arc::from(t.as_str())),
            _ => None,
        };
        Template { parts, literal }
    }

    /// The expansion when the template has no group references.
    pub(crate) fn literal(&self) -> Option<&Arc<str>> {
        self.literal.as_ref()
    }

    /// Appends the expansion for the match `groups` to `out`.
    pub(crate) fn expand_into(&self, groups: &Groups<'_>, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group(i) => out.push_str(groups.get(*i).unwrap_or("")),
                Part::Nothing => {}
            }
        }
    }
}

/// The name after a `$` (`name` or `{name}`) and the rest, as Go's `extract`.
fn extract(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let (name, rest) = body.split_at(end);
    if braced {
        return rest.strip_prefix('}').map(|rest| (name, rest));
    }
    Some((name, rest))
}

/// A group number: ASCII digits without a leading zero (`0` itself is fine), below
/// 10^8, as Go's `extract` reads them.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse().ok().filter(|&n| n < 100_000_000)
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Rewrites a pattern in Go's RE2 dialect into the `regex` crate's.
fn translate(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    let mut rest = src;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\\' => rest = escape(rest, &mut out, false),
            '[' => rest = class(rest, &mut out),
            '{' if repetition(rest).is_none() => out.push_str(r"\{"),
            _ => out.push(c),
        }
    }
    out
}

/// Translates the escape after a `\` (in a class when `in_class`); returns the rest.
fn escape<'a>(rest: &'a str, out: &mut String, in_class: bool) -> &'a str {
    let Some(c) = rest.chars().next() else {
        out.push('\\');
        return rest;
    };
    let after = &rest[c.len_utf8()..];
    let perl = match c {
        'd' | 'D' => Some(DIGIT),
        'w' | 'W' => Some(WORD),
        's' | 'S' => Some(SPACE),
        _ => None,
    };
    match (perl, c.is_ascii_uppercase(), in_class) {
        (Some(set), false, true) => out.push_str(set),
        (Some(set), false, false) => {
            out.push('[');
            out.push_str(set);
            out.push(']');
        }
        (Some(set), true, _) => {
            out.push_str("[^");
            out.push_str(set);
            out.push(']');
        }
        (None, ..) => match c {
            'b' | 'B' if !in_class => {
                out.push_str("(?-u:\\");
                out.push(c);
                out.push(')');
            }
            'Q' if !in_class => {
                let (quoted, tail) = after.split_once(r"\E").unwrap_or((after, ""));
                out.push_str(&regex::escape(quoted));
                return tail;
            }
            _ => {
                out.push('\\');
                out.push(c);
            }
        },
    }
    after
}

/// Translates a class after its `[`; returns the rest after its `]`.
fn class<'a>(mut rest: &'a str, out: &mut String) -> &'a str {
    out.push('[');
    if let Some(r) = rest.strip_prefix('^') {
        out.push('^');
        rest = r;
    }
    if let Some(r) = rest.strip_prefix(']') {
        out.push_str(r"\]");
        rest = r;
    }
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            ']' => {
                out.push(']');
                return rest;
            }
            '\\' => rest = escape(rest, out, true),
            '[' if rest.starts_with(':') => match rest.find(":]") {
                Some(end) => {
                    out.push('[');
                    out.push_str(&rest[..end + 2]);
                    rest = &rest[end + 2..];
                }
                None => out.push_str(r"\["),
            },
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    rest
}

/// The length of a repetition `{n}`, `{n,}` or `{n,m}` at the start of `rest` (after
/// its `{`), if it is one.
fn repetition(rest: &str) -> Option<usize> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(rest);
    if n == 0 {
        return None;
    }
    let mut i = n;
    if rest[i..].starts_with(',') {
        i += 1;
        i += digits(&rest[i..]);
    }
    rest[i..].starts_with('}').then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dialect_is_translated() {
        for (name, pattern, yes, no) in [
            ("ascii digit", r"\d+", "123", "١٢٣"),
            ("ascii word", r"\w+", "a_1", "é"),
            ("ascii space excludes \\v", r"a\sb", "a b", "a\u{b}b"),
            ("not a digit is unicode", r"\D", "é", "1"),
            ("class with perl class", r"[\d.]+", "1.2", "1,2"),
            ("negated perl class in class", r"[\Wa]+", "a-", "b"),
            ("brace not a repetition", r"a{x}", "a{x}", "a"),
            ("brace repetition", r"a{2,3}", "aaa", "a"),
            (
                "quoted: + repeats the last quoted character",
                r"\Q.*\E+",
                ".**",
                ".*.*",
            ),
            ("bracket in class", r"[[a]+", "[a", "b"),
            ("posix class", r"[[:alpha:]]+", "ab", "1"),
            ("ampersands in class", r"[a&&b]+", "a&b", "c"),
            ("ascii word boundary", r"a\b.*", "aé", "ab"),
            ("leading bracket in class", r"[]a]+", "]a", "b"),
        ] {
            let re = GoRegex::new(pattern).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(re.is_match(yes), "{name}: {pattern} should match {yes:?}");
            assert!(
                !re.is_match(no),
                "{name}: {pattern} should not match {no:?}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_named() {
        let err = GoRegex::new("(foo").unwrap_err();
        assert_eq!(err.regex, "(foo");
        assert!(err.to_string().contains("\"(foo\""), "{err}");
    }

    #[test]
    fn match_all_does_not_match_newlines() {
        let re = GoRegex::new("(.*)").unwrap();
        assert!(re.is_match("a b"));
        assert!(!re.is_match("a\nb"), "`.` does not match a newline");
        let Some(groups) = re.captures("xy") else {
            panic!("(.*) matches xy");
        };
        assert_eq!(
            (groups.get(0), groups.get(1), groups.get(2)),
            (Some("xy"), Some("xy"), None)
        );
    }

    #[test]
    fn templates_expand_as_go() {
        let re = GoRegex::new("(?P<first>a)(b)?(c)").unwrap();
        for (name, template, text, want) in [
            ("number", "$1", "abc", "a"),
            ("braced number", "${2}x", "abc", "bx"),
            ("name", "${first}-$first", "abc", "a-a"),
            ("$1x is the group named 1x", "$1x", "abc", ""),
            ("dollar dollar", "$$1", "abc", "$1"),
            ("lone dollar", "a$", "abc", "a$"),
            ("dollar before punctuation", "$-", "abc", "$-"),
            ("unclosed brace", "${1", "abc", "${1"),
            ("empty braces", "${}", "abc", "${}"),
            ("leading zero is a name", "$01", "abc", ""),
            ("group zero", "$0", "abc", "abc"),
            ("out of range", "$9", "abc", ""),
            ("unknown name", "$nope", "abc", ""),
            ("group not in the match", "[$2]", "ac", "[]"),
        ] {
            let t = Template::new(template, &re);
            let Some(groups) = re.captures(text) else {
                panic!("{name}: no match of {text:?}");
            };
            let mut out = String::new();
            t.expand_into(&groups, &mut out);
            assert_eq!(out, want, "{name}: {template:?}");
        }
    }

    #[test]
    fn literal_templates_are_shared() {
        let re = GoRegex::new("(.*)").unwrap();
        assert_eq!(
            Template::new("a$$b", &re).literal().map(|s| &**s),
            Some("a$b")
        );
        assert_eq!(Template::new("", &re).literal().map(|s| &**s), Some(""));
        assert_eq!(Template::new("a$1", &re).literal(), None);
    }
}
