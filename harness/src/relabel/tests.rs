//! The cases of Prometheus 2.42's `TestRelabel` (model/relabel/relabel_test.go),
//! re-expressed as YAML rules, the actions as `configuration.md` describes them, and
//! the validation of `relabel.Config.UnmarshalYAML`.

use super::*;
use promsdk::labels::{LabelPair, LabelSet};

fn set(pairs: &[(&str, &str)]) -> LabelSet {
    LabelSet::from_vec(
        "",
        pairs.iter().map(|&(n, v)| LabelPair::new(n, v)).collect(),
    )
    .unwrap_or_else(|e| panic!("test label set {pairs:?}: {e}"))
}

fn rules(name: &str, yaml: &str) -> Vec<RelabelConfig> {
    serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{name}: rules do not load: {e}"))
}

struct Case {
    name: &'static str,
    input: &'static [(&'static str, &'static str)],
    rules: &'static str,
    /// `None`: the label set is dropped.
    output: Option<&'static [(&'static str, &'static str)]>,
}

const FOO_BAR_BAZ: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];
const PORTS: &[(&str, &str)] = &[
    ("__port1", "1234"),
    ("__port2", "5678"),
    ("__tmp_port", "1234"),
];

const CASES: &[Case] = &[
    Case {
        name: "replace expands ${1} twice",
        input: FOO_BAR_BAZ,
        rules: "- {source_labels: [a], regex: 'f(.*)', target_label: d, separator: ';', replacement: 'ch${1}-ch${1}', action: replace}",
        output: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    },
    Case {
        name: "a rule reads what the previous rule wrote",
        input: FOO_BAR_BAZ,
        rules: "
- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}
- {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}",
        output: Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    },
    Case {
        name: "drop stops before later rules",
        input: &[("a", "foo")],
        rules: "
- {source_labels: [a], regex: '.*o.*', action: drop}
- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch$1-ch$1'}",
        output: None,
    },
    Case {
        name: "drop on match",
        input: &[("a", "foo"), ("b", "bar")],
        rules: "- {source_labels: [a], regex: '.*o.*', action: drop}",
        output: None,
    },
    Case {
        name: "replace with a group inside .*",
        input: &[("a", "abc")],
        rules: "- {source_labels: [a], regex: '.*(b).*', target_label: d, replacement: '$1'}",
        output: Some(&[("a", "abc"), ("d", "b")]),
    },
    Case {
        name: "drop without a match keeps",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: no-match, action: drop}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "the regex is anchored: f|o does not match foo",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'f|o', action: drop}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "keep without a match drops",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: no-match, action: keep}",
        output: None,
    },
    Case {
        name: "keep on match",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: 'f.*', action: keep}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "replace without a match changes nothing",
        input: &[("a", "boo")],
        rules: "- {source_labels: [a], regex: f, target_label: b, replacement: bar}",
        output: Some(&[("a", "boo")]),
    },
    Case {
        name: "hashmod: last 8 bytes of MD5, big-endian, modulo",
        input: FOO_BAR_BAZ,
        rules: "- {source_labels: [c], target_label: d, separator: ';', action: hashmod, modulus: 1000}",
        output: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    },
    Case {
        name: "hashmod of a value with a newline",
        input: &[("a", "foo\nbar")],
        rules: "- {source_labels: [a], target_label: b, action: hashmod, modulus: 1000}",
        output: Some(&[("a", "foo\nbar"), ("b", "734")]),
    },
    Case {
        name: "labelmap copies matching names",
        input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        rules: "- {regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}",
        output: Some(&[("a", "foo"), ("b1", "bar"), ("b2", "baz"), ("bar_b1", "bar"), ("bar_b2", "baz")]),
    },
    Case {
        name: "labelmap of meta labels",
        input: &[("a", "foo"), ("__meta_my_bar", "aaa"), ("__meta_my_baz", "bbb"), ("__meta_other", "ccc")],
        rules: "- {regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}",
        output: Some(&[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
            ("my_bar", "aaa"),
            ("my_baz", "bbb"),
        ]),
    },
    Case {
        name: "target_label from a group",
        input: &[("a", "some-name-value")],
        rules: "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', target_label: '${1}'}",
        output: Some(&[("a", "some-name-value"), ("name", "value")]),
    },
    Case {
        name: "a replacement expanding to nothing writes nothing",
        input: &[("a", "some-name-value")],
        rules: "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', target_label: '${1}'}",
        output: Some(&[("a", "some-name-value")]),
    },
    Case {
        name: "a target_label expanding to nothing writes nothing",
        input: &[("a", "some-name-value")],
        rules: "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}",
        output: Some(&[("a", "some-name-value")]),
    },
    Case {
        name: "real-life tags",
        input: &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        rules: "
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*', replacement: '${1}', target_label: __metrics_path__}
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)job:([^,]+).*', replacement: '${1}', target_label: job}
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', replacement: '${2}', target_label: '${1}'}",
        output: Some(&[
            ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]),
    },
    Case {
        name: "labelkeep",
        input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        rules: "- {regex: '(b.*)', action: labelkeep}",
        output: Some(&[("b1", "bar"), ("b2", "baz")]),
    },
    Case {
        name: "labeldrop",
        input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        rules: "- {regex: '(b.*)', action: labeldrop}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "uppercase and lowercase",
        input: &[("foo", "bAr123Foo")],
        rules: "
- {source_labels: [foo], action: uppercase, target_label: foo_uppercase}
- {source_labels: [foo], action: lowercase, target_label: foo_lowercase}",
        output: Some(&[("foo", "bAr123Foo"), ("foo_lowercase", "bar123foo"), ("foo_uppercase", "BAR123FOO")]),
    },
    Case {
        name: "keepequal with equal values keeps",
        input: PORTS,
        rules: "- {source_labels: [__tmp_port], action: keepequal, target_label: __port1}",
        output: Some(PORTS),
    },
    Case {
        name: "dropequal with equal values drops",
        input: PORTS,
        rules: "- {source_labels: [__tmp_port], action: dropequal, target_label: __port1}",
        output: None,
    },
    Case {
        name: "dropequal with different values keeps",
        input: PORTS,
        rules: "- {source_labels: [__tmp_port], action: dropequal, target_label: __port2}",
        output: Some(PORTS),
    },
    Case {
        name: "keepequal with different values drops",
        input: PORTS,
        rules: "- {source_labels: [__tmp_port], action: keepequal, target_label: __port2}",
        output: None,
    },
    // Beyond TestRelabel: the behaviours configuration.md and relabel.go describe.
    Case {
        name: "replace with an empty result deletes the target label",
        input: &[("a", "foo"), ("d", "old")],
        rules: "- {source_labels: [missing], target_label: d}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "a static replacement without source labels",
        input: &[("a", "foo")],
        rules: "- {target_label: env, replacement: prod}",
        output: Some(&[("a", "foo"), ("env", "prod")]),
    },
    Case {
        name: "the default regex does not match a newline",
        input: &[("a", "x\ny")],
        rules: "- {source_labels: [a], target_label: b}",
        output: Some(&[("a", "x\ny")]),
    },
    Case {
        name: "$1x is the group named 1x: empty, so the target is deleted",
        input: &[("a", "foo"), ("b", "old")],
        rules: "- {source_labels: [a], target_label: b, replacement: '$1x'}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "separator joins source values; a missing label is an empty value",
        input: &[("a", "x"), ("c", "z")],
        rules: "- {source_labels: [a, b, c], separator: '-', target_label: j}",
        output: Some(&[("a", "x"), ("c", "z"), ("j", "x--z")]),
    },
    Case {
        name: "lowercase of nothing deletes the target",
        input: &[("a", "x"), ("t", "old")],
        rules: "- {source_labels: [missing], action: lowercase, target_label: t}",
        output: Some(&[("a", "x")]),
    },
    Case {
        name: "unicode case mapping",
        input: &[("a", "ÀéΣ")],
        rules: "
- {source_labels: [a], action: lowercase, target_label: l}
- {source_labels: [a], action: uppercase, target_label: u}",
        output: Some(&[("a", "ÀéΣ"), ("l", "àéσ"), ("u", "ÀÉΣ")]),
    },
    Case {
        name: "action names ignore case",
        input: &[("a", "foo")],
        rules: "- {source_labels: [a], regex: bar, action: KEEP}",
        output: None,
    },
    Case {
        name: "labelmap overwrites an existing label",
        input: &[("__meta_env", "prod"), ("env", "dev")],
        rules: "- {regex: '__meta_(.+)', action: labelmap}",
        output: Some(&[("__meta_env", "prod"), ("env", "prod")]),
    },
    Case {
        name: "empty values vanish once a rule runs",
        input: &[("a", "foo"), ("e", "")],
        rules: "- {source_labels: [a], regex: foo, action: keep}",
        output: Some(&[("a", "foo")]),
    },
    Case {
        name: "a regex written without value matches only the empty string",
        input: &[("a", "foo")],
        rules: "- {source_labels: [missing], regex: , action: drop}",
        output: None,
    },
];

