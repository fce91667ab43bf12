//! Failed and partial scrapes, case by case against Prometheus's `scrapeAndReport`.

use super::tests::samples_of;
use super::*;
use crate::scrape::scraper::{FakeScraper, ScrapeFuture};
use crate::scrape::store::{is_stale_nan, MemoryStore};

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
    InvalidSeries,
}

fn kind(e: &ScrapeError) -> ErrorKind {
    match e {
        ScrapeError::Request { .. } => ErrorKind::Request,
        ScrapeError::Status { .. } => ErrorKind::Status,
        ScrapeError::Timeout { .. } => ErrorKind::Timeout,
        ScrapeError::BodySizeLimit { .. } => ErrorKind::BodySizeLimit,
        ScrapeError::Parse { .. } => ErrorKind::Parse,
        ScrapeError::SampleLimit { .. } => ErrorKind::SampleLimit,
        ScrapeError::InvalidSeries { .. } => ErrorKind::InvalidSeries,
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
        let health = sl.status().health;
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
