//! `metric_relabel_configs` in the scrape loop, and per-target intervals.

use super::tests::samples_of;
use super::*;
use crate::relabel::RelabelConfig;
use crate::scrape::scraper::FakeScraper;
use crate::scrape::series_labels;
use crate::scrape::store::{is_stale_nan, MemoryStore};

fn rules(yaml: &str) -> Vec<RelabelConfig> {
    serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("rules do not load: {e}\n{yaml}"))
}

fn setup(cfg: ScrapeConfig) -> (ScrapeLoop, MemoryStore) {
    let store = MemoryStore::new(Duration::from_secs(3600));
    let target = Target::new(&cfg, "127.0.10.1:9100", &[]);
    let sl = ScrapeLoop::new(
        target,
        Arc::new(cfg),
        Arc::new(FakeScraper::default()),
        Arc::new(store.clone()),
    );
    (sl, store)
}

fn series(name: &str, extra: &[(&str, &str)]) -> LabelSet {
    let mut labels = vec![("instance", "127.0.10.1:9100"), ("job", "j")];
    labels.extend_from_slice(extra);
    series_labels(name, &labels)
}

const RULES: &str = "
- {source_labels: [__name__], regex: 'go_.*', action: drop}
- {source_labels: [__name__], regex: 'old_(.*)', target_label: __name__, replacement: 'new_$1'}
- {regex: tmp, action: labeldrop}
- {target_label: env, replacement: prod}
";

#[test]
fn metric_relabeling_drops_and_rewrites_series() {
    let cfg = ScrapeConfig::new("j").metric_relabel_configs(rules(RULES));
    let (mut sl, store) = setup(cfg);
    let body = "go_goroutines 5\nold_name{tmp=\"x\",a=\"1\"} 2\nkept 3\n";
    let report = sl.append(Ok(Scraped::text(body)), 1_000);
    assert_eq!(report.error, None);
    assert_eq!(
        (
            report.samples,
            report.samples_post_relabel,
            report.series_added
        ),
        (3, 2, 2)
    );
    assert!(
        samples_of(&store, "go_goroutines").is_empty(),
        "dropped series stored"
    );
    assert!(
        samples_of(&store, "old_name").is_empty(),
        "renamed series stored under its old name"
    );
    let renamed = samples_of(&store, "new_name");
    assert_eq!(renamed.len(), 1, "{renamed:?}");
    assert_eq!(
        renamed[0].0,
        series("new_name", &[("a", "1"), ("env", "prod")])
    );
    assert_eq!(renamed[0].1, [(1_000, 2.0)]);
    assert_eq!(
        samples_of(&store, "kept")[0].0,
        series("kept", &[("env", "prod")])
    );
    let post = samples_of(&store, "scrape_samples_post_metric_relabeling");
    assert_eq!(
        post[0].0,
        series("scrape_samples_post_metric_relabeling", &[]),
        "report series are not relabeled"
    );
    assert_eq!(post[0].1, [(1_000, 2.0)]);
    assert_eq!(
        samples_of(&store, "scrape_samples_scraped")[0].1,
        [(1_000, 3.0)]
    );

    let report = sl.append(Ok(Scraped::text("go_goroutines 6\nkept 4\n")), 2_000);
    assert_eq!(
        report.stale_markers, 1,
        "only new_name goes stale; go_goroutines was never stored"
    );
    let renamed = samples_of(&store, "new_name");
    assert!(is_stale_nan(renamed[0].1[1].1), "{renamed:?}");
    assert!(samples_of(&store, "go_goroutines").is_empty());
}

#[test]
fn the_sample_limit_counts_samples_after_relabeling() {
    let cfg = ScrapeConfig::new("j")
        .sample_limit(2)
        .metric_relabel_configs(rules(RULES));
    let (mut sl, store) = setup(cfg.clone());
    let report = sl.append(Ok(Scraped::text("go_a 1\ngo_b 1\na 1\nb 1\n")), 1_000);
    assert_eq!(report.error, None, "two samples remain after relabeling");
    assert_eq!(samples_of(&store, "b").len(), 1);
    let report = sl.append(Ok(Scraped::text("go_a 1\na 1\nb 1\nc 1\n")), 2_000);
    assert!(
        matches!(report.error, Some(ScrapeError::SampleLimit { .. })),
        "{:?}",
        report.error
    );
    assert_eq!((report.samples, report.samples_post_relabel), (4, 3));
}

#[test]
fn relabeling_to_an_invalid_series_fails_the_scrape() {
    for (name, rule, says) in [
        (
            "no metric name",
            "- {regex: __name__, action: labeldrop}",
            "missing metric name (__name__ label)",
        ),
        (
            "invalid metric name",
            "- {target_label: __name__, replacement: 1bad}",
            "invalid metric name or label names",
        ),
    ] {
        let (mut sl, store) = setup(ScrapeConfig::new("j").metric_relabel_configs(rules(rule)));
        let report = sl.append(Ok(Scraped::text("a 1\n")), 1_000);
        let Some(ScrapeError::InvalidSeries { message, .. }) = &report.error else {
            panic!("{name}: {:?}", report.error);
        };
        assert!(message.contains(says), "{name}: {message}");
        assert_eq!(samples_of(&store, "up")[0].1, [(1_000, 0.0)], "{name}");
        assert!(samples_of(&store, "a").is_empty(), "{name}");
        assert!(samples_of(&store, "1bad").is_empty(), "{name}");
    }
}

#[test]
fn targets_keep_their_own_interval_and_timeout() {
    let cfg = ScrapeConfig::new("j").relabel_configs(rules(
        "
- {target_label: __scrape_interval__, replacement: 20s}
- {target_label: __scrape_timeout__, replacement: 5s}",
    ));
    let (sl, _) = setup(cfg);
    let status = sl.status();
    assert_eq!(
        (status.interval, status.timeout),
        (Duration::from_secs(60), Duration::from_secs(10)),
        "Target::new does not relabel"
    );
    let cfg = ScrapeConfig::new("j").relabel_configs(rules(
        "
- {target_label: __scrape_interval__, replacement: 20s}
- {target_label: __scrape_timeout__, replacement: 5s}",
    ));
    let found =
        LabelSet::from_vec("", vec![LabelPair::new("__address__", "127.0.10.1:9100")]).unwrap();
    let target = crate::scrape::populate_labels(&found, &cfg)
        .unwrap()
        .active()
        .unwrap();
    let sl = ScrapeLoop::new(
        target,
        Arc::new(cfg),
        Arc::new(FakeScraper::default()),
        Arc::new(MemoryStore::new(Duration::from_secs(60))),
    );
    let status = sl.status();
    assert_eq!(
        (status.interval, status.timeout),
        (Duration::from_secs(20), Duration::from_secs(5))
    );
    for now in [0, 7_777, 19_999, 1_700_000_000_123] {
        assert!(
            sl.offset(now) <= Duration::from_secs(20),
            "offset at {now} within 20s"
        );
    }
}