#[test]
fn relabel_cases() {
    for case in CASES {
        let out = process(&set(case.input), &rules(case.name, case.rules));
        assert_eq!(out, case.output.map(set), "{}", case.name);
    }
}

/// A rule built without the checks of loading, for the expansions that loading
/// rejects up front but `process` must still handle as Prometheus does.
fn unchecked(target_label: &str) -> RelabelConfig {
    let regex = GoRegex::new("some-([^-]+)-([^,]+)").unwrap();
    RelabelConfig {
        source_labels: vec!["a".into()],
        separator: ";".into(),
        target: Template::new(target_label, &regex),
        replacement_t: Template::new("${1}", &regex),
        regex,
        modulus: 0,
        target_label: target_label.into(),
        replacement: "${1}".into(),
        action: Action::Replace,
    }
}

#[test]
fn invalid_expanded_target_labels_write_nothing() {
    let input = set(&[("a", "some-name-value")]);
    for target in ["${3}", "0${3}", "-${3}"] {
        let out = process(&input, &[unchecked(target)]);
        assert_eq!(out.as_ref(), Some(&input), "target_label {target:?}");
    }
}

#[test]
fn unchanged_sets_are_not_copied() {
    let input = set(&[("a", "foo"), ("b", "bar")]);
    let rs = rules(
        "no-op rules",
        "
- {source_labels: [a], regex: 'f.*', action: keep}
- {source_labels: [a], target_label: a}
- {regex: 'x.*', action: labeldrop}",
    );
    let Some(out) = process(&input, &rs) else {
        panic!("no-op rules dropped the set");
    };
    assert_eq!(
        out.pairs().as_ptr(),
        input.pairs().as_ptr(),
        "a copy was made"
    );
}

