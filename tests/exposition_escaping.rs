//! Escaping: no label value, state name, exemplar value or help text can inject a line
//! or a series. Each exposition is split into lines and read back by a strict reader
//! written here (independent of the encoder): every line must be a metadata comment of
//! our family or a sample of our family, and every value must decode to what we wrote.

use std::sync::Arc;

use promsdk::{
    encode, Desc, Exemplar, Format, LabelSet, MetricFamily, MetricType, Opts, Sample, Value,
};
use proptest::prelude::*;

/// Characters that matter to the formats, plus a few that other readers split lines on.
const TRICKY: &[char] = &[
    '"', '\\', '\n', '\r', '{', '}', ',', '=', '#', ' ', '\t', 'n', 'a', 'é', '日', '\u{2028}',
    '\u{85}', '\0', '😀',
];

const ADVERSARIAL: &[&str] = &[
    "",
    "\\",
    "\"",
    "x\"} 1\nfake_series 666\n# EOF",
    "\\\"} 2\nevil{a=\"",
    "\n# TYPE evil counter\nevil_total 1",
    "abc\\",
    "\\n is not a newline",
    "emoji 😀 and ünïcödé",
    "} 1 # {trace_id=\"x\"} 1",
];

struct Expected {
    format: Format,
    help: String,
    value: String,
}

/// Builds families named `victim` (gauge), `victim_state` (state set) and `victim_hits`
/// (counter with an exemplar) whose every free-text field is `value`.
fn families(help: &str, value: &str) -> Vec<MetricFamily> {
    let labels = LabelSet::from_pairs("victim", &[("a", value), ("b", value)]).unwrap();
    let mut gauge = MetricFamily::new("victim", help, MetricType::Gauge);
    gauge
        .samples
        .push(Sample::new(labels.clone(), Value::Gauge(1.0)));
    let mut state = MetricFamily::new("victim_state", help, MetricType::StateSet);
    state.samples.push(Sample::new(
        labels.clone(),
        Value::StateSet(vec![(Arc::from(value), true)]),
    ));
    let mut counter = MetricFamily::new("victim_hits", help, MetricType::Counter);
    let exemplar = Exemplar {
        labels: LabelSet::from_pairs("victim_hits", &[("trace_id", value)]).unwrap(),
        value: 1.0,
        timestamp: None,
    };
    counter.samples.push(Sample::new(
        labels,
        Value::Counter {
            total: 1.0,
            created: None,
            exemplar: Some(Box::new(exemplar)),
        },
    ));
    vec![gauge, state, counter]
}

/// Decodes an escaped string up to (not including) an unescaped `"` or the end.
/// Returns the decoded text and the rest after it.
fn unescape(s: &str, quote_escapes: bool, stop_at_quote: bool) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, '"')) if quote_escapes => out.push('"'),
                other => return Err(format!("bad escape {other:?} in {s:?}")),
            },
            '"' if stop_at_quote => return Ok((out, &s[i + 1..])),
            '"' if quote_escapes => return Err(format!("raw quote in {s:?}")),
            c => out.push(c),
        }
    }
    if stop_at_quote {
        return Err(format!("unterminated string in {s:?}"));
    }
    Ok((out, ""))
}

/// Decoded label pairs in the order read.
type Pairs = Vec<(String, String)>;

/// Reads `{name="value",…}`; returns the pairs and the rest of the line.
fn read_labels(s: &str) -> Result<(Pairs, &str), String> {
    let mut rest = s
        .strip_prefix('{')
        .ok_or_else(|| format!("no labels in {s:?}"))?;
    let mut pairs = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((pairs, r));
        }
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("label name runs off the line")?;
        let name = &rest[..name_len];
        let after = rest[name_len..]
            .strip_prefix("=\"")
            .ok_or_else(|| format!("expected =\" after {name:?} in {s:?}"))?;
        let (value, r) = unescape(after, true, true)?;
        pairs.push((name.to_owned(), value));
        rest = match r.strip_prefix(',') {
            Some(r) => r,
            None if r.starts_with('}') => r,
            None => return Err(format!("expected , or }} in {s:?}")),
        };
    }
}

