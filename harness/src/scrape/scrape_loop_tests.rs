use super::*;
use crate::scrape::scraper::{FakeScraper, ScrapeFuture};
use crate::scrape::series_labels;
use crate::scrape::store::{is_stale_nan, MemoryStore};

fn setup(cfg: ScrapeConfig) -> (ScrapeLoop, MemoryStore, FakeScraper) {
    let store = MemoryStore::new(Duration::from_secs(3600));
    let fake = FakeScraper::default();
    let target = Target::new(&cfg, "a:1", &[]);
    let sl = ScrapeLoop::new(
        target,
        Arc::new(cfg),
        Arc::new(fake.clone()),
        Arc::new(store.clone()),
    );
    (sl, store, fake)
}

pub(super) fn samples_of(store: &MemoryStore, name: &str) -> Vec<(LabelSet, Vec<(i64, f64)>)> {
    store.select(|l| l.get(NAME_LABEL) == Some(name), i64::MIN, i64::MAX)
}

fn target_series(name: &str) -> LabelSet {
    series_labels(name, &[("instance", "a:1"), ("job", "j")])
}

#[test]
fn append_then_empty_body_writes_one_stale_marker() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("metric_a 1\n")), 1_000);
    let report = sl.append(Ok(Scraped::text("")), 2_000);
    assert_eq!(report.stale_markers, 1);
    let a = samples_of(&store, "metric_a");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].0, target_series("metric_a"));
    assert_eq!(a[0].1.len(), 2);
    assert_eq!(a[0].1[0], (1_000, 1.0));
    assert_eq!(a[0].1[1].0, 2_000);
    assert!(is_stale_nan(a[0].1[1].1), "{:?}", a[0].1);
}

#[test]
fn only_the_vanished_series_goes_stale() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("m{s=\"a\"} 1\nm{s=\"b\"} 2\n")), 1_000);
    let report = sl.append(Ok(Scraped::text("m{s=\"b\"} 3\n")), 2_000);
    assert_eq!((report.stale_markers, report.series_added), (1, 0));
    let m = samples_of(&store, "m");
    assert!(is_stale_nan(m[0].1[1].1), "a: {:?}", m[0]);
    assert_eq!(m[1].1, vec![(1_000, 2.0), (2_000, 3.0)]);
}

#[test]
fn an_exposed_nan_is_not_a_stale_marker() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("m NaN\n")), 1_000);
    let v = samples_of(&store, "m")[0].1[0].1;
    assert!(v.is_nan() && !is_stale_nan(v));
}

#[test]
fn failed_scrape_marks_every_previous_series_stale_and_up_zero() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("a 1\nb 2\n")), 1_000);
    let err = ScrapeError::Status {
        url: "http://a:1/metrics".into(),
        status: 500,
    };
    let report = sl.append(Err(err.clone()), 2_000);
    assert_eq!((report.stale_markers, report.error), (2, Some(err)));
    for name in ["a", "b"] {
        assert!(is_stale_nan(samples_of(&store, name)[0].1[1].1), "{name}");
    }
    assert_eq!(
        samples_of(&store, "up")[0].1,
        vec![(1_000, 1.0), (2_000, 0.0)]
    );
    assert_eq!(sl.status().health, Health::Down);
}

#[test]
fn explicit_timestamps_bypass_staleness() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("a 1 500\nb 1\n")), 1_000);
    let report = sl.append(Ok(Scraped::text("")), 2_000);
    assert_eq!(report.stale_markers, 1);
    assert_eq!(samples_of(&store, "a")[0].1, vec![(500, 1.0)]);
}

#[test]
fn report_series_carry_target_labels() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("a 1\nb 1\n")), 1_000);
    sl.append(Ok(Scraped::text("a 1\nc 1\n")), 2_000);
    for (name, want) in [
        ("up", [1.0, 1.0]),
        ("scrape_samples_scraped", [2.0, 2.0]),
        ("scrape_series_added", [2.0, 1.0]),
    ] {
        let got = samples_of(&store, name);
        assert_eq!(got[0].0, target_series(name), "{name}");
        let values: Vec<f64> = got[0].1.iter().map(|s| s.1).collect();
        assert_eq!(values, want, "{name}");
    }
}

#[test]
fn label_clashes_follow_honor_labels() {
    let body = "m{job=\"exp\",exported_job=\"x\",instance=\"\"} 1\n";
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text(body)), 1_000);
    let want = series_labels(
        "m",
        &[
            ("exported_exported_job", "exp"),
            ("exported_job", "x"),
            ("instance", "a:1"),
            ("job", "j"),
        ],
    );
    assert_eq!(samples_of(&store, "m")[0].0, want);

    let (mut sl, store, _) = setup(ScrapeConfig::new("j").honor_labels(true));
    sl.append(Ok(Scraped::text(body)), 1_000);
    let want = series_labels(
        "m",
        &[("exported_job", "x"), ("instance", "a:1"), ("job", "exp")],
    );
    assert_eq!(samples_of(&store, "m")[0].0, want);
}