struct Invalid {
    name: &'static str,
    yaml: &'static str,
    says: &'static str,
    line: usize,
}

/// Prometheus's config/testdata/*.bad.yml rules (and a few more), with its messages.
/// An invalid value is reported at the line where its rule starts, an unknown key at
/// its own line.
const INVALID: &[Invalid] = &[
    Invalid {
        name: "unknown action",
        yaml: "- source_labels: [a]\n  action: replce\n",
        says: "unknown relabel action \"replce\"",
        line: 1,
    },
    Invalid {
        name: "empty action",
        yaml: "- target_label: a\n  action:\n",
        says: "relabel action cannot be empty",
        line: 1,
    },
    Invalid {
        name: "bad regex",
        yaml: "- target_label: a\n  regex: abc(def\n",
        says: "invalid regex \"abc(def\"",
        line: 1,
    },
    Invalid {
        name: "bad source label",
        yaml: "- source_labels: [a, 'b-c']\n  target_label: a\n",
        says: "\"b-c\" is not a valid label name",
        line: 1,
    },
    Invalid {
        name: "unknown key",
        yaml: "- target_label: a\n  regexp: x\n",
        says: "regexp",
        line: 2,
    },
    Invalid {
        name: "hashmod without modulus",
        yaml: "- regex: abcdef\n  action: hashmod\n",
        says: "relabel configuration for hashmod requires non-zero modulus",
        line: 1,
    },
    Invalid {
        name: "replace without target_label",
        yaml: "- regex: abcdef\n",
        says: "relabel configuration for replace action requires 'target_label' value",
        line: 1,
    },
    Invalid {
        name: "hashmod without target_label",
        yaml: "- source_labels: [__address__]\n  modulus: 8\n  action: hashmod\n",
        says: "relabel configuration for hashmod action requires 'target_label' value",
        line: 1,
    },
    Invalid {
        name: "hashmod with a template target",
        yaml: "- {source_labels: [a], modulus: 8, action: hashmod, target_label: '${1}'}\n",
        says: "\"${1}\" is invalid 'target_label' for hashmod action",
        line: 1,
    },
    Invalid {
        name: "replace with an invalid target_label",
        yaml: "- {source_labels: [a], target_label: 'a-b'}\n",
        says: "\"a-b\" is invalid 'target_label' for replace action",
        line: 1,
    },
    Invalid {
        name: "labelkeep with source_labels",
        yaml: "- source_labels: [abcdef]\n  action: labelkeep\n",
        says: "labelkeep action requires only 'regex', and no other fields",
        line: 1,
    },
    Invalid {
        name: "labelkeep with empty source_labels",
        yaml: "- source_labels: []\n  action: labelkeep\n",
        says: "labelkeep action requires only 'regex', and no other fields",
        line: 1,
    },
    Invalid {
        name: "labelkeep with modulus",
        yaml: "- modulus: 8\n  action: labelkeep\n",
        says: "labelkeep action requires only 'regex', and no other fields",
        line: 1,
    },
    Invalid {
        name: "labeldrop with separator",
        yaml: "- separator: ','\n  action: labeldrop\n",
        says: "labeldrop action requires only 'regex', and no other fields",
        line: 1,
    },
    Invalid {
        name: "labeldrop with replacement",
        yaml: "- replacement: yolo-{1}\n  action: labeldrop\n",
        says: "labeldrop action requires only 'regex', and no other fields",
        line: 1,
    },
    Invalid {
        name: "labeldrop with target_label",
        yaml: "- target_label: yolo\n  action: labeldrop\n",
        says: "labeldrop action requires only 'regex', and no other fields",
        line: 1,
    },
    Invalid {
        name: "dropequal without target_label",
        yaml: "- source_labels: [abcdef]\n  action: dropequal\n",
        says: "relabel configuration for dropequal action requires 'target_label' value",
        line: 1,
    },
    Invalid {
        name: "keepequal with a regex",
        yaml: "- source_labels: [abcdef]\n  action: keepequal\n  regex: foo\n  target_label: bar\n",
        says: "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        line: 1,
    },
    Invalid {
        name: "keepequal with the default regex written out",
        yaml: "- {source_labels: [a], action: keepequal, regex: '(.*)', target_label: bar}\n",
        says: "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        line: 1,
    },
    Invalid {
        name: "labelmap with an invalid replacement",
        yaml: "- action: labelmap\n  replacement: l-$1\n",
        says: "\"l-$1\" is invalid 'replacement' for labelmap action",
        line: 1,
    },
    Invalid {
        name: "lowercase without target_label",
        yaml: "- action: lowercase\n  source_labels: [__name__]\n",
        says: "relabel configuration for lowercase action requires 'target_label' value",
        line: 1,
    },
    Invalid {
        name: "lowercase with an invalid target_label",
        yaml: "- action: lowercase\n  source_labels: [__name__]\n  target_label: 42lab\n",
        says: "\"42lab\" is invalid 'target_label' for lowercase action",
        line: 1,
    },
    Invalid {
        name: "uppercase with a replacement",
        yaml: "- action: uppercase\n  source_labels: [__name__]\n  target_label: __name__\n  replacement: bar\n",
        says: "'replacement' can not be set for uppercase action",
        line: 1,
    },
];

