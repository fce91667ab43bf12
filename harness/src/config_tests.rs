use super::*;

const FULL: &str = "\
global:
  scrape_interval: 15s
  scrape_timeout: 5s
scrape_configs:
  - job_name: pipeline
    scrape_interval: 2s
    metrics_path: /m
    honor_labels: true
    sample_limit: 100
    body_size_limit: 1MB
    static_configs:
      - targets: ['a:1', 'b:2']
        labels:
          env: dev
  - job_name: other
    static_configs:
      - targets: ['c:3']
";

#[test]
fn full_config_fills_defaults_from_global() {
    let cfg = Config::parse(FULL).unwrap();
    let jobs = cfg.jobs();
    let (p, targets) = &jobs[0];
    assert_eq!(p.interval, Duration::from_secs(2));
    assert_eq!(p.timeout, Duration::from_secs(2), "capped at the interval");
    assert_eq!(
        (p.honor_labels, p.sample_limit, p.body_size_limit),
        (true, 100, 1 << 20)
    );
    let urls: Vec<&str> = targets.iter().map(Target::url).collect();
    assert_eq!(urls, ["http://a:1/m", "http://b:2/m"]);
    assert_eq!(targets[0].labels().get("env"), Some("dev"));
    let (o, targets) = &jobs[1];
    assert_eq!(
        (o.interval, o.timeout),
        (Duration::from_secs(15), Duration::from_secs(5))
    );
    assert_eq!(targets[0].labels().get("job"), Some("other"));
}

struct Bad {
    name: &'static str,
    yaml: &'static str,
    line: usize,
    says: &'static str,
}

const BAD: &[Bad] = &[
    Bad {
        name: "unknown top-level key",
        yaml: "global: {}\nrule_files: []\n",
        line: 2,
        says: "rule_files",
    },
    Bad {
        name: "unknown job key",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_config: []\n",
        line: 3,
        says: "relabel_config",
    },
    Bad {
        name: "bad duration",
        yaml: "global:\n  scrape_interval: 1.5s\n",
        line: 2,
        says: "scrape_interval",
    },
    Bad {
        name: "bad size",
        yaml: "scrape_configs:\n  - job_name: a\n    body_size_limit: 10\n",
        line: 3,
        says: "body_size_limit",
    },
    Bad {
        name: "bad bool",
        yaml: "scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n",
        line: 3,
        says: "honor_labels",
    },
    Bad {
        name: "timeout above interval",
        yaml:
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        line: 4,
        says: "scrape_timeout",
    },
    Bad {
        name: "duplicate job",
        yaml: "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
        line: 3,
        says: "job_name",
    },
    Bad {
        name: "unsupported scheme",
        yaml: "scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
        line: 3,
        says: "scheme",
    },
    Bad {
        name: "unknown tls_config key",
        yaml: "scrape_configs:\n  - job_name: a\n    scheme: https\n    tls_config:\n      ca: x\n",
        line: 5,
        says: "ca",
    },
    Bad {
        name: "tls_config key Prometheus has but the harness does not",
        yaml: "scrape_configs:\n  - job_name: a\n    tls_config:\n      min_version: TLS12\n",
        line: 4,
        says: "min_version",
    },
    Bad {
        name: "unreadable ca_file",
        yaml: "scrape_configs:\n  - job_name: a\n    scheme: https\n    tls_config:\n      ca_file: /nonexistent/ca.pem\n",
        line: 5,
        says: "/nonexistent/ca.pem",
    },
    Bad {
        name: "cert_file without key_file",
        yaml: "scrape_configs:\n  - job_name: a\n    tls_config:\n      cert_file: /nonexistent/c.pem\n",
        line: 4,
        says: "cert_file",
    },
    Bad {
        name: "bad server_name",
        yaml: "scrape_configs:\n  - job_name: a\n    tls_config:\n      server_name: 'a b'\n",
        line: 4,
        says: "server_name",
    },
    Bad {
        name: "target with a path",
        yaml: "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:1/x']\n",
        line: 4,
        says: "targets",
    },
    Bad {
        name: "invalid label name",
        yaml: "scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {a-b: y}\n",
        line: 4,
        says: "labels",
    },
    Bad {
        name: "unknown relabel action",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [x]\n        action: replce\n",
        line: 4,
        says: "scrape_configs[0].relabel_configs[0]: unknown relabel action \"replce\"",
    },
    Bad {
        name: "bad relabel regex",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - target_label: x\n      - regex: abc(def\n",
        line: 5,
        says: "scrape_configs[0].relabel_configs[1]: invalid regex \"abc(def\"",
    },
    Bad {
        name: "replace without target_label",
        yaml: "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - regex: abcdef\n",
        line: 4,
        says: "metric_relabel_configs: relabel configuration for replace action requires 'target_label' value",
    },
    Bad {
        name: "hashmod without modulus",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: abcdef\n        action: hashmod\n",
        line: 4,
        says: "relabel configuration for hashmod requires non-zero modulus",
    },
    Bad {
        name: "unknown relabel key",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - target_label: x\n        replace: y\n",
        line: 5,
        says: "unknown field `replace`",
    },
    Bad {
        name: "null relabel rule",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      -\n",
        line: 3,
        says: "scrape_configs[a].relabel_configs: empty or null target relabeling rule",
    },
    Bad {
        name: "params not a list",
        yaml: "scrape_configs:\n  - job_name: a\n    params:\n      module: http_2xx\n",
        line: 4,
        says: "params",
    },
    Bad {
        name: "static target the relabeling leaves with a path",
        yaml: "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {target_label: x, replacement: y}\n    static_configs:\n      - targets: ['127.0.10.1:9100/x']\n",
        line: 6,
        says: "scrape_configs[a].targets: \"127.0.10.1:9100/x\": \"127.0.10.1:9100/x\" is not a valid hostname",
    },
    Bad {
        name: "static target with an invalid interval label",
        yaml: "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['127.0.10.1:9100']\n        labels: {__scrape_interval__: 5x}\n",
        line: 4,
        says: "error parsing scrape interval: not a valid duration string: \"5x\"",
    },
];

#[test]
fn invalid_configs_name_key_and_line() {
    for case in BAD {
        let err = Config::parse(case.yaml).expect_err(case.name);
        assert_eq!(err.line, Some(case.line), "{}: {err}", case.name);
        assert!(err.to_string().contains(case.says), "{}: {err}", case.name);
    }
}

const RELABELED: &str = "\
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    relabel_configs:
      - source_labels: [__address__]
        regex: 'drop.*'
        action: drop
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.10.1:9115
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
    static_configs:
      - targets: ['127.0.10.2:8080/health', 'drop-me:1']
        labels:
          __scheme__: https
";

#[test]
fn static_targets_go_through_relabeling() {
    let cfg = Config::parse(RELABELED).unwrap();
    let jobs = cfg.jobs();
    let (job, targets) = &jobs[0];
    assert_eq!(job.params["module"], ["http_2xx"]);
    assert_eq!(
        (job.relabel_configs.len(), job.metric_relabel_configs.len()),
        (4, 1)
    );
    assert_eq!(targets.len(), 1, "drop-me:1 is dropped: {targets:?}");
    let t = &targets[0];
    assert_eq!(
        t.url(),
        "https://127.0.10.1:9115/probe?module=http_2xx&target=127.0.10.2%3A8080%2Fhealth"
    );
    assert_eq!(t.labels().get("instance"), Some("127.0.10.2:8080/health"));
    assert_eq!(t.labels().get("__scheme__"), None);
    assert_eq!(
        t.discovered_labels().get("__address__"),
        Some("127.0.10.2:8080/health")
    );
    assert_eq!(
        Config::parse(RELABELED).unwrap().scrape_configs(),
        cfg.scrape_configs(),
        "rules compare by their text"
    );
}

#[test]
fn durations_follow_prometheus_syntax() {
    for (s, ms) in [
        ("0", Some(0)),
        ("1y", Some(365 * 86_400_000)),
        ("2w1d", Some(15 * 86_400_000)),
        ("1h1m1s1ms", Some(3_661_001)),
        ("90s", Some(90_000)),
        ("", None),
        ("1", None),
        ("1s1s", None),
        ("1ms1s", None),
        ("-1s", None),
        ("1 s", None),
    ] {
        assert_eq!(parse_duration(s).map(|d| d.as_millis() as u64), ms, "{s:?}");
    }
}

fn write_ca(dir: &std::path::Path, name: &str) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(dir.join(name), params.self_signed(&key).unwrap().pem()).unwrap();
}