#[test]
fn a_label_name_given_an_empty_value_is_dropped_with_all_its_values() {
    let (mut sl, store, _) = setup(ScrapeConfig::new("j"));
    let report = sl.append(Ok(Scraped::text("m{a=\"1\",b=\"2\",a=\"\"} 1\n")), 1_000);
    assert_eq!(report.error, None);
    let want = series_labels("m", &[("b", "2"), ("instance", "a:1"), ("job", "j")]);
    assert_eq!(samples_of(&store, "m")[0].0, want);
}

#[test]
fn offset_is_stable_and_within_the_interval() {
    let (sl, _, _) = setup(ScrapeConfig::new("j").interval(Duration::from_secs(10)));
    let a = sl.offset(1_000_000);
    assert_eq!(a, sl.offset(1_000_000));
    assert!(a <= Duration::from_secs(10), "{a:?}");
    // One second later the first scrape is one second closer (modulo the interval).
    let b = sl.offset(1_001_000);
    assert_eq!(
        (a.as_millis() + 10_000 - 1_000) % 10_000,
        b.as_millis() % 10_000
    );
}

struct Hang;

impl Scraper for Hang {
    fn scrape(&self, _: &Target, _: &ScrapeConfig) -> ScrapeFuture {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn a_scrape_past_its_timeout_fails() {
    let cfg = Arc::new(ScrapeConfig::new("j").timeout(Duration::from_secs(2)));
    let store = MemoryStore::new(Duration::from_secs(60));
    let target = Target::new(&cfg, "a:1", &[]);
    let mut sl = ScrapeLoop::new(target, cfg, Arc::new(Hang), Arc::new(store));
    let report = sl.scrape_at(1_000).await;
    assert!(
        matches!(report.error, Some(ScrapeError::Timeout { .. })),
        "{report:?}"
    );
}

fn start(
    cfg: &Arc<ScrapeConfig>,
    fake: &FakeScraper,
    store: &MemoryStore,
    clock: &WallClock,
) -> Arc<Control> {
    let target = Target::new(cfg, "a:1", &[]);
    let sl = ScrapeLoop::new(
        target,
        Arc::clone(cfg),
        Arc::new(fake.clone()),
        Arc::new(store.clone()),
    )
    .with_clock(clock.clone());
    let control = Control::new();
    tokio::spawn(sl.run(Arc::clone(&control)));
    control
}

#[tokio::test(start_paused = true)]
async fn a_stopped_loop_marks_stale_at_the_next_scrape_time_after_two_intervals() {
    let interval = Duration::from_secs(10);
    let cfg = Arc::new(ScrapeConfig::new("j").interval(interval));
    let store = MemoryStore::new(Duration::from_secs(3600));
    let fake = FakeScraper::default();
    let clock = WallClock::tokio();
    fake.set("http://a:1/metrics", Ok(Scraped::text("a 1\n")));
    let tx = start(&cfg, &fake, &store, &clock);
    tokio::time::sleep(interval * 2).await;
    let scrapes = fake.count("http://a:1/metrics");
    assert!(scrapes >= 2, "{scrapes}");
    let last = *samples_of(&store, "a")[0].1.last().unwrap();
    tx.send(Command::Stop);
    // One interval later, nothing yet: the loop waits past a possible comeback.
    tokio::time::sleep(interval + interval / 20).await;
    assert!(!is_stale_nan(
        samples_of(&store, "a")[0].1.last().unwrap().1
    ));
    tokio::time::sleep(interval + interval / 10).await;
    let (t, v) = *samples_of(&store, "a")[0].1.last().unwrap();
    assert!(is_stale_nan(v));
    assert_eq!(t - last.0, 10_000, "the marker is at the next scrape time");
    assert!(is_stale_nan(
        samples_of(&store, "up")[0].1.last().unwrap().1
    ));
    assert_eq!(
        fake.count("http://a:1/metrics"),
        scrapes,
        "no scrape after stop"
    );
}

#[tokio::test(start_paused = true)]
async fn a_target_that_comes_straight_back_is_not_marked() {
    let interval = Duration::from_secs(10);
    let cfg = Arc::new(ScrapeConfig::new("j").interval(interval));
    let store = MemoryStore::new(Duration::from_secs(3600));
    let fake = FakeScraper::default();
    let clock = WallClock::tokio();
    fake.set("http://a:1/metrics", Ok(Scraped::text("a 1\n")));
    let old = start(&cfg, &fake, &store, &clock);
    tokio::time::sleep(interval * 2).await;
    old.send(Command::Stop);
    let _new = start(&cfg, &fake, &store, &clock);
    tokio::time::sleep(interval * 4).await;
    let a = &samples_of(&store, "a")[0].1;
    assert!(a.iter().all(|s| !is_stale_nan(s.1)), "{a:?}");
    assert!(a.len() >= 5, "{a:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_writes_no_markers() {
    let interval = Duration::from_secs(10);
    let cfg = Arc::new(ScrapeConfig::new("j").interval(interval));
    let store = MemoryStore::new(Duration::from_secs(3600));
    let fake = FakeScraper::default();
    let clock = WallClock::tokio();
    fake.set("http://a:1/metrics", Ok(Scraped::text("a 1\n")));
    let tx = start(&cfg, &fake, &store, &clock);
    tokio::time::sleep(interval * 2).await;
    tx.send(Command::Stop);
    tokio::time::sleep(interval / 2).await;
    tx.send(Command::Shutdown);
    tokio::time::sleep(interval * 4).await;
    let a = &samples_of(&store, "a")[0].1;
    assert!(
        !a.is_empty() && a.iter().all(|s| !is_stale_nan(s.1)),
        "{a:?}"
    );
}

/// One scrape of a `SeriesAdded` case: a body, or `None` for a failed fetch.
type Step = (Option<&'static str>, usize);

struct SeriesAdded {
    name: &'static str,
    /// Each scrape and the `scrape_series_added` Prometheus reports for it.
    steps: &'static [Step],
}

/// `scrape_series_added` as Prometheus's scrape cache counts it. The cases marked
/// "differs" are where "new since the previous scrape" gives another number.
const SERIES_ADDED: &[SeriesAdded] = &[
    SeriesAdded {
        name: "gone over a successful scrape, then back: new again",
        steps: &[
            (Some("a 1\nb 1\n"), 2),
            (Some("a 1\n"), 0),
            (Some("a 1\nb 1\n"), 1),
        ],
    },
    SeriesAdded {
        name: "back after a failed fetch: not new (differs)",
        steps: &[(Some("a 1\nb 1\n"), 2), (None, 0), (Some("a 1\nb 1\n"), 0)],
    },
    SeriesAdded {
        name: "back after an empty body: not new (differs)",
        steps: &[(Some("a 1\n"), 1), (Some(""), 0), (Some("a 1\n"), 0)],
    },
    SeriesAdded {
        name: "explicit timestamps are cached too (differs)",
        steps: &[(Some("a 1 500\n"), 1), (Some("a 2 600\n"), 0)],
    },
    SeriesAdded {
        name: "a parse error counts what it appended first, once (differs)",
        steps: &[
            (Some("a 1\n"), 1),
            (Some("a 1\nc 1\nd{ 1\n"), 1),
            (Some("a 1\nc 1\n"), 0),
        ],
    },
    SeriesAdded {
        name: "the sample limit counts the series within it (differs)",
        steps: &[
            (Some("a 1\nb 1\nc 1\nd 1\n"), 3),
            (Some("a 1\nb 1\nc 1\n"), 0),
        ],
    },
    SeriesAdded {
        name: "a repeated series counts once",
        steps: &[(Some("a 1\na 2\n"), 1)],
    },
];

#[test]
fn series_added_follows_the_prometheus_scrape_cache() {
    for case in SERIES_ADDED {
        let (mut sl, store, _) = setup(ScrapeConfig::new("j").sample_limit(3));
        for (i, &(body, want)) in case.steps.iter().enumerate() {
            let t = 1_000 * (i as i64 + 1);
            let fetched = match body {
                Some(body) => Ok(Scraped::text(body)),
                None => Err(ScrapeError::Status {
                    url: "http://a:1/metrics".into(),
                    status: 503,
                }),
            };
            let report = sl.append(fetched, t);
            assert_eq!(report.series_added, want, "{}: scrape {i}", case.name);
            let stored = samples_of(&store, "scrape_series_added")[0].1[i];
            assert_eq!(stored, (t, want as f64), "{}: scrape {i}", case.name);
        }
    }
}

#[test]
fn failures_that_keep_adding_series_force_a_cache_trim() {
    let (mut sl, _, _) = setup(ScrapeConfig::new("j"));
    sl.append(Ok(Scraped::text("a 1\n")), 1_000);
    // Each failing scrape appends 600 new series before its parse error: the cache
    // keeps them until it holds more than 2 * 1 + 1000, then keeps only the last
    // scrape's, so `a` is new once more while the last batch is not.
    let batch = |k: usize| {
        let mut body: String = (0..600)
            .map(|i| format!("s{{k=\"{k}\",i=\"{i}\"}} 1\n"))
            .collect();
        body.push_str("bad{ 1\n");
        body
    };
    for k in 0..2 {
        let report = sl.append(Ok(Scraped::text(batch(k))), 2_000 + k as i64);
        assert_eq!(report.series_added, 600, "batch {k}");
    }
    let report = sl.append(
        Ok(Scraped::text(batch(1).replace("bad{ 1\n", "a 1\n"))),
        3_000,
    );
    assert_eq!(report.series_added, 1, "a was trimmed, batch 1 kept");
}