#[test]
fn invalid_rules_are_rejected_with_prometheus_messages() {
    for case in INVALID {
        let err = serde_norway::from_str::<Vec<RelabelConfig>>(case.yaml).expect_err(case.name);
        assert!(err.to_string().contains(case.says), "{}: {err}", case.name);
        let line = err.location().map(|l| l.line());
        assert_eq!(line, Some(case.line), "{}: {err}", case.name);
    }
}

#[test]
fn target_templates_follow_relabel_target() {
    // Prometheus's TestTargetLabelValidity.
    for (s, valid) in [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ] {
        assert_eq!(is_valid_target_template(s), valid, "{s:?}");
    }
}

#[test]
fn defaults_and_equality_follow_the_written_form() {
    let a = &rules("defaults", "- target_label: t\n")[0];
    assert_eq!(
        (
            a.action(),
            a.separator(),
            a.regex().as_str(),
            a.replacement(),
            a.modulus()
        ),
        (Action::Replace, ";", "(.*)", "$1", 0)
    );
    let b = &rules(
        "explicit",
        "- {target_label: t, separator: ';', regex: '(.*)', replacement: '$1', action: replace}",
    )[0];
    assert_eq!(a, b);
    let c = &rules("other regex", "- {target_label: t, regex: '(.+)'}")[0];
    assert_ne!(a, c);
    let null = &rules("null separator", "- {target_label: t, separator: }")[0];
    assert_eq!(
        null.separator(),
        "",
        "a key without value is Go's zero value"
    );
    let number = &rules(
        "numeric scalars are text",
        "- {target_label: t, regex: 1.10, replacement: 0200}",
    )[0];
    assert_eq!(
        (number.regex().as_str(), number.replacement()),
        ("1.10", "0200")
    );
}