#[test]
fn https_jobs_load_tls_files_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    write_ca(dir.path(), "ca.pem");
    let path = dir.path().join("prometheus.yml");
    std::fs::write(
        &path,
        "scrape_configs:\n  - job_name: a\n    scheme: https\n    tls_config:\n      ca_file: ca.pem\n      server_name: exporter.test\n    static_configs:\n      - targets: ['h:1']\n  - job_name: b\n    scheme: https\n",
    )
    .unwrap();
    let jobs = Config::load(&path).unwrap().jobs();
    let (a, targets) = &jobs[0];
    assert_eq!(targets[0].url(), "https://h:1/metrics");
    let tls = a.tls.as_ref().expect("tls_config loaded").settings();
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    assert_eq!(tls.server_name.as_deref(), Some("exporter.test"));
    assert_eq!(
        (jobs[1].0.scheme.as_str(), jobs[1].0.tls.is_none()),
        ("https", true)
    );
}

#[test]
fn invalid_tls_files_are_named_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.pem"), "not a certificate\n").unwrap();
    write_ca(dir.path(), "ca.pem");
    for (tls, key, file) in [
        ("ca_file: junk.pem", "ca_file", "junk.pem"),
        (
            "cert_file: junk.pem\n      key_file: junk.pem",
            "cert_file",
            "junk.pem",
        ),
        (
            "cert_file: ca.pem\n      key_file: junk.pem",
            "key_file",
            "junk.pem",
        ),
    ] {
        let path = dir.path().join("prometheus.yml");
        std::fs::write(
            &path,
            format!("scrape_configs:\n  - job_name: a\n    scheme: https\n    tls_config:\n      {tls}\n"),
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err();
        let line = 5 + usize::from(key == "key_file");
        assert_eq!(err.line, Some(line), "{tls}: {err}");
        let text = err.to_string();
        assert!(text.contains(&format!("tls_config.{key}")), "{tls}: {err}");
        assert!(
            text.contains(&*dir.path().join(file).to_string_lossy()),
            "{tls}: {err}"
        );
    }
}
