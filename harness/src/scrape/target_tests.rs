//! Target identity, and `populate_labels` with the cases of Prometheus 2.42's
//! `TestPopulateLabels` (scrape/manager_test.go) re-expressed, plus URL building.

use super::*;

type Pairs = &'static [(&'static str, &'static str)];

fn set(pairs: &[(&str, &str)]) -> LabelSet {
    LabelSet::from_vec(
        "",
        pairs.iter().map(|&(n, v)| LabelPair::new(n, v)).collect(),
    )
    .unwrap_or_else(|e| panic!("test label set {pairs:?}: {e}"))
}

#[test]
fn identity_is_labels_and_url() {
    let cfg = ScrapeConfig::new("j");
    let a = Target::new(&cfg, "h:1", &[]);
    assert_eq!(a, Target::new(&cfg, "h:1", &[]));
    assert_ne!(a, Target::new(&cfg, "h:1", &[("x", "y")]));
    assert_ne!(a, Target::new(&cfg.clone().metrics_path("/m"), "h:1", &[]));
    assert_eq!(a.offset_hash(), Target::new(&cfg, "h:1", &[]).offset_hash());
    assert_ne!(a.offset_hash(), Target::new(&cfg, "h:2", &[]).offset_hash());
}

#[test]
fn discovered_labels_do_not_count_for_identity() {
    let cfg = ScrapeConfig::new("j").relabel_configs(
        serde_norway::from_str("- {regex: __meta_.*, action: labeldrop}").unwrap(),
    );
    let populate = |meta: &str| {
        let found = set(&[("__address__", "127.0.10.1:9100"), ("__meta_x", meta)]);
        populate_labels(&found, &cfg).unwrap().active().unwrap()
    };
    let (a, b) = (populate("1"), populate("2"));
    assert_ne!(a.discovered_labels(), b.discovered_labels());
    assert_eq!(a, b);
}

#[test]
fn static_labels_can_override_instance() {
    let t = Target::new(&ScrapeConfig::new("j"), "h:1", &[("instance", "nice")]);
    assert_eq!(t.labels().get("instance"), Some("nice"));
    assert_eq!(t.url(), "http://h:1/metrics");
}

#[test]
fn new_takes_what_populate_labels_rejects_as_it_is() {
    let t = Target::new(&ScrapeConfig::new("j"), "h:1/x", &[("bad-name", "v")]);
    assert_eq!(t.url(), "http://h:1/x/metrics");
    assert_eq!(t.labels().get("bad-name"), Some("v"));
    assert_eq!(t.interval(), None, "the job's interval applies");
}

struct Case {
    name: &'static str,
    discovered: Pairs,
    /// The job: `job`, `https`, `/metrics`, 1s interval and timeout, these params and
    /// relabeling rules.
    params: &'static [(&'static str, &'static [&'static str])],
    rules: &'static str,
    want: Result<Want, &'static str>,
}

struct Want {
    labels: Pairs,
    url: &'static str,
    /// Interval and timeout in seconds.
    interval_timeout: (u64, u64),
    /// The labels before relabeling.
    discovered: Pairs,
    /// Relabeling drops the target (labels, url and durations are not checked).
    dropped: bool,
}

