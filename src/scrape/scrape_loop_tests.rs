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

fn samples_of(store: &MemoryStore, name: &str) -> Vec<(LabelSet, Vec<(i64, f64)>)> {
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
    assert_eq!(sl.status().lock().health, Health::Down);
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
) -> watch::Sender<Command> {
    let target = Target::new(cfg, "a:1", &[]);
    let sl = ScrapeLoop::new(
        target,
        Arc::clone(cfg),
        Arc::new(fake.clone()),
        Arc::new(store.clone()),
    )
    .with_clock(clock.clone());
    let (tx, rx) = watch::channel(Command::Run);
    tokio::spawn(sl.run(rx));
    tx
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
    tx.send(Command::Stop).unwrap();
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
    old.send(Command::Stop).unwrap();
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
    tx.send(Command::Stop).unwrap();
    tokio::time::sleep(interval / 2).await;
    tx.send(Command::Shutdown).unwrap();
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

/// What a `FailedScrape` case's scraper does on the scrape under test.
#[derive(Clone, Copy)]
enum Fetch {
    Body(&'static str),
    Refused,
    Status(u16),
    Hang,
}

/// Answers from a [`FakeScraper`], or never (to hit the timeout).
#[derive(Clone)]
struct Scripted {
    fake: FakeScraper,
    hang: Arc<std::sync::atomic::AtomicBool>,
}

impl Scraper for Scripted {
    fn scrape(&self, target: &Target, cfg: &ScrapeConfig) -> ScrapeFuture {
        // Relaxed: set by the test before the scrape it awaits, on the same task.
        if self.hang.load(std::sync::atomic::Ordering::Relaxed) {
            return Box::pin(std::future::pending());
        }
        self.fake.scrape(target, cfg)
    }
}

/// The last stored sample of a series after the scrape under test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Last {
    /// A value at a timestamp.
    Value(i64, f64),
    /// A staleness marker at a timestamp.
    Stale(i64),
    /// Never stored.
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ErrorKind {
    Request,
    Status,
    Timeout,
    BodySizeLimit,
    Parse,
    SampleLimit,
}

fn kind(e: &ScrapeError) -> ErrorKind {
    match e {
        ScrapeError::Request { .. } => ErrorKind::Request,
        ScrapeError::Status { .. } => ErrorKind::Status,
        ScrapeError::Timeout { .. } => ErrorKind::Timeout,
        ScrapeError::BodySizeLimit { .. } => ErrorKind::BodySizeLimit,
        ScrapeError::Parse { .. } => ErrorKind::Parse,
        ScrapeError::SampleLimit { .. } => ErrorKind::SampleLimit,
    }
}

/// The previous scrape of every `FailedScrape` case, at 1 000 ms.
const PREVIOUS: &str = "a 1\nb 1\nc 1\n";

/// A scrape at 2 000 ms after [`PREVIOUS`], and what Prometheus's `scrapeAndReport`
/// leaves: a failed fetch is an empty scrape; a body failing part-way is rolled back
/// but the series it appended first are not marked stale and are the next scrape's
/// previous series.
struct FailedScrape {
    name: &'static str,
    sample_limit: usize,
    body_size_limit: u64,
    fetch: Fetch,
    error: Option<ErrorKind>,
    /// The last sample of `a` … `e` after the scrape.
    last: [Last; 5],
    /// `up`, `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`,
    /// `scrape_series_added` at 2 000 ms.
    report: [f64; 4],
    /// A successful scrape at 3 000 ms and the series it marks stale.
    then: (&'static str, &'static [&'static str]),
}

use Last::{Absent, Stale, Value};

const ALL_STALE: [Last; 5] = [Stale(2_000), Stale(2_000), Stale(2_000), Absent, Absent];

const FAILED_SCRAPES: &[FailedScrape] = &[
    FailedScrape {
        name: "connection refused: an empty scrape",
        sample_limit: 0,
        body_size_limit: 0,
        fetch: Fetch::Refused,
        error: Some(ErrorKind::Request),
        last: ALL_STALE,
        report: [0.0, 0.0, 0.0, 0.0],
        then: ("a 3\n", &[]),
    },
    FailedScrape {
        name: "HTTP 500: an empty scrape",
        sample_limit: 0,
        body_size_limit: 0,
        fetch: Fetch::Status(500),
        error: Some(ErrorKind::Status),
        last: ALL_STALE,
        report: [0.0, 0.0, 0.0, 0.0],
        then: ("a 3\n", &[]),
    },
    FailedScrape {
        name: "timeout: an empty scrape",
        sample_limit: 0,
        body_size_limit: 0,
        fetch: Fetch::Hang,
        error: Some(ErrorKind::Timeout),
        last: ALL_STALE,
        report: [0.0, 0.0, 0.0, 0.0],
        then: ("a 3\n", &[]),
    },
    FailedScrape {
        name: "body size limit: an empty scrape",
        sample_limit: 0,
        body_size_limit: 16,
        fetch: Fetch::Body("a 2\nb 2\nc 2\nd 2\ne 2\n"),
        error: Some(ErrorKind::BodySizeLimit),
        last: ALL_STALE,
        report: [0.0, 0.0, 0.0, 0.0],
        then: ("a 3\n", &[]),
    },
    FailedScrape {
        name: "parse error: series before it kept unmarked, samples rolled back",
        sample_limit: 0,
        body_size_limit: 0,
        fetch: Fetch::Body("a 2\nd 2\nb{ 2\nc 2\n"),
        error: Some(ErrorKind::Parse),
        last: [
            Value(1_000, 1.0),
            Stale(2_000),
            Stale(2_000),
            Absent,
            Absent,
        ],
        report: [0.0, 2.0, 2.0, 1.0],
        then: ("c 3\n", &["a", "d"]),
    },
    FailedScrape {
        name: "sample limit: all counted, series within it kept unmarked",
        sample_limit: 3,
        body_size_limit: 0,
        fetch: Fetch::Body("a 2\nd 2\ne 2\nb 2\nc 2\n"),
        error: Some(ErrorKind::SampleLimit),
        last: [
            Value(1_000, 1.0),
            Stale(2_000),
            Stale(2_000),
            Absent,
            Absent,
        ],
        report: [0.0, 5.0, 5.0, 2.0],
        then: ("c 3\n", &["a", "d", "e"]),
    },
    FailedScrape {
        name: "a parse error past the sample limit is the error reported",
        sample_limit: 3,
        body_size_limit: 0,
        fetch: Fetch::Body("a 2\nd 2\ne 2\nb 2\nc{ 2\n"),
        error: Some(ErrorKind::Parse),
        last: [
            Value(1_000, 1.0),
            Stale(2_000),
            Stale(2_000),
            Absent,
            Absent,
        ],
        report: [0.0, 4.0, 4.0, 2.0],
        then: ("c 3\n", &["a", "d", "e"]),
    },
    FailedScrape {
        name: "a repeated series is a dropped duplicate, not one more sample",
        sample_limit: 3,
        body_size_limit: 0,
        fetch: Fetch::Body("a 2\na 9\nd 2\nb 2\n"),
        error: None,
        last: [
            Value(2_000, 2.0),
            Value(2_000, 2.0),
            Stale(2_000),
            Value(2_000, 2.0),
            Absent,
        ],
        report: [1.0, 4.0, 4.0, 1.0],
        then: ("c 3\n", &["a", "b", "d"]),
    },
];

fn last_sample(store: &MemoryStore, name: &str) -> Last {
    match samples_of(store, name)
        .first()
        .and_then(|s| s.1.last().copied())
    {
        None => Absent,
        Some((t, v)) if is_stale_nan(v) => Stale(t),
        Some((t, v)) => Value(t, v),
    }
}

#[tokio::test(start_paused = true)]
async fn failed_and_partial_scrapes_follow_prometheus() {
    const URL: &str = "http://a:1/metrics";
    const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
    const REPORT: [&str; 4] = [
        "up",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ];
    for case in FAILED_SCRAPES {
        let cfg = ScrapeConfig::new("j")
            .sample_limit(case.sample_limit)
            .body_size_limit(case.body_size_limit)
            .timeout(Duration::from_secs(2));
        let store = MemoryStore::new(Duration::from_secs(3600));
        let scraper = Scripted {
            fake: FakeScraper::default(),
            hang: Arc::default(),
        };
        let target = Target::new(&cfg, "a:1", &[]);
        let mut sl = ScrapeLoop::new(
            target,
            Arc::new(cfg),
            Arc::new(scraper.clone()),
            Arc::new(store.clone()),
        );
        scraper.fake.set(URL, Ok(Scraped::text(PREVIOUS)));
        let first = sl.scrape_at(1_000).await;
        assert_eq!(first.error, None, "{}: previous scrape", case.name);

        match case.fetch {
            Fetch::Body(body) => scraper.fake.set(URL, Ok(Scraped::text(body))),
            Fetch::Refused => scraper.fake.fail(URL),
            Fetch::Status(status) => scraper.fake.set(
                URL,
                Err(ScrapeError::Status {
                    url: URL.into(),
                    status,
                }),
            ),
            Fetch::Hang => scraper
                .hang
                .store(true, std::sync::atomic::Ordering::Relaxed),
        }
        let report = sl.scrape_at(2_000).await;
        assert_eq!(report.error.as_ref().map(kind), case.error, "{}", case.name);
        let last: Vec<Last> = NAMES.iter().map(|n| last_sample(&store, n)).collect();
        assert_eq!(last, case.last, "{}: a to e", case.name);
        for (name, want) in REPORT.iter().zip(case.report) {
            let got = samples_of(&store, name)[0].1.last().copied();
            assert_eq!(got, Some((2_000, want)), "{}: {name}", case.name);
        }
        let stale_now = case.last.iter().filter(|l| **l == Stale(2_000)).count();
        assert_eq!(report.stale_markers, stale_now, "{}", case.name);
        assert_eq!(report.samples as f64, case.report[1], "{}", case.name);
        assert_eq!(report.series_added as f64, case.report[3], "{}", case.name);
        let health = sl.status().lock().health;
        let want = if case.error.is_some() {
            Health::Down
        } else {
            Health::Up
        };
        assert_eq!(health, want, "{}", case.name);

        let (body, want_stale) = case.then;
        scraper
            .hang
            .store(false, std::sync::atomic::Ordering::Relaxed);
        scraper.fake.set(URL, Ok(Scraped::text(body)));
        let next = sl.scrape_at(3_000).await;
        assert_eq!(next.error, None, "{}: next scrape", case.name);
        let stale: Vec<&str> = NAMES
            .into_iter()
            .filter(|n| last_sample(&store, n) == Stale(3_000))
            .collect();
        assert_eq!(
            stale, want_stale,
            "{}: marked stale by the next scrape",
            case.name
        );
        assert_eq!(next.stale_markers, want_stale.len(), "{}", case.name);
    }
}