/// Checks one exposition line by line.
fn check(out: &str, want: &Expected) -> Result<(), String> {
    let lines: Vec<&str> = out.split('\n').collect();
    if lines.last() != Some(&"") {
        return Err("output does not end with a newline".into());
    }
    let om = want.format == Format::OpenMetrics;
    let mut samples = 0;
    for line in &lines[..lines.len() - 1] {
        if let Some(comment) = line.strip_prefix("# ") {
            if comment == "EOF" && om {
                continue;
            }
            let (kind, rest) = comment.split_once(' ').ok_or("bare comment")?;
            let (name, text) = rest.split_once(' ').ok_or("comment without text")?;
            if !name.starts_with("victim") {
                return Err(format!("comment for foreign metric: {line:?}"));
            }
            match kind {
                "TYPE" => {}
                "HELP" => {
                    let (help, _) = unescape(text, om, false)?;
                    if help != want.help {
                        return Err(format!("help {help:?} != {:?}", want.help));
                    }
                }
                _ => return Err(format!("unexpected comment {line:?}")),
            }
            continue;
        }
        samples += 1;
        let name_len = line
            .find('{')
            .ok_or_else(|| format!("sample without labels: {line:?}"))?;
        let name = &line[..name_len];
        let state_label = match name {
            "victim" => None,
            "victim_state" => Some("victim_state"),
            "victim_hits_total" => None,
            _ => return Err(format!("foreign series {name:?} in {line:?}")),
        };
        let (pairs, rest) = read_labels(&line[name_len..])?;
        let mut expected = vec![
            ("a".to_owned(), want.value.clone()),
            ("b".to_owned(), want.value.clone()),
        ];
        if let Some(state) = state_label {
            expected.push((state.to_owned(), want.value.clone()));
        }
        if pairs != expected {
            return Err(format!("labels {pairs:?} != {expected:?} in {line:?}"));
        }
        let value = if name == "victim_state" { " 1" } else { " 1.0" };
        let rest = rest
            .strip_prefix(value)
            .ok_or_else(|| format!("bad value in {line:?}"))?;
        if name == "victim_hits_total" && om {
            let (ex, tail) = read_labels(rest.strip_prefix(" # ").ok_or("no exemplar")?)?;
            if ex != [("trace_id".to_owned(), want.value.clone())] || tail != " 1.0" {
                return Err(format!("bad exemplar in {line:?}"));
            }
        } else if !rest.is_empty() {
            return Err(format!("trailing text {rest:?} in {line:?}"));
        }
    }
    if samples != 3 {
        return Err(format!("{samples} sample lines instead of 3:\n{out}"));
    }
    Ok(())
}

fn check_both(help: &str, value: &str) -> Result<(), String> {
    for format in [Format::Text, Format::OpenMetrics] {
        let mut buf = Vec::new();
        encode(&families(help, value), format, &mut buf);
        let out = String::from_utf8(buf).map_err(|e| e.to_string())?;
        let want = Expected {
            format,
            help: help.to_owned(),
            value: value.to_owned(),
        };
        check(&out, &want).map_err(|e| format!("{format:?}: {e}\n{out}"))?;
    }
    Ok(())
}

#[test]
fn adversarial_values_stay_inside_their_label() {
    for value in ADVERSARIAL {
        for help in ["plain help", value] {
            if let Err(e) = check_both(help, value) {
                panic!("value {value:?}, help {help:?}: {e}");
            }
        }
    }
}

#[test]
fn the_reader_rejects_an_injected_line() {
    // The checker must be able to fail: a hand-written injection is caught.
    let forged = "# TYPE victim gauge\nvictim{a=\"x\",b=\"x\"} 1.0\nfake{a=\"x\",b=\"x\"} 1.0\n";
    let want = Expected {
        format: Format::Text,
        help: String::new(),
        value: "x".into(),
    };
    let err = check(forged, &want).unwrap_err();
    assert!(err.contains("foreign series"), "{err}");
    let unescaped = "victim{a=\"x\"y\",b=\"x\"} 1.0\n";
    assert!(check(unescaped, &want).is_err());
}

fn tricky_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TRICKY), 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn random_tricky_values_round_trip(value in tricky_string(), help in tricky_string()) {
        // The exemplar must fit OpenMetrics' 128-character limit to be written.
        prop_assume!(value.chars().count() + "trace_id".len() <= 128);
        if let Err(e) = check_both(&help, &value) {
            prop_assert!(false, "value {:?}, help {:?}: {}", value, help, e);
        }
    }
}

/// A set built from a descriptor (kept as its exposition text) and one built from the
/// same pairs, for labels declared `b` then `a`.
fn both_sets(a: &str, b: &str) -> (LabelSet, LabelSet) {
    let desc = Desc::new(Opts::new("victim", "h"), MetricType::Gauge, &["b", "a"]).unwrap();
    let built = desc.labels(&[b, a]).unwrap();
    let pairs = LabelSet::from_pairs("victim", &[("a", a), ("b", b)]).unwrap();
    (built, pairs)
}

proptest! {
    /// A descriptor-built set gives back exactly the values it was built from, through
    /// every accessor (read from its text, or parsed from it when a value is escaped),
    /// and equals, hashes and orders as the set built from the same pairs.
    #[test]
    fn descriptor_sets_give_back_their_values(
        a in tricky_string(),
        b in tricky_string(),
        c in tricky_string(),
    ) {
        let (built, pairs) = both_sets(&a, &b);
        let (other, other_pairs) = both_sets(&c, &b);
        prop_assert_eq!(built.get("a"), Some(a.as_str()));
        prop_assert_eq!(built.get("b"), Some(b.as_str()));
        prop_assert_eq!(
            built.iter().collect::<Vec<_>>(),
            vec![("a", a.as_str()), ("b", b.as_str())]
        );
        prop_assert_eq!(&built, &pairs);
        prop_assert_eq!(format!("{built:?}"), format!("{pairs:?}"));
        prop_assert_eq!(built.cmp(&other), pairs.cmp(&other_pairs));
        prop_assert_eq!(built == other, pairs == other_pairs);
        let state = std::collections::hash_map::RandomState::new();
        let hash = |set: &LabelSet| std::hash::BuildHasher::hash_one(&state, set);
        prop_assert_eq!(hash(&built), hash(&pairs));
        prop_assert_eq!(built.pairs(), pairs.pairs());
    }
}