const fn active(labels: Pairs, url: &'static str, discovered: Pairs) -> Result<Want, &'static str> {
    Ok(Want {
        labels,
        url,
        interval_timeout: (1, 1),
        discovered,
        dropped: false,
    })
}

const CASES: &[Case] = &[
    Case {
        name: "the job's settings are added",
        discovered: &[("__address__", "127.0.10.1:1000"), ("custom", "value")],
        params: &[],
        rules: "[]",
        want: active(
            &[("custom", "value"), ("instance", "127.0.10.1:1000"), ("job", "job")],
            "https://127.0.10.1:1000/metrics",
            &[
                ("__address__", "127.0.10.1:1000"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("custom", "value"),
                ("job", "job"),
            ],
        ),
    },
    Case {
        name: "discovered settings win; an address without port gets :80 for http",
        discovered: &[
            ("__address__", "127.0.10.1"),
            ("__scheme__", "http"),
            ("__metrics_path__", "/custom"),
            ("job", "custom-job"),
            ("__scrape_interval__", "2s"),
            ("__scrape_timeout__", "2s"),
        ],
        params: &[],
        rules: "[]",
        want: Ok(Want {
            labels: &[("instance", "127.0.10.1:80"), ("job", "custom-job")],
            url: "http://127.0.10.1:80/custom",
            interval_timeout: (2, 2),
            discovered: &[
                ("__address__", "127.0.10.1"),
                ("__metrics_path__", "/custom"),
                ("__scheme__", "http"),
                ("__scrape_interval__", "2s"),
                ("__scrape_timeout__", "2s"),
                ("job", "custom-job"),
            ],
            dropped: false,
        }),
    },
    Case {
        name: "a discovered instance stays; IPv6 without port gets :443 for https",
        discovered: &[("__address__", "[::1]"), ("instance", "custom-instance")],
        params: &[],
        rules: "[]",
        want: active(
            &[("instance", "custom-instance"), ("job", "job")],
            "https://[::1]:443/metrics",
            &[
                ("__address__", "[::1]"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("instance", "custom-instance"),
                ("job", "job"),
            ],
        ),
    },
    Case {
        name: "no address",
        discovered: &[("custom", "value")],
        params: &[],
        rules: "[]",
        want: Err("no address"),
    },
    Case {
        name: "the address comes from relabeling",
        discovered: &[("custom", "127.0.10.1:1234")],
        params: &[],
        rules: "- {source_labels: [custom], regex: '(.*)', replacement: '${1}', target_label: __address__}",
        want: active(
            &[("custom", "127.0.10.1:1234"), ("instance", "127.0.10.1:1234"), ("job", "job")],
            "https://127.0.10.1:1234/metrics",
            &[
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("custom", "127.0.10.1:1234"),
                ("job", "job"),
            ],
        ),
    },
    Case {
        name: "invalid interval",
        discovered: &[("__address__", "127.0.10.1:1000"), ("__scrape_interval__", "2notseconds")],
        params: &[],
        rules: "[]",
        want: Err("error parsing scrape interval: not a valid duration string: \"2notseconds\""),
    },
    Case {
        name: "invalid timeout",
        discovered: &[("__address__", "127.0.10.1:1000"), ("__scrape_timeout__", "2notseconds")],
        params: &[],
        rules: "[]",
        want: Err("error parsing scrape timeout: not a valid duration string: \"2notseconds\""),
    },
    Case {
        name: "zero interval",
        discovered: &[("__address__", "127.0.10.1:1000"), ("__scrape_interval__", "0s")],
        params: &[],
        rules: "[]",
        want: Err("scrape interval cannot be 0"),
    },
    Case {
        name: "zero timeout",
        discovered: &[("__address__", "127.0.10.1:1000"), ("__scrape_timeout__", "0s")],
        params: &[],
        rules: "[]",
        want: Err("scrape timeout cannot be 0"),
    },
    Case {
        name: "timeout above interval",
        discovered: &[
            ("__address__", "127.0.10.1:1000"),
            ("__scrape_interval__", "1s"),
            ("__scrape_timeout__", "2s"),
        ],
        params: &[],
        rules: "[]",
        want: Err("scrape timeout cannot be greater than scrape interval (\"2s\" > \"1s\")"),
    },
    // Beyond TestPopulateLabels.
    Case {
        name: "relabeling deletes the interval",
        discovered: &[("__address__", "127.0.10.1:1000")],
        params: &[],
        rules: "- {regex: __scrape_interval__, action: labeldrop}",
        want: Err("error parsing scrape interval: empty duration string"),
    },
    Case {
        name: "relabeling sets the interval and timeout",
        discovered: &[("__address__", "127.0.10.1:9100")],
        params: &[],
        rules: "
- {target_label: __scrape_interval__, replacement: 1m30s}
- {target_label: __scrape_timeout__, replacement: 45s}",
        want: Ok(Want {
            labels: &[("instance", "127.0.10.1:9100"), ("job", "job")],
            url: "https://127.0.10.1:9100/metrics",
            interval_timeout: (90, 45),
            discovered: &[
                ("__address__", "127.0.10.1:9100"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("job", "job"),
            ],
            dropped: false,
        }),
    },
    Case {
        name: "a dropped target keeps its discovered labels",
        discovered: &[("__address__", "127.0.10.1:9100"), ("__meta_keep", "no")],
        params: &[("module", &["a"])],
        rules: "- {source_labels: [__meta_keep], regex: yes, action: keep}",
        want: Ok(Want {
            labels: &[],
            url: "",
            interval_timeout: (0, 0),
            discovered: &[
                ("__address__", "127.0.10.1:9100"),
                ("__meta_keep", "no"),
                ("__metrics_path__", "/metrics"),
                ("__param_module", "a"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("job", "job"),
            ],
            dropped: true,
        }),
    },
    Case {
        name: "params: every value in the URL, a param overrides a discovered __param_ label, __param_ labels from relabeling replace the first value",
        discovered: &[("__address__", "127.0.10.1:9115"), ("__param_module", "http_2xx")],
        params: &[("module", &["tcp", "icmp"]), ("a b", &["x&y=z/é"]), ("empty", &[])],
        rules: "
- {target_label: __param_target, replacement: 'http://127.0.10.2/?q=1'}
- {target_label: __param_module, replacement: http_2xx}",
        want: active(
            &[("instance", "127.0.10.1:9115"), ("job", "job")],
            "https://127.0.10.1:9115/metrics?a+b=x%26y%3Dz%2F%C3%A9&module=http_2xx&module=icmp&target=http%3A%2F%2F127.0.10.2%2F%3Fq%3D1",
            &[
                ("__address__", "127.0.10.1:9115"),
                ("__metrics_path__", "/metrics"),
                ("__param_a b", "x&y=z/é"),
                ("__param_module", "tcp"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("job", "job"),
            ],
        ),
    },
    Case {
        name: "__ labels are not target labels; meta labels feed relabeling",
        discovered: &[("__address__", "127.0.10.1:9100"), ("__meta_env", "prod"), ("__tmp_x", "1")],
        params: &[],
        rules: "- {regex: '__meta_(.+)', action: labelmap}",
        want: active(
            &[("env", "prod"), ("instance", "127.0.10.1:9100"), ("job", "job")],
            "https://127.0.10.1:9100/metrics",
            &[
                ("__address__", "127.0.10.1:9100"),
                ("__meta_env", "prod"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("__tmp_x", "1"),
                ("job", "job"),
            ],
        ),
    },
    Case {
        name: "an address with a path",
        discovered: &[("__address__", "127.0.10.1:9100/x")],
        params: &[],
        rules: "[]",
        want: Err("\"127.0.10.1:9100/x\" is not a valid hostname"),
    },
    Case {
        name: "a port-less address with another scheme names the job's scheme",
        discovered: &[("__address__", "127.0.10.1"), ("__scheme__", "ftp")],
        params: &[],
        rules: "[]",
        want: Err("invalid scheme: \"https\""),
    },
    Case {
        name: "a label name relabeling made that is not one",
        discovered: &[("__address__", "127.0.10.1:9100"), ("__meta_1x", "v")],
        params: &[],
        rules: "- {regex: '__meta_(.+)', action: labelmap}",
        want: Err("invalid label name \"1x\""),
    },
    Case {
        name: "path without slash, escaped path and host",
        discovered: &[("__address__", "127.0.10.1:9100"), ("__metrics_path__", "a b?c/é")],
        params: &[],
        rules: "[]",
        want: active(
            &[("instance", "127.0.10.1:9100"), ("job", "job")],
            "https://127.0.10.1:9100/a%20b%3Fc/%C3%A9",
            &[
                ("__address__", "127.0.10.1:9100"),
                ("__metrics_path__", "a b?c/é"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("job", "job"),
            ],
        ),
    },
    Case {
        name: "empty discovered values are missing labels",
        discovered: &[("__address__", "127.0.10.1:9100"), ("job", ""), ("e", "")],
        params: &[],
        rules: "[]",
        want: active(
            &[("instance", "127.0.10.1:9100"), ("job", "job")],
            "https://127.0.10.1:9100/metrics",
            &[
                ("__address__", "127.0.10.1:9100"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "https"),
                ("__scrape_interval__", "1s"),
                ("__scrape_timeout__", "1s"),
                ("job", "job"),
            ],
        ),
    },
];

fn job(case: &Case) -> ScrapeConfig {
    let rules = serde_norway::from_str(case.rules)
        .unwrap_or_else(|e| panic!("{}: rules do not load: {e}", case.name));
    let params = case
        .params
        .iter()
        .map(|(k, vs)| {
            (
                (*k).to_owned(),
                vs.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect();
    ScrapeConfig::new("job")
        .scheme("https")
        .interval(Duration::from_secs(1))
        .timeout(Duration::from_secs(1))
        .params(params)
        .relabel_configs(rules)
}

#[test]
fn populate_labels_cases() {
    for case in CASES {
        let got = populate_labels(&set(case.discovered), &job(case));
        let want = match &case.want {
            Err(message) => {
                let err = got.expect_err(case.name);
                assert_eq!(err.to_string(), *message, "{}", case.name);
                continue;
            }
            Ok(want) => want,
        };
        let got = got.unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            got.discovered_labels(),
            set(want.discovered),
            "{}: discovered",
            case.name
        );
        let target = match (got, want.dropped) {
            (Populated::Dropped(_), true) => continue,
            (Populated::Active(t), false) => t,
            (got, _) => panic!("{}: {got:?}", case.name),
        };
        assert_eq!(target.labels(), &set(want.labels), "{}: labels", case.name);
        assert_eq!(target.url(), want.url, "{}: url", case.name);
        let (i, t) = want.interval_timeout;
        assert_eq!(
            (target.interval(), target.timeout()),
            (Some(Duration::from_secs(i)), Some(Duration::from_secs(t))),
            "{}: interval and timeout",
            case.name
        );
    }
}

#[test]
fn durations_are_written_as_prometheus() {
    for (ms, text) in [
        (0, "0s"),
        (1_000, "1s"),
        (90_000, "1m30s"),
        (1_500, "1s500ms"),
        (14 * 86_400_000, "2w"),
        (20 * 86_400_000, "20d"),
        (365 * 86_400_000, "1y"),
        (366 * 86_400_000, "366d"),
        (3_600_000 + 1, "1h1ms"),
    ] {
        assert_eq!(format_duration(Duration::from_millis(ms)), text, "{ms} ms");
        assert_eq!(
            parse_duration(text),
            Some(Duration::from_millis(ms)),
            "{text}"
        );
    }
}

#[test]
fn host_and_port_split_as_go() {
    for (s, want) in [
        ("h:1", Some(("h", "1"))),
        ("h:", Some(("h", ""))),
        ("[::1]:80", Some(("::1", "80"))),
        ("h", None),
        ("::1", None),
        ("[::1]", None),
        ("[::1]x:80", None),
        ("a[b:80", None),
        ("a]b:80", None),
        ("[a]:[80", None),
    ] {
        assert_eq!(split_host_port(s), want, "{s:?}");
    }
}
